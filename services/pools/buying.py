"""Buying a new pool, safe against the explorer losing its answer (SOLUTIONS §3.1; GRID_API §2.4, §4.5).

A pool row is written *before* the explorer is called and the answer is recorded in that row, so a repeated
request (same idempotency key) returns the same pool; a creation whose answer the explorer lost is found on the
grid and adopted, never bought twice (:class:`_Attempt`), and a creation whose buyer died mid-way is settled by
the payment watch's beat (:func:`resume_interrupted`).
"""

from __future__ import annotations

from typing import Any

import structlog

from services.common.db import Database
from services.common.errors import ApiError, FieldError, ServiceUnavailable
from services.common.explorer import Explorer, ExplorerRejected, ExplorerUnavailable
from services.common.settings import Settings
from services.pools import farms, store
from services.pools.changes import Notify
from services.pools.grid import MAX_INT64, Outcome, complete, record_answer, send, signed_reservation

log = structlog.get_logger(__name__)


def create_pool(db: Database, explorer: Explorer, settings: Settings, owner: str, key: str, farm_id: int,
                currency: str, cus: int, sus: int, days: int | None,
                notify: Notify | None = None) -> tuple[int, bool]:  # fmt: skip
    """Buy a new pool; returns (our pool id, created now). The same key returns the same pool.

    Creations in one farm are serialised (an advisory lock held across the explorer call), which makes a pool
    whose answer the explorer lost recognisable (see :func:`_find_lost_pool`); a concurrent request with the same
    key waits for the lock, then finds the pool made.

    Raises:
        ApiError: 422 unknown/unsuitable farm, 503 explorer down, 502 explorer refusal (the row records why).
    """
    try:
        offer = farms.find_offer(explorer, farm_id, currency)
    except ExplorerUnavailable as exc:
        raise ServiceUnavailable(f"the grid explorer is unavailable; try again ({exc})") from None
    if offer is None:
        message = f"unknown farm, or it has no up node that accepts {currency}"
        raise ApiError(422, "the request is not valid", (FieldError("unsuitable_farm", message, "farm_id"),))
    with db.transaction() as cur:
        store.insert_pool(cur, owner, key, offer, currency, days)
    with store.farm_creations_locked(db, int(offer["id"])) as locked:
        with locked.transaction() as cur:
            pool = store.lock_pool_by_key(cur, owner, key)
            assert pool is not None
            if pool["state"] not in ("submitting", "failed"):
                return int(pool["id"]), False
            reservation = store.upsert_reservation(
                cur, pool["id"], key, "create", cus, sus, currency, settings.payment_expiry
            )
        attempt = _Attempt(locked, explorer, pool, reservation, list(offer["node_ids"]), cus, sus, currency)
        answer, reason, status = _settle(locked, attempt, attempt.run())
    if notify is not None:
        notify(owner)
    if answer is None:
        log.warning("pool reservation failed", pool=pool["id"], reason=reason)
        raise ApiError(status, str(reason), (FieldError("explorer", str(reason)),))
    log.info("pool reserved", pool=pool["id"], owner=owner, farm=offer["name"], cus=cus, sus=sus)
    return int(pool["id"]), True


def _settle(db: store.Transactions, attempt: _Attempt, outcome: Outcome) -> Outcome:
    """Record an attempt's outcome on its pool and reservation: awaiting payment, or failed with the reason."""
    answer, reason, _ = outcome
    pool, reservation = attempt.pool, attempt.reservation
    with db.transaction() as cur:
        if answer is None:
            store.update_reservation(cur, reservation["id"], state="failed", state_reason=reason)
            store.update_pool(cur, pool["id"], state="failed", state_reason=reason)
        else:
            record_answer(cur, reservation["id"], answer)
            store.update_pool(cur, pool["id"], grid_pool_id=attempt.grid_pool_id, node_ids=attempt.node_ids,
                              state="awaiting_payment", state_reason=None)  # fmt: skip
    return outcome


_INTERRUPTED = "the purchase was interrupted before anything was reserved; nothing was charged, buy again"


