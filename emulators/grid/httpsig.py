"""HTTP signatures (GRID_API.md §3): parsing the Authorization header and verifying it against the phonebook."""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

WWW_AUTHENTICATE = 'Signature headers="(created) date threebot-id"'
REQUIRED_HEADERS = ("(created)", "date", "threebot-id")
CLOCK_SKEW_SECONDS = 30

# key="quoted value" or key=bare-value, separated by commas (parameter order is irrelevant, §3.1).
_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))\s*(?:,|$)')


class SignatureError(Exception):
    """The request's HTTP signature is missing or invalid; the message is the reason shown to the client."""


@dataclass(frozen=True)
class SignatureParams:
    key_id: str
    algorithm: str
    signature: bytes
    created: int
    expires: int | None
    headers: tuple[str, ...]


def parse_authorization(value: str) -> SignatureParams:
    """Parse `Signature keyId=...,...`. Raises SignatureError naming what is wrong."""
    if not value.startswith("Signature "):
        raise SignatureError("authorization scheme must be Signature")
    params: dict[str, str] = {}
    rest = value[len("Signature ") :]
    position = 0
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            raise SignatureError("malformed Signature parameters")
        params[match.group(1)] = match.group(2) if match.group(2) is not None else match.group(3)
        position = match.end()
    missing = [name for name in ("keyId", "algorithm", "signature", "created", "headers") if name not in params]
    if missing:
        raise SignatureError(f"missing signature parameter(s): {', '.join(missing)}")
    try:
        signature = base64.b64decode(params["signature"], validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signature is not valid base64") from None
    return SignatureParams(
        key_id=params["keyId"],
        algorithm=params["algorithm"],
        signature=signature,
        created=_timestamp(params["created"], "created"),
        expires=_timestamp(params["expires"], "expires") if "expires" in params else None,
        headers=tuple(params["headers"].lower().split()),
    )


def _timestamp(value: str, name: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise SignatureError(f"{name} must be a unix timestamp")
    return int(value)


def signing_string(params: SignatureParams, headers: Mapping[str, str]) -> str:
    """Rebuild the signed text in the order of the ``headers`` parameter (§3.2)."""
    lines = []
    for name in params.headers:
        if name == "(created)":
            lines.append(f"(created): {params.created}")
        elif name == "(expires)":
            if params.expires is None:
                raise SignatureError("(expires) is signed but no expires parameter was sent")
            lines.append(f"(expires): {params.expires}")
        else:
            value = headers.get(name)
            if value is None:
                raise SignatureError(f"signed header {name!r} is missing from the request")
            lines.append(f"{name}: {value}")
    return "\n".join(lines)


def verify_request(
    authorization: str | None,
    headers: Mapping[str, str],
    pubkey_of: Callable[[int], str | None],
    now: float | None = None,
) -> int:
    """Check the request's HTTP signature; returns the signer's tid. Raises SignatureError with the reason.

    ``now`` defaults to the real wall clock, never the emulator clock: clients sign with their real time, and
    advancing the simulated world must not make every client's `expires` look like the past.
    """
    if not authorization:
        raise SignatureError("missing Authorization header")
    params = parse_authorization(authorization)
    if params.algorithm.lower() != "ed25519":
        raise SignatureError(f"unsupported algorithm {params.algorithm!r}")
    absent = [name for name in REQUIRED_HEADERS if name not in params.headers]
    if absent:
        raise SignatureError(f"headers must include {', '.join(absent)}")
    if not (params.key_id.isascii() and params.key_id.isdigit()) or len(params.key_id) > 18:
        raise SignatureError("keyId must be a user id")
    tid = int(params.key_id)
    if headers.get("threebot-id", "").strip() != params.key_id:
        raise SignatureError("keyId does not match the threebot-id header")
    pubkey = pubkey_of(tid)
    if pubkey is None:
        raise SignatureError(f"unknown user {tid}")
    current = time.time() if now is None else now
    if params.created > current + CLOCK_SKEW_SECONDS:
        raise SignatureError("created is in the future")
    if params.expires is not None and params.expires < current:
        raise SignatureError("signature expired")
    text = signing_string(params, headers)
    try:
        nacl.signing.VerifyKey(bytes.fromhex(pubkey)).verify(text.encode(), params.signature)
    except (ValueError, nacl.exceptions.CryptoError):
        raise SignatureError("signature verification failed") from None
    return tid
