"""The certificate-transparency log (ct_log.py, ct_api.py): crt.sh's JSON shape, fed by the TLS endpoints that
deploy, seeded by tests, and its outage switch. Real emulator processes, workloads signed through the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import requests
from grid_emulator_client import EmulatorProcess, Grid
from grid_emulator_signing import seal

pytestmark = pytest.mark.stack

CRT_SH_KEYS = {"issuer_ca_id", "issuer_name", "common_name", "name_value", "id", "entry_timestamp", "not_before",
               "not_after", "serial_number"}  # fmt: skip
PARENT = "gw1.grid.example"


def _ct(emulator: EmulatorProcess, q: str, **params: str) -> requests.Response:
    return requests.get(f"{emulator.base_url}/_emulator/ct", params={"q": q, "output": "json", **params}, timeout=10)


def _names(emulator: EmulatorProcess, q: str) -> list[str]:
    reply = _ct(emulator, q)
    assert reply.status_code == 200, reply.text
    return sorted(entry["name_value"] for entry in reply.json())


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_tls_proxies_and_in_image_tunnels_log_staging_or_production_certificates(
    spawn: Callable[..., EmulatorProcess],
) -> None:
    emulator = spawn()
    grid: Grid = emulator.grid()
    alice = grid.register("alice.3bot")
    nodes, _ = grid.farm_nodes(1)
    node = nodes[0]
    pool_id = grid.paid_pool(alice, [node["node_id"]], cus=100_000, sus=100_000)
    grid.network(alice, node, pool_id, "alice.3bot_apps", "10.100.2.0/24")
    key = node["public_key_hex"]

    def deploy(ip: str, environment: dict[str, str], secret: dict[str, str]) -> None:
        sealed = {name: seal(key, value) for name, value in secret.items()}
        body = grid.container(alice, node, pool_id, "alice.3bot_apps", ip, environment=environment,
                              secret_environment=sealed)  # fmt: skip
        assert grid.wait_result(grid.deploy(alice, body))["result"]["state"] == 1

    before = time.time()
    # (C) TLS proxy: every variable secret, staging asked for.
    deploy("10.100.2.10", {}, {"DOMAIN": f"alice-pad.{PARENT}", "TFGATEWAY": f"ns1.{PARENT}:18000",
                               "TRC_SECRET": "1:abc", "TEST_CERT": "true"})  # fmt: skip
    # (P) in-image tunnel: DOMAIN, TRC_REMOTE and TEST_CERT plain, production.
    deploy("10.100.2.11", {"DOMAIN": f"alice-blog.{PARENT}", "TRC_REMOTE": f"ns1.{PARENT}:18000",
                           "TEST_CERT": "false"}, {"TRC_SECRET": "1:def"})  # fmt: skip
    # A container with a DOMAIN but no tunnel (Gitea behind a tcprouter client) obtains nothing itself.
    deploy("10.100.2.12", {"DOMAIN": f"alice-git.{PARENT}"}, {})

    entries = {entry["common_name"]: entry for entry in _ct(emulator, PARENT).json()}
    assert sorted(entries) == [f"alice-blog.{PARENT}", f"alice-pad.{PARENT}"]
    staging, production = entries[f"alice-pad.{PARENT}"], entries[f"alice-blog.{PARENT}"]
    assert set(staging) == set(production) == CRT_SH_KEYS
    assert staging["issuer_name"].startswith("C=US, O=(STAGING) Let's Encrypt, CN=(STAGING) ")
    assert production["issuer_name"] == "C=US, O=Let's Encrypt, CN=R3"
    assert staging["issuer_ca_id"] != production["issuer_ca_id"]
    assert production["name_value"] == production["common_name"] == f"alice-blog.{PARENT}"
    logged = _parse(production["entry_timestamp"]).timestamp()
    assert before - 1 <= logged <= time.time() + 1
    lifetime = _parse(production["not_after"]) - _parse(production["not_before"])
    assert lifetime == timedelta(days=90) and len(production["serial_number"]) == 36
    assert staging["id"] != production["id"]
    # crt.sh's wildcard form and the exact name; other parents see nothing.
    assert _names(emulator, f"%.{PARENT}") == sorted(entries)
    assert _names(emulator, f"ALICE-PAD.{PARENT}.") == [f"alice-pad.{PARENT}"]
    assert _names(emulator, "gw2.grid.example") == []
    assert _names(emulator, "%.grid.example") == sorted(entries)


def test_seeded_entries_fill_a_parents_weekly_budget(spawn: Callable[..., EmulatorProcess]) -> None:
    emulator = spawn()
    grid = emulator.grid()
    seeded = grid.admin("POST", "/ct", {"domain": PARENT, "count": 50})
    assert seeded.status == 201 and len(seeded.body["created"]) == 50
    old = grid.admin("POST", "/ct", {"domain": "gw2.grid.example", "count": 3, "days_ago": 8, "staging": True})
    assert old.status == 201

    # What the deployer computes (SOLUTIONS §1.9): distinct first labels logged in the last 7 days.
    week_ago = datetime.now(UTC) - timedelta(days=7)
    recent = [e for e in _ct(emulator, PARENT).json() if _parse(e["entry_timestamp"]) >= week_ago]
    assert len({entry["name_value"].split(".")[0] for entry in recent}) == 50
    older = _ct(emulator, "gw2.grid.example").json()
    assert len(older) == 3 and all(_parse(e["entry_timestamp"]) < week_ago for e in older)
    assert all("(STAGING)" in entry["issuer_name"] for entry in older)
    # More seeding never repeats a label.
    grid.admin("POST", "/ct", {"domain": PARENT, "count": 2})
    assert len(set(_names(emulator, PARENT))) == 52

    assert grid.admin("DELETE", "/ct", {"domain": PARENT}).body == {"deleted": 52}
    assert _names(emulator, PARENT) == [] and len(_names(emulator, "grid.example")) == 3
    assert grid.admin("DELETE", "/ct").body == {"deleted": 3}


def test_bad_input_and_the_outage_switch(spawn: Callable[..., EmulatorProcess]) -> None:
    emulator = spawn()
    grid = emulator.grid()
    for body, field in (
        ({"domain": "a b.example"}, "domain"),
        ({"domain": "x" * 300}, "domain"),
        ({"domain": "ok.example", "count": 0}, "count"),
        ({"domain": "ok.example", "count": 1001}, "count"),
        ({"domain": "ok.example", "days_ago": -1}, "days_ago"),
        ({"domain": "ok.example", "staging": "yes"}, "staging"),
        ({"domain": "ok.example", "label": "x"}, "label"),
    ):
        reply = grid.admin("POST", "/ct", body)
        assert reply.status == 400 and field in reply.body["error"], (body, reply.body)
    assert _ct(emulator, "").status_code == 400
    assert _ct(emulator, PARENT, output="html").status_code == 400
    assert grid.admin("DELETE", "/ct", {"domain": 3}).status == 400

    assert grid.admin("POST", "/config", {"ct_outage": True}).body["ct_outage"] is True
    down = _ct(emulator, PARENT)
    assert down.status_code == 503 and down.json() == {"error": "CT log unavailable (injected outage)"}
    assert grid.admin("POST", "/config", {"ct_outage": "maybe"}).status == 400
    assert grid.admin("POST", "/config", {"ct_outage": False}).status == 200
    assert _ct(emulator, PARENT).json() == []
