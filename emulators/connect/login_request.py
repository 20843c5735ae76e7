"""The login request a marketplace sends to the provider page (LOGIN_PROTOCOL.md §3), and the callback URLs.

The same parser runs for the query string of ``GET /``, the hidden fields of the page's forms and the JSON of
``POST /_emulator/attempt``: every one of those values comes from a client, so each is checked here and a bad
one becomes a 400 with one entry per field instead of an exception deep inside the crypto.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from nacl.bindings import crypto_scalarmult
from nacl.exceptions import CryptoError

from .errors import FieldError, bad_request

CallbackScheme = Literal["auto", "http", "https"]

# The phone app rejects any state with a character outside [A-Za-z0-9] (§4 step 3). The marketplace uses
# >= 32 characters; the app does not check the length, so neither do we beyond a sanity cap.
STATE_PATTERN = re.compile(r"^[A-Za-z0-9]{1,256}$")
# host[:port] or [ipv6][:port], nothing else: the appid becomes the host of the redirect, so a "/", "@" or
# "\" in it would let a request steer the browser somewhere else than the app it names.
_APPID = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$")
# Printable ASCII without space, backslash or "#" (a fragment would swallow the query we append).
_REDIRECT_URL = re.compile(r"^[!-~]{1,2048}$")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
# An arbitrary fixed scalar, only used to detect public keys for which crypto_box cannot work (see below).
_PROBE_SCALAR = bytes(range(1, 33))
DEFAULT_SCOPE = '{"user": true, "email": true}'
FIELDS = ("state", "appid", "scope", "redirecturl", "publickey")


@dataclass(frozen=True)
class LoginRequest:
    """A validated login request; ``publickey`` is the normalised base64, ``scope_text`` the original JSON."""

    state: str
    appid: str
    scope_text: str
    scope: dict[str, Any]
    redirecturl: str
    publickey: str

    @property
    def public_key_bytes(self) -> bytes:
        return base64.b64decode(self.publickey)

    @property
    def granted_scopes(self) -> list[str]:
        return [name for name, wanted in self.scope.items() if wanted]

    def as_form(self) -> dict[str, str]:
        """The values to carry in hidden form fields so that POST /approve sees the same request."""
        return {
            "state": self.state,
            "appid": self.appid,
            "scope": self.scope_text,
            "redirecturl": self.redirecturl,
            "publickey": self.publickey,
        }


def _check_public_key(raw: str) -> tuple[str | None, FieldError | None]:
    # A "+" that the marketplace forgot to percent-encode arrives as a space (§4 step 5), the first character too:
    # restored before any whitespace is trimmed.
    text = raw.replace(" ", "+").strip()
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None, FieldError("publickey", "not_base64", "publickey must be standard base64")
    if len(key) != 32:
        return None, FieldError("publickey", "bad_length", f"publickey must decode to 32 bytes, not {len(key)}")
    try:
        # libsodium refuses low-order points (all-zero shared secret); without this probe such a key would
        # only fail inside crypto_box, after the user clicked Approve.
        crypto_scalarmult(_PROBE_SCALAR, key)
    except CryptoError:
        return None, FieldError("publickey", "weak_key", "publickey is not a usable Curve25519 public key")
    return text, None


def _check_scope(raw: str) -> tuple[dict[str, Any] | None, FieldError | None]:
    if len(raw) > 2048:
        return None, FieldError("scope", "too_long", "scope must be at most 2048 characters")
    try:
        scope = json.loads(raw)
    except json.JSONDecodeError:
        return None, FieldError("scope", "not_json", 'scope must be JSON, e.g. {"user": true, "email": true}')
    if not isinstance(scope, dict):
        return None, FieldError("scope", "not_object", "scope must be a JSON object")
    return scope, None


def parse_login_request(values: Mapping[str, Any]) -> LoginRequest:
    """Validate the five login parameters.

    Raises EmulatorError (400) listing every missing or invalid field.
    """
    errors: list[FieldError] = []
    texts: dict[str, str] = {}
    for name in FIELDS:
        value = values.get(name)
        if value is None or value == "":
            errors.append(FieldError(name, "missing", f"{name} is required"))
        elif not isinstance(value, str):
            errors.append(FieldError(name, "not_string", f"{name} must be a string"))
        else:
            texts[name] = value

    state, appid = texts.get("state"), texts.get("appid")
    if state is not None and not STATE_PATTERN.fullmatch(state):
        errors.append(FieldError("state", "not_alphanumeric", "state must be 1-256 characters of [A-Za-z0-9]"))
    if appid is not None and not _APPID.fullmatch(appid):
        errors.append(
            FieldError("appid", "bad_host", "appid must be a host name with an optional :port, no scheme or path")
        )
    scope: dict[str, Any] | None = None
    if "scope" in texts:
        scope, error = _check_scope(texts["scope"])
        errors.extend([error] if error else [])
    redirecturl = texts.get("redirecturl")
    if redirecturl is not None:
        if not _REDIRECT_URL.fullmatch(redirecturl) or "\\" in redirecturl or "#" in redirecturl:
            errors.append(
                FieldError(
                    "redirecturl",
                    "bad_path",
                    "redirecturl must be a path of printable ASCII without spaces, backslashes or '#'",
                )
            )
        elif not redirecturl.startswith("/"):
            redirecturl = "/" + redirecturl  # §4 step 9: the page adds the missing leading slash
    publickey: str | None = None
    if "publickey" in texts:
        publickey, error = _check_public_key(texts["publickey"])
        errors.extend([error] if error else [])

    if errors:
        raise bad_request(errors, "Invalid login request")
    assert state and appid and scope is not None and redirecturl and publickey  # for mypy: no errors left
    return LoginRequest(state, appid, texts["scope"], scope, redirecturl, publickey)


def _appid_host(appid: str) -> str:
    if appid.startswith("["):
        return appid[1 : appid.index("]")]
    return appid.rsplit(":", 1)[0].lower()


def callback_scheme(appid: str, mode: CallbackScheme) -> str:
    """``auto``: http for localhost, 127.0.0.1 and [::1] app ids, https otherwise; else the forced scheme."""
    if mode != "auto":
        return mode
    return "http" if _appid_host(appid) in _LOCAL_HOSTS else "https"


def encode_uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent, which the real provider page uses for the callback parameter."""
    return quote(text, safe="-_.!~*'()")


def callback_base(request: LoginRequest, mode: CallbackScheme) -> str:
    """``<scheme>://<appid><redirecturl>``: the real page uses ``//<appid>``, relative to its own https."""
    return f"{callback_scheme(request.appid, mode)}://{request.appid}{request.redirecturl}"


def callback_url(request: LoginRequest, mode: CallbackScheme, name: str, value: str) -> str:
    """The callback base plus one query parameter, joined with ``&`` if the redirect URL has a query."""
    base = callback_base(request, mode)
    separator = "&" if "?" in request.redirecturl else "?"
    return f"{base}{separator}{name}={encode_uri_component(value)}"
