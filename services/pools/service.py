"""The rules of capacity pools, the one entry the views and tasks call (SOLUTIONS §3.1, §7; GRID_API §4.5).

Each rule lives in the module of its responsibility; this module names them for the callers and holds the
wizard's purchase, which is either of the two ways to buy:

- ``buying``: buy a new pool, adopting a pool the grid made after a lost answer, and settle creations whose
  buyer died mid-way;
- ``extending``: add capacity to an active pool;
- ``payment_watch``: recognise payments (credited → active) and expiries;
- ``queries``: the capacity questions other services ask (capable pools, one pool's verdict, the pools list);
- ``display``: what a user is shown of a pool and its payment; ``grid``: the explorer's bodies and answers.
"""

from __future__ import annotations

from typing import Any

from services.common import contracts
from services.common.db import Database
from services.common.errors import ApiError
from services.common.explorer import Explorer
from services.common.settings import Settings
from services.pools import store
from services.pools.buying import create_pool, resume_interrupted
from services.pools.changes import Notify
from services.pools.display import payment_view, pool_view
from services.pools.extending import extend_pool
from services.pools.grid import live_state
from services.pools.payment_watch import check_payments
from services.pools.queries import capable_pools, pool_summaries, pool_verdict

__all__ = [
    "buy",
    "capable_pools",
    "check_payments",
    "create_pool",
    "extend_pool",
    "live_state",
    "payment_view",
    "pool_summaries",
    "pool_verdict",
    "pool_view",
    "resume_interrupted",
]


def buy(db: Database, explorer: Explorer, settings: Settings, order: contracts.BuyCapacity,
        notify: Notify | None = None) -> contracts.Purchase:  # fmt: skip
    """Create (``farm_id``) or extend (``pool_id``) a pool for the wizard; the same key → the same purchase."""
    reservation: dict[str, Any] | None
    try:
        if order.pool_id is not None:
            reservation = extend_pool(db, explorer, settings, order.owner, order.pool_id, order.key,
                                      order.currency, order.cus, order.sus)  # fmt: skip
            pool_id = order.pool_id
        elif order.farm_id is not None:
            pool_id, _ = create_pool(db, explorer, settings, order.owner, order.key, order.farm_id, order.currency,
                                     order.cus, order.sus, order.days, notify)  # fmt: skip
            with db.transaction() as cur:
                reservation = store.latest_reservation(cur, pool_id)
        else:
            return contracts.Purchase(ok=False, reason="choose a farm or a pool")
    except ApiError as exc:
        return contracts.Purchase(ok=False, reason=exc.errors[0].description if exc.errors else exc.message)
    if reservation is None:
        return contracts.Purchase(ok=False, reason="the reservation could not be made")
    return contracts.Purchase(ok=True, pool_id=pool_id, payment=payment_view(settings, reservation))
