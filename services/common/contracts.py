"""The whole inter-service API: Celery task names and their pydantic payload models.

A message carries ids and an idempotency key, never state (DESIGN "How services talk"). Every payload has a
``version`` so a worker can refuse a message it does not understand instead of misreading it. Task names are
``"<service>.<verb_noun>"`` and run on the queue named after the service (the part before the dot).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The base of every payload (the app catalogue's models, which share it, are in app_contracts; the gateway,
# domain and Solution Expose queries' models in gateway_contracts).
from services.common.payload import Payload

# -- ping: one per worker queue; proves the wiring (broker → queue → worker → result backend) ---------------

CHATFLOW_PING = "chatflow.ping"
DEPLOYER_PING = "deployer.ping"
POOLS_PING = "pools.ping"
BACKUP_PING = "backup.ping"
PING_TASKS = (CHATFLOW_PING, DEPLOYER_PING, POOLS_PING, BACKUP_PING)


class Ping(Payload):
    """Ask a worker to answer; ``echo`` comes back unchanged in :class:`Pong`."""

    echo: str = Field(default="", max_length=200)


class Pong(Payload):
    """A worker's answer to :class:`Ping`."""

    service: str
    echo: str
    worker: str


def queue_of(task_name: str) -> str:
    """The queue a task runs on: the service prefix of its name (``"pools.ping"`` → ``"pools"``).

    Raises:
        ValueError: the name does not have the ``<service>.<verb_noun>`` form.
    """
    service, dot, verb = task_name.partition(".")
    if not dot or not service or not verb:
        raise ValueError(f"task name {task_name!r} is not '<service>.<verb_noun>'")
    return service


# -- pools ----------------------------------------------------------------------------------------------------

POOLS_WATCH_PAYMENTS = "pools.watch_payments"
POOLS_LIST_CAPABLE = "pools.list_capable_pools"
POOLS_CHECK_CAPACITY = "pools.check_capacity"


def pools_version_key(owner: str) -> str:
    """The Redis counter the pools service bumps once a change of ``owner``'s pools (state, capacity) is committed;
    the chatflow puts its value in the keys of its cached pool answers, so the change reaches the wizards at once.
    """
    return f"pools:version:{owner}"


class WatchPayments(Payload):
    """Beat: look at every reservation awaiting payment once (credited → active, past expiry → expired), and
    settle the pool creations whose buyer died mid-way."""


class CapacityQuery(Payload):
    """A plan's needs: cores, GiB of memory/SSD/HDD, for how long (seconds), for which owner."""

    owner: str = Field(min_length=1, max_length=64)
    cru: float = Field(ge=0, le=10_000)
    mru: float = Field(ge=0, le=1_000_000)
    sru: float = Field(ge=0, le=10_000_000)
    hru: float = Field(ge=0, le=10_000_000)
    seconds: int = Field(ge=1, le=10 * 365 * 86400)


class CheckCapacity(CapacityQuery):
    """Can pool ``pool_id`` (ours, owned by ``owner``) carry this plan?

    With ``nodes=False`` the pool's own nodes are not examined (the deployer fits nodes with its node index): the
    answer then covers ownership, state and remaining CU/SU, and names all of the pool's nodes.
    """

    pool_id: int = Field(gt=0)
    nodes: bool = True


class CapablePool(BaseModel):
    pool_id: int
    grid_pool_id: int
    farm: str
    cus: float
    sus: float
    node_ids: list[str]
    label: str


class CapablePools(Payload):
    """Answer of ``pools.list_capable_pools``."""

    pools: list[CapablePool]


class CapacityVerdict(Payload):
    """Answer of ``pools.check_capacity``: ``ok``, or the reason a user can act on.

    ``grid_pool_id`` and ``node_ids`` are set whenever the pool is the owner's and active, even when ``ok`` is
    false because its remaining capacity falls short.
    """

    ok: bool
    reason: str = ""
    grid_pool_id: int | None = None
    node_ids: list[str] = Field(default_factory=list)
    transient: bool = False  # no verdict now (the explorer is unavailable): ask again later


# -- deployer -------------------------------------------------------------------------------------------------

