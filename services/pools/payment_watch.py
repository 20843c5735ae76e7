"""The payment watch: recognising that a reservation was paid, or expired unpaid (SOLUTIONS §7; GRID_API §4.5).

Beat runs :func:`check_payments` every ``PAYMENT_WATCH_INTERVAL`` s on the pools worker. The explorer shows nothing
per reservation, only the pool's balance, so payments are recognised from how that balance moves (:func:`_pays`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from services.common.db import Database
from services.common.explorer import Explorer
from services.pools import metrics, store
from services.pools.changes import Notify
from services.pools.grid import live_state

log = structlog.get_logger(__name__)


def _grid_time(live: dict[str, Any]) -> datetime:
    """When the explorer computed this balance, on the explorer's clock (its burn runs on that clock, not ours)."""
    stamp = live.get("last_updated")
    return datetime.fromtimestamp(int(stamp), UTC) if isinstance(stamp, int | float) else datetime.now(UTC)


def observe(cur: Any, reservation_id: int, live: dict[str, Any]) -> None:
    """Note the pool's balance and burn as last seen for a reservation awaiting payment (see :func:`_pays`)."""
    store.update_reservation(
        cur, reservation_id, baseline_cus=float(live["cus"]), baseline_sus=float(live["sus"]),
        baseline_active_cu=float(live["active_cu"]), baseline_active_su=float(live["active_su"]),
        baseline_at=_grid_time(live),
    )  # fmt: skip


def _pays(rows: list[dict[str, Any]], live: dict[str, Any]) -> bool:
    """Whether the rise of the pool's balance since it was last seen pays exactly these extensions together.

    The explorer offers nothing per reservation (no "paid" flag, no amount paid; GRID_API §4.5): only the pool's
    balance. Without a payment that balance never rises — the burn only lowers it, and it stops at 0 — so a rise
    is a credit; it is ours when it equals the reservations' CU-/SU-seconds, less what the pool may have burnt
    since it was last seen (its highest rate of the two readings × the grid seconds between them, +2 s for the
    explorer's whole-second timestamps, and 1 % for a burn that started and stopped between the readings).
    The estimate "baseline − burn × elapsed" is not used: when the burn changes (a workload deleted, a pool run
    dry) it drifts by more than a purchase and credits what nobody paid.
    """
    now = _grid_time(live)
    for unit, active in (("cus", "active_cu"), ("sus", "active_su")):
        bought = sum(float(r[unit]) for r in rows)
        # Each row was last seen at its own moment; the oldest reading bounds the burn for all of them.
        seen = min(float(r[f"baseline_{unit}"]) for r in rows)
        rise = float(live[unit]) - seen
        seconds = max((now - min(r["baseline_at"] for r in rows)).total_seconds(), 0.0) + 2
        burnt = max([float(live[active])] + [float(r[f"baseline_{active}"]) for r in rows]) * seconds
        if bought == 0:
            if rise > 1:  # a rise this reservation did not buy: someone else's payment
                return False
        elif not (rise > 0.5 and bought * 0.99 - burnt <= rise <= bought + 1):
            return False
    return True


def _credited_creation(live: dict[str, Any]) -> bool:
    # A new pool holds nothing until its reservation is paid (GRID_API §4.5 "Read").
    return float(live["cus"]) > 0 or float(live["sus"]) > 0


def check_payments(db: Database, explorer: Explorer, notify: Notify | None = None) -> dict[str, int]:
    """One pass of the payment watcher: credited → active; past the escrow expiry → expired. Idempotent.

    One transaction per pool, holding only that pool's rows across its one explorer read.
    """
    counts = {"paid": 0, "expired": 0, "waiting": 0}
    with db.transaction() as cur:
        pool_ids = store.pools_awaiting_payment(cur)
    for pool_id in pool_ids:
        before = dict(counts)
        with db.transaction() as cur:
            changed = _check_pool_payments(cur, explorer, pool_id, counts)
        metrics.settled(counts["paid"] - before["paid"], counts["expired"] - before["expired"])
        if changed is not None and notify is not None:
            notify(changed)  # after the commit: a reader told now sees the new state
    return counts


def _check_pool_payments(cur: Any, explorer: Explorer, pool_id: int, counts: dict[str, int]) -> str | None:
    """Settle one pool's reservations awaiting payment; the owner when something changed."""
    if store.lock_pool_if_free(cur, pool_id) is None:
        return None  # an extension of it is being made, or another watcher has it: next tick
    rows = store.claim_waiting_reservations(cur, pool_id)
    if not rows:
        return None
    live = live_state(explorer, rows[0]["grid_pool_id"])
    paid: list[dict[str, Any]] = []
    if live is not None:
        creations = [r for r in rows if r["kind"] == "create"]
        if creations and _credited_creation(live):
            paid = creations
        extensions = [r for r in rows if r["kind"] == "extend" and r["baseline_at"] is not None]
        if not paid and extensions:
            # One paid alone (oldest first), or all of them paid between two looks.
            paid = next(([r] for r in extensions if _pays([r], live)), [])
            if not paid and len(extensions) > 1 and _pays(extensions, live):
                paid = extensions
    for row in paid:
        store.update_reservation(cur, row["id"], state="paid", paid_at=datetime.now(UTC))
        store.add_bought(cur, row["pool_id"], row["cus"], row["sus"])
        store.update_pool(cur, row["pool_id"], state="active", state_reason=None)
        log.info("pool payment credited", pool=row["pool_id"], reservation=row["grid_reservation_id"])
        counts["paid"] += 1
    changed = bool(paid)
    for row in rows:
        if row in paid:
            continue
        if datetime.now(UTC) >= row["expires_at"]:
            minutes = int((row["expires_at"] - row["created_at"]) / timedelta(minutes=1))
            reason = (
                f"payment for reservation {row['grid_reservation_id']} did not arrive within {minutes} minutes; "
                "nothing was charged"
            )
            store.update_reservation(cur, row["id"], state="expired", state_reason=reason)
            if row["kind"] == "create":
                store.update_pool(cur, row["pool_id"], state="expired", state_reason=reason)
            log.info("pool payment expired", pool=row["pool_id"], reservation=row["grid_reservation_id"])
            counts["expired"] += 1
            changed = True
            continue
        if live is not None and row["kind"] == "extend":
            # Seen now: the next rise is measured from here (no payment can hide in a lower balance).
            observe(cur, row["id"], live)
        counts["waiting"] += 1
    return str(rows[0]["owner"]) if changed else None
