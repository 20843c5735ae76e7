"""The hosted 3Bot's backup password (SOLUTIONS §3.12, LOGIN_PROTOCOL §9.4), shared by the wizard that checks it
and the deployer that seals it into the container.

The hosted-3Bot image derives its identity seed from the password: the UTF-8 password left-padded with ASCII
``0`` to exactly 32 bytes. Weak (no salt, no stretching) and kept only because existing images use it; if the image
is rebuilt, switch both sides to a real KDF (e.g. Argon2id with the 3Bot name as salt).
"""

from __future__ import annotations

import hmac

from services.common.identity import Identity

PASSWORD_MAX_BYTES = 32


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be a backup password (None: it can)."""
    if not password:
        return "the backup password is required"
    if len(password.encode()) > PASSWORD_MAX_BYTES or not password.isprintable():
        return f"the backup password is at most {PASSWORD_MAX_BYTES} bytes of printable text"
    return None


def identity_name(owner: str, name: str) -> str:
    """The explorer name of a hosted 3Bot: ``<owner without .3bot>_<name>``."""
    return f"{owner.removesuffix('.3bot')}_{name}"


def verify_key_hex(password: str) -> str:
    """The Ed25519 verify key (hex) of the identity the image derives from ``password`` (§9.4)."""
    if password_problem(password):
        raise ValueError("not a backup password")
    return Identity(password.encode().rjust(PASSWORD_MAX_BYTES, b"0")).verify_key_hex


def matches(password: str, pubkey: str) -> bool:
    """True when ``password`` is the one behind the phonebook ``pubkey`` (hex), compared in constant time."""
    if password_problem(password):
        return False
    return hmac.compare_digest(verify_key_hex(password), pubkey.strip().lower())
