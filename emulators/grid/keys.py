"""Keys of the simulated world: node/gateway Ed25519 keys, Stellar addresses, and opening sealed secrets (§8)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct

import base58
import nacl.exceptions
import nacl.public
import nacl.signing

# Stellar StrKey version byte for an account id ("G..." addresses).
_STRKEY_ACCOUNT_VERSION = 6 << 3


def derive_seed(world_seed: int, purpose: str, index: int) -> bytes:
    """32 deterministic bytes for one simulated key; the same (seed, purpose, index) always gives the same key."""
    return hashlib.sha256(f"tfgrid-emulator/{world_seed}/{purpose}/{index}".encode()).digest()


def node_identity(signing_seed: bytes) -> tuple[str, str]:
    """(node_id, public_key_hex) of a node key: base58 and hex of the same Ed25519 verify key."""
    verify_key = nacl.signing.SigningKey(signing_seed).verify_key.encode()
    return base58.b58encode(verify_key).decode(), verify_key.hex()


def wireguard_public_key(seed: bytes) -> str:
    """Base64 X25519 public key derived from ``seed`` (used for simulated gateway WireGuard endpoints)."""
    private = nacl.public.PrivateKey(hashlib.sha256(b"wg" + seed).digest())
    return base64.b64encode(private.public_key.encode()).decode()


def stellar_address(seed: bytes) -> str:
    """A well-formed Stellar account id ("G...", 56 chars, valid CRC16) for a simulated wallet or escrow."""
    payload = bytes([_STRKEY_ACCOUNT_VERSION]) + hashlib.sha256(b"stellar" + seed).digest()
    checksum = struct.pack("<H", _crc16_xmodem(payload))
    return base64.b32encode(payload + checksum).decode()


def _crc16_xmodem(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def sign_hex(signing_seed: bytes, message: bytes) -> str:
    """Hex Ed25519 signature of ``message`` by the simulated node key (result signatures)."""
    return nacl.signing.SigningKey(signing_seed).sign(message).signature.hex()


def open_sealed(signing_seed: bytes, sealed_hex: str) -> bytes | None:
    """Open a value sealed to the node (§8) with the node's own key; None when it was not sealed to it.

    A real node can only use secrets sealed to its key, so a value sealed to another node (or not sealed at all)
    makes the deployment fail there too.
    """
    try:
        sealed = binascii.unhexlify(sealed_hex)
    except (binascii.Error, ValueError):
        return None
    # 32-byte ephemeral key + 16-byte MAC is the smallest possible sealed box.
    if len(sealed) < 48:
        return None
    curve_key = nacl.signing.SigningKey(signing_seed).to_curve25519_private_key()
    try:
        return nacl.public.SealedBox(curve_key).decrypt(sealed)
    except nacl.exceptions.CryptoError:
        return None


def x25519_public_from_private_b64(private_b64: bytes) -> str | None:
    """Base64 X25519 public key of a base64 private key (checks a WireGuard key pair); None if malformed."""
    try:
        private = base64.b64decode(private_b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(private) != 32:
        return None
    return base64.b64encode(nacl.public.PrivateKey(private).public_key.encode()).decode()
