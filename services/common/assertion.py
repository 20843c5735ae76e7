"""Who is calling: the signed user assertion every service trusts, and the terms gate.

Caddy asks the auth service (`GET /auth/verify`, forward_auth) about every protected request. On success auth
answers with ``X-Marketplace-User``, ``X-Marketplace-Email`` and ``X-Marketplace-Assertion``: a short-lived token
signed by the auth service's Ed25519 key, bound to the user and an expiry. Caddy copies them onto the request;
each service checks the token with the auth public key before trusting the user, so a request that bypasses
Caddy — or forges the headers — gets 401. The identity never comes from anything else the browser sends.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from pathlib import Path

import structlog
from flask import g, request

from services.common.errors import ApiError, FieldError
from services.common.identity import Identity, IdentityError, load_identity, verify_detached
from services.common.settings import Settings

USER_HEADER = "X-Marketplace-User"
EMAIL_HEADER = "X-Marketplace-Email"
ASSERTION_HEADER = "X-Marketplace-Assertion"
HEADERS = (USER_HEADER, EMAIL_HEADER, ASSERTION_HEADER)


@dataclass(frozen=True)
class User:
    """The caller, as asserted by the auth service for this request."""

    username: str
    email: str
    terms_version: str | None  # the terms version this user accepted on our grid network, if any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(signer: Identity, user: User, ttl: int, now: float | None = None) -> str:
    """``<payload>.<signature>`` (base64url): the user, the terms they accepted and an expiry, signed."""
    issued = int(time.time() if now is None else now)
    payload = json.dumps(
        {"sub": user.username, "email": user.email, "terms": user.terms_version, "iat": issued, "exp": issued + ttl},
        separators=(",", ":"),
    ).encode()
    return f"{_b64(payload)}.{_b64(signer.sign(payload))}"


class InvalidAssertion(Exception):
    """The assertion is missing, malformed, forged, expired or does not match the user header."""


# Tokens whose signature this process checked, with their claims: the auth service reuses a token for most of its
# TTL, so a service checks each signature once, not per request. Bounded like the auth service's own cache.
_checked: dict[tuple[str, bytes], tuple[User, int]] = {}
_MAX_CHECKED = 10_000


def verify(token: str, public_key: bytes, username: str, now: float | None = None) -> User:
    """Check ``token`` and return the user it asserts (its signature once per process; expiry and user always).

    Raises:
        InvalidAssertion: with the reason (for the log; clients only learn "not authenticated").
    """
    user, exp = _checked.get((token, public_key)) or _check_signature(token, public_key)
    if exp < (time.time() if now is None else now):
        raise InvalidAssertion("expired assertion")
    if user.username != username:
        raise InvalidAssertion("assertion is for another user")
    return user


def _check_signature(token: str, public_key: bytes) -> tuple[User, int]:
    """(the user asserted, the expiry) of a token signed by ``public_key``, remembered for the next request.

    Raises:
        InvalidAssertion: malformed or forged.
    """
    try:
        payload_b64, signature_b64 = token.split(".")
        payload, signature = _unb64(payload_b64), _unb64(signature_b64)
    except (ValueError, binascii.Error):
        raise InvalidAssertion("malformed assertion") from None
    if not verify_detached(public_key, payload, signature):
        raise InvalidAssertion("bad assertion signature")
    try:
        claims = json.loads(payload)
        sub, email, exp, terms = claims["sub"], claims["email"], int(claims["exp"]), claims.get("terms")
    except (ValueError, KeyError, TypeError):
        raise InvalidAssertion("malformed assertion claims") from None
    checked = User(username=str(sub), email=str(email), terms_version=terms if isinstance(terms, str) else None), exp
    if len(_checked) >= _MAX_CHECKED:
        _checked.clear()
    _checked[(token, public_key)] = checked
    return checked


def auth_public_key(settings: Settings) -> bytes:
    """The auth service's verify key: ``AUTH_PUBLIC_KEY``, or (dev) derived from the auth seed file.

    Raises:
        IdentityError: neither is available.
    """
    if settings.auth_public_key:
        return bytes.fromhex(settings.auth_public_key)
    if settings.auth_signing_seed_file is not None:
        return load_identity(Path(settings.auth_signing_seed_file), create=settings.is_dev).verify_key
    raise IdentityError("AUTH_PUBLIC_KEY (or AUTH_SIGNING_SEED_FILE) is not set")


_UNAUTHENTICATED = ApiError(401, "sign in first", (FieldError("not_authenticated", "sign in first"),))


def current_user(settings: Settings, public_key: bytes) -> User:
    """The verified caller of this request (cached on ``g``).

    Raises:
        ApiError: 401 when the assertion is missing, forged, expired or mismatched.
    """
    cached = g.get("marketplace_user")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = request.headers.get(ASSERTION_HEADER, "")
    username = request.headers.get(USER_HEADER, "")
    if not token or not username:
        raise _UNAUTHENTICATED
    try:
        user = verify(token, public_key, username)
    except InvalidAssertion as exc:
        structlog.get_logger(__name__).warning("assertion rejected", reason=str(exc))
        raise _UNAUTHENTICATED from None
    g.marketplace_user = user
    return user


def require_terms(settings: Settings, user: User) -> None:
    """The terms gate: every endpoint that spends capacity or deploys calls it first.

    Raises:
        ApiError: 403 until the user accepted the current terms version.
    """
    if user.terms_version != settings.terms_version:
        message = f"accept the terms of service (version {settings.terms_version}) before deploying or paying"
        raise ApiError(403, message, (FieldError("terms_not_accepted", message),))
