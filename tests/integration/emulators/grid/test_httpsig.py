"""HTTP signatures (§3): every write needs one, a bad one on a GET is refused, and `email` needs one."""

from __future__ import annotations

import json
import time

import pytest
from grid_emulator_client import Grid, Reply
from grid_emulator_signing import Identity, http_signature, identity

WWW_AUTHENTICATE = 'Signature headers="(created) date threebot-id"'


def _assert_unauthorized(reply: Reply, reason: str) -> None:
    assert reply.status == 401, reply.body
    assert reply.headers["WWW-Authenticate"] == WWW_AUTHENTICATE
    assert reply.body["error"].startswith("unauthorized access: "), reply.body
    assert reason in reply.body["error"]


def _pool_body(grid: Grid, who: Identity) -> dict[str, object]:
    nodes, _ = grid.farm_nodes(1)
    data = {"pool_id": 0, "cus": 0, "sus": 0, "node_ids": [nodes[0]["node_id"]], "currencies": ["TFT"]}
    text = json.dumps(data)
    return {
        "json": text,
        "data_reservation": data,
        "customer_tid": who.tid,
        "customer_signature": who.key.sign(text.encode()).signature.hex(),
    }


def test_unsigned_write_is_refused(grid: Grid, alice: Identity) -> None:
    reply = grid.api("POST", "/reservations/pools", _pool_body(grid, alice))
    _assert_unauthorized(reply, "missing Authorization")


def test_valid_signature_is_accepted(grid: Grid, alice: Identity) -> None:
    headers = http_signature(alice.key, alice.tid)
    reply = grid.api("POST", "/reservations/pools", _pool_body(grid, alice), headers=headers)
    assert reply.status == 201, reply.body


@pytest.mark.parametrize(
    ("offsets", "reason"),
    [
        ({"created": -600, "expires": -540}, "expired"),
        ({"created": 120}, "future"),
    ],
)
def test_replay_window(grid: Grid, alice: Identity, offsets: dict[str, int], reason: str) -> None:
    # Relative to now when the test runs (not when it is collected: a long suite would turn "future" into "past").
    shift = {name: int(time.time()) + offset for name, offset in offsets.items()}
    headers = http_signature(alice.key, alice.tid, **shift)
    reply = grid.api("POST", "/reservations/pools", _pool_body(grid, alice), headers=headers)
    _assert_unauthorized(reply, reason)


def test_small_clock_skew_is_tolerated(grid: Grid, alice: Identity) -> None:
    headers = http_signature(alice.key, alice.tid, created=int(time.time()) + 20)
    assert grid.api("POST", "/reservations/pools", _pool_body(grid, alice), headers=headers).status == 201


def test_forged_signatures_are_refused(grid: Grid, alice: Identity) -> None:
    mallory = identity("mallory.3bot")
    body = _pool_body(grid, alice)
    # Signed by a key that is not alice's.
    _assert_unauthorized(
        grid.api("POST", "/reservations/pools", body, headers=http_signature(mallory.key, alice.tid)), "failed"
    )
    # A signed header changed after signing.
    headers = http_signature(alice.key, alice.tid)
    headers["Date"] = headers["Date"].replace("GMT", "UTC")
    _assert_unauthorized(grid.api("POST", "/reservations/pools", body, headers=headers), "failed")
    # keyId and threebot-id disagree.
    bob = grid.register("bob.3bot")
    headers = http_signature(bob.key, bob.tid, key_id=str(alice.tid))
    _assert_unauthorized(grid.api("POST", "/reservations/pools", body, headers=headers), "threebot-id")
    # Unknown signer.
    _assert_unauthorized(
        grid.api("POST", "/reservations/pools", body, headers=http_signature(mallory.key, 999)), "unknown user"
    )
    # Garbage in the header.
    _assert_unauthorized(
        grid.api("POST", "/reservations/pools", body, headers={"Authorization": "Basic abc"}), "scheme"
    )
    malformed = {"Authorization": 'Signature keyId="1",algorithm="ed25519"', "threebot-id": "1"}
    _assert_unauthorized(
        grid.api("POST", "/reservations/pools", body, headers=malformed), "missing signature parameter"
    )


def test_bad_signature_on_get_is_refused_but_none_is_fine(grid: Grid, alice: Identity) -> None:
    assert grid.api("GET", "/farms").status == 200
    forged = http_signature(identity("mallory.3bot").key, alice.tid)
    _assert_unauthorized(grid.api("GET", "/farms", headers=forged), "failed")


def test_email_only_for_authenticated_callers(grid: Grid, alice: Identity) -> None:
    anonymous = grid.api("GET", "/users?name=alice.3bot")
    assert anonymous.status == 200
    assert anonymous.body == [
        {"id": alice.tid, "name": "alice.3bot", "pubkey": alice.pubkey, "host": "", "description": ""}
    ]
    signed = grid.api("GET", "/users?name=alice.3bot", signer=alice)
    assert signed.body[0]["email"] == "alice.3bot@example.org"
    assert "email" not in grid.api("GET", f"/users/{alice.tid}").body
    assert grid.api("GET", f"/users/{alice.tid}", signer=alice).body["email"] == "alice.3bot@example.org"
    assert "email" not in grid.api("GET", "/farms/1").body
    assert grid.api("GET", "/farms/1", signer=alice).body["email"].startswith("farmer1@")
    by_email = grid.api("GET", "/users?email=alice.3bot@example.org", signer=alice)
    assert [u["id"] for u in by_email.body] == [alice.tid]


def test_registration_needs_no_signature_and_names_are_unique(grid: Grid) -> None:
    who = identity("carol.3bot")
    body = {"name": "carol.3bot", "email": "c@example.org", "pubkey": who.pubkey}
    first = grid.api("POST", "/users", body)
    assert first.status == 201 and first.body["pubkey"] == who.pubkey and first.body["id"] > 0
    assert grid.api("POST", "/users", body).status == 409
    assert grid.api("POST", "/users", {**body, "name": "dave.3bot", "pubkey": "zz"}).status == 400
    assert grid.api("POST", "/users", {**body, "name": ""}).status == 400
