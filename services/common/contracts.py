"""The whole inter-service API: Celery task names and their pydantic payload models.

A message carries ids and an idempotency key, never state (DESIGN "How services talk"). Every payload has a
``version`` so a worker can refuse a message it does not understand instead of misreading it. Task names are
``"<service>.<verb_noun>"`` and run on the queue named after the service (the part before the dot).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Payload(BaseModel):
    """Base of every task payload: frozen, unknown fields rejected, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1


# -- ping: one per worker queue; proves the wiring (broker → queue → worker → result backend) ---------------

DEPLOYER_PING = "deployer.ping"
POOLS_PING = "pools.ping"
BACKUP_PING = "backup.ping"
PING_TASKS = (DEPLOYER_PING, POOLS_PING, BACKUP_PING)


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


class WatchPayments(Payload):
    """Beat: look at every reservation awaiting payment once (credited → active, past expiry → expired)."""


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


# -- deployer -------------------------------------------------------------------------------------------------

DEPLOYER_SUBMIT = "deployer.submit_solution"
DEPLOYER_ADVANCE = "deployer.advance_solution"
DEPLOYER_REFRESH_NODES = "deployer.refresh_nodes"
DEPLOYER_RECONCILE = "deployer.reconcile"

_KEY = r"^[A-Za-z0-9_.:-]{8,128}$"
_OWNER = r"^[A-Za-z0-9_.-]{1,64}$"


class SubmitSolution(Payload):
    """Deploy a solution for ``owner``: the same ``idempotency_key`` (the chatflow session id) → one solution.

    ``spec`` is the planner's spec (SOLUTIONS §3); ``secrets`` is the JSON object of the solution's secrets
    (cluster secret, secret keys) encrypted to the marketplace identity with
    :meth:`services.common.identity.Identity.encrypt_secrets`, so no secret crosses Redis or lands in
    PostgreSQL in clear.
    """

    idempotency_key: str = Field(pattern=_KEY)
    owner: str = Field(pattern=_OWNER)
    type: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    spec: dict[str, object]
    secrets: str = Field("", max_length=16_384)


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
