"""The one-time WireGuard file a solution hands out, declared by its planner: the deployer never branches on
solution types.

A network and its access points hand out the laptop's config, made while the network is planned and named after
the first network-resource version on the node the laptop enters through (:class:`LaptopFile`). A 4to6 gateway
hands out its tunnel file, built from the gateway's answer (:meth:`Handout.build_file`) when the deployment ends
and named after its workload. ``deployer/wireguard.py`` stores, names and hands out the file once, asking these
hooks (with :class:`FileOps`, its view of the solution's workloads); a planner that declares nothing hands out
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from services.deployer.solutions.base import WorkloadView

_PLANNING = ("submitted", "planning")


class FileOps(Protocol):
    """The solution's recorded workloads, as the file's name needs them."""

    def workload_id(self, key: str) -> int | None:
        """The grid id of the solution's workload ``key`` (None until the grid gave it one)."""
        ...

    def laptop_resource_id(self) -> int | None:
        """The grid id of the first network-resource version recorded for this solution on the node its laptop
        enters through (None until one has a grid id)."""
        ...


class Handout:
    """The defaults: no file."""

    hands_out_file: ClassVar[bool] = False

    def not_ready(self, status: str) -> str | None:
        """Why the file does not exist yet while the solution is in ``status`` (None: it existed by then)."""
        return None

    def file_id(self, ops: FileOps) -> int | None:
        """The grid id that names the file ``wg-<id>.conf`` (None: not known yet; the deployer falls back)."""
        return None

    def build_file(self, spec: Any, workloads: list[WorkloadView],
                   secrets: Mapping[str, str]) -> tuple[str, int] | None:  # fmt: skip
        """At the move to deployed: the file built from the workloads' results and the workload id naming it, or
        None (a file made earlier, or none). Raises ``ValueError``: the results cannot make one."""
        return None


class LaptopFile(Handout):
    """A laptop's config into a network, made while the network is planned."""

    hands_out_file: ClassVar[bool] = True

    def not_ready(self, status: str) -> str | None:
        return "the network is still being planned" if status in _PLANNING else None

    def file_id(self, ops: FileOps) -> int | None:
        return ops.laptop_resource_id()


class ResultFile(Handout):
    """A file built from the result of the workload ``file_key`` once the grid answered."""

    hands_out_file: ClassVar[bool] = True
    file_key: ClassVar[str]

    def not_ready(self, status: str) -> str | None:
        if status in _PLANNING:
            return "the network is still being planned"
        return "the gateway has not answered" if status == "deploying" else None

    def file_id(self, ops: FileOps) -> int | None:
        return ops.workload_id(self.file_key)


NO_FILE = Handout()


def handout(planner: Any) -> Handout:
    """The planner's file hooks: its own when it declares them, else the defaults."""
    return planner if isinstance(planner, Handout) else NO_FILE
