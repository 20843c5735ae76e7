"""The rules of capacity pools: buy, extend, show, and recognise payments (SOLUTIONS §3.1, §7; GRID_API §4.5).

A pool row is written *before* the explorer is called and the answer is recorded in that row, so a repeated
request (same idempotency key) returns the same pool; a creation whose answer the explorer lost is found on the
grid and adopted, never bought twice (:class:`_Attempt`). The
explorer only ever receives the CU-/SU-seconds to **add** (sending "current + added" charged users twice).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from services.common import contracts
from services.common.capacity import Resources, can_carry, cu_su
from services.common.db import Database
from services.common.errors import ApiError, FieldError, ServiceUnavailable
from services.common.explorer import Explorer, ExplorerFailed, ExplorerRejected, ExplorerUnavailable
from services.common.settings import Settings
from services.pools import farms, payment, store

log = structlog.get_logger(__name__)
MAX_INT64 = 9223372036854775807
Notify = Callable[[str], None]  # told the owner whose pools changed state, once committed (changes.py)


def _not_found() -> ApiError:
    return ApiError(404, "no such pool", (FieldError("not_found", "no such pool"),))


def signed_reservation(explorer: Explorer, pool_id: int, cus: int, sus: int, node_ids: list[str],
                       currency: str) -> dict[str, Any]:  # fmt: skip
    """The PoolCreate body: ``json`` text, the same data, our tid and an Ed25519 signature over the text."""
    data = {"pool_id": pool_id, "cus": cus, "sus": sus, "node_ids": node_ids, "currencies": [currency]}
    text = json.dumps(data)
    return {
        "json": text,
        "data_reservation": data,
        "customer_tid": explorer.tid,
        "customer_signature": explorer.identity.sign(text.encode()).hex(),
    }


def _send(explorer: Explorer, body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None, int]:
    """POST the reservation; (answer, None, 0) or (None, reason for the user, status to answer).

    Raises:
        ExplorerFailed: the explorer answered a 5xx (what it means depends on the request).
    """
    try:
        answer = explorer.post("/reservations/pools", body)
    except ExplorerFailed:
        raise
    except ExplorerUnavailable as exc:
        return None, f"the grid explorer is unavailable, nothing was reserved; try again ({exc})", 503
    except ExplorerRejected as exc:
        return None, f"the grid explorer refused the reservation: {exc.message}", 502
    if not isinstance(answer, dict) or "reservation_id" not in answer or "escrow_information" not in answer:
        return None, "the grid explorer answered without a reservation; try again", 502
    return answer, None, 0


def _record_answer(cur: Any, reservation_id: int, answer: dict[str, Any]) -> None:
    escrow = answer["escrow_information"]
    store.update_reservation(
        cur,
        reservation_id,
        grid_reservation_id=int(answer["reservation_id"]),
        escrow_address=str(escrow["address"]),
        escrow_asset=str(escrow["asset"]),
        escrow_amount=int(escrow["amount"]),
        state="awaiting_payment",
        state_reason=None,
    )


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
            _record_answer(cur, reservation["id"], answer)
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


Outcome = tuple[dict[str, Any] | None, str | None, int]
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
        if not _complete(answer):
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
        try:
            answer = self.explorer.post("/reservations/pools", body)
        except ExplorerUnavailable as exc:
            # An unanswered extension may exist; it is never paid (nobody saw its memo) and expires uncharged.
            return None, f"the grid explorer is unavailable; try again ({exc})", 503
        except ExplorerRejected as exc:
            return None, f"the grid explorer refused the reservation: {exc.message}", 502
        if not _complete(answer):
            return None, "the grid explorer answered without a reservation; try again", 502
        return answer, None, 0


def _complete(answer: Any) -> bool:
    return isinstance(answer, dict) and "reservation_id" in answer and "escrow_information" in answer


def extend_pool(db: Database, explorer: Explorer, settings: Settings, owner: str, pool_id: int, key: str,
                currency: str, cus: int, sus: int) -> dict[str, Any]:  # fmt: skip
    """Add capacity to an active pool; returns the reservation row (the same one for a repeated key).

    Raises:
        ApiError: 404 not the owner's; 409 pool not active, or gone from the grid; 422 currency not accepted;
            502 explorer refusal or failure (final for this request: nothing was reserved); 503 explorer down.
    """
    with db.transaction() as cur:
        pool = store.get_pool(cur, owner, pool_id)
    if pool is None:
        raise _not_found()
    if pool["state"] != "active":
        message = f"only an active pool can be extended (this one is {pool['state'].replace('_', ' ')})"
        raise ApiError(409, message, (FieldError("pool_not_active", message),))
    try:
        offer = farms.find_offer(explorer, pool["farm_id"], currency)
    except ExplorerUnavailable as exc:
        raise ServiceUnavailable(f"the grid explorer is unavailable; try again ({exc})") from None
    failure: tuple[str, int] | None = None
    with db.transaction() as cur:
        # The pool's row lock orders this extension with the payment watcher (which locks it too): the balance
        # noted below is read after any credit the watcher committed, so that credit is never taken for this one.
        locked = store.lock_pool(cur, owner, pool_id)
        assert locked is not None
        reservation = store.upsert_reservation(cur, pool_id, key, "extend", cus, sus, currency, settings.payment_expiry)
        if reservation["state"] not in ("submitting", "failed"):
            return reservation
        try:
            live = _live_for_extension(explorer, int(pool["grid_pool_id"]))
            node_ids = _extension_nodes(explorer, pool, live, offer, currency)
        except ExplorerUnavailable as exc:
            raise ServiceUnavailable(f"the grid explorer is unavailable; try again ({exc})") from None
        _observe(cur, reservation["id"], live)
        body = signed_reservation(explorer, int(pool["grid_pool_id"]), cus, sus, node_ids, currency)
        try:
            answer, reason, status = _send(explorer, body)
        except ExplorerFailed as exc:
            answer, reason, status = None, _failed_extension(explorer, int(pool["grid_pool_id"]), exc), 502
        if answer is None:
            # Failed, never left "submitting": the pool's payment view keeps showing its last real reservation.
            store.update_reservation(cur, reservation["id"], state="failed", state_reason=reason)
            failure = (str(reason), status)
        else:
            _record_answer(cur, reservation["id"], answer)
            store.update_pool(cur, pool_id, node_ids=node_ids)
        result = store.get_reservation(cur, reservation["id"])
    if failure is not None:
        log.warning("pool extension failed", pool=pool_id, reason=failure[0])
        raise ApiError(failure[1], failure[0], (FieldError("explorer", failure[0]),))
    assert result is not None
    return result


def _gone(grid_pool_id: int) -> str:
    return (f"pool {grid_pool_id} no longer exists on the grid, so it cannot be extended; nothing was charged. "
            "Buy a new pool instead")  # fmt: skip


def _live_for_extension(explorer: Explorer, grid_pool_id: int) -> dict[str, Any]:
    """The pool as the explorer has it. Raises ApiError 409 when it is gone, ExplorerUnavailable."""
    try:
        return dict(explorer.get_json(f"/reservations/pools/{grid_pool_id}"))
    except ExplorerRejected as exc:
        if exc.status != 404:
            raise ExplorerUnavailable(f"the grid explorer refused to show pool {grid_pool_id}: {exc.message}") from None
        message = _gone(grid_pool_id)
        raise ApiError(409, message, (FieldError("pool_gone", message),)) from None


def _extension_nodes(explorer: Explorer, pool: dict[str, Any], live: dict[str, Any], offer: dict[str, Any] | None,
                     currency: str) -> list[str]:  # fmt: skip
    """The node list of an extension: every node the pool has (on the grid, and as we know it: a pool never loses
    nodes, or the explorer fails the extension, GRID_API §4.5) plus the farm's new nodes that may join it.

    FreeTFT pays only for pools whose every node is free to use, and a pool bought with FreeTFT stays on free
    nodes whatever pays its extension, so its FreeTFT capacity is never spent on a paid node.

    Raises:
        ApiError: 422 when ``currency`` cannot pay for this pool.
        ExplorerUnavailable: the farm's free nodes cannot be read.
    """
    current = list(dict.fromkeys([*(live.get("node_ids") or []), *pool["node_ids"]]))
    if offer is None:
        _refuse_currency(f"this pool's farm does not accept {currency}")
    assert offer is not None
    if currency == "FreeTFT" and not set(current) <= set(offer["node_ids"]):
        _refuse_currency(f"pool {pool['grid_pool_id']} has nodes that are not free to use, and FreeTFT pays only for "
                         f"pools whose every node is; pay with {pool['currency']}, or buy a FreeTFT pool on this farm "
                         "(it gets only the farm's free nodes)")  # fmt: skip
    joinable = list(offer["node_ids"])
    if pool["currency"] == "FreeTFT" and currency != "FreeTFT":
        free = farms.find_offer(explorer, pool["farm_id"], "FreeTFT")
        joinable = [n for n in joinable if free is not None and n in set(free["node_ids"])]
    return current + [n for n in joinable if n not in set(current)]


def _refuse_currency(message: str) -> None:
    raise ApiError(422, "the request is not valid", (FieldError("currency_not_accepted", message, "currency"),))


def _failed_extension(explorer: Explorer, grid_pool_id: int, exc: ExplorerFailed) -> str:
    """What to tell the user when the explorer answered an extension with a 5xx: the real explorer did so for a pool
    it cannot extend (gone, or losing nodes), and sending the same extension again fails the same way, so the
    answer is final for this request (nothing was reserved or charged), never "try again"."""
    try:
        explorer.get_json(f"/reservations/pools/{grid_pool_id}")
    except ExplorerRejected as gone:
        if gone.status == 404:
            return _gone(grid_pool_id)
    except ExplorerUnavailable:
        pass
    return (f"the grid explorer could not extend pool {grid_pool_id} ({exc.message}); nothing was reserved or "
            "charged")  # fmt: skip


def live_state(explorer: Explorer, grid_pool_id: int | None) -> dict[str, Any] | None:
    """The pool as the explorer sees it now, or None (not reserved yet, or explorer unreachable)."""
    if grid_pool_id is None:
        return None
    try:
        return dict(explorer.get_json(f"/reservations/pools/{grid_pool_id}"))
    except (ExplorerUnavailable, ExplorerRejected):
        return None


def pool_view(pool: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
    """What a user needs to decide: farm, nodes, bought, left, burn, empty date, state."""
    view: dict[str, Any] = {
        "id": pool["id"],
        "grid_pool_id": pool["grid_pool_id"],
        "farm": pool["farm_name"],
        "farm_id": pool["farm_id"],
        "node_count": len(pool["node_ids"] or []),
        "currency": pool["currency"],
        "cu_hours_bought": round(pool["cus_bought"] / 3600, 2),
        "su_hours_bought": round(pool["sus_bought"] / 3600, 2),
        "state": pool["state"],
        "state_reason": pool["state_reason"],
        "created": pool["created_at"].isoformat(),
        "live": live is not None,
    }
    if live is not None:
        empty_at = int(live.get("empty_at", MAX_INT64))
        view.update(
            cu_hours_left=round(float(live["cus"]) / 3600, 2),
            su_hours_left=round(float(live["sus"]) / 3600, 2),
            active_cu=float(live["active_cu"]),
            active_su=float(live["active_su"]),
            empty_at=None if empty_at >= MAX_INT64 else datetime.fromtimestamp(empty_at, UTC).isoformat(),
        )
    return view


def payment_view(settings: Settings, reservation: dict[str, Any]) -> dict[str, Any]:
    """Escrow address, currency, memo, amount, QR text, and whether the wizard should stop waiting."""
    waited = (datetime.now(UTC) - reservation["created_at"]).total_seconds()
    state = reservation["state"]
    view: dict[str, Any] = {"reservation_id": reservation["grid_reservation_id"], "kind": reservation["kind"],
                            "state": state, "state_reason": reservation["state_reason"]}  # fmt: skip
    if reservation["escrow_address"]:
        view.update(
            address=reservation["escrow_address"],
            currency=payment.asset_code(reservation["escrow_asset"]),
            asset=reservation["escrow_asset"],
            amount=payment.display_amount(reservation["escrow_amount"]),
            amount_stroops=reservation["escrow_amount"],
            memo=f"p-{reservation['grid_reservation_id']}",
            qr_text=payment.payment_uri(reservation),
            expires_at=reservation["expires_at"].isoformat(),
        )
    view["wait_over"] = state == "awaiting_payment" and waited > settings.payment_wait
    view["message"] = {
        "awaiting_payment": "waiting for the payment"
        if not view["wait_over"]
        else "payment not seen yet — the pool will be activated automatically when it arrives",
        "paid": "payment received; the capacity is available",
        "expired": "the payment did not arrive in time; nothing was charged",
        "failed": reservation["state_reason"] or "the reservation failed",
        "submitting": "reserving capacity…",
    }[state]
    return view


def _grid_time(live: dict[str, Any]) -> datetime:
    """When the explorer computed this balance, on the explorer's clock (its burn runs on that clock, not ours)."""
    stamp = live.get("last_updated")
    return datetime.fromtimestamp(int(stamp), UTC) if isinstance(stamp, int | float) else datetime.now(UTC)


