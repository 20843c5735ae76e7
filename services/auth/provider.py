"""The two outside systems of login: the 3Bot Connect provider API and the KYC service (LOGIN_PROTOCOL §4, §6).

Every call has a timeout (5 s connect / 10 s total) and no retry in the request path: a slow provider becomes a
503 with a message the user can act on ("try again"), never a hung browser.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from services.common.settings import Settings


class LoginRejected(Exception):
    """The attempt is not acceptable (bad signature, wrong state, unverified e-mail…): a 400."""


@dataclass
class UpstreamFailure(Exception):
    """The provider or the KYC service is down, slow or answered nonsense: 502/503 with a message."""

    status: int
    message: str


def _timeout(settings: Settings) -> tuple[float, float]:
    # LOGIN_PROTOCOL §7.3: 5 s to connect, at most 10 s in all (lower when the operator configures less).
    return (min(settings.http_connect_timeout, 5.0), min(settings.http_read_timeout, 10.0))


def fetch_user_key(settings: Settings, double_name: str) -> bytes:
    """The user's Ed25519 verify key as published by the provider.

    Raises:
        LoginRejected: the provider does not know the user, or publishes a malformed key.
        UpstreamFailure: the provider is unreachable, slow or failing.
    """
    base = settings.threebot_login_api_url or settings.threebot_login_url
    url = f"{base}/api/users/{quote(double_name, safe='')}"
    try:
        response = requests.get(url, timeout=_timeout(settings))
    except requests.Timeout:
        raise UpstreamFailure(503, "the 3Bot Connect login provider did not answer in time; try again") from None
    except requests.RequestException:
        raise UpstreamFailure(503, "the 3Bot Connect login provider is unavailable; try again") from None
    if response.status_code == 404:
        raise LoginRejected("the login provider does not know this 3Bot name")
    if response.status_code != 200:
        raise UpstreamFailure(502, f"the 3Bot Connect login provider failed (HTTP {response.status_code}); try again")
    try:
        key = base64.b64decode(response.json()["publicKey"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise UpstreamFailure(502, "the 3Bot Connect login provider answered something unreadable") from None
    if len(key) != 32:
        raise LoginRejected("the login provider publishes a malformed key for this user")
    return key


def verify_sei(settings: Settings, sei: str) -> dict[str, Any]:
    """Ask the KYC service to open a signed e-mail identifier; returns its payload.

    Raises:
        LoginRejected: the KYC service says the identifier is not validly signed (it answers 500 then).
        UpstreamFailure: the KYC service is unreachable, slow or overloaded.
    """
    try:
        response = requests.post(
            f"{settings.openkyc_url}/verification/verify-sei",
            json={"signedEmailIdentifier": sei},
            timeout=_timeout(settings),
        )
    except requests.Timeout:
        raise UpstreamFailure(503, "the e-mail verification service did not answer in time; try again") from None
    except requests.RequestException:
        raise UpstreamFailure(503, "the e-mail verification service is unavailable; try again") from None
    if response.status_code in (502, 503, 504):
        raise UpstreamFailure(502, "the e-mail verification service is unavailable; try again")
    if response.status_code != 200:
        raise LoginRejected("your e-mail address could not be verified")
    try:
        payload = json.loads(response.text)
    except ValueError:
        raise LoginRejected("your e-mail address could not be verified") from None
    if not isinstance(payload, dict):
        raise LoginRejected("your e-mail address could not be verified")
    return payload