def resume_interrupted(db: Database, explorer: Explorer, settings: Settings, notify: Notify | None = None) -> int:
    """Finish pool creations whose buyer died mid-way (beat, with the payment watch); how many were settled.

    A creation in progress holds its farm's lock for its whole attempt (and PostgreSQL drops the lock of a dead
    process), so a pool still ``submitting`` in a farm whose lock is free was abandoned. It ends ``failed`` when
    nothing can have been sent (no ``grid_floor`` noted); otherwise the pool that attempt made, if the grid has
    one, is adopted and its capacity bought as an extension (``awaiting_payment``), as a retry of the request
    would (:class:`_Attempt`). Pools idle for less than the longest explorer call are left alone: a POST sent by
    the buyer just before it died may still be carried out.
    """
    idle = settings.http_connect_timeout + settings.http_read_timeout + 1
    with db.transaction() as cur:
        candidates = store.interrupted_creations(cur, idle)
    settled = 0
    for candidate in candidates:
        with store.farm_creations_if_idle(db, int(candidate["farm_id"])) as locked:
            if locked is None:
                continue  # a creation in this farm is in progress (perhaps this very one): next tick
            outcome = _resume(locked, explorer, int(candidate["id"]))
        if outcome is not None:
            settled += 1
            log.warning("an interrupted pool creation was settled", pool=candidate["id"], reason=outcome[1])
            if notify is not None:
                notify(str(candidate["owner"]))
    return settled


def _resume(locked: store.Transactions, explorer: Explorer, pool_id: int) -> Outcome | None:
    with locked.transaction() as cur:
        pool = store.lock_pool_by_id(cur, pool_id)
        if pool is None or pool["state"] != "submitting":
            return None  # settled meanwhile (its buyer was alive after all, or a retry)
        reservation = store.creation_reservation(cur, pool_id)
        if reservation is None or reservation["grid_floor"] is None:
            # Nothing was sent: the buyer died before noting the floor that precedes every POST.
            if reservation is not None:
                store.update_reservation(cur, reservation["id"], state="failed", state_reason=_INTERRUPTED)
            store.update_pool(cur, pool_id, state="failed", state_reason=_INTERRUPTED)
            return None, _INTERRUPTED, 503
    attempt = _Attempt(locked, explorer, pool, reservation, list(pool["node_ids"]), int(reservation["cus"]),
                       int(reservation["sus"]), str(reservation["currency"] or pool["currency"]))  # fmt: skip
    outcome = attempt.resume()
    return None if outcome is None else _settle(locked, attempt, outcome)


_UNKNOWN = ("the grid explorer did not answer and may have reserved the capacity; try again (a reservation it made "
            "is found then, never made twice)")  # fmt: skip


