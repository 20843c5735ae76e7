"""Extending an active pool: the reservation carries only the CU-/SU-seconds to add (SOLUTIONS §3.1; GRID_API §4.5).

An extension is sent under the pool's row lock, with the pool's balance noted first, so the payment watch (which
locks the row too) credits it by the rise of that balance and never takes an earlier payment for it.
"""

from __future__ import annotations

import contextlib
from typing import Any

import structlog

from services.common.db import Database
from services.common.errors import ApiError, FieldError, ServiceUnavailable
from services.common.explorer import Explorer, ExplorerFailed, ExplorerRejected, ExplorerUnavailable
from services.common.settings import Settings
from services.pools import farms, store
from services.pools.grid import record_answer, send, signed_reservation
from services.pools.payment_watch import observe

log = structlog.get_logger(__name__)


def _not_found() -> ApiError:
    return ApiError(404, "no such pool", (FieldError("not_found", "no such pool"),))


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
        observe(cur, reservation["id"], live)
        body = signed_reservation(explorer, int(pool["grid_pool_id"]), cus, sus, node_ids, currency)
        try:
            unanswered = "the grid explorer is unavailable, nothing was reserved; try again"
            answer, reason, status = send(explorer, body, unanswered, raise_failed=True)
        except ExplorerFailed as exc:
            answer, reason, status = None, _failed_extension(explorer, int(pool["grid_pool_id"]), exc), 502
        if answer is None:
            # Failed, never left "submitting": the pool's payment view keeps showing its last real reservation.
            store.update_reservation(cur, reservation["id"], state="failed", state_reason=reason)
            failure = (str(reason), status)
        else:
            record_answer(cur, reservation["id"], answer)
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
    with contextlib.suppress(ExplorerUnavailable):  # no second answer: the general one below
        try:
            explorer.get_json(f"/reservations/pools/{grid_pool_id}")
        except ExplorerRejected as gone:
            if gone.status == 404:
                return _gone(grid_pool_id)
    return (f"the grid explorer could not extend pool {grid_pool_id} ({exc.message}); nothing was reserved or "
            "charged")  # fmt: skip
