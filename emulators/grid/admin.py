"""Local-only control endpoints under `/_emulator/` (no HTTP signature): health, settings, clock, payments,
forced failures and nodes going down. They exist for tests and development; the real explorer has none.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from flask import Blueprint, Response, current_app
from pydantic import BaseModel, ConfigDict, Field

from emulators.grid import directory_store, lifecycle, nodes, payments, pool_store, pools, workload_store, workloads
from emulators.grid.config import SettingError
from emulators.grid.enums import MAX_INT64
from emulators.grid.faults import lost_answers
from emulators.grid.query import path_id
from emulators.grid.request_counts import request_counts
from emulators.grid.seed import SEEDED_KEY
from emulators.grid.store import get_meta
from emulators.grid.wire import ApiError, json_object, json_response, validated
from emulators.grid.world import current_world

bp = Blueprint("admin", __name__)

Id = Annotated[int, Field(ge=1, le=MAX_INT64)]


class _Admin(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class ClockAdvance(_Admin):
    # Forward only (burn and expiry cannot be undone); the bound keeps the clock in a sane range.
    advance_seconds: Annotated[float, Field(ge=0, le=100 * 365 * 86400)]


class PaymentOf(_Admin):
    """Convenience: the correct payment for a reservation (built here, then matched like any other)."""

    reservation_id: Id
    amount: Annotated[int, Field(ge=1, le=MAX_INT64)] | None = None


class LoseAnswers(_Admin):
    kind: Literal["workload", "pool", "delete", "provision"]
    count: Annotated[int, Field(ge=0, le=1000)] = 1
    mode: Literal["500", "drop", "refuse"] = "500"


class Failure(_Admin):
    workload_id: Id | None = None
    node_id: str | None = None
    message: Annotated[str, Field(max_length=1024)] = "injected failure"


@bp.get("/healthz")
def healthz() -> Response:
    with current_world().store.read() as conn:
        conn.execute("SELECT 1")
    return json_response({"status": "ok"})


@bp.get("/info")
def info() -> Response:
    """What the state file was seeded with, and the emulator clock."""
    world = current_world()
    with world.store.read() as conn:
        seeded = json.loads(get_meta(conn, SEEDED_KEY) or "{}")
    return json_response(
        {
            "seeded": seeded,
            "now": int(world.clock.now()),
            "clock_offset": world.clock.offset,
            "dns_port": current_app.config["GRID_DNS_PORT"],
        }
    )


@bp.get("/stats")
def stats() -> Response:
    """Requests answered since the server started, per method and route (benchmarks take differences), and the
    lifecycle events applied, by the node agents in the background or replayed by requests (node_agents.py)."""
    return json_response({"requests": request_counts(), "lifecycle_events": current_world().applied.snapshot()})


@bp.get("/config")
def get_config() -> Response:
    return json_response(current_world().settings.current.as_json())


@bp.post("/config")
def set_config() -> Response:
    """Change any of error_rate, extra_latency, deploy_latency, delete_latency, auto_pay_after (400 if invalid)."""
    try:
        knobs = current_world().settings.update(json_object())
    except SettingError as exc:
        raise ApiError(400, str(exc)) from None
    return json_response(knobs.as_json())


@bp.get("/lose")
def planned_losses() -> Response:
    return json_response({"pending": lost_answers().counts()})


@bp.post("/lose")
def plan_losses() -> Response:
    """The next ``count`` successful answers of ``kind`` are lost after their commit (``mode`` 500 or drop), or
    the next ``count`` requests of ``kind`` fail with a 500 before anything is done (``refuse``: an outage of that
    endpoint alone); ``count`` 0 cancels every planned fault."""
    request = validated(LoseAnswers, json_object())
    planned = lost_answers()
    pending = planned.add(request.kind, request.count, request.mode) if request.count else planned.clear()
    return json_response({"pending": pending})


@bp.get("/clock")
def get_clock() -> Response:
    world = current_world()
    return json_response({"now": int(world.clock.now()), "offset": world.clock.offset})


@bp.post("/clock")
def advance_clock() -> Response:
    request = validated(ClockAdvance, json_object())
    world = current_world()
    with world.store.transaction() as conn:
        offset = world.clock.advance(conn, request.advance_seconds)
    # Apply what became due right away (in short transactions), so a follow-up read is not the one paying for a
    # long replay, and everything the jump skipped over is applied when this answers.
    world.catch_up("requests")
    return json_response({"now": int(world.clock.now()), "offset": offset})


@bp.post("/pay")
def pay() -> Response:
    """A Stellar-like payment `{"to", "asset", "amount" (stroops), "memo"}` into an escrow account, credited
    after `payment_delay` only if memo, address and asset match a reservation (payments.py). The shorthand
    `{"reservation_id": N[, "amount": stroops]}` sends the correct payment for N (404/409/410 as before)."""
    body = json_object()
    world = current_world()
    knobs = world.settings.current
    with world.session() as (conn, now):
        if "reservation_id" in body:
            request = validated(PaymentOf, body)
            found = pool_store.get_reservation(conn, request.reservation_id)
            sent = payments.payment_for(found, request.amount, now)
        else:
            sent = validated(payments.StellarPayment, body)
        payment_id = payments.receive(conn, sent, now, knobs.payment_delay)
        # With no delay the watcher credits it in this very request.
        world.applied.add("requests", lifecycle.advance(conn, now, knobs))
        return json_response(payments.payment_status(conn, payment_id, now))


@bp.get("/payments/<raw_id>")
def payment(raw_id: str) -> Response:
    payment_id = path_id(raw_id, "payment")
    with current_world().read_session() as (conn, now):
        return json_response(payments.payment_status(conn, payment_id, now))


@bp.get("/reservations/<raw_id>")
def reservation(raw_id: str) -> Response:
    reservation_id = path_id(raw_id, "reservation")
    with current_world().session() as (conn, now):
        found = pool_store.get_reservation(conn, reservation_id)
        if found is None:
            raise ApiError(404, "reservation not found")
        return json_response(pools.reservation_status(found, now))


@bp.post("/fail")
def fail() -> Response:
    """`{"workload_id": N, "message": ...}` fails that workload; `{"node_id": ..., "message": ...}` fails the
    next workload that node picks up."""
    request = validated(Failure, json_object())
    if (request.workload_id is None) == (request.node_id is None):
        raise ApiError(400, "give exactly one of workload_id and node_id")
    world = current_world()
    with world.session() as (conn, now):
        if request.workload_id is not None:
            workload = workloads.fail(conn, request.workload_id, request.message, now, world.settings.current)
            return json_response(workloads.workload_json(workload))
        assert request.node_id is not None
        if directory_store.get_node(conn, request.node_id) is None:
            raise ApiError(404, "node not found")
        workload_store.push_node_failure(conn, request.node_id, request.message)
        return json_response({"node_id": request.node_id, "message": request.message})


def _set_node_state(node_id: str, up: bool) -> Response:
    with current_world().session() as (conn, now):
        changed = nodes.mark_up(conn, node_id, now) if up else nodes.mark_down(conn, node_id, now)
        if not changed:
            raise ApiError(404, "node not found")
        node = directory_store.get_node(conn, node_id)
        assert node is not None
        return json_response(nodes.nodes_json(conn, [node], now, current_world().settings.current)[0])


@bp.get("/nodes/<node_id>")
def node_truth(node_id: str) -> Response:
    """What the node itself knows now, unlike its lagging report on /api/v1/nodes: the marketplace's usage
    (every customer registered here), other tenants' usage, their sum, and the WireGuard ports in use."""
    world = current_world()
    with world.session() as (conn, now):
        node = directory_store.get_node(conn, node_id)
        if node is None or node.is_gateway:
            raise ApiError(404, "node not found")
        ours, others = nodes.true_usage(conn, node, now, world.settings.current)
        return json_response(
            {
                "node_id": node_id,
                "total_resources": node.doc["total_resources"],
                "customers": ours.as_json(),
                "other_tenants": others.as_json(),
                "reserved_resources": (ours + others).as_json(),
                "wg_ports": nodes.wireguard_ports(conn, node),
            }
        )


@bp.post("/nodes/<node_id>/down")
def node_down(node_id: str) -> Response:
    """The node (or gateway) stops heartbeating and picks up nothing until it is up again."""
    return _set_node_state(node_id, up=False)


@bp.post("/nodes/<node_id>/up")
def node_up(node_id: str) -> Response:
    return _set_node_state(node_id, up=True)