class _Attempt:
    """One try at reserving a new pool, under the farm's creation lock, safe against lost answers (GRID_API §2.4).

    The explorer may carry out ``POST /reservations/pools`` and lose the answer (a 5xx, a dropped connection, a
    timeout). Sending again would make a second pool, so before sending, the newest pool id of ours on the grid
    is noted on the reservation row (``grid_floor``, committed first: a worker that dies mid-call leaves it too).
    The pool an unanswered attempt made, if any, is then ours, above that floor, on exactly the nodes sent, not
    yet any pool of ours — and, since creations in a farm are serialised, at most the floor noted by the next
    attempt in that farm. It is adopted instead of buying again; as its payment details were in the lost answer,
    its capacity is bought with an extension of it (the adopted pool's own reservation expires unpaid, never
    charged). Left open: a POST still in flight at the explorer after our timeout that commits after the retry
    has looked (it becomes an empty pool nobody pays for).
    """

    def __init__(self, db: store.Transactions, explorer: Explorer, pool: dict[str, Any], reservation: dict[str, Any],
                 node_ids: list[str], cus: int, sus: int, currency: str) -> None:  # fmt: skip
        self.db, self.explorer, self.pool, self.reservation = db, explorer, pool, reservation
        self.cus, self.sus, self.currency = cus, sus, currency
        self.grid_pool_id: int | None = pool["grid_pool_id"]  # set by an earlier attempt that adopted a pool
        # An earlier attempt's nodes: the pool it may have made is on those.
        self.node_ids = list(pool["node_ids"]) if reservation["grid_floor"] is not None else node_ids

    def run(self) -> Outcome:
        if self.grid_pool_id is None and self.reservation["grid_floor"] is not None:
            try:
                self.grid_pool_id = self._find_lost_pool(int(self.reservation["grid_floor"]))
            except ExplorerUnavailable as exc:
                return None, f"{_UNKNOWN} ({exc})", 503
        if self.grid_pool_id is not None:
            return self._buy_for_adopted()
        try:
            floor = max((int(p["pool_id"]) for p in self._our_grid_pools()), default=0)
        except ExplorerUnavailable as exc:
            return None, f"the grid explorer is unavailable, nothing was reserved; try again ({exc})", 503
        with self.db.transaction() as cur:
            store.update_reservation(cur, self.reservation["id"], grid_floor=floor)
            store.update_pool(cur, self.pool["id"], node_ids=self.node_ids)
        body = signed_reservation(self.explorer, 0, self.cus, self.sus, self.node_ids, self.currency)
        try:
            answer = self.explorer.post("/reservations/pools", body)
        except ExplorerUnavailable as exc:
            log.warning("pool reservation unanswered; looking for it on the grid", pool=self.pool["id"])
            try:
                self.grid_pool_id = self._find_lost_pool(floor)
            except ExplorerUnavailable:
                return None, f"{_UNKNOWN} ({exc})", 503
            if self.grid_pool_id is None:
                return None, f"the grid explorer is unavailable, nothing was reserved; try again ({exc})", 503
            return self._buy_for_adopted()
        except ExplorerRejected as exc:
            with self.db.transaction() as cur:  # refused: nothing was made, nothing to look for
                store.update_reservation(cur, self.reservation["id"], grid_floor=None)
            return None, f"the grid explorer refused the reservation: {exc.message}", 502
        if not complete(answer):
            return None, "the grid explorer answered without a reservation; try again", 502
        self.grid_pool_id = int(answer["reservation_id"])  # a new pool's id is its reservation's (GRID_API §4.5)
        return answer, None, 0

    def resume(self) -> Outcome | None:
        """Settle the attempt of a buyer that died after noting its floor; None when the grid cannot be read now.

        The pool that attempt made is adopted and bought for; if it made none, the purchase fails (nothing is
        bought on the user's behalf in the background)."""
        try:
            if self.grid_pool_id is None:
                self.grid_pool_id = self._find_lost_pool(int(self.reservation["grid_floor"]))
        except ExplorerUnavailable:
            return None
        if self.grid_pool_id is None:
            return None, _INTERRUPTED, 503
        return self._buy_for_adopted()

    def _our_grid_pools(self) -> list[dict[str, Any]]:
        found = self.explorer.get_json(f"/reservations/pools/owner/{self.explorer.tid}")
        if not isinstance(found, list):
            raise ExplorerUnavailable("the grid explorer answered something that is not a list of pools")
        return [p for p in found if isinstance(p, dict) and isinstance(p.get("pool_id"), int)]

    def _find_lost_pool(self, floor: int) -> int | None:
        """The pool an unanswered attempt with ``floor`` made, or None if it made none."""
        grid_pools = self._our_grid_pools()
        with self.db.transaction() as cur:
            claimed = store.claimed_grid_pools(cur, floor)
            ceiling = store.next_creation_floor(cur, int(self.pool["farm_id"]), floor)
        found = [int(p["pool_id"]) for p in grid_pools
                 if floor < int(p["pool_id"]) <= (ceiling or MAX_INT64) and p.get("node_ids") == self.node_ids
                 and int(p["pool_id"]) not in claimed]  # fmt: skip
        if len(found) > 1:
            # Only another marketplace instance on this identity with a different lock database could do this.
            log.error("several unclaimed pools could be the lost one; adopting the oldest", pools=found)
        if found:
            log.info("adopted a pool whose reservation answer was lost", pool=self.pool["id"], grid_pool_id=found[0])
            with self.db.transaction() as cur:  # claimed at once: no other attempt can adopt it too
                store.update_pool(cur, self.pool["id"], grid_pool_id=found[0], node_ids=self.node_ids)
            return found[0]
        return None

    def _buy_for_adopted(self) -> Outcome:
        """Buy the capacity as an extension of the adopted pool: its answer carries the payment details."""
        assert self.grid_pool_id is not None
        body = signed_reservation(self.explorer, self.grid_pool_id, self.cus, self.sus, self.node_ids, self.currency)
        # An unanswered extension may exist; it is never paid (nobody saw its memo) and expires uncharged.
        return send(self.explorer, body, "the grid explorer is unavailable; try again")
