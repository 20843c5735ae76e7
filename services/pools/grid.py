"""What the pools service sends the explorer and reads back (GRID_API §4.5), shared by buying and extending.

The explorer only ever receives the CU-/SU-seconds to **add** (sending "current + added" charged users twice), in a
body signed with the marketplace identity; its answer carries the payment details, recorded on our reservation row.
"""

from __future__ import annotations

import json
from typing import Any

from services.common.explorer import Explorer, ExplorerFailed, ExplorerRejected, ExplorerUnavailable
from services.pools import store

MAX_INT64 = 9223372036854775807
# (answer, None, 0), or (None, the reason to tell the user, the status to answer)
Outcome = tuple[dict[str, Any] | None, str | None, int]


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


def record_answer(cur: Any, reservation_id: int, answer: dict[str, Any]) -> None:
    """Note the explorer's answer on our reservation row: its grid id and where and how much to pay."""
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


def complete(answer: Any) -> bool:
    """Whether the explorer answered with a reservation and its payment details (anything else made nothing usable)."""
    return isinstance(answer, dict) and "reservation_id" in answer and "escrow_information" in answer


def send(explorer: Explorer, body: dict[str, Any], unanswered: str, *, raise_failed: bool = False) -> Outcome:
    """POST the reservation. ``unanswered`` is what to tell the user when the explorer did not answer: what may
    have been made then depends on the request.

    Raises:
        ExplorerFailed: with ``raise_failed``, the explorer answered a 5xx (for a caller that knows what it means).
    """
    try:
        answer = explorer.post("/reservations/pools", body)
    except ExplorerUnavailable as exc:
        if raise_failed and isinstance(exc, ExplorerFailed):
            raise
        return None, f"{unanswered} ({exc})", 503
    except ExplorerRejected as exc:
        return None, f"the grid explorer refused the reservation: {exc.message}", 502
    if not complete(answer):
        return None, "the grid explorer answered without a reservation; try again", 502
    return answer, None, 0


def live_state(explorer: Explorer, grid_pool_id: int | None) -> dict[str, Any] | None:
    """The pool as the explorer sees it now, or None (not reserved yet, or explorer unreachable)."""
    if grid_pool_id is None:
        return None
    try:
        return dict(explorer.get_json(f"/reservations/pools/{grid_pool_id}"))
    except (ExplorerUnavailable, ExplorerRejected):
        return None
