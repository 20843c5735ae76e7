"""Celery tasks of the pools worker: the beat-driven payment watch and the capacity queries of other services."""

from __future__ import annotations

from celery import Celery
from redis import Redis

from services.common import contracts
from services.common.capacity import Resources
from services.common.db import Database, DatabaseUnavailable
from services.common.explorer import Explorer, ExplorerUnavailable
from services.common.identity import load_identity
from services.common.settings import Settings
from services.common.tasks import define_task
from services.pools import changes, farms, service


def _unavailable(exc: Exception) -> contracts.CapacityVerdict:
    """No verdict now: the asker retries later instead of treating the pool as unusable."""
    return contracts.CapacityVerdict(ok=False, reason=f"the grid explorer is unavailable ({exc})", transient=True)


def register(app: Celery, settings: Settings) -> None:
    db = Database(settings.database_url, maxconn=4)
    explorer = Explorer(settings, load_identity(settings.identity_seed_file, create=settings.is_dev))
    notify = changes.notifier(Redis.from_url(settings.redis_url, socket_timeout=5))

    @define_task(app, contracts.POOLS_WATCH_PAYMENTS, contracts.WatchPayments, time_limit=120,
                 retry_on=(DatabaseUnavailable,), max_retries=2)  # fmt: skip
    def watch_payments(payload: contracts.WatchPayments) -> dict[str, int]:
        resumed = service.resume_interrupted(db, explorer, settings, notify)
        return {**service.check_payments(db, explorer, notify), "resumed": resumed}

    @define_task(app, contracts.POOLS_LIST_CAPABLE, contracts.CapacityQuery, time_limit=30)
    def list_capable_pools(payload: contracts.CapacityQuery) -> contracts.CapablePools:
        query = Resources(payload.cru, payload.mru, payload.sru, payload.hru)
        pools = service.capable_pools(db, explorer, settings, payload.owner, query, payload.seconds)
        return contracts.CapablePools(pools=[contracts.CapablePool(**p) for p in pools])

    @define_task(app, contracts.POOLS_CHECK_CAPACITY, contracts.CheckCapacity, time_limit=30)
    def check_capacity(payload: contracts.CheckCapacity) -> contracts.CapacityVerdict:
        query = Resources(payload.cru, payload.mru, payload.sru, payload.hru)
        if not payload.nodes:
            try:
                return service.pool_verdict(db, explorer, payload.owner, payload.pool_id, query, payload.seconds)
            except ExplorerUnavailable as exc:
                return _unavailable(exc)
        try:
            pools = service.capable_pools(db, explorer, settings, payload.owner, query, payload.seconds)
        except ExplorerUnavailable as exc:
            return _unavailable(exc)
        match = next((p for p in pools if p["pool_id"] == payload.pool_id), None)
        if match is None:
            return contracts.CapacityVerdict(
                ok=False, reason="this pool cannot carry the deployment (not yours, not active, too little capacity "
                "left for the duration, or no up node that fits); extend it or choose another"
            )  # fmt: skip
        return contracts.CapacityVerdict(ok=True, grid_pool_id=match["grid_pool_id"], node_ids=match["node_ids"])

    # The pools wizard (chatflow) buys and lists through these; answers come back within its QUERY_TIMEOUT.
    @define_task(app, contracts.POOLS_LIST_POOLS, contracts.OwnerQuery, time_limit=30)
    def list_pools(payload: contracts.OwnerQuery) -> contracts.PoolList:
        return contracts.PoolList(pools=service.pool_summaries(db, explorer, payload.owner))

    @define_task(app, contracts.POOLS_LIST_FARMS, contracts.FarmsQuery, time_limit=30)
    def list_farms(payload: contracts.FarmsQuery) -> contracts.FarmList:
        offers = farms.list_offers(explorer, payload.currency)
        return contracts.FarmList(farms=[contracts.FarmOffer(farm_id=o["id"], label=farms.label(o)) for o in offers])

    @define_task(app, contracts.POOLS_LIST_APP_FARMS, contracts.AppFarmsQuery, time_limit=30)
    def list_app_farms(payload: contracts.AppFarmsQuery) -> contracts.FarmList:
        need = {"cru": payload.cru, "mru": payload.mru, "sru": payload.sru, "hru": payload.hru}
        offers = farms.app_offers(explorer, settings.app_farms, payload.currency, need)
        return contracts.FarmList(farms=[contracts.FarmOffer(farm_id=o["id"], label=farms.label(o), name=o["name"],
                                                             node_ids=o["node_ids"])
                                         for o in offers])  # fmt: skip

    @define_task(app, contracts.POOLS_BUY, contracts.BuyCapacity, time_limit=60)
    def buy_capacity(payload: contracts.BuyCapacity) -> contracts.Purchase:
        return service.buy(db, explorer, settings, payload, notify)
