"""Find (or register) the marketplace identity in the explorer phonebook (GRID_API §4.1).

The marketplace signs everything with its own identity, so it needs its phonebook id (tid). At start-up the
workers that sign (deployer, pools) look it up by name and register it when it is missing — on the bundled
grid emulator that is what makes a fresh `make run` work; on a real explorer it is a one-time step.
"""

from __future__ import annotations

import time
from typing import Any

import requests
import structlog

from services.common.identity import Identity
from services.common.settings import Settings

log = structlog.get_logger(__name__)


class RegistrationError(Exception):
    """The explorer did not answer, or holds our name with a different key."""


def _timeout(settings: Settings) -> tuple[float, float]:
    return (settings.http_connect_timeout, settings.http_read_timeout)


def lookup_tid(settings: Settings, name: str) -> dict[str, Any] | None:
    """The phonebook user called ``name``, or None.

    Raises:
        RegistrationError: the explorer failed or answered nonsense.
    """
    try:
        response = requests.get(f"{settings.explorer_url}/users", params={"name": name}, timeout=_timeout(settings))
        response.raise_for_status()
        users = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise RegistrationError(f"explorer lookup failed: {type(exc).__name__}") from None
    if not isinstance(users, list):
        raise RegistrationError("explorer lookup answered something that is not a list")
    return next((u for u in users if isinstance(u, dict) and u.get("name") == name), None)


def ensure_registered(settings: Settings, identity: Identity) -> int:
    """Our tid; registers ``settings.identity_name`` with our verify key when the phonebook lacks it.

    Raises:
        RegistrationError: explorer down, or the name belongs to another key (never silently use it).
    """
    user = lookup_tid(settings, settings.identity_name)
    if user is None:
        body = {
            "name": settings.identity_name,
            "email": settings.identity_email,
            "pubkey": identity.verify_key_hex,
            "host": "",
            "description": "marketplace identity",
        }
        try:
            response = requests.post(f"{settings.explorer_url}/users", json=body, timeout=_timeout(settings))
        except requests.RequestException as exc:
            raise RegistrationError(f"explorer registration failed: {type(exc).__name__}") from None
        if response.status_code == 409:  # another process registered it first: read it back
            user = lookup_tid(settings, settings.identity_name)
        elif response.status_code in (200, 201):
            user = response.json()
            log.info("marketplace identity registered", name=settings.identity_name, tid=user.get("id"))
        else:
            raise RegistrationError(f"explorer refused registration: HTTP {response.status_code}")
    if user is None or user.get("pubkey") != identity.verify_key_hex:
        raise RegistrationError(
            f"phonebook name {settings.identity_name!r} belongs to another key; check IDENTITY_SEED_FILE"
        )
    return int(user["id"])


def ensure_registered_with_retry(settings: Settings, identity: Identity, attempts: int = 10) -> int | None:
    """:func:`ensure_registered`, retried with backoff (the explorer may start after us); None on failure."""
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            return ensure_registered(settings, identity)
        except RegistrationError as exc:
            log.warning("identity registration failed", attempt=attempt, reason=str(exc))
            time.sleep(delay)
            delay = min(delay * 2, 10)
    return None
