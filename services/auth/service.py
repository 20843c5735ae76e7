"""The rules of 3Bot Connect login (LOGIN_PROTOCOL §3, §5, §7): start an attempt, verify the callback."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import string
from dataclasses import dataclass
from urllib.parse import urlencode

import nacl.exceptions
import nacl.signing

from services.auth import provider
from services.auth.provider import LoginRejected
from services.common import jsonin
from services.common.identity import Identity, IdentityError
from services.common.settings import Settings

_ALPHABET = string.ascii_letters + string.digits
STATE_LENGTH = 40  # 40 characters of [A-Za-z0-9]: 238 bits; the phone app accepts only alphanumerics
SCOPE = json.dumps({"user": True, "email": True})
CALLBACK_PATH = "/auth/3bot_callback"
_DOUBLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,58}\.3bot$")


def new_state() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(STATE_LENGTH))


def safe_next(value: str | None) -> str:
    """Only a path of this site (LOGIN_PROTOCOL §7.2); anything else becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(c in value for c in "\\\r\n\t") or ":" in value.split("?")[0] or len(value) > 512:
        return "/"
    return value


def provider_redirect(settings: Settings, identity: Identity, state: str) -> str:
    """The URL of the provider's login page for this attempt (form-urlencoded: ``+`` → %2B, ``/`` → %2F)."""
    query = urlencode(
        {
            "state": state,
            "appid": settings.marketplace_domain,  # configured, never the Host header
            "scope": SCOPE,
            "redirecturl": CALLBACK_PATH,
            "publickey": identity.box_public_key_b64,
        }
    )
    return f"{settings.threebot_login_url}/?{query}"


@dataclass(frozen=True)
class LoggedIn:
    username: str
    email: str
    public_key: str  # base64, as published by the provider


def _parse_outer(raw: str) -> tuple[str, str]:
    try:
        outer = jsonin.loads(raw)
    except ValueError:
        raise LoginRejected("the login response is not valid JSON") from None
    if not isinstance(outer, dict):
        raise LoginRejected("the login response is malformed")
    signed, name = outer.get("signedAttempt"), outer.get("doubleName")
    if not isinstance(signed, str) or not signed or not isinstance(name, str):
        raise LoginRejected("the login response is missing its signed attempt or 3Bot name")
    name = name.strip().lower()
    if not _DOUBLE_NAME.fullmatch(name):
        raise LoginRejected("the 3Bot name in the login response is malformed")
    return signed, name


def verify_attempt(settings: Settings, identity: Identity, raw: str, expected_state: str) -> LoggedIn:
    """Check a callback's ``signedAttempt`` in the order of LOGIN_PROTOCOL §5 and return who logged in.

    The caller has already consumed the stored attempt (single use), whatever happens here.

    Raises:
        LoginRejected: anything about the attempt is wrong (a 400; the reason is for the log and the user).
        provider.UpstreamFailure: the provider or the KYC service failed (502/503).
    """
    signed_b64, name = _parse_outer(raw)
    user_key = provider.fetch_user_key(settings, name)
    try:
        message = nacl.signing.VerifyKey(user_key).verify(base64.b64decode(signed_b64, validate=True))
    except (binascii.Error, ValueError, nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError):
        raise LoginRejected("the login response is not signed by this 3Bot's key") from None
    try:
        attempt = jsonin.loads(message)
    except ValueError:
        raise LoginRejected("the signed login attempt is not valid JSON") from None
    if not isinstance(attempt, dict):
        raise LoginRejected("the signed login attempt is malformed")
    if str(attempt.get("doubleName", "")).lower() != name:
        raise LoginRejected("the signed login attempt is for another 3Bot name")
    if not hmac.compare_digest(str(attempt.get("signedState", "")).encode(), expected_state.encode()):
        raise LoginRejected("the login attempt does not belong to this sign-in")
    if attempt.get("appId") != settings.marketplace_domain:
        raise LoginRejected("the login attempt was made for another site")
    data = attempt.get("data")
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("nonce"), str)
        or not isinstance(data.get("ciphertext"), str)
    ):
        raise LoginRejected("the login was not approved in the app")
    try:
        nonce = base64.b64decode(data["nonce"], validate=True)
        plaintext = identity.box_decrypt(user_key, nonce + base64.b64decode(data["ciphertext"], validate=True))
        scope = jsonin.loads(plaintext)
    except (binascii.Error, ValueError, IdentityError):
        raise LoginRejected("the login data could not be decrypted") from None
    email_scope = scope.get("email") if isinstance(scope, dict) else None
    if not isinstance(email_scope, dict):
        raise LoginRejected("the login did not share an e-mail address")
    email, sei = email_scope.get("email"), email_scope.get("sei")
    if not isinstance(email, str) or "@" not in email or not isinstance(sei, str) or not sei:
        raise LoginRejected("the login did not share a verified e-mail address")
    verified = provider.verify_sei(settings, sei)
    # The SEI must be about *this* address and *this* 3Bot, not merely validly signed (LOGIN_PROTOCOL §6).
    if str(verified.get("email", "")).lower() != email.lower() or str(verified.get("identifier", "")).lower() != name:
        raise LoginRejected("your e-mail address could not be verified")
    return LoggedIn(username=name, email=email.lower(), public_key=base64.b64encode(user_key).decode())
