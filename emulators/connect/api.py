"""The provider API (``/api/...``) and the KYC service (``/verification/...``) the marketplace calls.

Fault switches (faults.py) are applied here, before any real work: first the delay, then "down", so a slow and
down upstream looks like a slow 503, as a struggling real service would.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .emulator import current_emulator, injected_delay
from .errors import EmulatorError, FieldError, bad_request
from .kyc import InvalidSei

bp = Blueprint("api", __name__)
# The real KYC service answers every failure with this 500 text body; the marketplace must treat any non-200
# as "not verified", and this is the one answer the emulator gives with status 500 on purpose.
SEI_FAILURE = "Invalid or corrupted signature"


def _json_object() -> dict[str, Any]:
    # force=True: a client that forgets the Content-Type still gets its body read, as by the real services.
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise bad_request([FieldError("", "not_object", "the body must be a JSON object")])
    return body


def _string_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise bad_request([FieldError(name, "missing", f"{name} must be a non-empty string")])
    return value


def _unavailable(service: str) -> EmulatorError:
    return EmulatorError(503, f"{service} unavailable (emulated fault)")


@bp.get("/api/users/<name>")
def get_user(name: str) -> ResponseReturnValue:
    emulator = current_emulator()
    faults = emulator.faults.current.users
    injected_delay(faults.delay)
    if faults.down:
        raise _unavailable("login provider")
    user = emulator.user(name)
    if user is None or user.double_name in faults.missing:
        raise EmulatorError(404, "User not found")
    return {"doublename": user.double_name, "publicKey": emulator.public_key_b64(user), "device_id": ""}


@bp.post("/api/signedAttempt")
def signed_attempt() -> ResponseReturnValue:
    """What the phone posts (§4 step 8): check the signature with the registered key; 200 "Ok" or 400."""
    body = _json_object()
    signed_b64 = _string_field(body, "signedAttempt")
    user = current_emulator().user(_string_field(body, "doubleName"))
    if user is None:
        raise bad_request([FieldError("doubleName", "unknown_user", "User not found")])
    try:
        VerifyKey(user.verify_key).verify(base64.b64decode(signed_b64, validate=True))
    except (binascii.Error, ValueError, BadSignatureError):
        # PyNaCl raises ValueError for a message shorter than a signature, BadSignatureError otherwise.
        raise bad_request([FieldError("signedAttempt", "bad_signature", "signature verification failed")]) from None
    return Response("Ok", 200, mimetype="text/plain")


@bp.post("/verification/verify-sei")
def verify_sei() -> ResponseReturnValue:
    """200 with the signed payload text, or the real service's 500 text.

    A body that is not a JSON object with a string ``signedEmailIdentifier`` gets a 400 JSON error instead of
    the real service's 500: it is a client bug, not a verification result, and the marketplace treats both
    as "not verified" anyway.
    """
    emulator = current_emulator()
    faults = emulator.faults.current.kyc
    injected_delay(faults.delay)
    if faults.down:
        raise _unavailable("KYC service")
    sei = _string_field(_json_object(), "signedEmailIdentifier")
    if faults.unverified:
        return Response(SEI_FAILURE, 500, mimetype="text/plain")
    try:
        payload = emulator.kyc.verify(sei)
    except InvalidSei:
        return Response(SEI_FAILURE, 500, mimetype="text/plain")
    return Response(payload, 200, mimetype="application/json")


@bp.get("/verification/public-key")
def kyc_public_key() -> ResponseReturnValue:
    """The KYC verify key in hex (text/plain), for marketplaces that open SEIs locally."""
    emulator = current_emulator()
    faults = emulator.faults.current.kyc
    injected_delay(faults.delay)
    if faults.down:
        raise _unavailable("KYC service")
    return Response(emulator.kyc.verify_key_hex, 200, mimetype="text/plain")
