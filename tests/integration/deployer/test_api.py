"""The deployer's HTTP API: owner-scoped listing, counts, details, cancel; bad input gets the JSON error shape."""

from __future__ import annotations

from tests.integration.deployer.conftest import DeployerWorld
from tests.integration.deployer.test_lifecycle import ubuntu_spec


def test_requests_without_a_verified_user_are_refused(world: DeployerWorld) -> None:
    client = world.client()
    for response in (client.get("/api/solutions"), client.get("/api/solutions/count"),
                     client.delete("/api/solutions/0123456789abcdef0123456789abcdef",
                                   headers={"Origin": world.settings.public_origin})):  # fmt: skip
        assert response.status_code == 401
        assert response.json["message"] and "request_id" in response.json


def test_listing_count_and_detail_are_owner_scoped(world: DeployerWorld) -> None:
    owner, other = "gina.3bot", "hank.3bot"
    world.network(owner)
    sol = world.deploy(owner, "ubuntu", ubuntu_spec(world, owner, "mine"))
    assert sol["status"] == "deployed"
    sid = str(sol["id"])
    listed = world.client().get("/api/solutions?type=ubuntu", headers=world.headers(owner)).json["solutions"]
    assert [s["id"] for s in listed] == [sid]
    entry = listed[0]
    assert entry["Name"] == "mine" and entry["status"] == "deployed"
    assert set(entry) >= {"wids", "IPv4 Address", "IPv6 Address", "Node", "Pool", "Network", "CPU", "Memory",
                          "RootFS Type", "RootFS Size"}  # fmt: skip
    counts = world.client().get("/api/solutions/count", headers=world.headers(owner)).json
    assert counts["ubuntu"] == 1 and counts["network"] == 1 and counts["minio"] == 0 and "cryptpad" in counts
    # Another user sees none of it: the listing is empty and the id is unknown to them (404, nothing deleted).
    assert world.client().get("/api/solutions", headers=world.headers(other)).json["solutions"] == []
    assert world.client().get(f"/api/solutions/{sid}", headers=world.headers(other)).status_code == 404
    assert world.cancel(other, sid).status_code == 404
    assert world.solution(sid)["status"] == "deployed"
    # Cancelling twice answers the same (idempotent).
    first = world.cancel(owner, sid)
    second = world.cancel(owner, sid)
    assert first.status_code == second.status_code == 202
    assert world.wait(sid, ("cancelled",))["status"] == "cancelled"
    assert world.cancel(owner, sid).status_code == 202
    assert world.client().get("/api/solutions?type=ubuntu", headers=world.headers(owner)).json["solutions"] == []


def test_a_network_in_use_cannot_be_deleted(world: DeployerWorld) -> None:
    owner = "gina.3bot"
    net = world.network(owner, "busy")
    sol = world.deploy(owner, "ubuntu", {**ubuntu_spec(world, owner, "user"), "network": "busy"})
    assert sol["status"] == "deployed"
    refused = world.cancel(owner, net)
    assert refused.status_code == 409 and "ubuntu user" in refused.json["message"]
    assert world.solution(net)["status"] == "deployed"
    assert world.cancel(owner, str(sol["id"])).status_code == 202
    world.wait(str(sol["id"]), ("cancelled",))
    assert world.cancel(owner, net).status_code == 202
    assert world.wait(net, ("cancelled",))["status"] == "cancelled"
    world.assert_gone_from_grid(net)
    names = [s["Name"] for s in world.client().get("/api/solutions?type=network", headers=world.headers(owner)).json[
        "solutions"]]  # fmt: skip
    assert "busy" not in names
    assert world.sql_one("SELECT count(*) AS n FROM deployer.networks WHERE name = %s", f"{owner}_busy")["n"] == 0


def test_bad_input_gets_clear_errors(world: DeployerWorld) -> None:
    headers = world.headers("gina.3bot")
    unknown = world.client().get("/api/solutions?type=nonsense", headers=headers)
    assert unknown.status_code == 404 and unknown.json["errors"][0]["code"] == "not_found"
    # A trailing newline (%0A) must not pass as an id: "$" of a regex matches before it.
    for bad in ("not-a-uuid", "../../etc", "0" * 200, "0123456789abcdef0123456789abcdef%0A"):
        assert world.client().get(f"/api/solutions/{bad}", headers=headers).status_code == 404
        assert world.cancel("gina.3bot", bad).status_code == 404
    # A cross-site DELETE (another Origin) is refused before anything happens.
    cross = world.client().delete("/api/solutions/0123456789abcdef0123456789abcdef",
                                  headers={**headers, "Origin": "https://evil.example"})  # fmt: skip
    assert cross.status_code == 403


def test_submit_refuses_a_bad_spec_with_field_errors(world: DeployerWorld) -> None:
    answer = world.submit("gina.3bot", "ubuntu", {"name": "Bad Name!", "network": "net", "ssh_key": "nope"})
    assert not answer["ok"]
    fields = {e["field"] for e in answer["errors"]}
    assert {"name", "ssh_key", "where"} <= fields
    unknown = world.submit("gina.3bot", "warp_drive", {"name": "x"})
    assert not unknown["ok"] and unknown["errors"][0]["field"] == "type"
    secretless = world.submit("gina.3bot", "kubernetes", {"name": "k", "pool_ids": [1], "network": "net",
                                                           "ssh_keys": ["ssh-rsa AAAA key"]})  # fmt: skip
    assert not secretless["ok"] and secretless["errors"][0]["field"] == "cluster_secret"
    forged = world.submit("gina.3bot", "ubuntu", {"name": "x"}, secrets=None)
    assert not forged["ok"]
