"""The emulated KYC service: signs and opens "signed email identifiers" (LOGIN_PROTOCOL.md §6).

An SEI is base64(Ed25519 combined-mode signature of ``{ "email": "<address>", "identifier": "<name>" }``).
The payload text keeps the spaces inside the braces because that is what the real service signs and what the
§5.2 test vector pins down; a marketplace must parse it as JSON, never compare it as text.
"""

from __future__ import annotations

import base64
import binascii
import json

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey


class InvalidSei(ValueError):
    """The SEI is not base64, too short, or not signed by the KYC key."""


def sei_payload(email: str, identifier: str) -> str:
    """The exact text the KYC service signs; json.dumps only escapes the two values."""
    return f'{{ "email": {json.dumps(email)}, "identifier": {json.dumps(identifier)} }}'


def sign_sei(email: str, identifier: str, key: SigningKey) -> str:
    """Return base64 of ``crypto_sign(payload, key)``."""
    signed = key.sign(sei_payload(email, identifier).encode())
    return base64.b64encode(bytes(signed)).decode()


class KycService:
    """Holds the KYC key pair; ``verify`` mirrors ``POST /verification/verify-sei``."""

    def __init__(self, seed: bytes) -> None:
        self._key = SigningKey(seed)

    @property
    def signing_key(self) -> SigningKey:
        return self._key

    @property
    def verify_key_hex(self) -> str:
        return bytes(self._key.verify_key).hex()

    def sign(self, email: str, identifier: str) -> str:
        return sign_sei(email, identifier, self._key)

    def verify(self, sei: str) -> str:
        """Open the SEI and return its payload text (checked to be JSON), as the real service answers it.

        Raises InvalidSei for anything that is not a valid KYC signature over a JSON payload.
        """
        try:
            signed = base64.b64decode(sei, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidSei("not base64") from None
        if len(signed) < 64:
            raise InvalidSei("too short to carry a signature")
        try:
            payload = VerifyKey(bytes(self._key.verify_key)).verify(signed)
        except BadSignatureError:
            raise InvalidSei("bad signature") from None
        try:
            text = payload.decode("utf-8")
            json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise InvalidSei("signed payload is not JSON") from None
        return text
