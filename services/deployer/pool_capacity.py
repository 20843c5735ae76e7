"""Pool capacity at planning (GRID_API §10.3): every new workload of a solution summed per pool, and held
against concurrent planners until the grid counts it.

The chatflow names, at submission, the grid pool behind each pool id the spec uses, having checked that they
are the user's (``SubmitSolution.pools``, kept in ``deployer.solution_pools``); a pool id it did not name is
"not yours", whatever the spec says. Planning reads each such pool itself, once (``GET
/reservations/pools/{id}``: remaining CU-/SU-seconds, current burn, nodes) — no question to another service's
worker, nothing cached — and then, in the planning transaction:

* locks one row per grid pool (``deployer.pool_locks``, in id order): planners of the same pool take turns;
* adds the holds of the other solutions being planned or deployed into that pool (``deployer.pool_holds``):
  their workloads take capacity the grid does not count as active yet;
* charges each placement to its pool on top of what this plan already put there, so a cluster, the monitoring
  trio or MinIO's ZDBs are refused together when the pool cannot run them all for ``MIN_POOL_RUNTIME``;
* records this solution's holds, which count while it is planning or deploying.

One read serves the planners of a pool for ``SHARED_READ`` seconds (kept in Redis with the time it was made):
a burst of deployments into one pool reads it once, not once each. Only the grid's totals are shared — the holds
are ours, read under the lock by each plan — and the read is keyed by the owner's pools version
(``contracts.pools_version_key``, bumped by the pools service once a change of the owner's pools is committed), so
a pool just extended or paid is read again at once. A shared read is older than a read of one's own; the race
below is closed for it the same way, from the time it was made.

Race, and why it is closed: the pool is read before the lock, so a solution that deploys in between is in
neither the read's ``active_cu`` nor, once it left ``deploying``, the holds. Holds of solutions that changed
status after the read started (``updated_at`` ≥ read time) therefore still count. The price is a short double
count (a deploying solution's workloads already active on the grid, and its hold), which can only refuse, never
over-commit.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError

from services.common import contracts
from services.common.capacity import Resources, can_carry, cu_su
from services.common.explorer import ExplorerRejected, ExplorerUnavailable
from services.deployer.context import Deployer, Transient
from services.deployer.solutions.base import Placement

HOLDING = ("planning", "deploying")  # a solution whose new workloads may not be active on the grid yet
CLOCK_MARGIN = timedelta(seconds=2)  # the read time is ours, updated_at PostgreSQL's: allow a small skew
SHARED_READ = 1.0  # seconds one read of a pool serves every planner of that pool


def record_verified(cur: Any, solution_id: str, pools: list[contracts.VerifiedPool]) -> None:
    """Keep the pools the chatflow verified for this submission (done once, when the solution is created)."""
    for pool in pools:
        cur.execute(
            """INSERT INTO deployer.solution_pools (solution_id, pool_id, grid_pool_id)
               VALUES (%(s)s, %(p)s, %(g)s) ON CONFLICT DO NOTHING""",
            {"s": solution_id, "p": pool.pool_id, "g": pool.grid_pool_id},
        )


def verified(cur: Any, solution_id: str) -> dict[int, int]:
    cur.execute("SELECT pool_id, grid_pool_id FROM deployer.solution_pools WHERE solution_id = %(s)s",
                {"s": solution_id})  # fmt: skip
    return {int(r["pool_id"]): int(r["grid_pool_id"]) for r in cur.fetchall()}


def _owner(cur: Any, solution_id: str) -> str | None:
    cur.execute("SELECT owner FROM deployer.solutions WHERE id = %(s)s", {"s": solution_id})
    row = cur.fetchone()
    return str(row["owner"]) if row is not None else None


def _hours(seconds: int) -> str:
    hours = seconds / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


@dataclass
class PoolVerdicts:
    """The pools a plan may use, read once, and the capacity this plan charged to each so far."""

    solution_id: str
    seconds: int
    grid_ids: dict[int, int]  # our pool id → grid pool id (verified by the chatflow)
    live: dict[int, dict[str, Any]]  # grid pool id → the pool as read
    missing: dict[int, str]  # our pool id → why it cannot be used
    read_at: datetime
    held: dict[int, tuple[float, float]] = field(default_factory=dict)  # by others, per grid pool
    charged: dict[int, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0]))

    def __getitem__(self, key: tuple[int, Resources]) -> contracts.CapacityVerdict:
        """The verdict for one placement on its own (nodes examined by the node finder; sums in :meth:`fits`)."""
        pool_id, resources = key
        if pool_id in self.missing:
            return contracts.CapacityVerdict(ok=False, reason=self.missing[pool_id])
        grid_pool_id = self.grid_ids[pool_id]
        live = self.live[grid_pool_id]
        return contracts.CapacityVerdict(ok=self.fits(pool_id, resources), reason=self.reason(pool_id),
                                         grid_pool_id=grid_pool_id,
                                         node_ids=list(live.get("node_ids") or []))  # fmt: skip

    def fits(self, pool_id: int, resources: Resources) -> bool:
        """Whether the pool runs what it runs, what others hold, what this plan charged and ``resources``."""
        grid_pool_id = self.grid_ids[pool_id]
        live = self.live[grid_pool_id]
        cu, su = cu_su(resources)
        held_cu, held_su = self.held.get(grid_pool_id, (0.0, 0.0))
        mine_cu, mine_su = self.charged[grid_pool_id]
        return can_carry(float(live["cus"]), float(live["sus"]), float(live["active_cu"]) + held_cu + mine_cu,
                         float(live["active_su"]) + held_su + mine_su, cu, su, self.seconds)  # fmt: skip

    def reason(self, pool_id: int) -> str:
        grid_pool_id = self.grid_ids[pool_id]
        return (f"pool {grid_pool_id} has too little capacity left to run this solution's workloads there (with "
                f"what it already runs and what deployments in progress take) for {_hours(self.seconds)}; extend "
                "it or choose another pool")  # fmt: skip

    def charge(self, pool_id: int, resources: Resources) -> None:
        cu, su = cu_su(resources)
        mine = self.charged[self.grid_ids[pool_id]]
        mine[0] += cu
        mine[1] += su

    def lock(self, cur: Any) -> None:
        """Take the pools' rows (in order: no deadlock between planners) and read what others hold in them."""
        pools = sorted(self.live)
        if not pools:
            return
        cur.execute("INSERT INTO deployer.pool_locks (grid_pool_id) SELECT unnest(%(p)s::bigint[]) "
                    "ON CONFLICT DO NOTHING", {"p": pools})  # fmt: skip
        cur.execute("SELECT grid_pool_id FROM deployer.pool_locks WHERE grid_pool_id = ANY(%(p)s) "
                    "ORDER BY grid_pool_id FOR UPDATE", {"p": pools})  # fmt: skip
        cur.execute(
            """SELECT h.grid_pool_id, sum(h.cu) AS cu, sum(h.su) AS su
                 FROM deployer.pool_holds h JOIN deployer.solutions s ON s.id = h.solution_id
                WHERE h.grid_pool_id = ANY(%(p)s) AND h.solution_id <> %(me)s
                  AND (s.status = ANY(%(holding)s) OR s.updated_at >= %(since)s)
                GROUP BY h.grid_pool_id""",
            {"p": pools, "me": self.solution_id, "holding": list(HOLDING), "since": self.read_at - CLOCK_MARGIN},
        )
        self.held = {int(r["grid_pool_id"]): (float(r["cu"]), float(r["su"])) for r in cur.fetchall()}

    def hold(self, cur: Any) -> None:
        """Record what this plan charged (in the planning transaction, under the pools' locks)."""
        cur.execute("DELETE FROM deployer.pool_holds WHERE solution_id = %(s)s", {"s": self.solution_id})
        # Holds that count no more (their solution left HOLDING long ago) go, under the same pool locks.
        cur.execute(
            """DELETE FROM deployer.pool_holds h USING deployer.solutions s
                WHERE s.id = h.solution_id AND h.grid_pool_id = ANY(%(p)s) AND s.status <> ALL(%(holding)s)
                  AND s.updated_at < now() - interval '10 minutes'""",
            {"p": sorted(self.live), "holding": list(HOLDING)},
        )
        for grid_pool_id, (cu, su) in self.charged.items():
            if cu or su:
                cur.execute("INSERT INTO deployer.pool_holds (solution_id, grid_pool_id, cu, su) "
                            "VALUES (%(s)s, %(g)s, %(cu)s, %(su)s)",
                            {"s": self.solution_id, "g": grid_pool_id, "cu": cu, "su": su})  # fmt: skip


