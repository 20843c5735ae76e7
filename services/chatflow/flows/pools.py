"""Capacity pools (SOLUTIONS §3.1, §7): buy a pool on a farm or top up one of the user's pools, then pay.

The purchase is made when the farm (create) or the amounts (extend) are answered; the payment step shows the QR
and the UI polls the pool. The flow submits nothing to the deployer: it simply ends after the payment step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from services.chatflow.flow import Context, Flow, Step
from services.chatflow.questions import Choice, Choices, Dropdown, Info, Integer, Payment, Question, literal
from services.common import contracts
from services.common.errors import ApiError, FieldError

CURRENCIES: Choices = [("TFT", "TFT"), ("FreeTFT", "FreeTFT"), ("TFTA", "TFTA")]
MODES: Choices = [("create", "Create a new pool"), ("extend", "Extend one of my pools")]
SECONDS_PER_DAY = 86400
PAYMENT_FIELDS = ("address", "currency", "amount", "memo", "qr_text", "reservation_id")


def _active_pools(ctx: Context) -> list[contracts.PoolSummary]:
    return [p for p in ctx.queries.pools(ctx.owner) if p.state == "active"]


def _extending(ctx: Context) -> bool:
    return bool(ctx.get("mode") == "extend")


def _creating(ctx: Context) -> bool:
    # Without an active pool the mode question is skipped: creating is the only possibility.
    return not _extending(ctx)


def _amount_fields(currencies: Choices) -> list[Question]:
    return [
        Integer("cu", "Compute units (CU)", default=0, min=0, max=10_000, help="1 CU ≈ 2 GiB RAM and 1 vCPU"),
        Integer("su", "Storage units (SU)", default=0, min=0, max=100_000, help="1 SU ≈ 1 TiB HDD or 300 GiB SSD"),
        Integer("days", "Duration (days)", default=30, min=1, max=5 * 365),
        Choice("currency", "Currency", choices=currencies, default=currencies[0][0]),
    ]


def _some_capacity(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
    if answers["cu"] == 0 and answers["su"] == 0:
        return {"cu": "buy some capacity: CU or SU must be more than 0"}
    return {}


def _farm_fields(ctx: Context) -> list[Question]:
    currency = ctx.get("currency", "TFT")
    choices = [(str(f.farm_id), f.label) for f in ctx.queries.farms(currency)]
    help_text = "" if choices else f"no farm accepts {currency} right now; go back and choose another currency"
    return [Dropdown("farm_id", "Farm", help=help_text, choices=choices)]


def _pool_fields(ctx: Context) -> list[Question]:
    choices = [(str(p.pool_id), p.label) for p in _active_pools(ctx)]
    return [Dropdown("extend_pool_id", "Pool to extend", choices=choices)]


def _extend_fields(ctx: Context) -> list[Question]:
    chosen = int(ctx.get("extend_pool_id", 0))
    pool = next((p for p in _active_pools(ctx) if p.pool_id == chosen), None)
    # The pools service refuses a currency the farm does not accept; offering only the pool's avoids the detour.
    accepted = [(code, label) for code, label in CURRENCIES if pool and code in pool.currencies]
    return _amount_fields(accepted or CURRENCIES)


def purchase_key(ctx: Context, order: Mapping[str, Any]) -> str:
    """The idempotency key of this purchase: the session and what is bought.

    Repeating an answer (a retry after a timeout, a double click) sends the same key, so the pools service
    returns the first purchase instead of buying again. Going back and changing the amounts or the farm is a
    different purchase: the earlier, unpaid reservation simply expires and costs nothing.
    """
    digest = hashlib.sha256(json.dumps(order, sort_keys=True).encode()).hexdigest()[:16]
    return f"{ctx.session_id.replace('-', '')}-{digest}"


def _buy(ctx: Context, field: str) -> None:
    """Buy the capacity the user asked for (a new pool on the chosen farm, or added to one of the user's pools)."""
    cu, su, days = int(ctx.get("cu", 0)), int(ctx.get("su", 0)), int(ctx.get("days", 1))
    order: dict[str, Any] = {
        "currency": ctx.get("currency"),
        # SOLUTIONS §3.1 note: the grid counts CU-seconds; the extension sends only the amount to add.
        "cus": cu * days * SECONDS_PER_DAY,
        "sus": su * days * SECONDS_PER_DAY,
        "days": days,
        "farm_id": None if _extending(ctx) else int(ctx.get("farm_id", 0)),
        "pool_id": int(ctx.get("extend_pool_id", 0)) if _extending(ctx) else None,
    }
    purchase_pool(ctx, order, field)


def purchase_pool(ctx: Context, order: Mapping[str, Any], field: str) -> None:
    """Place ``order`` with the pools service (idempotent per session and order); keep the pool id and the payment
    to show (not secrets: the user pays them).

    Raises:
        ApiError: 422 with the pools service's reason on ``field``.
        ServiceUnavailable: the pools service did not answer.
    """
    purchase = ctx.queries.buy(contracts.BuyCapacity(owner=ctx.owner, key=purchase_key(ctx, order), **order))
    payment = purchase.payment
    if not purchase.ok or purchase.pool_id is None or not payment.get("address"):
        reason = purchase.reason or str(payment.get("message") or "the reservation could not be made; try again")
        raise ApiError(422, "the purchase was refused", (FieldError("refused", reason, field),))
    ctx.answers["pool_id"] = purchase.pool_id
    ctx.answers["payment"] = {name: str(payment.get(name, "")) for name in PAYMENT_FIELDS}


def payment_fields(ctx: Context) -> list[Question]:
    pool_id = int(ctx.get("pool_id", 0))
    pay: dict[str, str] = ctx.get("payment", {})
    rows = [
        ("Wallet address", pay.get("address", "")),
        ("Currency", pay.get("currency", "")),
        ("Amount", pay.get("amount", "")),
        ("Memo", pay.get("memo", "")),
    ]
    help_text = (
        "Scan the QR code with the 3Bot Connect app without changing the message, or pay the amount to "
        "the address with exactly this memo from any Stellar wallet."
    )
    return [
        Payment(
            "payment",
            "Pay for the capacity",
            help=help_text,
            pool_id=pool_id,
            image=f"/api/pools/{pool_id}/payment.svg",
            data=pay.get("qr_text", ""),
            rows=rows,
        )
    ]


def _ready_fields(ctx: Context) -> list[Question]:
    pool_id = int(ctx.get("pool_id", 0))
    # Fresh, not cached: the payment may have been credited a moment ago.
    ctx.queries.forget(contracts.POOLS_LIST_POOLS, contracts.OwnerQuery(owner=ctx.owner))
    pool = next((p for p in ctx.queries.pools(ctx.owner) if p.pool_id == pool_id), None)
    # Users know a pool by its grid id (the pools page and the QR memo show it); ours is internal.
    pool_id = pool.grid_pool_id if pool is not None and pool.grid_pool_id else pool_id
    if _extending(ctx):
        # An extended pool is active before and after the payment: its state says nothing about this one.
        text = (
            f"**Pool {pool_id} is ready.** The added capacity counts as soon as the payment is credited; "
            "My pools shows the hours left."
        )
    elif pool is not None and pool.state == "active":
        text = f"**Pool {pool_id} is ready.**\n\n{literal(pool.label)}"  # the label names the explorer's farm
    else:
        text = (
            f"Payment not seen yet for pool {pool_id} — the pool will be activated automatically when it "
            "arrives (My pools shows its state)."
        )
    return [Info("ready", "Pool", markdown=text)]


FLOW = Flow(
    type="pools",
    title="Capacity pools",
    description="Buy capacity (compute and storage units) on a farm, or top up one of your pools.",
    family="advanced",
    icon="/icons/pools.svg",
    steps=[
        Step(
            "mode",
            "Create or extend",
            [Choice("mode", "What do you want to do?", choices=MODES, default="create")],
            when=lambda ctx: bool(_active_pools(ctx)),
        ),
        Step("amounts", "Capacity", _amount_fields(CURRENCIES), when=_creating, check=_some_capacity),
        Step("farm", "Farm", _farm_fields, when=_creating, then=lambda ctx: _buy(ctx, "farm_id")),
        Step("extend_pool", "Pool", _pool_fields, when=_extending),
        Step(
            "extend_amounts",
            "Capacity to add",
            _extend_fields,
            when=_extending,
            check=_some_capacity,
            then=lambda ctx: _buy(ctx, "currency"),
        ),
        Step("payment", "Payment", payment_fields),
        Step("ready", "Done", _ready_fields),
    ],
)
