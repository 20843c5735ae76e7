"""What a planner is: a pure function of a validated spec (and of what the deployer already placed and deployed).

The deployer runs a solution in *stages*. Before stage 0 it resolves every :class:`Placement` the planner asks for
(pool → grid pool and node ids through the pools service, node via the node finder, attachment of the node to the
solution's network, IP allocation) into a :class:`Placed`. Then, for ``stage = 0, 1, …``, it calls
``planner.build(spec, ctx, stage)``: the workloads of that stage are recorded, sent, and all awaited before the next
stage is built, so a later stage can use the results of earlier ones (a volume's id in a container mount, the ZDB
namespaces in MinIO's shard list). ``build`` returns ``None`` once there are no more stages.

Stage -1 comes first when the solution's network must change or reach a node: what the solution does to a network
(join it, create it, add a laptop's access, end it) is declared by the planner's network hooks
(``solutions/network_use.py``), which the deployer calls at planning, cancel and teardown; a network or an access
point does all of its work there, and its ``build`` has nothing more.

Planners never touch the database, the explorer or the clock: they are unit-tested as plain functions (the
hooks act through the ``NetworkOps``, ``ExposeOps`` and ``FileOps`` the deployer hands them).

The workload-plan types (:class:`Placed`, :class:`WorkloadPlan`, :class:`Sealed`, :class:`SealedTemplate`) live in
``grid/workload_plan.py`` next to the renderer that consumes them (``grid/`` never imports ``solutions/``); they are
re-exported here for the planners.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from services.common.capacity import Resources
from services.deployer.grid.kinds import Kind
from services.deployer.grid.workload_plan import Placed as Placed
from services.deployer.grid.workload_plan import PlacedGateway as PlacedGateway
from services.deployer.grid.workload_plan import Sealed as Sealed
from services.deployer.grid.workload_plan import SealedTemplate as SealedTemplate
from services.deployer.grid.workload_plan import WorkloadPlan as WorkloadPlan

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,30}$"


class Spec(BaseModel):
    """Base of every solution spec: the short name the user typed; unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Names of the secrets the user typed (never in the spec: stored encrypted, referenced by Sealed) and of those
    # the deployer generates at submit time (32 random hex chars each).
    secret_names: ClassVar[tuple[str, ...]] = ()
    generated_secrets: ClassVar[tuple[str, ...]] = ()

    name: str = Field(pattern=NAME_PATTERN)

    @classmethod
    def fresh_secrets(cls) -> dict[str, str]:
        """The secrets the deployer makes at submission (stored encrypted with the user's, never in the spec): 32
        random hex chars per name of ``generated_secrets`` unless the spec says otherwise (an app's generators)."""
        return {name: secrets.token_hex(16) for name in cls.generated_secrets}

    def required_secrets(self) -> tuple[str, ...]:
        """The user's secrets this spec's plan seals: ``secret_names``, plus any the spec itself names (a
        container's secret variables); submission refuses a spec whose secrets lack one."""
        return self.secret_names

    @classmethod
    def secret_problems(cls, secrets: Mapping[str, str]) -> dict[str, str]:
        """``{secret name: why it is refused}`` for the user's secrets (a 3Bot's backup password is bounded);
        the default refuses nothing."""
        return {}

    @classmethod
    def complete(cls, spec: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
        """What the deployer fills in at submit time, before validation (a key pair it makes; ``secrets`` may gain
        the private half). The default fills in nothing."""
        return spec


@dataclass(frozen=True)
class Placement:
    """A request for one node (and pool) that workloads of the plan will run on.

    ``pool_id`` is the user's pool id in the pools service; ``node_id`` is the user's pick or ``None`` for an
    automatic choice among the up nodes of the pool that fit ``resources`` (with ``group``: never the same node
    as another placement of that group). ``network`` asks for the node to be in the solution's network and
    for one IP on it (``ip`` when the user chose one, else the first free). ``public_ipv4``/``public_ipv6`` ask for
    a node with a public address of that family (a network's access node). ``alternatives`` are further pools
    of the user tried in order when no node of ``pool_id`` fits (e.g. the other pools a Kubernetes user selected).
    """

    role: str
    pool_id: int
    resources: Resources
    node_id: str | None = None
    network: bool = True
    ip: str | None = None
    group: str | None = None
    public_ipv4: bool = False
    public_ipv6: bool = False
    alternatives: tuple[int, ...] = ()
    colocate: str | None = None  # on the node of the placement with this role (resolved before this one)
    # ``node_id`` is the marketplace's plan (the apps wizard showed it), not the user's pick: when it no longer fits
    # at planning (another deployment took its room since), another fitting node of the pool is used, and said.
    node_planned: bool = False


@dataclass(frozen=True)
class GatewayRequest:
    """A gateway (and a public name on it) the plan needs (SOLUTIONS §1.9); planning resolves it into a
    :class:`Placed` whose ``node_id`` is the gateway, ``grid_pool_id`` the gateway pool (a pool of the user that
    contains the gateway) and ``gateway`` the name and the gateway's name servers.

    ``pool_ids``: the user's pools to look for gateways in (verified by the chatflow like every pool id of a spec).
    The name is one of:

    * ``domain``: exactly this fully qualified name (a custom or delegated domain; no availability check);
    * ``label`` under ``parent`` (a managed domain the user chose) or, without ``parent``, under a managed domain
      drawn at random among the usable gateways' whose Let's Encrypt weekly budget is not used up (the automatic
      domain). A label that resolves or that a live solution uses gets ``-<1000…100000>`` appended (or, with
      ``suffix=False``, planning fails).

    With neither ``domain`` nor ``label`` the request is for a gateway only (a 4to6 gateway): no name is chosen
    and ``PlacedGateway.domain`` is ``""``. ``gateway_id`` restricts the choice to one gateway.
    """

    role: str
    pool_ids: tuple[int, ...]
    label: str | None = None
    parent: str | None = None
    domain: str | None = None
    gateway_id: str | None = None
    suffix: bool = True
    # Prefix ``label`` with the owner (planners do not know it): "advanced" → ``<owner without .3bot>-<label>``
    # (Gitea, Gollum), "app" → ``<owner, dots removed>-<label>`` (apps, SOLUTIONS §1.9).
    owner_prefix: Literal["", "advanced", "app"] = ""
    # The ``-<n>`` to try first (the name a wizard showed, ``<label>-<n>``, because ``<label>`` was taken then).
    first_suffix: int | None = None


@dataclass(frozen=True)
class Marketplace:
    """Facts of this marketplace a planner may use: its grid twin id (the tunnel secrets are ``"<tid>:<hex>"``),
    ``TEST_CERT`` (Let's Encrypt staging in TLS proxies and tunnels), the configured images (the short keys of the
    advanced solutions and every ``FLIST_*`` key of the apps) and the login/KYC addresses apps are given."""

    tid: int = 0
    test_cert: bool = False
    flists: Mapping[str, str] = field(default_factory=dict)
    # The 3Bot login page and the KYC service, for images with 3Bot login (THREEBOT_URL, OPEN_KYC_URL).
    threebot_login_url: str = "https://login.threefold.me"
    openkyc_url: str = "https://openkyc.live"
    # The hosted 3Bot's entrypoint script inside FLIST_THREEBOT (THREEBOT_ENTRYPOINT, SOLUTIONS §2).
    threebot_entrypoint: str = "/entrypoint.sh"


@dataclass(frozen=True)
class Deployed:
    """A deployed workload of an earlier stage: its grid id and the node's ``result.data_json``."""

    key: str
    grid_id: int
    node_id: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class PlanContext:
    """Everything a planner may read besides the spec. ``network`` is the grid-side network name."""

    owner: str
    network: str | None
    placed: Mapping[str, Placed]
    deployed: Mapping[str, Deployed] = field(default_factory=dict)
    marketplace: Marketplace = field(default_factory=Marketplace)


@dataclass(frozen=True)
class WorkloadView:
    """A workload as the listing sees it: what was sent (``fields``, secrets sealed) and what the node said."""

    key: str
    kind: Kind
    role: str
    node_id: str
    grid_pool_id: int
    grid_id: int | None
    state: str
    fields: Mapping[str, Any]
    data: Mapping[str, Any]
    gateway: PlacedGateway | None = None  # a gateway workload: the name and name servers planning chose


class Planner(Protocol):
    """One solution type. Implementations are modules-level singletons registered in ``solutions/__init__``.

    A planner that uses a network other than as a member (see ``network_use.NetworkHooks``) inherits
    ``NetworkHooks`` and overrides its hooks; one that takes part in Solution Expose (a target, the exposer, a
    delegation) inherits ``expose_use.ExposeHooks``; one that hands out a one-time WireGuard file inherits
    ``handout.Handout``. The others need not declare anything: the defaults apply.
    """

    spec_model: ClassVar[type[Spec]]
    type: ClassVar[str]

    def placements(self, spec: Any) -> list[Placement]:
        """The nodes the plan needs, in the order they are resolved."""
        ...

    def network_of(self, spec: Any) -> str | None:
        """The short name of the user network the solution lives in (``None``: no network)."""
        ...

    def build(self, spec: Any, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        """The workloads of ``stage`` (sent together, all awaited before the next); ``None`` after the last (the
        network stage -1 is not built here: the network hooks declare it)."""
        ...

    def listing(self, spec: Any, workloads: list[WorkloadView]) -> dict[str, Any]:
        """The type's listing keys (SOLUTIONS §6.2), ``Name`` and ``wids`` included."""
        ...

    def outputs(self, spec: Any, workloads: list[WorkloadView]) -> dict[str, Any]:
        """What the user gets once deployed: IPs, URLs, ssh commands (no secrets)."""
        ...


def gateway_requests(planner: Any, spec: Any) -> list[GatewayRequest]:
    """The planner's gateways (an optional hook: planners without public names need not define ``gateways``)."""
    hook = getattr(planner, "gateways", None)
    return list(hook(spec)) if hook is not None else []


def container_fields(
    *,
    flist: str,
    cpu: int,
    memory: int,
    disk: int,
    network: str,
    ip: str,
    public_ipv6: bool = False,
    entrypoint: str = "",
    interactive: bool = False,
    environment: Mapping[str, str] | None = None,
    secret_environment: Mapping[str, Sealed | SealedTemplate] | None = None,
    volumes: list[dict[str, str]] | None = None,
    logs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The wire fields of a container (GRID_API §5.9) with the marketplace's defaults (SOLUTIONS §2)."""
    return {
        "flist": flist,
        "hub_url": "",
        "storage_url": "zdb://hub.grid.tf:9900",
        "environment": dict(environment or {}),
        "secret_environment": dict(secret_environment or {}),
        "entrypoint": entrypoint,
        "interactive": interactive,
        "volumes": list(volumes or []),
        "network_connection": [{"network_id": network, "ipaddress": ip, "public_ip6": public_ipv6}],
        "logs": list(logs or []),
        "stats_aggregator": [],
        "capacity": {"cpu": cpu, "memory": memory, "disk_size": disk, "disk_type": 1},
    }