def read_pools(dep: Deployer, solution_id: str, placements: list[Placement], grid_ids: dict[int, int] | None = None,
               owner: str | None = None) -> PoolVerdicts:  # fmt: skip
    """Every grid pool the placements may use, before any lock is taken: a read shared by the planners of the
    pool for ``SHARED_READ`` seconds, else one GET each (then shared). ``grid_ids`` (:func:`verified`) and
    ``owner``: as the caller read them already (else read here, in a transaction of their own).

    Raises:
        Transient: the explorer cannot be read now (planning tries again later).
    """
    if grid_ids is None:
        with dep.db.transaction() as cur:
            grid_ids = verified(cur, solution_id)
            owner = _owner(cur, solution_id)
    version = _version(dep, owner)
    reads: list[datetime] = []  # when each pool's answer was asked for (the race is closed from the oldest)
    wanted = list(dict.fromkeys(pool_id for p in placements for pool_id in (p.pool_id, *p.alternatives)))
    live: dict[int, dict[str, Any]] = {}
    missing: dict[int, str] = {}
    for pool_id in wanted:
        grid_pool_id = grid_ids.get(pool_id)
        if grid_pool_id is None:
            missing[pool_id] = f"you have no pool {pool_id}"
            continue
        if grid_pool_id in live:
            continue
        shared = _shared(dep, grid_pool_id, version)
        if shared is not None:
            live[grid_pool_id], made_at = shared
            reads.append(made_at)
            continue
        started = datetime.now().astimezone()
        try:
            answer = dep.grid.explorer.get_json(f"/reservations/pools/{grid_pool_id}")
        except ExplorerRejected as exc:
            if exc.status != 404:
                raise Transient(f"the grid explorer refused to show pool {grid_pool_id}: {exc.message}") from None
            missing[pool_id] = f"pool {grid_pool_id} no longer exists on the grid"
            continue
        except ExplorerUnavailable as exc:
            raise Transient(f"the grid explorer is unavailable ({exc})") from None
        if not isinstance(answer, dict) or not all(k in answer for k in ("cus", "sus", "active_cu", "active_su")):
            raise Transient(f"the grid explorer answered something that is not pool {grid_pool_id}")
        live[grid_pool_id] = answer
        reads.append(started)
        _share(dep, grid_pool_id, version, answer, started)
    read_at = min(reads, default=datetime.now().astimezone())
    return PoolVerdicts(solution_id, dep.settings.min_pool_runtime, grid_ids, live, missing, read_at)