DEPLOYER_SUBMIT = "deployer.submit_solution"
DEPLOYER_ADVANCE = "deployer.advance_solution"
DEPLOYER_REFRESH_NODES = "deployer.refresh_nodes"
DEPLOYER_RECONCILE = "deployer.reconcile"
DEPLOYER_POLL = "deployer.poll_grid"
DEPLOYER_AWAIT_READY = "deployer.await_ready"

_KEY = r"^[A-Za-z0-9_.:-]{8,128}$"
_OWNER = r"^[A-Za-z0-9_.-]{1,64}$"


class VerifiedPool(BaseModel):
    """A pool the spec names, as the chatflow checked it is the owner's: our pool id and the grid's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool_id: int = Field(gt=0)
    grid_pool_id: int = Field(gt=0)


class SubmitSolution(Payload):
    """Deploy a solution for ``owner``: the same ``idempotency_key`` (the chatflow session id) → one solution.

    ``spec`` is the planner's spec (SOLUTIONS §3); ``secrets`` is the JSON object of the solution's secrets
    (cluster secret, secret keys) encrypted to the marketplace identity with
    :meth:`services.common.identity.Identity.encrypt_secrets`, so no secret crosses Redis or lands in
    PostgreSQL in clear. ``pools`` maps each pool id of the spec to its grid pool, as the chatflow verified it
    (the deployer reads those grid pools itself, and treats any other pool id as not the owner's).
    """

    idempotency_key: str = Field(pattern=_KEY)
    owner: str = Field(pattern=_OWNER)
    type: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    spec: dict[str, object]
    secrets: str = Field("", max_length=16_384)
    # Every pool id of the spec, verified as the owner's by the chatflow; the deployer uses no other pool.
    pools: list[VerifiedPool] = Field(default_factory=list, max_length=256)


class SubmitError(BaseModel):
    field: str
    description: str


class SubmitResult(Payload):
    """Answer of ``deployer.submit_solution``: the solution, or why the spec was refused (nothing deployed)."""

    ok: bool
    solution_id: str | None = None
    status: str | None = None
    errors: list[SubmitError] = Field(default_factory=list)


class AdvanceSolution(Payload):
    """Drive one solution as far as it can go now. ``wake_token`` is set on the self-scheduled re-checks only:
    a re-check whose token is no longer the solution's current one is a duplicate and does nothing."""

    solution_id: str = Field(pattern=r"^[0-9a-f-]{32,36}$")
    wake_token: str | None = None


class RefreshNodes(Payload):
    """Beat: refresh the deployer's node index from the explorer."""


class Reconcile(Payload):
    """Beat: re-drive stalled solutions; compare our workloads with the grid's (both directions)."""


class AwaitReady(Payload):
    """Beat, every ``THREEBOT_READY_INTERVAL``: ask each initialising 3Bot's ``/admin`` once (SOLUTIONS §3.12)."""


class PollGrid(Payload):
    """Beat, every ``DEPLOY_POLL_INTERVAL``: one listing of our workloads on the grid; wake the solutions whose
    workloads changed, those past their deadline, and those waiting on nothing the listing shows."""


# -- queries the wizards ask (answers within QUERY_TIMEOUT; a timeout is a retryable 503) --------------------

DEPLOYER_LIST_NETWORKS = "deployer.list_networks"
DEPLOYER_NAME_FREE = "deployer.name_free"
DEPLOYER_NODE_CHOICES = "deployer.node_choices"
DEPLOYER_FREE_IPS = "deployer.free_ips"
DEPLOYER_LIST_GATEWAYS = "deployer.list_gateways"
DEPLOYER_DOMAIN_FREE = "deployer.domain_free"
DEPLOYER_DELEGATED_DOMAINS = "deployer.delegated_domains"
DEPLOYER_EXPOSE_TARGETS = "deployer.expose_targets"
DEPLOYER_APP_CATALOGUE = "deployer.app_catalogue"
DEPLOYER_PHONEBOOK_KEY = "deployer.phonebook_key"
POOLS_LIST_POOLS = "pools.list_pools"
POOLS_LIST_FARMS = "pools.list_farms"
POOLS_BUY = "pools.buy_capacity"
POOLS_LIST_APP_FARMS = "pools.list_app_farms"


class OwnerQuery(Payload):
    owner: str = Field(pattern=_OWNER)


class NetworkInfo(BaseModel):
    name: str
    ip_range: str
    nodes: list[str]


class Networks(Payload):
    """Answer of ``deployer.list_networks``: the owner's deployed networks (short names)."""

    networks: list[NetworkInfo]


class NameQuery(OwnerQuery):
    type: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    name: str = Field(max_length=64)


class Answer(Payload):
    ok: bool
    reason: str = ""


class NodeChoicesQuery(Payload):
    """Up nodes among ``node_ids`` (a pool's) that fit the resources (``OVER_PROVISIONING`` applies)."""

    node_ids: list[str] = Field(max_length=10_000)
    cru: float = Field(ge=0)
    mru: float = Field(ge=0)
    sru: float = Field(ge=0)
    hru: float = Field(ge=0)
    public_ipv4: bool = False
    public_ipv6: bool = False


class NodeChoices(Payload):
    node_ids: list[str]


class PhonebookQuery(Payload):
    """Is there an explorer identity of this name (a hosted 3Bot's ``<owner>_<name>``), and with which key?"""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class PhonebookKey(Payload):
    found: bool
    pubkey: str = ""  # hex Ed25519 verify key, when found


class FreeIpsQuery(OwnerQuery):
    network: str = Field(max_length=64)
    node_id: str = Field(max_length=64)


class FreeIps(Payload):
    """Free IPs of the node's /24 in the network; empty when the node is not in the network yet."""

    ips: list[str]


class PoolSummary(BaseModel):
    pool_id: int
    grid_pool_id: int | None
    farm: str
    state: str
    label: str
    currencies: list[str]


class PoolList(Payload):
    pools: list[PoolSummary]


class FarmsQuery(Payload):
    currency: Literal["TFT", "TFTA", "FreeTFT"]


class FarmOffer(BaseModel):
    farm_id: int
    label: str
    name: str = ""
    node_ids: list[str] = []  # its nodes and gateways, as a pool bought on it holds them (app farms only)


class AppFarmsQuery(Payload):
    """The farms of ``APP_FARMS`` that accept ``currency`` and whose free capacity (only ``free_to_use`` nodes for
    FreeTFT) fits an app's pricing query (SOLUTIONS §1.10 step 6.1): cores and GiB of memory/SSD/HDD."""

    currency: Literal["TFT", "TFTA", "FreeTFT"]
    cru: float = Field(ge=0, le=10_000)
    mru: float = Field(ge=0, le=1_000_000)
    sru: float = Field(ge=0, le=10_000_000)
    hru: float = Field(ge=0, le=10_000_000)


class FarmList(Payload):
    farms: list[FarmOffer]


class BuyCapacity(Payload):
    """Create a pool on ``farm_id`` (``pool_id`` None) or extend ``pool_id``; the same key → the same purchase."""

    owner: str = Field(pattern=_OWNER)
    key: str = Field(pattern=_KEY)
    currency: Literal["TFT", "TFTA", "FreeTFT"]
    cus: int = Field(ge=0)
    sus: int = Field(ge=0)
    days: int | None = Field(None, ge=1)
    farm_id: int | None = Field(None, gt=0)
    pool_id: int | None = Field(None, gt=0)


class Purchase(Payload):
    """Answer of ``pools.buy_capacity``: our pool id and the payment to make, or why it failed."""

    ok: bool
    reason: str = ""
    pool_id: int | None = None
    payment: dict[str, object] = Field(default_factory=dict)


CHATFLOW_EXPIRE = "chatflow.expire_sessions"


class ExpireSessions(Payload):
    """Beat: delete wizard sessions past their expiry."""


# -- backup -----------------------------------------------------------------------------------------------------

BACKUP_COMPLETE = "backup.complete_accounts"


class CompleteAccounts(Payload):
    """Beat: copy every backup account that one server missed (it was down during `init`) onto that server."""