def _observe(cur: Any, reservation_id: int, live: dict[str, Any]) -> None:
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
        with db.transaction() as cur:
            changed = _check_pool_payments(cur, explorer, pool_id, counts)
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
            _observe(cur, row["id"], live)
        counts["waiting"] += 1
    return str(rows[0]["owner"]) if changed else None


def capable_pools(db: Database, explorer: Explorer, settings: Settings, owner: str, query: Resources,
                  seconds: int) -> list[dict[str, Any]]:  # fmt: skip
    """The owner's active pools that can carry ``query`` for ``seconds`` and have an up node that fits it.

    Raises:
        ExplorerUnavailable: the explorer cannot be read.
    """
    cu, su = cu_su(query)
    with db.transaction() as cur:
        pools = store.list_pools(cur, owner, ("active",))
    result = []
    nodes_by_farm: dict[int, list[dict[str, Any]]] = {}
    for pool in pools:
        live = explorer.get_json(f"/reservations/pools/{pool['grid_pool_id']}")
        if not can_carry(float(live["cus"]), float(live["sus"]), float(live["active_cu"]), float(live["active_su"]),
                         cu, su, seconds):  # fmt: skip
            continue
        if pool["farm_id"] not in nodes_by_farm:
            nodes_by_farm[pool["farm_id"]] = explorer.list_all("/nodes", {"farm": pool["farm_id"]})
        members = set(pool["node_ids"])
        fitting = [
            n["node_id"]
            for n in nodes_by_farm[pool["farm_id"]]
            if n["node_id"] in members and farms.is_up(n) and _fits(n, query, settings.over_provisioning)
        ]
        if not fitting:
            continue
        result.append({
            "pool_id": pool["id"], "grid_pool_id": pool["grid_pool_id"], "farm": pool["farm_name"],
            "cus": float(live["cus"]), "sus": float(live["sus"]), "node_ids": fitting,
            "label": f"Pool {pool['grid_pool_id']} — CU {float(live['cus']) / 3600:.1f} h, "
                     f"SU {float(live['sus']) / 3600:.1f} h left ({pool['farm_name']})",
        })  # fmt: skip
    return result


