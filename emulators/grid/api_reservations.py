"""HTTP endpoints for capacity pools and workloads (GRID_API.md §4.5, §4.6)."""

from __future__ import annotations

from flask import Blueprint, Response

from emulators.grid import pools, workload_store, workloads
from emulators.grid.query import int_arg, page_arg, paged_response, path_id
from emulators.grid.wire import ApiError, error_response, json_body, json_object, json_response
from emulators.grid.world import current_world

bp = Blueprint("reservations", __name__)


@bp.post("/reservations/pools")
def reserve_pool() -> Response:
    body = json_object()
    world = current_world()
    with world.session() as (conn, now):
        knobs = world.settings.current
        extension_status = 500 if knobs.extension_error_500 else 400
        created = pools.reserve(conn, body, world.escrow, now, knobs.auto_pay_after, extension_status)
    return json_response(created, 201)


@bp.get("/reservations/pools/<raw_id>")
def get_pool(raw_id: str) -> Response:
    pool_id = path_id(raw_id, "pool")
    with current_world().read_session() as (conn, now):
        pool = pools.pool_view(conn, pool_id, now)
    if pool is None:
        raise ApiError(404, "capacity pool not found")
    return json_response(pool)


@bp.get("/reservations/pools/owner/<raw_tid>")
def pools_of_owner(raw_tid: str) -> Response:
    tid = path_id(raw_tid, "customer")
    with current_world().read_session() as (conn, now):
        # Not paginated (§2.3): the full array, no Pages header.
        return json_response(pools.pools_of_customer(conn, tid, now))


@bp.post("/reservations/workloads")
def create_workload() -> Response:
    body = json_object()
    world = current_world()
    with world.session() as (conn, now):
        status, workload_id = workloads.create(conn, body, now, world.settings.current)
    # The 402 case is answered only after the commit: the rejected workload stays stored as INVALID.
    if status == 402:
        return error_response(402, workloads.POOL_TOO_SMALL)
    return json_response({"reservation_id": workload_id}, 201)


@bp.get("/reservations/workloads")
def list_workloads() -> Response:
    page = page_arg()
    customer_tid = int_arg("customer_tid")
    next_action = int_arg("next_action")
    with current_world().read_session() as (conn, _):
        found, total = workload_store.find_workloads(conn, customer_tid, next_action, page.size, page.offset)
        return paged_response([workloads.workload_json(w) for w in found], total, page)


@bp.get("/reservations/workloads/<raw_id>")
def get_workload(raw_id: str) -> Response:
    workload_id = path_id(raw_id, "workload")
    with current_world().read_session() as (conn, _):
        workload = workload_store.get_workload(conn, workload_id)
    if workload is None:
        raise ApiError(404, "workload not found")
    return json_response(workloads.workload_json(workload))


def _sign(raw_id: str, purpose: str) -> Response:
    body = json_body()  # parsed before the id is looked up: a bad body is a 400 even for unknown ids
    workload_id = path_id(raw_id, "workload")
    world = current_world()
    with world.session() as (conn, now):
        workloads.sign(conn, workload_id, body, purpose, now, world.settings.current)
    return json_response(None, 201)


@bp.post("/reservations/workloads/<raw_id>/sign/delete")
def sign_delete(raw_id: str) -> Response:
    return _sign(raw_id, "delete")


@bp.post("/reservations/workloads/<raw_id>/sign/provision")
def sign_provision(raw_id: str) -> Response:
    return _sign(raw_id, "provision")
