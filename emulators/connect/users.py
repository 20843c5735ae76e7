"""Test users of the emulated login provider: names, e-mail addresses and deterministic Ed25519 keys.

The built-in users never change between runs, so a marketplace database or a browser test that remembers
``alice.3bot``'s key keeps working after the emulator restarts. ``alice.3bot`` uses the seed of the test
vector in LOGIN_PROTOCOL.md §5.2 (bytes 0x20..0x3f); the others use SHA-256 of their double name.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnemonic import Mnemonic
from nacl.signing import SigningKey

# Seed of the emulated KYC service (LOGIN_PROTOCOL.md §5.2): its verify key is published for marketplaces
# that check SEIs locally, so it must be as stable as the users' keys.
DEFAULT_KYC_SEED = bytes(range(0x40, 0x60))

_DOUBLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,58}\.3bot$")
# Deliberately loose: the emulator only needs something that looks like an address to show and to sign.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$")
_HEX_SEED = re.compile(r"^[0-9a-fA-F]{64}$")


class UsersFileError(ValueError):
    """The users file is unreadable or one of its entries is invalid; the message names the entry."""


@dataclass(frozen=True)
class PhoneUser:
    """One phone-app user: the key is what the app would derive from the user's 24 words."""

    double_name: str
    email: str
    seed: bytes

    @property
    def signing_key(self) -> SigningKey:
        return SigningKey(self.seed)

    @property
    def verify_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)


def derived_seed(label: str) -> bytes:
    """A deterministic 32-byte seed for a label (used for bob, carol and the 'wrong key' switches)."""
    return hashlib.sha256(label.encode()).digest()


def default_users() -> tuple[PhoneUser, ...]:
    """alice.3bot (seed 0x20..0x3f, the §5.2 vector), bob.3bot and carol.3bot (seed = SHA-256 of the name)."""
    return (
        PhoneUser("alice.3bot", "alice@example.com", bytes(range(0x20, 0x40))),
        PhoneUser("bob.3bot", "bob@example.com", derived_seed("bob.3bot")),
        PhoneUser("carol.3bot", "carol@example.com", derived_seed("carol.3bot")),
    )


def parse_seed(value: str) -> bytes:
    """Turn 64 hex characters or a 24-word BIP-39 mnemonic (its entropy is the seed) into a 32-byte seed.

    Raises ValueError with a short reason when the value is neither.
    """
    text = " ".join(value.split())
    if _HEX_SEED.fullmatch(text):
        return bytes.fromhex(text)
    words = text.lower().split(" ")
    if len(words) != 24:
        raise ValueError("seed must be 64 hex characters or a 24-word mnemonic")
    mnemo = Mnemonic("english")
    if not mnemo.check(" ".join(words)):
        raise ValueError("seed mnemonic has an unknown word or a bad checksum")
    return bytes(mnemo.to_entropy(words))


def _parse_user(index: int, raw: Any) -> PhoneUser:
    where = f"users[{index}]"
    if not isinstance(raw, dict):
        raise UsersFileError(f"{where} must be an object with double_name, email and seed")
    unknown = set(raw) - {"double_name", "email", "seed"}
    if unknown:
        raise UsersFileError(f"{where} has unknown field(s): {', '.join(sorted(unknown))}")
    name, email, seed = raw.get("double_name"), raw.get("email"), raw.get("seed")
    if not isinstance(name, str) or not _DOUBLE_NAME.fullmatch(name.lower()):
        raise UsersFileError(f"{where}.double_name must look like name.3bot (lower-case letters, digits, _.-)")
    if not isinstance(email, str) or not _EMAIL.fullmatch(email):
        raise UsersFileError(f"{where}.email must be an e-mail address")
    if not isinstance(seed, str):
        raise UsersFileError(f"{where}.seed must be a string")
    try:
        seed_bytes = parse_seed(seed)
    except ValueError as exc:
        raise UsersFileError(f"{where}.seed: {exc}") from None
    return PhoneUser(name.lower(), email, seed_bytes)


def load_users_file(path: Path) -> tuple[tuple[PhoneUser, ...], bytes]:
    """Read a users file; return its users (which replace the built-in ones) and the KYC seed.

    The file is either a JSON list of ``{"double_name", "email", "seed"}`` objects, or an object
    ``{"users": [...], "kyc_seed": "<hex or mnemonic>"}`` (``kyc_seed`` optional, default 0x40..0x5f).
    Raises UsersFileError.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsersFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsersFileError(f"{path} is not valid JSON: {exc}") from None
    kyc_seed = DEFAULT_KYC_SEED
    if isinstance(document, dict):
        unknown = set(document) - {"users", "kyc_seed"}
        if unknown:
            raise UsersFileError(f"unknown top-level field(s): {', '.join(sorted(unknown))}")
        if "kyc_seed" in document:
            if not isinstance(document["kyc_seed"], str):
                raise UsersFileError("kyc_seed must be a string")
            try:
                kyc_seed = parse_seed(document["kyc_seed"])
            except ValueError as exc:
                raise UsersFileError(f"kyc_seed: {exc}") from None
        document = document.get("users")
    if not isinstance(document, list) or not document:
        raise UsersFileError("the users file must hold a non-empty list of users")
    users = tuple(_parse_user(i, raw) for i, raw in enumerate(document))
    names = [u.double_name for u in users]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsersFileError(f"duplicate double_name: {', '.join(duplicates)}")
    return users, kyc_seed