def _version(dep: Deployer, owner: str | None) -> str | None:
    """The owner's pools version (None: no sharing, every plan reads for itself)."""
    if owner is None:
        return None
    try:
        return str(int(dep.redis.get(contracts.pools_version_key(owner)) or 0))
    except (RedisError, ValueError):
        return None


def _shared_key(grid_pool_id: int, version: str) -> str:
    return f"deployer:pool-read:{grid_pool_id}:v{version}"


def _shared(dep: Deployer, grid_pool_id: int, version: str | None) -> tuple[dict[str, Any], datetime] | None:
    if version is None:
        return None
    try:
        raw = dep.redis.get(_shared_key(grid_pool_id, version))
        if raw is None:
            return None
        value = json.loads(raw)
        return dict(value["pool"]), datetime.fromisoformat(value["read_at"])
    except (RedisError, ValueError, KeyError, TypeError):
        return None  # sharing is an optimisation only: read it


def _share(dep: Deployer, grid_pool_id: int, version: str | None, pool: dict[str, Any], read_at: datetime) -> None:
    """Keep a read for the next planners; ``read_at`` is when its GET was sent (the race is closed from then)."""
    if version is None:
        return
    value = json.dumps({"pool": pool, "read_at": read_at.isoformat()}, default=str)
    with contextlib.suppress(RedisError):  # sharing is an optimisation only
        dep.redis.set(_shared_key(grid_pool_id, version), value, px=int(SHARED_READ * 1000))
