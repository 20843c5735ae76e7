from __future__ import annotations

import base64
from pathlib import Path

import base58
import nacl.public
import nacl.signing
import pytest
from mnemonic import Mnemonic

from services.common.identity import (
    Identity,
    IdentityError,
    load_identity,
    parse_seed,
    seal_to_node,
    verify_detached,
)

DOC_SEED = bytes(range(32))  # GRID_API §3.2 and LOGIN_PROTOCOL §5.2 test vectors
ALICE_SEED = bytes(range(0x20, 0x40))


def test_keys_match_the_protocol_test_vectors() -> None:
    ident = Identity(DOC_SEED)
    assert ident.verify_key_hex == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    assert ident.box_public_key_b64 == "RwHQhIhFH1RaQJ+1iuPlhYHKQKw/fxFGmM1x3qxzygE="


def test_http_signature_headers_match_the_grid_test_vector() -> None:
    headers = Identity(DOC_SEED).http_signature_headers(tid=7, now=1598350000)
    assert headers["Date"] == "Tue, 25 Aug 2020 10:06:40 GMT"
    assert headers["threebot-id"] == "7"
    assert (
        'signature="ujDta3iipXGU+D9bLjRuGvpqE7qDJI2GjDkA2v5/Qx475qg/x/LIfIiquZ1cJAUf3Tnw42uGemxLDuSa7XJnDA=="'
        in (headers["Authorization"])
    )
    assert 'created="1598350000",expires="1598350060",headers="(created) date threebot-id"' in headers["Authorization"]


def test_sign_and_verify() -> None:
    ident = Identity(DOC_SEED)
    signature = ident.sign(b"hello")
    assert verify_detached(ident.verify_key, b"hello", signature)
    assert not verify_detached(ident.verify_key, b"hellO", signature)
    assert not verify_detached(Identity(ALICE_SEED).verify_key, b"hello", signature)
    assert not verify_detached(ident.verify_key, b"hello", b"short")


def test_box_round_trip_with_keys_converted_from_ed25519() -> None:
    marketplace, alice = Identity(DOC_SEED), Identity(ALICE_SEED)
    sealed = alice.box_encrypt(marketplace.verify_key, b"backup password")
    assert marketplace.box_decrypt(alice.verify_key, sealed) == b"backup password"
    # The same box opened with plain pynacl and the converted keys: interoperable with the phone app.
    box = nacl.public.Box(
        nacl.signing.SigningKey(DOC_SEED).to_curve25519_private_key(),
        nacl.signing.SigningKey(ALICE_SEED).verify_key.to_curve25519_public_key(),
    )
    assert box.decrypt(sealed) == b"backup password"


def test_backup_password_test_vector_decrypts() -> None:
    # LOGIN_PROTOCOL §9.3: a 3Bot (seed 0x60..0x7f) boxes its password to the marketplace.
    threebot = Identity(bytes(range(0x60, 0x80)))
    passwd = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJjt3JM8MuO3hhOeEnXyYcnmxe3QJT1fTmY4XFSHWd8n9WgrCLqA=="
    plain = Identity(DOC_SEED).box_decrypt(threebot.verify_key, base64.b64decode(passwd))
    assert plain == b"correct horse battery"


def test_tampered_or_misaddressed_box_is_refused() -> None:
    marketplace, alice, bob = Identity(DOC_SEED), Identity(ALICE_SEED), Identity(bytes(32))
    sealed = bytearray(alice.box_encrypt(marketplace.verify_key, b"secret"))
    sealed[-1] ^= 1
    with pytest.raises(IdentityError):
        marketplace.box_decrypt(alice.verify_key, bytes(sealed))
    with pytest.raises(IdentityError):
        bob.box_decrypt(alice.verify_key, alice.box_encrypt(marketplace.verify_key, b"secret"))


def test_metadata_matches_the_grid_test_vector_and_round_trips() -> None:
    ident = Identity(DOC_SEED)
    record = {
        "owner": "alice.3bot",
        "name": "alice.3bot-pad",
        "chatflow": "cryptpad",
        "solution_uuid": "0123456789abcdef0123456789abcdef",
    }
    value = ident.encrypt_metadata(record, nonce=b"\x05" * 24)
    assert value.startswith("1qB5K1qB5K1qB5K1qB5K1qB5K1qB5K#BLM>G+Uh%mnzG$4S{sxiMznErey4N$P0zlOzL")
    assert value.endswith("ia$`(#a7B`h<jA%FO")
    assert ident.decrypt_metadata(value) == record
    assert ident.decrypt_metadata(ident.encrypt_metadata(record)) == record


def test_foreign_or_garbage_metadata_reads_as_none() -> None:
    ours, other = Identity(DOC_SEED), Identity(ALICE_SEED)
    assert ours.decrypt_metadata(other.encrypt_metadata({"owner": "x"})) is None
    assert ours.decrypt_metadata("not base85 \x00") is None
    assert ours.decrypt_metadata("") is None


def test_metadata_over_the_explorer_limit_is_refused() -> None:
    with pytest.raises(IdentityError):
        Identity(DOC_SEED).encrypt_metadata({"owner": "x" * 900})


def test_sealed_secret_opens_with_the_node_key() -> None:
    node = nacl.signing.SigningKey(bytes(range(0x40, 0x60)))
    node_id = base58.b58encode(bytes(node.verify_key)).decode()
    for target in (node_id, bytes(node.verify_key).hex()):
        sealed = seal_to_node(target, "wg-private-key")
        opened = nacl.public.SealedBox(node.to_curve25519_private_key()).decrypt(bytes.fromhex(sealed))
        assert opened == b"wg-private-key"
    with pytest.raises(IdentityError):
        seal_to_node("not-a-node", "x")


def test_seed_parsing_accepts_hex_and_mnemonic() -> None:
    words = Mnemonic("english").to_mnemonic(ALICE_SEED)
    assert parse_seed(words) == ALICE_SEED
    assert parse_seed(ALICE_SEED.hex() + "\n") == ALICE_SEED
    for bad in ("", "abcd", "zz" * 32, " ".join(["abandon"] * 24)):
        with pytest.raises(IdentityError):
            parse_seed(bad)


def test_load_identity_creates_a_private_seed_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "identity.seed"
    with pytest.raises(IdentityError):
        load_identity(path)
    first = load_identity(path, create=True)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_identity(path) == first  # stable across restarts
    path.write_text("garbage")
    with pytest.raises(IdentityError):
        load_identity(path)
