"""What a planned workload is, as the renderer consumes it: the resolved placement it runs on, its wire fields,
and the markers for secrets that are sealed to the node at render time (GRID_API §8).

Planners (``solutions/``) produce these; ``grid/render.py`` and ``grid/network_plan.py`` consume them. They live
in ``grid/`` so the grid layer never imports the planners (an import-linter contract in pyproject.toml).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.deployer.grid.kinds import Kind


@dataclass(frozen=True)
class Sealed:
    """A secret in a workload field: sealed to the target node (GRID_API §8) when the workload is rendered.

    ``secret`` names an entry of the solution's encrypted secrets (``ctx.secrets``); planners never hold the
    plaintext, so a plan can be logged or compared in a test without leaking anything.
    """

    secret: str


@dataclass(frozen=True)
class SealedTemplate:
    """A sealed value composed of plain text and secrets, e.g. MinIO's shard list with the ZDB password in each URL.

    ``template`` uses ``str.format`` fields that name secrets (``"ns1:{zdb_password}@[10.1.2.3]:9900"``; literal
    braces doubled); ``secrets`` lists them. The renderer seals ``template.format(**{n: secrets[n] for n in
    self.secrets})`` to the node, exactly like a :class:`Sealed` value.

    Raises:
        ValueError: when a template field is not listed in ``secrets`` or is not a plain name.
    """

    template: str
    secrets: tuple[str, ...]

    def __post_init__(self) -> None:
        for _, field_name, spec, conversion in string.Formatter().parse(self.template):
            if field_name is None:
                continue
            if field_name not in self.secrets or spec or conversion:
                raise ValueError(f"template field {{{field_name}}} is not one of the secrets {self.secrets}")


@dataclass(frozen=True)
class PlacedGateway:
    """What planning decided about a gateway placement (SOLUTIONS §1.9), kept with the solution's placements.

    ``domain`` is the fully qualified name the gateway serves for the solution; ``ips`` the IPv4 addresses of the
    gateway's ``dns_nameserver`` hosts (the subdomain's A records); ``nameservers`` those hosts (NS instructions);
    ``tcp_router_port`` the port on ``nameservers[0]`` where tunnel clients connect.
    """

    domain: str
    ips: tuple[str, ...]
    nameservers: tuple[str, ...]
    tcp_router_port: int

    def __post_init__(self) -> None:  # read back from JSON: lists become tuples again
        object.__setattr__(self, "ips", tuple(self.ips))
        object.__setattr__(self, "nameservers", tuple(self.nameservers))

    @property
    def tunnel_remote(self) -> str:
        """``<dns_nameserver[0]>:<tcp_router_port>``: where a tcprouter client opens its reverse tunnel."""
        return f"{self.nameservers[0]}:{self.tcp_router_port}"


@dataclass(frozen=True)
class Placed:
    """A resolved placement: the node, the grid pool paying for it, and its IP in the network (if any).

    A gateway placement (``gateway`` set) has the gateway's node id and the gateway pool; it never has an IP.
    """

    role: str
    node_id: str
    grid_pool_id: int
    ip: str | None = None
    gateway: PlacedGateway | None = None

    def __post_init__(self) -> None:  # read back from JSON (``Placed(**stored)``): the gateway is a dict there
        if isinstance(self.gateway, dict):
            object.__setattr__(self, "gateway", PlacedGateway(**self.gateway))


@dataclass(frozen=True)
class WorkloadPlan:
    """One workload to create: ``fields`` are the type-specific wire fields (GRID_API §5.9).

    Values may be :class:`Sealed` or :class:`SealedTemplate`, also inside ``secret_environment``. ``key`` is unique
    within the solution (``"container"``, ``"zdb-2"``, ``"worker-1"``); ``role`` names the :class:`Placed` it runs on;
    ``description`` goes to the wire ``description`` field (e.g. ``{"role": "master"}``).
    """

    key: str
    kind: Kind
    role: str
    fields: Mapping[str, Any]
    description: str = ""
