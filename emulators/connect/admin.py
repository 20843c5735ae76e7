"""Test controls under ``/_emulator/``: health, fault switches, and attempts made without a browser.

These endpoints exist for the marketplace's tests; the emulator is a development tool and binds to 127.0.0.1
by default, so they carry no authentication.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from pydantic import ValidationError

from .emulator import current_emulator
from .errors import FieldError, bad_request
from .login_request import DEFAULT_SCOPE, parse_login_request
from .phone import Switches

bp = Blueprint("admin", __name__, url_prefix="/_emulator")


def _json_body() -> Any:
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise bad_request([FieldError("", "not_json", "the body must be JSON")])
    return body


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return {"status": "ok"}


@bp.get("/config")
def get_config() -> ResponseReturnValue:
    return current_emulator().faults.current.model_dump(mode="json")


@bp.post("/config")
def update_config() -> ResponseReturnValue:
    """Partial update, e.g. ``{"users": {"missing": ["bob.3bot"]}}``; 400 (nothing changed) on bad input."""
    return current_emulator().faults.update(_json_body()).model_dump(mode="json")


@bp.post("/reset")
def reset() -> ResponseReturnValue:
    """Every fault off and every remembered attempt forgotten: a clean emulator for the next test."""
    emulator = current_emulator()
    emulator.attempts.clear()
    return emulator.faults.reset().model_dump(mode="json")


@bp.get("/users")
def list_users() -> ResponseReturnValue:
    emulator = current_emulator()
    return {
        "users": [
            {"double_name": u.double_name, "email": u.email, "publicKey": emulator.public_key_b64(u)}
            for u in emulator.users.values()
        ],
        "kyc_public_key": emulator.kyc.verify_key_hex,
    }


class _AttemptBody(Switches):
    """``POST /_emulator/attempt``: a login request, the approving user and the switches, in one object."""

    user: str
    state: str
    appid: str
    publickey: str
    redirecturl: str = "/auth/3bot_callback"
    scope: str | dict[str, Any] = DEFAULT_SCOPE


def _parse_attempt_body(raw: Any) -> _AttemptBody:
    if not isinstance(raw, dict):
        raise bad_request([FieldError("", "not_object", "the body must be a JSON object")])
    try:
        return _AttemptBody.model_validate(raw)
    except ValidationError as exc:
        raise bad_request(
            [
                FieldError(".".join(str(p) for p in err["loc"]), err["type"], err["msg"])
                for err in exc.errors(include_url=False)
            ]
        ) from None


@bp.post("/attempt")
def make_attempt() -> ResponseReturnValue:
    """Approve without a browser: answers 200 with the callback URL and the relayed signedAttempt object."""
    body = _parse_attempt_body(_json_body())
    scope = body.scope if isinstance(body.scope, str) else json.dumps(body.scope)
    login = parse_login_request(
        {**body.model_dump(include={"state", "appid", "publickey", "redirecturl"}), "scope": scope}
    )
    emulator = current_emulator()
    user = emulator.user(body.user)
    if user is None:
        raise bad_request([FieldError("user", "unknown_user", f"there is no test user {body.user[:64]!r}")])
    switches = Switches(**body.model_dump(include=set(Switches.model_fields)))
    return emulator.issue(user, login, switches).as_json()
