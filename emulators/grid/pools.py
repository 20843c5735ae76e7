"""Capacity pools: create/extend with the checks of §4.5, payments (simulated), burn and the Pool wire object."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from emulators.grid import directory_store, pool_store, workload_store
from emulators.grid.capacity import Burn, wire_empty_at
from emulators.grid.challenge import verify_pool_signature
from emulators.grid.keys import derive_seed, stellar_address
from emulators.grid.models import PoolCreate, PoolData
from emulators.grid.pool_store import RESERVATION_TTL_SECONDS, Pool, Reservation
from emulators.grid.wire import ApiError, validated

# 0.04 USD per CU-hour and 0.03 USD per SU-hour at 0.15 USD/TFT, per second, in stroops (§4.5).
STROOPS_PER_CU_SECOND = 741
STROOPS_PER_SU_SECOND = 556

ISSUERS = {
    "mainnet": {
        "TFT": "GBOVQKJYHXRR3DX6NOX2RRYFRCUMSADGDESTDNBDS6CDVLGVESRTAC47",
        "TFTA": "GBUT4GP5GJ6B3XW5PXENHQA7TXJI5GOPW3NF4W3ZIW6OOO4ISY6WNLN2",
        "FreeTFT": "GCBGS5TFE2BPPUVY55ZPEMWWGR6CLQ7T6P46SOFGHXEBJ34MSP6HVEUT",
    },
    "testnet": {
        "TFT": "GA47YZA3PKFUZMPLQ3B5F2E3CJIB57TGGU7SPCQT2WAEYKN766PWIMB3",
        "TFTA": "GB55A4RR4G2MIORJTQA4L6FENZU7K4W7ATGY6YOT2CW47M5SZYGYKSCT",
        "FreeTFT": "GBLDUINEFYTF7XEE7YNWA3JQS4K2VD37YU7I2YAE7R5AHZDKQXSS2J6R",
    },
}


@dataclass(frozen=True)
class Escrow:
    world_seed: int
    stellar_network: str

    def address(self, customer_tid: int) -> str:
        """One escrow account per customer, reused across reservations (§4.5)."""
        return stellar_address(derive_seed(self.world_seed, "escrow", customer_tid))

    def asset(self, currency: str) -> str:
        return f"{currency}:{ISSUERS[self.stellar_network][currency]}"


def escrow_amount(cus: int, sus: int) -> int:
    return STROOPS_PER_CU_SECOND * cus + STROOPS_PER_SU_SECOND * sus


def _checked_request(
    conn: sqlite3.Connection, body: dict[str, Any]
) -> tuple[PoolCreate, dict[str, directory_store.Node]]:
    """Validate a PoolCreate body in the order of §4.5. Raises ApiError(400/409)."""
    request = validated(PoolCreate, body)
    data = request.data_reservation
    if request.customer_tid == 0:
        raise ApiError(400, "customer_tid is required")
    if not request.customer_signature:
        raise ApiError(400, "customer_signature is required")
    if not data.node_ids:
        raise ApiError(400, "data_reservation.node_ids must not be empty")
    try:
        signed = PoolData.model_validate(json.loads(request.json_text))
    except (ValueError, RecursionError):
        raise ApiError(400, "json is not a valid serialisation of data_reservation") from None
    if signed != data:
        raise ApiError(400, "json does not match data_reservation")
    if len(set(data.node_ids)) != len(data.node_ids):
        raise ApiError(409, "duplicate node id in node_ids")
    nodes = directory_store.get_nodes(conn, data.node_ids)
    unknown = [node_id for node_id in data.node_ids if node_id not in nodes]
    if unknown:
        raise ApiError(400, f"unknown node id {unknown[0]}")
    if len({node.farm_id for node in nodes.values()}) > 1:
        raise ApiError(400, "all nodes of a pool must belong to the same farm")
    customer = directory_store.get_user(conn, request.customer_tid)
    if customer is None:
        raise ApiError(400, f"customer {request.customer_tid} not found")
    if not verify_pool_signature(customer.pubkey, request.json_text, request.customer_signature):
        raise ApiError(400, "failed to verify customer signature")
    return request, nodes


def _currency(conn: sqlite3.Connection, currencies: list[str], nodes: dict[str, directory_store.Node]) -> str:
    """The first acceptable currency: FreeTFT only if every node is free_to_use, others need a farm wallet."""
    farm = directory_store.get_farm(conn, next(iter(nodes.values())).farm_id)
    wallets = {w["asset"] for w in (farm.doc["wallet_addresses"] if farm else [])}
    for currency in currencies:
        if currency == "FreeTFT":
            if all(node.free_to_use for node in nodes.values()):
                return currency
        elif currency in ("TFT", "TFTA") and currency in wallets:
            return currency
    raise ApiError(400, "none of the currencies is accepted by the farm of these nodes")


def reserve(
    conn: sqlite3.Connection,
    body: dict[str, Any],
    escrow: Escrow,
    now: float,
    auto_pay_after: float,
    extension_status: int = 500,
) -> dict[str, Any]:
    """Create or extend a pool (§4.5); returns the PoolCreated object.

    Raises ApiError(400/409); a failed extension (pool missing, another customer's, a node removed) answers
    ``extension_status``: 500 as the real explorer did, 400 when the realism switch is off.
    """
    request, nodes = _checked_request(conn, body)
    data = request.data_reservation
    if data.pool_id:
        pool = pool_store.get_pool(conn, data.pool_id)
        if pool is None:
            raise ApiError(extension_status, f"pool {data.pool_id} does not exist")
        if pool.customer_tid != request.customer_tid:
            raise ApiError(extension_status, f"pool {data.pool_id} belongs to another customer")
        removed = [node_id for node_id in pool.node_ids if node_id not in data.node_ids]
        if removed:
            raise ApiError(extension_status, f"node {removed[0]} cannot be removed from pool {data.pool_id}")
    currency = _currency(conn, data.currencies, nodes)
    reservation = Reservation(
        id=0,
        pool_id=data.pool_id,
        customer_tid=request.customer_tid,
        cus=data.cus,
        sus=data.sus,
        node_ids=list(data.node_ids),
        currency=currency,
        asset=escrow.asset(currency),
        address=escrow.address(request.customer_tid),
        amount=escrow_amount(data.cus, data.sus),
        paid_amount=0,
        created=now,
        paid_at=None,
        # Auto-payment is decided at creation: a later config change does not re-price old reservations.
        auto_pay_at=now + auto_pay_after if 0 < auto_pay_after < RESERVATION_TTL_SECONDS else None,
        json=request.json_text,
        customer_signature=request.customer_signature,
    )
    reservation_id = pool_store.insert_reservation(conn, reservation)
    if not data.pool_id:
        # A new pool exists (empty) right away and takes the reservation's id.
        pool_store.save_pool(
            conn,
            Pool(reservation_id, request.customer_tid, list(data.node_ids), Burn(0.0, 0.0, now, 0.0, 0.0), None),
        )
    return {
        "reservation_id": reservation_id,
        "escrow_information": {
            "address": reservation.address,
            "asset": reservation.asset,
            "amount": reservation.amount,
        },
    }


def refresh(conn: sqlite3.Connection, pool_id: int, now: float, save: bool = True) -> Pool | None:
    """Burn the pool up to ``now``, recompute its burn rate from its deployed workloads, and save it (unless a
    reader only wants to show it: burning is linear, so the stored state gives the same figures later)."""
    pool = pool_store.get_pool(conn, pool_id)
    if pool is None:
        return None
    pool.burn.burn_until(now)
    cu, su = workload_store.active_units_in_pool(conn, pool_id)
    # Summed from the workloads each time (not incremented) so floating-point error never accumulates.
    pool.burn.active_cu = round(cu, 6)
    pool.burn.active_su = round(su, 6)
    pool.empty_at = pool.burn.empty_at()
    if save:
        pool_store.save_pool(conn, pool)
    return pool


def credit(conn: sqlite3.Connection, reservation: Reservation, now: float) -> None:
    """The reservation is paid: add its CU/SU-seconds (and any new nodes) to its pool."""
    reservation.paid_at = now
    pool_store.save_payment(conn, reservation)
    pool = refresh(conn, reservation.pool_id, now)
    if pool is None:
        return
    pool.burn.cus += reservation.cus
    pool.burn.sus += reservation.sus
    pool.node_ids += [node_id for node_id in reservation.node_ids if node_id not in pool.node_ids]
    pool.empty_at = pool.burn.empty_at()
    pool_store.save_pool(conn, pool)


def reservation_status(reservation: Reservation, now: float) -> dict[str, Any]:
    state = "paid" if reservation.paid_at is not None else "expired" if reservation.expired(now) else "awaiting_payment"
    return {
        "reservation_id": reservation.id,
        "pool_id": reservation.pool_id,
        "customer_tid": reservation.customer_tid,
        "cus": reservation.cus,
        "sus": reservation.sus,
        "node_ids": reservation.node_ids,
        "currency": reservation.currency,
        "escrow_information": {
            "address": reservation.address,
            "asset": reservation.asset,
            "amount": reservation.amount,
        },
        "paid_amount": reservation.paid_amount,
        "state": state,
        "created": int(reservation.created),
        "expires_at": int(reservation.created + RESERVATION_TTL_SECONDS),
        "paid_at": None if reservation.paid_at is None else int(reservation.paid_at),
        "auto_pay_at": None if reservation.auto_pay_at is None else int(reservation.auto_pay_at),
    }


def pool_json(pool: Pool, active_ids: list[int]) -> dict[str, Any]:
    return {
        "pool_id": pool.id,
        "cus": round(pool.burn.cus, 6),
        "sus": round(pool.burn.sus, 6),
        "node_ids": pool.node_ids,
        "last_updated": int(pool.burn.last_updated),
        "active_cu": pool.burn.active_cu,
        "active_su": pool.burn.active_su,
        "empty_at": wire_empty_at(pool.empty_at),
        "customer_tid": pool.customer_tid,
        "active_workload_ids": active_ids,
    }


def pool_view(conn: sqlite3.Connection, pool_id: int, now: float) -> dict[str, Any] | None:
    """The Pool object with the burn applied up to ``now`` (§4.5 "Read"); read-only."""
    pool = refresh(conn, pool_id, now, save=False)
    if pool is None:
        return None
    return pool_json(pool, workload_store.active_ids_by_pool(conn, [pool.id])[pool.id])


def pools_of_customer(conn: sqlite3.Connection, customer_tid: int, now: float) -> list[dict[str, Any]]:
    views = (pool_view(conn, pool.id, now) for pool in pool_store.pools_of(conn, customer_tid))
    return [view for view in views if view is not None]
