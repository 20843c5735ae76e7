"""Domain Delegation, Solution Expose and 4to6 Gateway on the real stack (SOLUTIONS §3.9-§3.11): the emulator's
grid, DNS (asked with ``dig`` as an outside client would) and CT log, real workers, PostgreSQL and Redis.

Each test fails if a gateway workload lands anywhere but the chosen gateway in the user's pool that contains it,
or the tunnel client anywhere but a node (not a gateway) of the exposed solution's pool; and each cancel must leave
the grid without a single workload of the solution, gateway workloads included. The exposures use two pools of one
farm (the gateway is in both): a gateway workload paid by the app pool is accepted by the grid, so only these
assertions can see it."""

from __future__ import annotations

import base64
import re
import subprocess
from typing import Any

import nacl.public
import pytest

from services.common import contracts, gateway_contracts
from services.common.tasks import send
from services.deployer.solutions import gateway4to6
from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld, sql, verified_pools

pytestmark = pytest.mark.usefixtures("dig_installed")
GATEWAY_KINDS = {"subdomain", "reverse_proxy", "domain_delegate", "gateway4to6"}


def dig(world: DeployerWorld, name: str, rtype: str = "A") -> tuple[str, list[str]]:
    """(status, answers) of the emulator's DNS for ``name``."""
    port = world.env["DNS_RESOLVER"].rsplit(":", 1)[1]
    out = subprocess.run(
        ["dig", "@127.0.0.1", "-p", port, name, rtype, "+time=2", "+tries=1", "+noall", "+comments", "+answer"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout
    status = re.search(r"status: (\w+)", out)
    answers = [line.split()[-1] for line in out.splitlines() if line and not line.startswith(";")]
    return (status.group(1) if status else "NO ANSWER"), sorted(answers)


def gateway_of(world: DeployerWorld, owner: str) -> gateway_contracts.GatewayOffer:
    """The first gateway in the owner's pools, as the wizard's query offers it."""
    query = gateway_contracts.GatewaysQuery(owner=owner, pools=verified_pools(owner))
    answer = gateway_contracts.GatewayList.model_validate(send(world.celery, contracts.DEPLOYER_LIST_GATEWAYS, query)
                                                  .get(timeout=30))  # fmt: skip
    assert answer.gateways, "no gateway in the owner's pools"
    return answer.gateways[0]


def ask(world: DeployerWorld, task: str, payload: Any) -> dict[str, Any]:
    return dict(send(world.celery, task, payload).get(timeout=30))


def assert_on_the_gateway(world: DeployerWorld, solution_id: str, gw: gateway_contracts.GatewayOffer) -> list[dict]:
    """Every gateway workload on the gateway, paid by the gateway pool (as recorded and as the grid has it);
    every other workload on a plain node; returns the workloads."""
    rows = world.workloads(solution_id)
    for w in rows:
        on_grid = world.grid_workload(int(w["grid_id"]))
        if w["kind"] in GATEWAY_KINDS:
            assert (w["node_id"], w["pool_id"]) == (gw.node_id, gw.grid_pool_id), w["key"]
            assert (on_grid["node_id"], on_grid["pool_id"]) == (gw.node_id, gw.grid_pool_id), w["key"]
        else:
            assert w["node_id"] != gw.node_id and on_grid["node_id"] == w["node_id"], w["key"]
    return rows


def cancelled_and_gone(world: DeployerWorld, owner: str, solution_id: str) -> None:
    assert world.cancel(owner, solution_id).status_code == 202
    assert world.wait(solution_id, ("cancelled",), timeout=60)["status"] == "cancelled"
    world.assert_gone_from_grid(solution_id)
    live = {int(w["id"]) for w in world.live_on_grid()}
    assert not live & {int(w["grid_id"]) for w in world.workloads(solution_id)}


def test_delegate_a_domain_expose_a_solution_under_it_and_cancel_in_order(world: DeployerWorld) -> None:
    owner = "della.3bot"
    world.pool(owner, key="gateways")  # bought first: the gateway pool (the gateway is in both pools of farm 1)
    pool = world.pool(owner)
    world.network(owner)
    gw = gateway_of(world, owner)
    gateway = {"node_id": gw.node_id, "pool_id": gw.pool_id}

    # Domain Delegation: one domain_delegate on the gateway in the gateway pool; NS instructions; DNS serves it.
    refused = world.submit(owner, "delegated_domain", {"name": "bücher.example", "gateway": gateway})
    assert not refused["ok"] and refused["errors"][0]["field"] == "name"
    delegation = world.deploy(owner, "delegated_domain", {"name": "Della-Shop.example.", "gateway": gateway})
    delegation_id = str(delegation["id"])
    assert delegation["status"] == "deployed", world.events(delegation_id)
    assert delegation["name"] == "della-shop.example"
    (delegate,) = assert_on_the_gateway(world, delegation_id, gw)
    assert delegate["kind"] == "domain_delegate"
    assert delegation["outputs"]["Next step"] == (f"create NS records for della-shop.example pointing to: "
                                                  f"{', '.join(gw.dns_nameserver)}")  # fmt: skip
    assert dig(world, "della-shop.example", "NS") == ("NOERROR", [f"{ns}." for ns in gw.dns_nameserver])
    domains = ask(world, contracts.DEPLOYER_DELEGATED_DOMAINS, contracts.OwnerQuery(owner=owner))["domains"]
    assert domains == [{"domain": "della-shop.example", "gateway_id": gw.node_id, "pool_id": gw.pool_id}]

    # Something to expose: an Ubuntu container in the owner's network.
    box = world.deploy(owner, "ubuntu", {"name": "box", "where": {"pool_id": pool}, "network": "net",
                                         "ssh_key": SSH_KEY})  # fmt: skip
    assert box["status"] == "deployed", world.events(str(box["id"]))
    targets = gateway_contracts.TargetsQuery(owner=owner, type="ubuntu")
    (target,) = ask(world, contracts.DEPLOYER_EXPOSE_TARGETS, targets)["targets"]
    spec = {"name": "shop.della-shop.example", "solution_type": "ubuntu", "solution_id": target["solution_id"],
            "port": 80, "tls_port": 443, "domain_type": "delegated", "parent": "della-shop.example",
            "gateway": gateway, "target": {k: target[k] for k in ("pool_id", "network", "ip")}}  # fmt: skip
    moved = world.submit(owner, "exposed", {**spec, "target": {**spec["target"], "ip": "10.1.1.1"}})
    assert not moved["ok"] and moved["errors"][0]["field"] == "target"
    not_mine = world.submit(owner, "exposed", {**spec, "parent": "other.example", "name": "shop.other.example"})
    assert not not_mine["ok"] and not_mine["errors"][0]["field"] == "parent"

    exposure = world.deploy(owner, "exposed", spec)
    exposure_id = str(exposure["id"])
    assert exposure["status"] == "deployed", world.events(exposure_id)
    rows = assert_on_the_gateway(world, exposure_id, gw)
    assert [w["kind"] for w in rows] == ["subdomain", "reverse_proxy", "container"]
    client = rows[-1]
    assert client["pool_id"] == target["grid_pool_id"]  # the exposed solution's pool pays for its tunnel client
    assert target["grid_pool_id"] != gw.grid_pool_id  # two pools: a workload paid by the wrong one shows
    body = client["body"]
    assert body["network_connection"][0]["network_id"] == f"{owner}_net"
    assert body["network_connection"][0]["ipaddress"] != target["ip"]  # an IP of its own
    assert f"-local {target['ip']}:80 -local-tls {target['ip']}:443" in body["entrypoint"]
    assert dig(world, "shop.della-shop.example") == ("NOERROR", ["185.69.250.2"])

    # The tunnel secret is nowhere in clear: not in the listing, the events, the outputs or the recorded bodies.
    secrets = world.identity.decrypt_secrets(world.solution(exposure_id)["secrets"])
    listed = world.client().get("/api/solutions?type=exposed", headers=world.headers(owner)).get_data(as_text=True)
    shown = world.client().get(f"/api/solutions/{exposure_id}", headers=world.headers(owner)).get_data(as_text=True)
    bodies = str([w["body"] for w in rows])
    logs = "".join(world.processes.log(n) for n in ("deployer-worker-1", "deployer-worker-2"))
    for text in (listed, shown, bodies, logs, str(world.events(exposure_id))):
        assert secrets["tunnel_secret"] not in text
    listing = next(s for s in world.client().get("/api/solutions?type=exposed", headers=world.headers(owner))
                   .json["solutions"] if s["id"] == exposure_id)  # fmt: skip
    assert {k: listing[k] for k in ("Name", "Domain", "Gateway", "Pool")} == {
        "Name": "shop.della-shop.example", "Domain": "shop.della-shop.example", "Gateway": gw.node_id,
        "Pool": gw.grid_pool_id}  # fmt: skip

    # The delegation cannot go while the exposure stands on it; the 409 names it.
    refused_cancel = world.cancel(owner, delegation_id)
    assert refused_cancel.status_code == 409
    assert "shop.della-shop.example" in refused_cancel.json["message"]
    assert world.solution(delegation_id)["status"] == "deployed"

    cancelled_and_gone(world, owner, exposure_id)
    assert dig(world, "shop.della-shop.example")[0] == "NXDOMAIN"
    cancelled_and_gone(world, owner, delegation_id)
    assert dig(world, "della-shop.example", "NS")[0] == "REFUSED"


def test_expose_on_a_managed_domain_and_a_taken_label(world: DeployerWorld) -> None:
    owner = "manny.3bot"
    world.pool(owner, key="gateways")
    pool = world.pool(owner)
    world.network(owner)
    gw = gateway_of(world, owner)
    parent = gw.managed_domains[0]
    box = world.deploy(owner, "ubuntu", {"name": "box", "where": {"pool_id": pool}, "network": "net",
                                         "ssh_key": SSH_KEY})  # fmt: skip
    assert box["status"] == "deployed", world.events(str(box["id"]))
    targets = gateway_contracts.TargetsQuery(owner=owner, type="ubuntu")
    (target,) = ask(world, contracts.DEPLOYER_EXPOSE_TARGETS, targets)["targets"]
    assert target["grid_pool_id"] != gw.grid_pool_id
    spec = {"name": f"manny.{parent}", "solution_type": "ubuntu", "solution_id": target["solution_id"], "port": 80,
            "tls_port": 443, "domain_type": "managed", "parent": parent,
            "gateway": {"node_id": gw.node_id, "pool_id": gw.pool_id},
            "target": {k: target[k] for k in ("pool_id", "network", "ip")}}  # fmt: skip
    free = ask(world, contracts.DEPLOYER_DOMAIN_FREE, gateway_contracts.DomainQuery(owner=owner, domain=spec["name"]))
    assert free["ok"], free
    exposure = world.deploy(owner, "exposed", spec)
    exposure_id = str(exposure["id"])
    assert exposure["status"] == "deployed", world.events(exposure_id)
    assert [w["kind"] for w in assert_on_the_gateway(world, exposure_id, gw)] == ["subdomain", "reverse_proxy",
                                                                                   "container"]  # fmt: skip
    assert dig(world, f"manny.{parent}") == ("NOERROR", ["185.69.250.2"])
    assert exposure["outputs"]["Reachable"] == f"your solution is reachable through the gateway at manny.{parent}"
    # The name resolves now: the wizard's question says so (it asks for another label), and a second exposure
    # on it is refused.
    taken = ask(world, contracts.DEPLOYER_DOMAIN_FREE, gateway_contracts.DomainQuery(owner=owner, domain=spec["name"]))
    assert not taken["ok"]
    again = world.submit(owner, "exposed", {**spec, "port": 8080})
    assert not again["ok"] and again["errors"][0]["field"] == "name"
    cancelled_and_gone(world, owner, exposure_id)
    assert dig(world, f"manny.{parent}")[0] == "NXDOMAIN"


def _download(world: DeployerWorld, owner: str, solution_id: str) -> Any:
    return world.client().post(f"/api/solutions/{solution_id}/wireguard", headers=world.headers(owner))


def test_4to6_with_a_generated_key_hands_the_file_out_once_and_keeps_no_key(world: DeployerWorld) -> None:
    owner = "sixer.3bot"
    world.pool(owner)
    gw = gateway_of(world, owner)
    refused = world.submit(
        owner, "4to6gw", {"public_key": "not-a-key", "gateway": {"node_id": gw.node_id, "pool_id": gw.pool_id}}
    )
    assert not refused["ok"] and refused["errors"][0]["field"] in ("name", "public_key")
    sol = world.deploy(owner, "4to6gw", {"public_key": "", "gateway": {"node_id": gw.node_id, "pool_id": gw.pool_id}})
    solution_id = str(sol["id"])
    assert sol["status"] == "deployed", world.events(solution_id)
    (tunnel,) = assert_on_the_gateway(world, solution_id, gw)
    assert tunnel["kind"] == "gateway4to6" and tunnel["body"]["public_key"] == sol["name"]
    assert sol["secrets"] is None  # the private key is only in the one-time file now
    assert sol["secret_outputs"] is not None

    download = _download(world, owner, solution_id)
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="wg-{tunnel["grid_id"]}.conf"'
    config = download.get_data(as_text=True)
    private = re.search(r"^PrivateKey = (\S+)$", config, re.M)
    assert private is not None
    public = nacl.public.PrivateKey(base64.b64decode(private.group(1))).public_key
    assert base64.b64encode(bytes(public)).decode() == sol["name"]
    assert re.search(r"^Address = \S+/\d+$", config, re.M) and "[Peer]" in config and "Endpoint = " in config
    assert _download(world, owner, solution_id).status_code == 410
    assert world.solution(solution_id)["secret_outputs"] is None
    assert private.group(1) not in str(world.events(solution_id)) + str(world.solution(solution_id))
    cancelled_and_gone(world, owner, solution_id)


def test_4to6_with_the_users_own_key(world: DeployerWorld) -> None:
    owner = "sixer.3bot"
    world.pool(owner)
    gw = gateway_of(world, owner)
    key = base64.b64encode(bytes(nacl.public.PrivateKey.generate().public_key)).decode()
    sol = world.deploy(owner, "4to6gw", {"public_key": key, "gateway": {"node_id": gw.node_id, "pool_id": gw.pool_id}},
                       secrets={gateway4to6.PRIVATE_KEY: "smuggled"})  # fmt: skip
    solution_id = str(sol["id"])
    assert sol["status"] == "deployed", world.events(solution_id)
    assert sol["name"] == key and sol["secrets"] is None
    listing = world.client().get("/api/solutions?type=4to6gw", headers=world.headers(owner)).json["solutions"]
    assert any(s["Name"] == key and s["Public Key"] == key and s["Gateway"] == gw.node_id for s in listing)
    config = _download(world, owner, solution_id).get_data(as_text=True)
    assert f"PrivateKey = {gateway4to6.KEY_PLACEHOLDER}" in config and "smuggled" not in config
    cancelled_and_gone(world, owner, solution_id)


def test_a_4to6_cancelled_before_its_file_is_taken_keeps_nothing(world: DeployerWorld) -> None:
    owner = "sixer.3bot"
    world.pool(owner)
    gw = gateway_of(world, owner)
    sol = world.deploy(owner, "4to6gw", {"public_key": "", "gateway": {"node_id": gw.node_id, "pool_id": gw.pool_id}})
    solution_id = str(sol["id"])
    assert sol["status"] == "deployed" and sol["secret_outputs"] is not None
    cancelled_and_gone(world, owner, solution_id)
    row = sql("SELECT secrets, secret_outputs FROM deployer.solutions WHERE id = %s", solution_id)[0]
    assert row == {"secrets": None, "secret_outputs": None}
