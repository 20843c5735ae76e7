"""Gitea on a public name (SOLUTIONS §1.9, §3.8) against the real stack: the grid emulator with its DNS and CT log,
deployer workers, PostgreSQL. Asked with `dig` as an outside client would."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from services.deployer import gateways
from services.deployer.context import Deployer
from services.deployer.grid.kinds import Kind
from services.deployer.grid.render import render
from services.deployer.solutions.base import GatewayRequest, Placed, WorkloadPlan
from tests.conftest import free_port
from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld, sql

pytestmark = [
    pytest.mark.stack,
    pytest.mark.usefixtures("dig_installed"),
]
PASSWORD = "pg-Passw0rd-not-in-any-listing"


def dig(world: DeployerWorld, name: str) -> tuple[str, list[str]]:
    host, port = world.settings.dns_resolver.rsplit(":", 1)
    out = subprocess.run(["dig", f"@{host}", "-p", port, name, "A", "+time=2", "+tries=1"], capture_output=True,
                         text=True, timeout=30, check=False).stdout  # fmt: skip
    status = re.search(r"status: (\w+)", out)
    answers = re.findall(rf"^{re.escape(name)}\.\s+\d+\s+IN\s+A\s+(\S+)$", out, re.MULTILINE)
    return (status.group(1) if status else "no answer"), answers


def gateway_of_farm(world: DeployerWorld, farm_id: int) -> dict[str, Any]:
    listing = requests.get(f"{world.grid}/api/v1/gateways", params={"farm_id": farm_id}, timeout=10).json()
    return dict(listing[0])


def gitea_spec(world: DeployerWorld, owner: str, name: str, app_pool: int, gateway_pools: list[int]) -> dict[str, Any]:
    world.network(owner)
    return {"name": name, "where": {"pool_id": app_pool}, "network": "net", "ssh_key": SSH_KEY,
            "db_name": "gitea", "db_user": "git", "repository": "code", "gateway_pool_ids": gateway_pools}  # fmt: skip


def grid_pool(pool_id: int) -> int:
    return int(sql("SELECT grid_pool_id FROM pools.pools WHERE id = %s", pool_id)[0]["grid_pool_id"])


def assert_tunnelled_layout(world: DeployerWorld, sid: str, app_pool: int, gateway_pool: int, fqdn: str,
                            colocated: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """The four workloads of an app behind a gateway tunnel (Gitea, Gollum, 3Bot) as the database and the grid hold
    them, checked once here for all three: gateway workloads on the chosen domain's gateway (farm 2), paid by the
    pool that contains it (never the app pool, which the original used); containers on nodes (not gateways) of the
    app pool, the tunnel client on the app's node where ``colocated`` (Gollum, 3Bot; Gitea's has a placement of its
    own); both gateway workloads for ``fqdn``. Returns the rows."""
    gw = gateway_of_farm(world, 2)
    rows = world.workloads(sid)
    assert [(w["key"], w["kind"]) for w in rows] == [
        ("subdomain", "subdomain"),
        ("container", "container"),
        ("reverse_proxy", "reverse_proxy"),
        ("tcprouter", "container"),
    ]
    gateway_ids = {g["node_id"] for g in requests.get(f"{world.grid}/api/v1/gateways", timeout=10).json()}
    for w in rows:
        on_gateway = Kind(w["kind"]).on_gateway
        assert w["pool_id"] == grid_pool(gateway_pool if on_gateway else app_pool), w["key"]
        assert (w["node_id"] == gw["node_id"]) is on_gateway and (w["node_id"] in gateway_ids) is on_gateway, w["key"]
        on_grid = world.grid_workload(int(w["grid_id"]))
        assert on_grid["pool_id"] == w["pool_id"] and on_grid["node_id"] == w["node_id"], w["key"]
    if colocated:
        assert rows[3]["node_id"] == rows[1]["node_id"]  # the tcprouter client beside the app's container
    assert rows[0]["body"]["domain"] == fqdn == rows[2]["body"]["domain"]
    return rows


@pytest.fixture
def ct(world: DeployerWorld) -> Iterator[None]:
    requests.delete(f"{world.grid}/_emulator/ct", json={}, timeout=10)
    yield
    world.admin("config", {"ct_outage": False, "dns_outage": False})
    requests.delete(f"{world.grid}/_emulator/ct", json={}, timeout=10)


def test_gitea_deploys_on_a_gateway_of_the_gateway_pool_resolves_and_is_gone_after_cancel(
    world: DeployerWorld, ct: None
) -> None:
    owner = "gitea1.3bot"
    app_pool, gateway_pool = world.pool(owner, farm_id=1), world.pool(owner, farm_id=2)
    sol = world.deploy(owner, "gitea", gitea_spec(world, owner, "git", app_pool, [gateway_pool]),
                       {"db_password": PASSWORD}, timeout=120)  # fmt: skip
    sid = str(sol["id"])
    assert sol["status"] == "deployed", world.events(sid)
    fqdn = "gitea1-git.gw2.grid.example"
    rows = assert_tunnelled_layout(world, sid, app_pool, gateway_pool, fqdn, colocated=False)
    assert sol["outputs"]["URL"] == f"https://{fqdn}"

    status, answers = dig(world, fqdn)
    assert status == "NOERROR" and answers == rows[0]["body"]["ips"] and answers  # the gateway's address

    listed = world.client().get("/api/solutions?type=gitea", headers=world.headers(owner)).get_json()["solutions"]
    (entry,) = listed
    assert entry["Domain"] == fqdn and entry["Network"] == "net" and entry["Pool"] == grid_pool(app_pool)
    shown = world.client().get(f"/api/solutions/{sid}", headers=world.headers(owner)).get_data(as_text=True)
    text = json.dumps(listed) + shown + json.dumps(world.events(sid))
    assert PASSWORD not in text and "tunnel_secret" not in text
    secret = sql("SELECT secrets FROM deployer.solutions WHERE id = %s", sid)[0]["secrets"]
    tunnel = world.identity.decrypt_secrets(bytes(secret).decode() if not isinstance(secret, str) else secret)
    assert tunnel["tunnel_secret"] not in text

    assert world.cancel(owner, sid).status_code == 202
    assert world.wait(sid, ("cancelled",), timeout=60)["status"] == "cancelled"
    world.assert_gone_from_grid(sid)
    assert dig(world, fqdn)[0] == "NXDOMAIN"


def test_a_label_that_already_resolves_gets_a_suffix(world: DeployerWorld, dep: Deployer, ct: None) -> None:
    owner = "gitea2.3bot"
    app_pool = world.pool(owner, farm_id=1)
    taken = "gitea2-git.gw1.grid.example"
    # A record for the name that is not in our database (made outside the marketplace): only the DNS knows it.
    gw = gateway_of_farm(world, 1)
    plan = WorkloadPlan("outside", Kind.SUBDOMAIN, "gw", {"domain": taken, "ips": ["10.9.9.9"]})
    body = render(plan, Placed("gw", gw["node_id"], grid_pool(app_pool)), tid=dep.tid, identity=dep.identity,
                  metadata={"owner": "someone"}, secrets={}, epoch=int(time.time()))  # fmt: skip
    outside = dep.grid.create_workload(body)
    deadline = time.monotonic() + 20
    while dig(world, taken)[0] != "NOERROR" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert dig(world, taken) == ("NOERROR", ["10.9.9.9"])
    sol = world.deploy(owner, "gitea", gitea_spec(world, owner, "git", app_pool, [app_pool]),
                       {"db_password": PASSWORD}, timeout=120)  # fmt: skip
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    fqdn = world.workloads(str(sol["id"]))[0]["body"]["domain"]
    assert re.fullmatch(r"gitea2-git-(\d+)\.gw1\.grid\.example", fqdn)
    assert 1000 <= int(fqdn.split(".")[0].rsplit("-", 1)[1]) <= 100000
    assert dig(world, fqdn)[0] == "NOERROR"
    world.cancel(owner, str(sol["id"]))
    world.wait(str(sol["id"]), ("cancelled",), timeout=60)
    dep.grid.sign_delete(outside)


def prepared(dep: Deployer, world: DeployerWorld, owner: str, pools: list[int]) -> gateways.Prepared:
    """What planning reads for an automatic domain of a submitted (not yet planned) solution of ``owner``."""
    answer = world.submit(owner, "gitea", gitea_spec(world, owner, f"p{uuid.uuid4().hex[:6]}", pools[0], pools),
                          {"db_password": PASSWORD})  # fmt: skip
    request = GatewayRequest("gateway", tuple(pools), label="x", owner_prefix="advanced")
    try:
        return gateways.prepare(dep, answer["solution_id"], request, owner)
    finally:
        world.cancel(owner, answer["solution_id"])


def test_a_parent_whose_lets_encrypt_budget_is_used_up_is_skipped(world: DeployerWorld, dep: Deployer,
                                                                  ct: None) -> None:  # fmt: skip
    owner = "gitea3.3bot"
    pools = [world.pool(owner, farm_id=1), world.pool(owner, farm_id=2)]
    seeded = requests.post(f"{world.grid}/_emulator/ct", json={"domain": "gw1.grid.example", "count": 50},
                           timeout=10)  # fmt: skip
    assert seeded.status_code == 201
    ready = prepared(dep, world, owner, pools)
    assert {parent for parent, _ in ready.candidates} == {"gw2.grid.example"}
    assert "weekly" in ready.skipped["gw1.grid.example"]
    requests.delete(f"{world.grid}/_emulator/ct", json={"domain": "gw1.grid.example"}, timeout=10)
    requests.post(f"{world.grid}/_emulator/ct", json={"domain": "gw1.grid.example", "count": 49}, timeout=10)
    assert {parent for parent, _ in prepared(dep, world, owner, pools).candidates} == {
        "gw1.grid.example",
        "gw2.grid.example",
    }


class _FailingFor(BaseHTTPRequestHandler):
    """A CT log that fails for one parent only and knows no certificate for the others."""

    failing = "gw1.grid.example"

    def do_GET(self) -> None:
        failing = f"q={self.failing}" in (self.path or "")
        self.send_response(503 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": "down"}' if failing else b"[]")

    def log_message(self, *args: Any) -> None:
        return


def test_a_ct_log_outage_skips_that_parent_only_and_a_full_outage_fails_clearly(
    world: DeployerWorld, dep: Deployer, ct: None
) -> None:
    owner = "gitea4.3bot"
    pools = [world.pool(owner, farm_id=1), world.pool(owner, farm_id=2)]
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _FailingFor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        half = replace(dep, settings=dep.settings.model_copy(update={"ct_log_url": url}))
        ready = prepared(half, world, owner, pools)
    finally:
        server.shutdown()
        server.server_close()
    assert {parent for parent, _ in ready.candidates} == {"gw2.grid.example"}
    assert "did not answer" in ready.skipped["gw1.grid.example"]

    world.admin("config", {"ct_outage": True})
    sol = world.deploy(owner, "gitea", gitea_spec(world, owner, "down", pools[0], pools), {"db_password": PASSWORD})
    assert sol["status"] == "rolled_back"
    assert sol["error"].startswith(gateways.NO_DOMAIN) and "gw1.grid.example" in sol["error"]
    assert "the certificate-transparency log did not answer" in sol["error"]
