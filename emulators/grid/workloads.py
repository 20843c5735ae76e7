"""Workloads: creation with the checks of §4.6, deletion/provision signatures (§4.6, §7.2), the wire object."""

from __future__ import annotations

import binascii
import sqlite3
from typing import Any

from emulators.grid import directory_store, node_agent, pool_store, pools, workload_store
from emulators.grid.capacity import cloud_units, workload_units, would_run_dry
from emulators.grid.challenge import (
    challenge_digest,
    delete_challenge,
    provision_challenge,
    verify_hex_signature,
    verify_workload_signature,
)
from emulators.grid.config import Knobs
from emulators.grid.enums import NextAction, WorkloadType
from emulators.grid.models import WORKLOAD_MODELS, SignRequest
from emulators.grid.wire import ApiError, validated
from emulators.grid.workload_store import Workload

MAX_METADATA_CHARS = 1024
POOL_TOO_SMALL = "pool needs additional capacity to support this workload"


def _workload_type(body: dict[str, Any]) -> WorkloadType:
    raw = body.get("workload_type")
    # bool is an int in Python but never a workload type on the wire.
    if isinstance(raw, bool) or not isinstance(raw, int) or raw not in WorkloadType._value2member_map_:
        raise ApiError(400, "unknown workload_type")
    workload_type = WorkloadType(raw)
    if workload_type not in WORKLOAD_MODELS:
        raise ApiError(400, f"workload type {workload_type.name} cannot be created")
    return workload_type