def pool_verdict(db: Database, explorer: Explorer, owner: str, pool_id: int, query: Resources,
                 seconds: int) -> contracts.CapacityVerdict:  # fmt: skip
    """Whether one pool of ``owner`` can run ``query`` for ``seconds`` more (GRID_API §10.3), nodes not examined.

    Raises:
        ExplorerUnavailable: the explorer cannot be read.
    """
    with db.transaction() as cur:
        pool = store.get_pool(cur, owner, pool_id)
    if pool is None:
        return contracts.CapacityVerdict(ok=False, reason=f"you have no pool {pool_id}")
    if pool["state"] != "active" or pool["grid_pool_id"] is None:
        state = pool["state"].replace("_", " ")
        return contracts.CapacityVerdict(ok=False, reason=f"pool {pool['grid_pool_id'] or pool_id} is not active yet "
                                         f"({state})")  # fmt: skip
    live = explorer.get_json(f"/reservations/pools/{pool['grid_pool_id']}")
    cu, su = cu_su(query)
    ok = can_carry(float(live["cus"]), float(live["sus"]), float(live["active_cu"]), float(live["active_su"]),
                   cu, su, seconds)  # fmt: skip
    hours = seconds / 3600
    reason = "" if ok else (f"pool {pool['grid_pool_id']} has too little capacity left to run this for {hours:g} hour"
                            f"{'s' if hours != 1 else ''}; extend it or choose another pool")  # fmt: skip
    return contracts.CapacityVerdict(ok=ok, reason=reason, grid_pool_id=int(pool["grid_pool_id"]),
                                     node_ids=list(live.get("node_ids") or pool["node_ids"]))  # fmt: skip


