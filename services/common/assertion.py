"""Who is calling: the signed user assertion every service trusts, the session pass, and the terms gate.

Caddy asks the auth service (`GET /auth/verify`, forward_auth) about a protected request. On success auth
answers with ``X-Marketplace-User``, ``X-Marketplace-Email`` and ``X-Marketplace-Assertion``: a short-lived token
signed by the auth service's Ed25519 key, bound to the user and an expiry. Caddy copies them onto the request;
each service checks the token with the auth public key before trusting the user, so a request that bypasses
Caddy — or forges the headers — gets 401.

The session pass (issue 16): the service that received a token from forward_auth hands the same token to the
browser as an ``HttpOnly`` cookie (``mp_pass``) that the browser drops ``PASS_MARGIN`` seconds before the token
expires. While a browser holds one, Caddy sends its API calls straight to the service, which checks the token
itself: one HTTP hop per API call instead of two. The token is the auth service's signed statement about the
session and nothing else — the identity never comes from anything the browser could make up. What it costs: a
session ended on the server (idle or absolute expiry, or a copy of the pass kept after logout) is refused within
``ASSERTION_TTL`` at most, instead of at its next request. Logout and a new login delete the browser's pass.
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
from werkzeug.wrappers import Response

from services.common.errors import ApiError, FieldError
from services.common.identity import Identity, IdentityError, load_identity, verify_detached
from services.common.settings import Settings

USER_HEADER = "X-Marketplace-User"
EMAIL_HEADER = "X-Marketplace-Email"
ASSERTION_HEADER = "X-Marketplace-Assertion"
HEADERS = (USER_HEADER, EMAIL_HEADER, ASSERTION_HEADER)
PASS_MARGIN = 5  # seconds: the browser drops a pass this long before its token expires (requests in flight)


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


def verify(token: str, public_key: bytes, username: str | None, now: float | None = None) -> User:
    """Check ``token`` and return the user it asserts (its signature once per process; expiry and user always).

    ``username``: the user the token must be for (forward_auth's user header); None for a session pass, which
    names its user only in the token.

    Raises:
        InvalidAssertion: with the reason (for the log; clients only learn "not authenticated").
    """
    return verify_with_expiry(token, public_key, username, now)[0]


def verify_with_expiry(
    token: str, public_key: bytes, username: str | None, now: float | None = None
) -> tuple[User, int]:
    """:func:`verify`, with the token's expiry (Unix seconds).

    Raises:
        InvalidAssertion: as :func:`verify`.
    """
    user, exp = _checked.get((token, public_key)) or _check_signature(token, public_key)
    if exp < (time.time() if now is None else now):
        raise InvalidAssertion("expired assertion")
    if username is not None and user.username != username:
        raise InvalidAssertion("assertion is for another user")
    return user, exp


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


def pass_cookie(settings: Settings) -> str:
    """The session pass's cookie name (``__Host-`` cookies must be Secure: only outside dev, served over https)."""
    return "mp_pass" if settings.is_dev else "__Host-mp_pass"


def current_user(settings: Settings, public_key: bytes) -> User:
    """The verified caller of this request (cached on ``g``): forward_auth's assertion, else the session pass.

    Raises:
        ApiError: 401 when the assertion is missing, forged, expired or mismatched.
    """
    cached = g.get("marketplace_user")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = request.headers.get(ASSERTION_HEADER, "")
    username = request.headers.get(USER_HEADER, "")
    held = request.cookies.get(pass_cookie(settings), "")
    if not (token and username) and not held:
        raise _UNAUTHENTICATED
    try:
        if token and username:
            user, exp = verify_with_expiry(token, public_key, username)
            if held != token:
                g.marketplace_pass = (token, exp)  # handed to the browser on the way out (hand_over_pass)
        else:
            user = verify(held, public_key, None)
    except InvalidAssertion as exc:
        structlog.get_logger(__name__).warning("assertion rejected", reason=str(exc), via="auth" if token else "cookie")
        g.marketplace_pass_refused = not token
        raise _UNAUTHENTICATED from None
    g.marketplace_user = user
    return user


def hand_over_pass(settings: Settings, response: Response) -> None:
    """On the way out: give the browser the token forward_auth brought (its session pass, gone ``PASS_MARGIN``
    seconds before the token expires), or delete a pass that was refused, so the next call asks auth again."""
    name = pass_cookie(settings)
    offered: tuple[str, int] | None = g.get("marketplace_pass")
    if offered is not None:
        token, exp = offered
        max_age = int(exp - time.time()) - PASS_MARGIN
        if max_age > 0:
            response.set_cookie(name, token, max_age=max_age, path="/", secure=not settings.is_dev, httponly=True,
                                samesite="Lax")  # fmt: skip
    elif g.get("marketplace_pass_refused"):
        drop_pass(settings, response)


def drop_pass(settings: Settings, response: Response) -> None:
    """Delete the browser's session pass (logout, a new login, a refused pass)."""
    response.delete_cookie(pass_cookie(settings), path="/", secure=not settings.is_dev, httponly=True, samesite="Lax")


def require_terms(settings: Settings, user: User) -> None:
    """The terms gate: every endpoint that spends capacity or deploys calls it first.

    Raises:
        ApiError: 403 until the user accepted the current terms version.
    """
    if user.terms_version != settings.terms_version:
        message = f"accept the terms of service (version {settings.terms_version}) before deploying or paying"
        raise ApiError(403, message, (FieldError("terms_not_accepted", message),))
