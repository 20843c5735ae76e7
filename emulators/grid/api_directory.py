"""HTTP endpoints of the directory: users (phonebook), farms, nodes, gateways (GRID_API.md §4.1-§4.4)."""

from __future__ import annotations

import binascii
from typing import Any

import nacl.exceptions
import nacl.signing
from flask import Blueprint, Response, g, request

from emulators.grid import directory_store, nodes
from emulators.grid.directory_store import Farm, NodeFilter, User
from emulators.grid.models import UserCreate
from emulators.grid.query import int_arg, page_arg, paged_response, path_id, str_arg
from emulators.grid.wire import ApiError, json_object, json_response, validated
from emulators.grid.world import current_world

bp = Blueprint("directory", __name__)

MAX_NAME_CHARS = 255


def _authenticated() -> bool:
    """Emails are only shown to callers with a valid HTTP signature (§3.3)."""
    return g.get("signer_tid") is not None


def user_json(user: User) -> dict[str, Any]:
    out: dict[str, Any] = {"id": user.id, "name": user.name}
    if _authenticated():
        out["email"] = user.email
    out.update(pubkey=user.pubkey, host=user.host, description=user.description)
    return out


def farm_json(farm: Farm) -> dict[str, Any]:
    out: dict[str, Any] = {"id": farm.id, "threebot_id": farm.threebot_id, "name": farm.name, **farm.doc}
    if not _authenticated():
        out.pop("email", None)
    return out


@bp.get("/users")
def list_users() -> Response:
    page = page_arg()
    with current_world().read_session() as (conn, _):
        users, total = directory_store.find_users(conn, str_arg("name"), str_arg("email"), page.size, page.offset)
        return paged_response([user_json(user) for user in users], total, page)


@bp.get("/users/<raw_tid>")
def get_user(raw_tid: str) -> Response:
    tid = path_id(raw_tid, "user")
    with current_world().read_session() as (conn, _):
        user = directory_store.get_user(conn, tid)
    if user is None:
        raise ApiError(404, "user not found")
    return json_response(user_json(user))


@bp.post("/users")
def register_user() -> Response:
    """Register an identity; the only write that needs no HTTP signature (the caller has no id yet)."""
    data = validated(UserCreate, json_object())
    if not data.name.strip() or len(data.name) > MAX_NAME_CHARS:
        raise ApiError(400, "name is required (at most 255 characters)")
    try:
        nacl.signing.VerifyKey(binascii.unhexlify(data.pubkey))
    except (binascii.Error, ValueError, nacl.exceptions.CryptoError):
        raise ApiError(400, "pubkey must be the hex of a 32-byte Ed25519 verify key") from None
    with current_world().session() as (conn, _):
        if directory_store.user_by_name(conn, data.name) is not None:
            raise ApiError(409, f"user with name {data.name!r} already exists")
        user = directory_store.insert_user(
            conn, data.name, data.email, data.pubkey.lower(), data.host, data.description
        )
    # The registrant just sent the email, so it is returned even without a signature.
    return json_response({**user_json(user), "email": user.email}, 201)


@bp.get("/farms")
def list_farms() -> Response:
    page = page_arg()
    with current_world().read_session() as (conn, _):
        farms, total = directory_store.find_farms(conn, int_arg("owner"), str_arg("name"), page.size, page.offset)
        return paged_response([farm_json(farm) for farm in farms], total, page)


@bp.get("/farms/<raw_id>")
def get_farm(raw_id: str) -> Response:
    farm_id = path_id(raw_id, "farm", status=404)
    with current_world().read_session() as (conn, _):
        farm = directory_store.get_farm(conn, farm_id)
    if farm is None:
        raise ApiError(404, "farm not found")
    return json_response(farm_json(farm))


def _proofs_arg() -> bool:
    return (request.args.get("proofs") or "").lower() in ("1", "true", "yes")


@bp.get("/nodes")
def list_nodes() -> Response:
    page = page_arg()
    flt = NodeFilter(
        is_gateway=False,
        farm_id=int_arg("farm"),
        country=str_arg("country"),
        city=str_arg("city"),
        cru=int_arg("cru"),
        mru=int_arg("mru"),
        sru=int_arg("sru"),
        hru=int_arg("hru"),
    )
    with current_world().read_session() as (conn, now):
        found, total = directory_store.find_nodes(conn, flt, page.size, page.offset)
        return paged_response(
            nodes.nodes_json(conn, found, now, current_world().settings.current, _proofs_arg()), total, page
        )


@bp.get("/nodes/<node_id>")
def get_node(node_id: str) -> Response:
    with current_world().read_session() as (conn, now):
        node = directory_store.get_node(conn, node_id)
        if node is None or node.is_gateway:
            raise ApiError(404, "node not found")
        return json_response(nodes.nodes_json(conn, [node], now, current_world().settings.current, _proofs_arg())[0])


@bp.get("/gateways")
def list_gateways() -> Response:
    page = page_arg()
    flt = NodeFilter(is_gateway=True, farm_id=int_arg("farm_id"), country=str_arg("country"), city=str_arg("city"))
    with current_world().read_session() as (conn, now):
        found, total = directory_store.find_nodes(conn, flt, page.size, page.offset)
        return paged_response(nodes.nodes_json(conn, found, now, current_world().settings.current), total, page)


@bp.get("/gateways/<node_id>")
def get_gateway(node_id: str) -> Response:
    with current_world().read_session() as (conn, now):
        node = directory_store.get_node(conn, node_id)
        if node is None or not node.is_gateway:
            raise ApiError(404, "gateway not found")
        return json_response(nodes.nodes_json(conn, [node], now, current_world().settings.current)[0])
