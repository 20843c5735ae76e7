"""The marketplace's grid identity: one Ed25519 key and everything derived from it.

It signs every explorer request (HTTP signatures, GRID_API §3) and workload (GRID_API §7), encrypts workload
metadata to itself (GRID_API §9) and, converted to Curve25519, is the box key for 3Bot Connect login and for
backup passwords (LOGIN_PROTOCOL §1.1). All crypto is pynacl.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import base58
import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing
from mnemonic import Mnemonic

SEED_BYTES = 32


class IdentityError(Exception):
    """A seed file is missing or unreadable, or a key is malformed."""


def parse_seed(text: str) -> bytes:
    """Turn a seed file's text into 32 bytes: 64 hex characters or a 24-word BIP-39 mnemonic.

    The seed of a grid identity is the mnemonic's BIP-39 *entropy* (no PBKDF2 stretching, GRID_API §1).

    Raises:
        IdentityError: the text is neither form.
    """
    text = text.strip()
    words = text.split()
    if len(words) == 24:
        try:
            return bytes(Mnemonic("english").to_entropy(words))
        except (ValueError, LookupError) as exc:
            raise IdentityError(f"invalid mnemonic: {exc}") from None
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        raise IdentityError("seed must be 64 hex characters or 24 words") from None
    if len(seed) != SEED_BYTES:
        raise IdentityError("seed must be 32 bytes")
    return seed


def ed25519_pk_to_curve25519(verify_key: bytes) -> nacl.public.PublicKey:
    """Convert an Ed25519 verify key (32 bytes) to the Curve25519 key used by ``crypto_box``.

    Raises:
        IdentityError: not a valid Ed25519 point.
    """
    try:
        return nacl.public.PublicKey(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(verify_key))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise IdentityError("not a valid Ed25519 public key") from None


def verify_detached(verify_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` by ``verify_key``."""
    try:
        nacl.signing.VerifyKey(verify_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class Identity:
    """An Ed25519 identity (the marketplace's, or any other seed we hold)."""

    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_BYTES:
            raise IdentityError("seed must be 32 bytes")

    @functools.cached_property
    def signing_key(self) -> nacl.signing.SigningKey:
        # Derived once: every explorer request and every workload is signed with it.
        return nacl.signing.SigningKey(self.seed)

    @property
    def verify_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @property
    def verify_key_hex(self) -> str:
        return self.verify_key.hex()

    @property
    def box_private_key(self) -> nacl.public.PrivateKey:
        return self.signing_key.to_curve25519_private_key()

    @property
    def box_public_key(self) -> nacl.public.PublicKey:
        return self.box_private_key.public_key

    @property
    def box_public_key_b64(self) -> str:
        """The "marketplace public key" of login and backup (LOGIN_PROTOCOL §1.1)."""
        return base64.b64encode(bytes(self.box_public_key)).decode()

    # -- signatures -----------------------------------------------------------------------------------------

    def sign(self, message: bytes) -> bytes:
        """Detached 64-byte Ed25519 signature."""
        return bytes(self.signing_key.sign(message).signature)

    def http_signature_headers(self, tid: int, now: int | None = None) -> dict[str, str]:
        """Headers that authenticate one explorer request (draft-cavage-http-signatures-12, GRID_API §3)."""
        created = int(time.time()) if now is None else now
        date = formatdate(created, usegmt=True)
        signing_string = f"(created): {created}\ndate: {date}\nthreebot-id: {tid}"
        signature = base64.b64encode(self.sign(signing_string.encode())).decode()
        authorization = (
            f'Signature keyId="{tid}",algorithm="ed25519",signature="{signature}",'
            f'created="{created}",expires="{created + 60}",headers="(created) date threebot-id"'
        )
        return {"threebot-id": str(tid), "Date": date, "Authorization": authorization}

    # -- boxes ------------------------------------------------------------------------------------------------

    def box_encrypt(self, peer_verify_key: bytes, plaintext: bytes, nonce: bytes | None = None) -> bytes:
        """``nonce || crypto_box(plaintext)`` from us to the holder of ``peer_verify_key`` (Ed25519)."""
        box = nacl.public.Box(self.box_private_key, ed25519_pk_to_curve25519(peer_verify_key))
        return bytes(box.encrypt(plaintext, nonce))

    def box_decrypt(self, peer_verify_key: bytes, nonce_and_box: bytes) -> bytes:
        """Open ``nonce || box`` sent to us by the holder of ``peer_verify_key``.

        Raises:
            IdentityError: wrong key, tampered or truncated ciphertext.
        """
        box = nacl.public.Box(self.box_private_key, ed25519_pk_to_curve25519(peer_verify_key))
        try:
            return bytes(box.decrypt(nonce_and_box))
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise IdentityError("cannot decrypt: wrong key or tampered data") from None

    # -- workload metadata (GRID_API §9) ------------------------------------------------------------------

    def encrypt_metadata(self, record: dict[str, Any], nonce: bytes | None = None) -> str:
        """Encrypt an ownership record to ourselves: base85(nonce || box), ≤ 1024 characters.

        Raises:
            IdentityError: the record is too large for the explorer's 1024-character limit.
        """
        plaintext = json.dumps(record).encode()
        value = base64.b85encode(self.box_encrypt(self.verify_key, plaintext, nonce)).decode()
        if len(value) > 1024:
            raise IdentityError("metadata record too large (explorer limit is 1024 characters)")
        return value

    def encrypt_secrets(self, record: dict[str, Any]) -> str:
        """Encrypt secrets at rest or in transit between our services (box to ourselves, base85, no size limit)."""
        return base64.b85encode(self.box_encrypt(self.verify_key, json.dumps(record).encode())).decode()

    def decrypt_secrets(self, value: str) -> dict[str, Any]:
        """The record of :meth:`encrypt_secrets`.

        Raises:
            IdentityError: not encrypted by us, or tampered with.
        """
        try:
            record = json.loads(self.box_decrypt(self.verify_key, base64.b85decode(value)))
        except ValueError:
            raise IdentityError("cannot decode the encrypted secrets") from None
        if not isinstance(record, dict):
            raise IdentityError("the encrypted secrets are not an object")
        return record

    def decrypt_metadata(self, value: str) -> dict[str, Any] | None:
        """The record of :meth:`encrypt_metadata`, or None when it is not ours or not metadata at all."""
        try:
            record = json.loads(self.box_decrypt(self.verify_key, base64.b85decode(value)))
        except (IdentityError, ValueError):
            return None
        return record if isinstance(record, dict) else None


def seal_to_node(node_id: str, plaintext: str) -> str:
    """Seal a secret to a node or gateway (GRID_API §8): hex(crypto_box_seal(plaintext, node x25519 key)).

    ``node_id`` is the base58 node id (or the 64-char hex public key).

    Raises:
        IdentityError: the id is not a valid node key.
    """
    try:
        raw = bytes.fromhex(node_id) if len(node_id) == 64 else base58.b58decode(node_id)
    except ValueError:
        raise IdentityError("node id is not base58 or hex") from None
    if len(raw) != SEED_BYTES:
        raise IdentityError("node key must be 32 bytes")
    sealed = nacl.public.SealedBox(ed25519_pk_to_curve25519(raw)).encrypt(plaintext.encode())
    return binascii.hexlify(bytes(sealed)).decode()


def load_identity(path: Path, *, create: bool = False) -> Identity:
    """Read the identity seed file; with ``create`` (dev only) generate a random one when it is missing.

    Raises:
        IdentityError: the file is missing (and ``create`` is false) or does not hold a seed.
    """
    if not path.exists():
        if not create:
            raise IdentityError(f"identity seed file {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting together must not each write a different seed.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: its seed is read below
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(Mnemonic("english").to_mnemonic(secrets.token_bytes(SEED_BYTES)) + "\n")
    try:
        text = path.read_text()
    except OSError as exc:
        raise IdentityError(f"cannot read identity seed file {path}: {exc.strerror}") from None
    return Identity(parse_seed(text))
