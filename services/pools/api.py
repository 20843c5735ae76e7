"""The answers of the pools API (``views.py`` takes ``Purchase``/``CreatePool``): its OpenAPI document's shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.openapi import Media, header

Currency = Literal["TFT", "TFTA", "FreeTFT"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class FarmsQuery(BaseModel):
    """Which farms to list: those accepting ``currency``."""

    currency: Currency = Field("TFT", description="the currency the buyer pays in")


class Free(_Open):
    cru: float
    mru: float
    sru: float
    hru: float


class FarmOffer(_Open):
    id: int
    name: str
    currency: Currency
    location: str
    up_nodes: int
    free: Free
    node_count: int


class Farms(BaseModel):
    """The farms a pool can be bought on, with their free capacity."""

    farms: list[FarmOffer]


class PoolView(_Open):
    id: int
    grid_pool_id: int | None
    farm: str
    farm_id: int
    node_count: int
    currency: str
    cu_hours_bought: float
    su_hours_bought: float
    state: str
    state_reason: str | None
    created: str
    live: bool
    cu_hours_left: float | None = None
    su_hours_left: float | None = None
    active_cu: float | None = None
    active_su: float | None = None
    empty_at: str | None = None


class PaymentView(_Open):
    """What to pay, where, with which memo; whether to stop waiting."""

    reservation_id: int | None
    kind: str
    state: Literal["submitting", "awaiting_payment", "paid", "expired", "failed"]
    state_reason: str | None
    wait_over: bool
    message: str
    address: str | None = None
    currency: str | None = None
    asset: str | None = None
    amount: str | None = None
    amount_stroops: int | None = None
    memo: str | None = None
    qr_text: str | None = None
    expires_at: str | None = None


class PoolAnswer(BaseModel):
    """A pool and its latest payment."""

    pool: PoolView
    payment: PaymentView | None


class Pools(BaseModel):
    """The caller's pools, with their live state on the grid."""

    pools: list[PoolView]


KEY_PATTERN = "^[A-Za-z0-9_-]{8,64}$"
IDEMPOTENCY = header("Idempotency-Key", "8 to 64 of A-Z a-z 0-9 _ -: a purchase sent twice with one key buys once",
                     KEY_PATTERN)  # fmt: skip
PNG = Media("image/png", "the payment as a QR code", {"type": "string", "format": "binary"})
SVG = Media("image/svg+xml", "the payment as a QR code")
