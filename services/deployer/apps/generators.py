"""The secrets an app definition may generate, fresh for every deployment (SOLUTIONS §4: never a fixed password).

Each value is made at submission, stored encrypted with the solution's other secrets, and only ever sent sealed to
the app's node in ``secret_environment``.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable

from nacl.public import PrivateKey
from nacl.signing import SigningKey


def password() -> str:
    return secrets.token_urlsafe(24)


def ed25519_seed() -> str:
    """Base64 of a fresh Ed25519 signing key's 32-byte seed (Discourse's THREEBOT_PRIVATE_KEY)."""
    return base64.b64encode(bytes(SigningKey.generate())).decode()


def curve25519_key() -> str:
    """Base64 of a fresh Curve25519 private key (Taiga's PRIVATE_KEY)."""
    return base64.b64encode(bytes(PrivateKey.generate())).decode()


def guid() -> str:
    return str(uuid.uuid4())


GENERATORS: dict[str, Callable[[], str]] = {
    "password": password,
    "ed25519_seed": ed25519_seed,
    "curve25519_key": curve25519_key,
    "guid": guid,
}


def secret_name(var: str) -> str:
    """The name of the generated secret behind env var ``var`` among the solution's secrets (not a question name:
    those are lower-case identifiers, so a user's secret cannot take its place)."""
    return f"generated:{var}"
