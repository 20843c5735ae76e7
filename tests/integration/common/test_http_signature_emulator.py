"""The marketplace identity's HTTP signatures (services/common) verified by the grid emulator (an independent
implementation of GRID_API §3), over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from services.common.identity import Identity
from tests.conftest import PYTHON, Processes, free_port, wait_http


@pytest.fixture
def explorer(tmp_path: Path, processes: Processes) -> Iterator[str]:
    port = free_port()
    proc = processes.start(
        "grid", [PYTHON, "-m", "emulators.grid", "--port", str(port), "--state", str(tmp_path / "grid.sqlite3")], {}
    )
    wait_http(f"http://127.0.0.1:{port}/_emulator/healthz", proc=proc)
    yield f"http://127.0.0.1:{port}/api/v1"


def _register(explorer: str, identity: Identity, name: str) -> int:
    body = {
        "name": name,
        "email": f"{name}@example.org",
        "pubkey": identity.verify_key_hex,
        "host": "",
        "description": "",
    }
    response = requests.post(f"{explorer}/users", json=body, timeout=5)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_signed_requests_are_accepted_and_unsigned_or_forged_are_not(explorer: str) -> None:
    me = Identity(bytes(range(32)))
    tid = _register(explorer, me, "sigtest.3bot")

    # A signed GET authenticates us: the phonebook then reveals e-mail addresses.
    signed = requests.get(
        f"{explorer}/users", params={"name": "sigtest.3bot"}, headers=me.http_signature_headers(tid), timeout=5
    )
    assert signed.status_code == 200
    assert signed.json()[0]["email"] == "sigtest.3bot@example.org"
    anonymous = requests.get(f"{explorer}/users", params={"name": "sigtest.3bot"}, timeout=5)
    assert "email" not in anonymous.json()[0] or not anonymous.json()[0]["email"]

    # A write needs a valid signature: a signed malformed pool passes authentication and fails validation (400);
    # the same body unsigned, signed by another key, or with an expired signature is refused with 401.
    body = {"json": "{}", "data_reservation": {}, "customer_tid": tid, "customer_signature": ""}
    assert (
        requests.post(
            f"{explorer}/reservations/pools", json=body, headers=me.http_signature_headers(tid), timeout=5
        ).status_code
        == 400
    )
    assert requests.post(f"{explorer}/reservations/pools", json=body, timeout=5).status_code == 401
    forged = Identity(bytes(32)).http_signature_headers(tid)
    response = requests.post(f"{explorer}/reservations/pools", json=body, headers=forged, timeout=5)
    assert response.status_code == 401
    assert "Signature" in response.headers["WWW-Authenticate"]
    expired = me.http_signature_headers(tid, now=1598350000)
    assert requests.post(f"{explorer}/reservations/pools", json=body, headers=expired, timeout=5).status_code == 401
