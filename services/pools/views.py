"""HTTP of the pools service (through Caddy, behind forward_auth; spending endpoints behind the terms gate)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from services.common.errors import ApiError, FieldError, ServiceUnavailable
from services.common.explorer import Explorer, ExplorerUnavailable
from services.common.openapi import operation
from services.common.web import deps, require_accepted_terms, user
from services.pools import changes, farms, payment, service, store
from services.pools.api import (
    IDEMPOTENCY,
    KEY_PATTERN,
    PNG,
    SVG,
    Currency,
    Farms,
    FarmsQuery,
    PaymentView,
    PoolAnswer,
    Pools,
)

bp = Blueprint("pools", __name__)
_KEY = re.compile(KEY_PATTERN)
FARMS_CACHE_SECONDS = 15


class Purchase(BaseModel):
    """Capacity to buy: CU and SU in use per second for a number of days, or totals in CU-/SU-hours."""

    model_config = ConfigDict(extra="forbid")

    currency: Currency
    cu: StrictInt | None = Field(None, ge=0, le=1024)
    su: StrictInt | None = Field(None, ge=0, le=100_000)
    days: StrictInt | None = Field(None, ge=1, le=3650)
    cu_hours: StrictInt | None = Field(None, ge=0, le=10_000_000)
    su_hours: StrictInt | None = Field(None, ge=0, le=100_000_000)
    idempotency_key: str | None = Field(None, pattern=_KEY.pattern)

    def seconds(self) -> tuple[int, int]:
        """(CU-seconds, SU-seconds) to buy — GRID_API §10.3: ``units × days × 86400`` or ``hours × 3600``.

        Raises:
            ApiError: 422 naming the fields when the shape is ambiguous or buys nothing.
        """
        per_second = [f for f in ("cu", "su", "days") if getattr(self, f) is not None]
        totals = [f for f in ("cu_hours", "su_hours") if getattr(self, f) is not None]
        if per_second and totals:
            raise _invalid("ambiguous", "give cu, su and days, or cu_hours and su_hours, not both", *totals)
        if totals:
            cus, sus = (self.cu_hours or 0) * 3600, (self.su_hours or 0) * 3600
            fields = ("cu_hours", "su_hours")
        else:
            if self.days is None:
                raise _invalid("missing", "how many days of capacity to buy", "days")
            cus, sus = (self.cu or 0) * self.days * 86400, (self.su or 0) * self.days * 86400
            fields = ("cu", "su")
        if cus == 0 and sus == 0:
            raise _invalid("nothing_to_buy", "buy some capacity: CU or SU must be above 0", *fields)
        return cus, sus


class CreatePool(Purchase):
    farm_id: StrictInt = Field(gt=0, le=2**53)


def _invalid(code: str, description: str, *fields: str) -> ApiError:
    return ApiError(422, "the request is not valid", tuple(FieldError(code, description, f) for f in fields))


def explorer() -> Explorer:
    return current_app.extensions["pools_explorer"]  # type: ignore[no-any-return]


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(422, "send a JSON object", (FieldError("invalid_json", "send a JSON object"),))
    return body


def _idempotency_key(purchase: Purchase) -> str:
    header = request.headers.get("Idempotency-Key")
    if header is not None and not _KEY.fullmatch(header):
        raise _invalid("invalid_key", "Idempotency-Key must be 8 to 64 letters, digits, - or _", "Idempotency-Key")
    return header or purchase.idempotency_key or uuid.uuid4().hex


def _pool_or_404(owner: str, pool_id: int) -> dict[str, Any]:
    with deps().db.transaction() as cur:
        pool = store.get_pool(cur, owner, pool_id)
    if pool is None:
        raise ApiError(404, "no such pool", (FieldError("not_found", "no such pool"),))
    return pool


def _latest_payment(pool_id: int) -> dict[str, Any] | None:
    with deps().db.transaction() as cur:
        reservation = store.latest_reservation(cur, pool_id)
    return None if reservation is None else service.payment_view(deps().settings, reservation)


def _reservation_for(pool_id: int) -> dict[str, Any]:
    with deps().db.transaction() as cur:
        reservation = store.latest_reservation(cur, pool_id)
    if reservation is None or reservation["escrow_address"] is None:
        raise ApiError(404, "this pool has no payment to make", (FieldError("not_found", "no payment"),))
    return reservation


@bp.get("/api/pools")
@operation("The caller's pools", {200: Pools})
def list_pools() -> Any:
    owner = user().username
    with deps().db.transaction() as cur:
        rows = store.list_pools(cur, owner)
    return jsonify(pools=[service.pool_view(row, service.live_state(explorer(), row["grid_pool_id"])) for row in rows])


@bp.get("/api/pools/farms")
@operation("The farms a pool can be bought on", {200: Farms}, query=FarmsQuery)
def list_farms() -> Any:
    user()
    currency = FarmsQuery.model_validate(request.args.to_dict()).currency  # 422 naming `currency` otherwise
    cache_key = f"pools:farms:{currency}"
    cached = deps().redis.get(cache_key)
    if cached is not None:
        offers = json.loads(cached)
    else:
        try:
            offers = farms.list_offers(explorer(), currency)
        except ExplorerUnavailable as exc:
            raise ServiceUnavailable(f"the grid explorer is unavailable; try again ({exc})") from None
        deps().redis.set(cache_key, json.dumps(offers), ex=FARMS_CACHE_SECONDS)
    public = [{k: v for k, v in offer.items() if k != "node_ids"} | {"node_count": len(offer["node_ids"])}
              for offer in offers]  # fmt: skip
    return jsonify(farms=public)


@bp.post("/api/pools")
@operation(
    "Buy a new pool (201; 200 when the idempotency key was already used)",
    {201: PoolAnswer, 200: PoolAnswer},
    body=CreatePool,
    headers=(IDEMPOTENCY,),
)
def create_pool() -> Any:
    owner = require_accepted_terms().username
    purchase = CreatePool.model_validate(_body())
    cus, sus = purchase.seconds()
    key = _idempotency_key(purchase)
    pool_id, created = service.create_pool(deps().db, explorer(), deps().settings, owner, key, purchase.farm_id,
                                           purchase.currency, cus, sus, purchase.days,
                                           changes.notifier(deps().redis))  # fmt: skip
    return _pool_answer(owner, pool_id), 201 if created else 200


@bp.get("/api/pools/<int:pool_id>")
@operation("One pool and its latest payment", {200: PoolAnswer})
def get_pool(pool_id: int) -> Any:
    return _pool_answer(user().username, pool_id)


def _pool_answer(owner: str, pool_id: int) -> Response:
    pool = _pool_or_404(owner, pool_id)
    view = service.pool_view(pool, service.live_state(explorer(), pool["grid_pool_id"]))
    return jsonify(pool=view, payment=_latest_payment(pool_id))


@bp.post("/api/pools/<int:pool_id>/extend")
@operation("Buy more capacity for a pool", {201: PoolAnswer}, body=Purchase, headers=(IDEMPOTENCY,))
def extend_pool(pool_id: int) -> Any:
    owner = require_accepted_terms().username
    purchase = Purchase.model_validate(_body())
    cus, sus = purchase.seconds()
    key = _idempotency_key(purchase)
    reservation = service.extend_pool(deps().db, explorer(), deps().settings, owner, pool_id, key,
                                      purchase.currency, cus, sus)  # fmt: skip
    pool = _pool_or_404(owner, pool_id)
    view = service.pool_view(pool, service.live_state(explorer(), pool["grid_pool_id"]))
    return jsonify(pool=view, payment=service.payment_view(deps().settings, reservation)), 201


@bp.get("/api/pools/<int:pool_id>/payment")
@operation("The pool's payment to make", {200: PaymentView})
def get_payment(pool_id: int) -> Any:
    _pool_or_404(user().username, pool_id)
    return jsonify(service.payment_view(deps().settings, _reservation_for(pool_id)))


@bp.get("/api/pools/<int:pool_id>/payment.png")
@operation("The payment as a PNG QR code", {200: PNG})
def payment_png(pool_id: int) -> Response:
    _pool_or_404(user().username, pool_id)
    return Response(payment.qr_png(payment.payment_uri(_reservation_for(pool_id))), mimetype="image/png")


@bp.get("/api/pools/<int:pool_id>/payment.svg")
@operation("The payment as an SVG QR code", {200: SVG})
def payment_svg(pool_id: int) -> Response:
    _pool_or_404(user().username, pool_id)
    return Response(payment.qr_svg(payment.payment_uri(_reservation_for(pool_id))), mimetype="image/svg+xml")
