"""`/_emulator/ct`: the certificate-transparency log in crt.sh's JSON shape, and its test controls (ct_log.py).

Point the marketplace's ``CT_LOG_URL`` here instead of ``https://crt.sh/``: ``GET ?q=<domain>&output=json`` answers
as crt.sh does. No HTTP signature (crt.sh has none) and no /api/v1 fault injection; the runtime knob ``ct_outage``
makes the search answer 503 as crt.sh often does. ``POST`` seeds certificates (e.g. a parent domain's weekly
budget), ``DELETE`` forgets them.
"""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, Response, request
from pydantic import BaseModel, ConfigDict, Field

from emulators.grid import ct_log
from emulators.grid.wire import ApiError, json_object, json_response, validated
from emulators.grid.world import current_world

bp = Blueprint("ct", __name__)

# A host name of letters, digits and hyphens in dot-separated labels (what Let's Encrypt issues for).
HOSTNAME = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$"
MAX_QUERY_CHARS = 512


class CtSeed(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    domain: Annotated[str, Field(max_length=253, pattern=HOSTNAME)]
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    days_ago: Annotated[float, Field(ge=0, le=3650)] = 0.0
    staging: bool = False


class CtForget(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    domain: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS)] | None = None


@bp.get("/ct")
def search() -> Response:
    world = current_world()
    if world.settings.current.ct_outage:
        raise ApiError(503, "CT log unavailable (injected outage)")
    query = request.args.get("q", "").strip()
    if not query or len(query) > MAX_QUERY_CHARS:
        raise ApiError(400, f"q must be a domain (1 to {MAX_QUERY_CHARS} characters), e.g. q=%.example.com")
    if request.args.get("output", "json") != "json":
        raise ApiError(400, "only output=json is served")
    with world.read_session() as (conn, _now):
        return json_response(ct_log.search(conn, query))


@bp.post("/ct")
def seed() -> Response:
    """``{"domain", "count", "days_ago", "staging"}``: ``count`` certificates of distinct names under ``domain``."""
    wanted = validated(CtSeed, json_object())
    with current_world().session() as (conn, now):
        created = ct_log.seed(conn, wanted.domain.lower().rstrip("."), wanted.count, now - wanted.days_ago * 86400,
                              wanted.staging)  # fmt: skip
    return json_response({"created": created}, 201)


@bp.delete("/ct")
def forget() -> Response:
    """Without a body every entry; ``{"domain": q}`` the entries a search for ``q`` finds."""
    wanted = validated(CtForget, json_object()) if request.get_data(cache=True).strip() else CtForget()
    with current_world().session() as (conn, _now):
        deleted = ct_log.forget(conn, wanted.domain)
    return json_response({"deleted": deleted})
