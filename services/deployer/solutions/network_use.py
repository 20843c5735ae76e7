"""How a solution uses a user network, declared by its planner: the deployer never branches on solution types.

Planning, the network stage, cancellation and teardown call the hooks of :class:`NetworkHooks` on the solution's
planner (through :func:`network_hooks`). The hooks say *what* happens to the network; :class:`NetworkOps`, which
the deployer implements over the database inside the calling step's transaction (``deployer/network_ops.py``),
does it. A planner that declares nothing — every container solution, a gateway — gets the defaults: its nodes
join the network when a placement asks for an IP in it (:attr:`NetworkUse.MEMBER`), else it has none
(:attr:`NetworkUse.NONE`).

The network itself (:attr:`NetworkUse.CREATES`) and an access point (:attr:`NetworkUse.ACCESS`) do their work in
stage -1: :meth:`~NetworkHooks.open_network` and :meth:`~NetworkHooks.grant_access` record the network resources
(GRID_API §11) under the network's solution, and the laptop's WireGuard config is handed out once (:mod:`.handout`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from enum import Enum
from typing import Any, ClassVar, Protocol

from services.deployer.grid.workload_plan import Placed
from services.deployer.solutions.base import Placement
from services.deployer.solutions.handout import LaptopFile


class NetworkUse(Enum):
    """What a solution is to its network."""

    NONE = "none"  # no network at all
    MEMBER = "member"  # its workloads get IPs in an existing network of the owner
    CREATES = "creates"  # it is the network (its resources are recorded under it); the laptop gets access
    ACCESS = "access"  # another laptop's access point into an existing network of the owner


class NetworkOps(Protocol):
    """The deployer's network code, bound to one solution (and the transaction of the step calling a hook)."""

    def create(self, short: str, ip_range: str | None) -> None:
        """A new network named ``short`` (a random private /16 when no range is given), owned by the solution,
        locked to the end of the transaction. Raises ``PlanningFailed``: the owner has a network of that name."""
        ...

    def enter(self, short: str) -> None:
        """The owner's deployed network ``short``, locked to the end of the transaction (a cancel of the network
        takes the same lock while it looks for users). Raises ``PlanningFailed``: no such network."""
        ...

    def add_laptop(self, via: str, ipv6: bool) -> str:
        """A laptop peer entering through node ``via`` (a /24 and a key pair); its WireGuard config encrypted to
        ourselves, kept until the owner downloads it. Raises ``PlanningFailed``: no free /24 left."""
        ...

    def other_users(self, ignoring: Collection[str] = ()) -> list[str]:
        """The solutions in the network not over yet (``"<type> <name>"``), but this one and those of the types
        ``ignoring``; read under the network's lock."""
        ...

    def revoke_laptop(self) -> None:
        """This solution's laptop peer removed from the network and every node's resource rewritten and sent
        (its own transaction; idempotent). Raises ``Transient``: the grid did not answer."""
        ...

    def delete(self, ending: Collection[str] = ()) -> None:
        """The network owned by this solution is gone, and the solutions of the types ``ending`` in it end with
        it (the teardown's final transaction; nothing when the solution does not own its network)."""
        ...


class NetworkHooks:
    """The defaults: an ordinary solution, a member of a network when a placement asks for an IP in it.

    Planners that use a network otherwise inherit this class and override what differs; :func:`network_hooks`
    gives these defaults to a planner that does not inherit it.
    """

    use: ClassVar[NetworkUse | None] = None  # None: MEMBER or NONE, from the placements

    def network_use(self, placements: Sequence[Placement]) -> NetworkUse:
        if self.use is not None:
            return self.use
        return NetworkUse.MEMBER if any(p.network for p in placements) else NetworkUse.NONE

    def open_network(self, spec: Any, short: str | None, placements: Sequence[Placement], ops: NetworkOps) -> None:
        """Planning, before any node is chosen: make the network the solution's nodes join current in ``ops``.

        ``short`` is the planner's ``network_of(spec)``. Default: enter it when a placement asks for an IP.
        """
        if self.network_use(placements) is not NetworkUse.NONE:
            ops.enter(short or "")

    def joins(self, placement: Placement) -> bool:
        """Whether the node chosen for ``placement`` is attached to the network (default: it gets an IP there)."""
        return placement.network

    def grant_access(self, spec: Any, placed: Mapping[str, Placed], ops: NetworkOps) -> str | None:
        """Planning, once every node joined: a laptop's access (its WireGuard config, encrypted), or None."""
        return None

    def network_nodes(self, placed: Mapping[str, Placed]) -> set[str]:
        """The nodes whose network resource must be deployed before stage 0 (default: those with an IP in it)."""
        return {p.node_id for p in placed.values() if p.ip is not None}

    def cancel_refusal(self, ops: NetworkOps) -> str | None:
        """Why the solution cannot be cancelled now (checked in the cancel's transaction), or None."""
        return None

    def leave_network(self, ops: NetworkOps) -> None:
        """Every teardown step, before the workloads are deleted: what the network must lose (default: nothing,
        the solution's IPs are freed with its final state)."""

    def end_network(self, ops: NetworkOps) -> None:
        """The teardown's final transaction: what happens to the network (default: nothing)."""


class LaptopAccess(NetworkHooks, LaptopFile):
    """Shared by the network and its access points: the access node joins, the laptop gets a peer through it (its
    config is the solution's one-time file, :mod:`.handout`)."""

    def joins(self, placement: Placement) -> bool:
        return True  # the access node is in the network without an IP of its own

    def grant_access(self, spec: Any, placed: Mapping[str, Placed], ops: NetworkOps) -> str | None:
        return ops.add_laptop(placed["access"].node_id, bool(spec.ipv6))

    def network_nodes(self, placed: Mapping[str, Placed]) -> set[str]:
        return {p.node_id for p in placed.values()}


ORDINARY = NetworkHooks()


def network_hooks(planner: Any) -> NetworkHooks:
    """The planner's network hooks: its own when it declares them, else the defaults."""
    return planner if isinstance(planner, NetworkHooks) else ORDINARY
