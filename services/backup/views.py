"""HTTP of the backup service: `public_key` and `init`, server-to-server (LOGIN_PROTOCOL §9.1).

No session: Caddy exempts both paths from forward_auth, and they are exempt from the same-origin check (a 3Bot
is not a browser). `init` answers 200 with both servers' addresses when both hold the account, 202 with the
same body and a `Backup-Pending` header naming the server the worker still has to complete, 503 when neither
server could be reached; never a silent half-success.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from flask import Blueprint, Response, current_app, jsonify, request

from services.backup import accounts
from services.backup.api import Hosts, InitBody, PublicKey
from services.backup.config import BackupConfig
from services.backup.service import open_password, parse_init, phonebook_key
from services.common.errors import ApiError, FieldError, ServiceUnavailable
from services.common.explorer import Explorer
from services.common.identity import Identity
from services.common.openapi import operation
from services.common.web import csrf_exempt, deps

log = structlog.get_logger(__name__)
bp = Blueprint("backup", __name__)


class BackupContext:
    """Per-app objects: the backup servers, the marketplace identity and an explorer client."""

    def __init__(self, config: BackupConfig, identity: Identity, explorer: Explorer) -> None:
        self.config = config
        self.identity = identity
        self.explorer = explorer


def ctx() -> BackupContext:
    return current_app.extensions["backup"]  # type: ignore[no-any-return]


def _rate_limit(bucket: str, key: str, limit: int) -> None:
    window = deps().settings.backup_rate_window
    slot = int(time.time() // window)
    redis_key = f"backup:rate:{bucket}:{key}:{slot}"
    pipe = deps().redis.pipeline()
    pipe.incr(redis_key)
    pipe.expire(redis_key, window)
    if int(pipe.execute()[0]) > limit:
        wait = window - int(time.time()) % window
        log.warning("backup init rate limit hit", bucket=bucket)
        message = f"too many backup requests; try again in {wait} s"
        raise ApiError(429, message, (FieldError("rate_limited", message),), {"Retry-After": str(wait)})


def _backend() -> accounts.Backend:
    d = deps()
    return accounts.Backend(d.db, d.redis, ctx().config)


@bp.post("/api/backup/public_key")
@operation("The key a 3Bot seals its backup password to (server to server, no session)", {200: PublicKey}, public=True)
@csrf_exempt
def public_key() -> Response:
    return jsonify(ctx().identity.box_public_key_b64)


@bp.post("/api/backup/init")
@operation(
    "Create or check a 3Bot's backup account (server to server, no session)",
    {200: Hosts, 202: Hosts},
    body=InitBody,
    public=True,
)
@csrf_exempt
def init() -> Any:
    settings = deps().settings
    _rate_limit("address", request.remote_addr or "unknown", settings.backup_rate_limit_address)
    req = parse_init(request.get_json(silent=True))
    _rate_limit("name", req.threebot_name, settings.backup_rate_limit_name)
    c = ctx()
    password = open_password(c.identity, phonebook_key(c.explorer, req.threebot_name), req.sealed)
    log.info("backup init", threebot=req.threebot_name, new=req.new, client=request.remote_addr)
    hosts = [server.rest_address for server in c.config.servers]
    db = deps().db
    if req.new:
        accounts.check_owner(db, req.threebot_name, req.username)
        outcome = accounts.create(_backend(), req.threebot_name, req.username, password)
    else:
        verified = accounts.verify(_backend(), req.threebot_name, req.username, password)
        if verified is None:
            raise ApiError(401, "the password does not match the backup account",
                           (FieldError("wrong_password", "the password does not match"),))  # fmt: skip
        outcome = verified
    if not outcome.done:
        raise ServiceUnavailable("no backup server could be reached; try again later")
    response = jsonify(hosts)
    if outcome.missed:
        response.status_code = 202
        response.headers["Backup-Pending"] = ",".join(server.rest_address for server in outcome.missed)
    return response