def _search_columns(workload_type: WorkloadType, body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(network name, IP, domain): the denormalised columns the node-side checks search on."""
    if workload_type == WorkloadType.CONTAINER and body["network_connection"]:
        first = body["network_connection"][0]
        return first["network_id"], first["ipaddress"], None
    if workload_type == WorkloadType.KUBERNETES:
        return body["network_id"], body["ipaddress"], None
    if workload_type == WorkloadType.NETWORK_RESOURCE:
        return body["name"], None, None
    if "domain" in body:
        return None, None, body["domain"].lower().rstrip(".")
    return None, None, None


def create(conn: sqlite3.Connection, body: dict[str, Any], now: float, knobs: Knobs) -> tuple[int, int]:
    """Store a new workload; returns (HTTP status, workload id): 201, or 402 when the pool is too small.

    A 402 workload is still stored (next_action INVALID), as the explorer did, hence a status and not an
    exception: the caller must commit. Raises ApiError 400/403/404 for everything else (§4.6 steps 1-5).
    """
    workload_type = _workload_type(body)
    model = validated(WORKLOAD_MODELS[workload_type], body)
    if model.customer_tid == 0:
        raise ApiError(400, "customer_tid is required")
    if not model.customer_signature:
        raise ApiError(400, "customer_signature is required")
    if len(model.metadata) > MAX_METADATA_CHARS:
        raise ApiError(400, f"metadata is longer than {MAX_METADATA_CHARS} characters")
    if model.pool_id == 0:
        raise ApiError(400, "pool_id is required")
    if model.reference:
        raise ApiError(400, "reference must be empty")
    if model.next_action in (NextAction.INVALID, NextAction.DELETE):
        raise ApiError(400, f"next_action {NextAction(model.next_action).name} is not allowed on create")
    customer = directory_store.get_user(conn, model.customer_tid)
    if customer is None:
        raise ApiError(400, f"customer {model.customer_tid} not found")
    try:
        binascii.unhexlify(model.customer_signature)
    except (binascii.Error, ValueError):
        raise ApiError(400, "customer_signature must be hex") from None
    wire = model.model_dump()
    if not verify_workload_signature(customer.pubkey, wire, model.customer_signature):
        raise ApiError(400, "failed to verify customer signature")
    # Like the real explorer, the receipt time replaces the client's epoch; clients must sign deletions
    # from the stored copy (GET), never from their local one.
    wire["epoch"] = int(now)
    del wire["next_action"]
    pool = pool_store.get_pool(conn, model.pool_id)
    if pool is None:
        raise ApiError(404, "pool does not exist")
    if pool.customer_tid != model.customer_tid or model.node_id not in pool.node_ids:
        raise ApiError(403, "not allowed to deploy workload on this pool")
    units = workload_units(workload_type, wire)
    cu, su = cloud_units(units)
    network_name, ip, domain = _search_columns(workload_type, wire)
    workload = Workload(
        id=0,
        customer_tid=model.customer_tid,
        pool_id=model.pool_id,
        node_id=model.node_id,
        workload_type=workload_type,
        next_action=NextAction.DEPLOY,
        body=wire,
        units=units,
        cu=cu,
        su=su,
        created=now,
        network_name=network_name,
        ip=ip,
        domain=domain,
    )
    refreshed = pools.refresh(conn, pool.id, now)
    if refreshed is not None and would_run_dry(refreshed.burn, now, cu, su):
        workload.next_action = NextAction.INVALID
        return 402, workload_store.insert_workload(conn, workload)
    if model.signing_request_provision.quorum_min > 0:
        workload.next_action = NextAction.SIGN
    else:
        workload.deploy_at = now + knobs.deploy_latency.for_kind(workload_type.kind)
    return 201, workload_store.insert_workload(conn, workload)


def sign(conn: sqlite3.Connection, workload_id: int, body: Any, purpose: str, now: float, knobs: Knobs) -> None:
    """Add a delete or provision signature (``purpose``); acts once the quorum is reached.

    Raises ApiError: 400 bad body/hex or repeated signer, 404 unknown workload or user, 401 signer not
    requested, workload not expecting signatures, or signature invalid.
    """
    request = validated(SignRequest, body)
    try:
        signature = binascii.unhexlify(request.signature)
    except (binascii.Error, ValueError):
        raise ApiError(400, "signature must be hex") from None
    if not signature:
        raise ApiError(400, "signature is required")
    workload = workload_store.get_workload(conn, workload_id)
    if workload is None:
        raise ApiError(404, "workload not found")
    if purpose == "provision" and workload.next_action != NextAction.SIGN:
        raise ApiError(401, "workload not expecting signatures")
    wanted = workload.body[f"signing_request_{purpose}"]
    signatures = workload.signatures_delete if purpose == "delete" else workload.signatures_provision
    if request.tid not in wanted["signers"]:
        raise ApiError(401, f"signature not required for user '{request.tid}'")
    if any(existing["tid"] == request.tid for existing in signatures):
        raise ApiError(400, f"user '{request.tid}' has already signed this workload")
    user = directory_store.get_user(conn, request.tid)
    if user is None:
        raise ApiError(404, f"user {request.tid} not found")
    build = delete_challenge if purpose == "delete" else provision_challenge
    challenge = build(wire_body(workload), request.tid)
    if not verify_hex_signature(user.pubkey, challenge_digest(challenge), request.signature):
        raise ApiError(401, "failed to verify signature")
    signatures.append({"tid": request.tid, "signature": request.signature, "epoch": int(now)})
    if len(signatures) >= wanted["quorum_min"]:
        if purpose == "delete":
            request_deletion(workload, now, knobs)
        elif workload.next_action == NextAction.SIGN:
            workload.next_action = NextAction.DEPLOY
            workload.deploy_at = now + knobs.deploy_latency.for_kind(workload.workload_type.kind)
    workload_store.save_workload(conn, workload)


def request_deletion(workload: Workload, now: float, knobs: Knobs) -> None:
    """Ask the node to remove the workload (next_action DELETE); its pool stops paying once it confirms."""
    if workload.next_action in (NextAction.DELETE, NextAction.DELETED, NextAction.INVALID):
        return
    workload.next_action = NextAction.DELETE
    workload.deploy_at = None
    workload.delete_at = now + knobs.delete_latency


def fail(conn: sqlite3.Connection, workload_id: int, message: str, now: float, knobs: Knobs) -> Workload:
    """Force a workload's result to Error (admin). Raises ApiError 404 unknown, 409 no longer live."""
    workload = workload_store.get_workload(conn, workload_id)
    if workload is None:
        raise ApiError(404, "workload not found")
    if workload.active and workload.next_action == NextAction.DEPLOY:
        node = directory_store.get_node(conn, workload.node_id)
        workload.result = node_agent.error_result(workload, node, now, message)
        if workload.workload_type != WorkloadType.NETWORK_RESOURCE:
            workload.stop(now)  # a network resource runs until the node removes it, taking its network along
        request_deletion(workload, now, knobs)
        workload_store.save_workload(conn, workload)
        pools.refresh(conn, workload.pool_id, now)
    elif workload.next_action in (NextAction.DEPLOY, NextAction.SIGN) and workload.result is None:
        workload.fail_message = message  # reported by the node when it picks the workload up
        workload_store.save_workload(conn, workload)
    else:
        raise ApiError(409, f"workload {workload_id} is no longer live")
    return workload


def wire_body(workload: Workload) -> dict[str, Any]:
    """The stored workload in the flattened shape of GET (what delete/provision challenges are built from)."""
    return {**workload.body, "next_action": int(workload.next_action)}


def workload_json(workload: Workload) -> dict[str, Any]:
    return {
        **wire_body(workload),
        "id": workload.id,
        "json": "",
        "signatures_provision": workload.signatures_provision,
        "signatures_delete": workload.signatures_delete,
        "signature_farmer": {"tid": 0, "signature": "", "epoch": 0},
        "result": workload.result or node_agent.empty_result(),
    }
