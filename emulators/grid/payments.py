"""Escrow payments as the real grid saw them (GRID_API §4.5): no Stellar here, but the same matching rules.

A payment goes *to* an escrow address, in an *asset* (``CODE:ISSUER``), for an *amount* in stroops, with a text
*memo*. The explorer's escrow watcher credits the capacity reservation named by the memo ``p-<reservation id>``
only when the payment went to that reservation's escrow address in that reservation's asset (a TFT from another
issuer is another asset); several payments with the same memo add up until the escrow amount is reached. Anything
else is ignored (on the real network the money sits in the escrow account; nothing is credited).

A payment is received at once and looked at ``payment_delay`` seconds later (the real watcher ran once a minute):
crediting is one more timed event of the lifecycle replay, so the emulator clock and restarts behave as for
deployments.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from emulators.grid import pool_store, pools
from emulators.grid.enums import MAX_INT64
from emulators.grid.pool_store import Payment, Reservation
from emulators.grid.wire import ApiError

MEMO = re.compile(r"p-([1-9][0-9]{0,17})")
STELLAR_ADDRESS = r"G[A-Z2-7]{55}"
# A Stellar text memo holds at most 28 bytes.
MAX_MEMO_BYTES = 28


class StellarPayment(BaseModel):
    """What a wallet sends (`POST /_emulator/pay`); a malformed payment is one no wallet could send (400)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    to: Annotated[str, Field(pattern=f"^{STELLAR_ADDRESS}$")]
    asset: Annotated[str, Field(pattern=f"^[A-Za-z0-9]{{1,12}}:{STELLAR_ADDRESS}$")]
    amount: Annotated[int, Field(ge=1, le=MAX_INT64)]
    memo: str

    @field_validator("memo")
    @classmethod
    def _memo_fits(cls, memo: str) -> str:
        if len(memo.encode()) > MAX_MEMO_BYTES:
            raise ValueError(f"a Stellar text memo holds at most {MAX_MEMO_BYTES} bytes")
        return memo


def payment_for(reservation: Reservation | None, amount: int | None, now: float) -> StellarPayment:
    """The correct payment for ``reservation`` (the rest of its amount unless ``amount`` is given): what a
    careful customer's wallet sends. Raises ApiError 404 (unknown), 409 (already paid), 410 (expired unpaid)."""
    if reservation is None:
        raise ApiError(404, "reservation not found")
    if reservation.paid_at is not None:
        raise ApiError(409, "reservation is already paid")
    if reservation.expired(now):
        raise ApiError(410, "reservation expired: it was not paid within 1 hour")
    return StellarPayment(
        to=reservation.address,
        asset=reservation.asset,
        amount=amount if amount is not None else max(1, reservation.amount - reservation.paid_amount),
        memo=f"p-{reservation.id}",
    )


def receive(conn: sqlite3.Connection, sent: StellarPayment, now: float, delay: float) -> int:
    """The payment reached the escrow account; the watcher looks at it ``delay`` seconds later. Returns its id."""
    payment = Payment(0, sent.to, sent.asset, sent.amount, sent.memo, now, now + delay, None, None)
    return pool_store.insert_payment(conn, payment)


def credit(conn: sqlite3.Connection, payment_id: int, at: float) -> None:
    """The escrow watcher's look at one payment: credit the reservation its memo names, or ignore it."""
    payment = pool_store.get_payment(conn, payment_id)
    if payment is None or payment.outcome is not None:
        return
    payment.outcome = _apply(conn, payment, at)
    pool_store.save_payment_outcome(conn, payment)


def _apply(conn: sqlite3.Connection, payment: Payment, at: float) -> str:
    match = MEMO.fullmatch(payment.memo)
    if match is None:
        return f"ignored: memo {payment.memo!r} names no capacity reservation (expected p-<reservation id>)"
    reservation = pool_store.get_reservation(conn, int(match.group(1)))
    if reservation is None:
        return f"ignored: there is no capacity reservation {match.group(1)}"
    payment.reservation_id = reservation.id
    if payment.address != reservation.address:
        return f"ignored: paid to {payment.address}, not to the escrow account of reservation {reservation.id}"
    if payment.asset != reservation.asset:
        return f"ignored: paid in {payment.asset}, reservation {reservation.id} asks for {reservation.asset}"
    if reservation.paid_at is not None:
        return f"ignored: reservation {reservation.id} is already paid"
    if reservation.expired(payment.received):
        return f"ignored: reservation {reservation.id} had expired (unpaid for 1 hour) when the payment arrived"
    # Anything beyond the asked amount is ignored (capping also keeps the sum inside int64).
    reservation.paid_amount += min(payment.amount, reservation.amount - reservation.paid_amount)
    if reservation.paid_amount < reservation.amount:
        pool_store.save_payment(conn, reservation)
        return f"partial: {reservation.paid_amount} of {reservation.amount} stroops paid"
    pools.credit(conn, reservation, at)
    return "credited"


def auto_pay(conn: sqlite3.Connection, reservation_id: int, at: float, delay: float) -> None:
    """`--auto-pay-after`: the customer's wallet sends the correct payment now; it is credited like any other."""
    reservation = pool_store.get_reservation(conn, reservation_id)
    pool_store.clear_auto_pay(conn, reservation_id)
    if reservation is None or reservation.paid_at is not None or reservation.expired(at):
        return
    receive(conn, payment_for(reservation, None, at), at, delay)


def payment_status(conn: sqlite3.Connection, payment_id: int, now: float) -> dict[str, Any]:
    """The payment and what the watcher did with it (``pending`` until ``credit_at``)."""
    payment = pool_store.get_payment(conn, payment_id)
    if payment is None:
        raise ApiError(404, "payment not found")
    state, _, reason = (payment.outcome or "pending").partition(": ")
    reservation = pool_store.get_reservation(conn, payment.reservation_id) if payment.reservation_id else None
    return {
        "payment_id": payment.id,
        "to": payment.address,
        "asset": payment.asset,
        "amount": payment.amount,
        "memo": payment.memo,
        "received": int(payment.received),
        "credit_at": int(payment.credit_at),
        "state": state,
        "reason": reason or None,
        "reservation": None if reservation is None else pools.reservation_status(reservation, now),
    }