def _fits(node: dict[str, Any], query: Resources, over_provisioning: bool) -> bool:
    total, reserved = node.get("total_resources", {}), node.get("reserved_resources", {})
    units = ("sru", "hru") if over_provisioning else ("cru", "mru", "sru", "hru")  # disks always count
    return all(float(total.get(u, 0)) - max(0.0, float(reserved.get(u, 0))) >= float(getattr(query, u)) for u in units)


def pool_summaries(db: Database, explorer: Explorer, owner: str) -> list[contracts.PoolSummary]:
    """The owner's pools for a wizard's choice: label with the hours left (SOLUTIONS §1.2), accepted currencies.

    Raises:
        ExplorerUnavailable: the explorer cannot be read.
    """
    with db.transaction() as cur:
        pools = store.list_pools(cur, owner)
    out = []
    for pool in pools:
        live = live_state(explorer, pool["grid_pool_id"]) if pool["state"] == "active" else None
        left = (f"CU {float(live['cus']) / 3600:.1f} h, SU {float(live['sus']) / 3600:.1f} h left" if live
                else pool["state"].replace("_", " "))  # fmt: skip
        # The number users see everywhere (pools page, QR memo, capable-pool labels) is the grid's pool id.
        label = f"Pool {pool['grid_pool_id'] or pool['id']} — {left} ({pool['farm_name']})"
        out.append(contracts.PoolSummary(pool_id=pool["id"], grid_pool_id=pool["grid_pool_id"],
                                         farm=pool["farm_name"], state=pool["state"], label=label,
                                         currencies=[pool["currency"]]))  # fmt: skip
    return out


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
