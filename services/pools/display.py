"""What a user is shown of a pool and of its payment (the pools page, the wizards' payment step)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.common import grid_price
from services.common.settings import Settings
from services.pools import payment
from services.pools.grid import MAX_INT64


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
            amount=grid_price.display_amount(reservation["escrow_amount"]),
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
