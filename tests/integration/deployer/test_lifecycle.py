"""Each planner end to end through ``deployer.submit`` to ``deployed``, then cancelled → nothing left on the grid."""

from __future__ import annotations

from typing import Any

from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld, sql


def _cancel_and_check(world: DeployerWorld, owner: str, solution_id: str) -> None:
    response = world.cancel(owner, solution_id)
    assert response.status_code == 202, response.json
    assert response.json["status"] in ("cancelling", "cancelled")
    sol = world.wait(solution_id, ("cancelled",))
    assert sol["status"] == "cancelled"
    world.assert_gone_from_grid(solution_id)
    assert all(w["state"] in ("deleted", "superseded") for w in world.workloads(solution_id))


def test_network_is_deployed_with_a_one_time_wireguard_config(world: DeployerWorld) -> None:
    owner = "alice.3bot"
    sol = world.deploy(owner, "network", {"name": "lab", "pool_ids": [world.pool(owner)]})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    shown = world.client().get(f"/api/solutions/{sol['id']}", headers=world.headers(owner)).json
    assert shown["IP Range"].endswith(".0.0/16")
    assert len(shown["nodes"]) == 1
    first = world.client().post(f"/api/solutions/{sol['id']}/wireguard", headers=world.headers(owner))
    assert first.status_code == 200
    config = first.get_data(as_text=True)
    assert "[Interface]" in config and "PrivateKey = " in config and "PersistentKeepalive = 25" in config
    again = world.client().post(f"/api/solutions/{sol['id']}/wireguard", headers=world.headers(owner))
    assert again.status_code == 410  # shown once, never stored in clear
    _cancel_and_check(world, owner, str(sol["id"]))


def ubuntu_spec(world: DeployerWorld, owner: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "where": {"pool_id": world.pool(owner)}, "network": "net", "ssh_key": SSH_KEY, **extra}


def test_ubuntu_end_to_end(world: DeployerWorld) -> None:
    owner = "alice.3bot"
    world.network(owner)
    sol = world.deploy(owner, "ubuntu", ubuntu_spec(world, owner, "box"))
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    shown = world.client().get(f"/api/solutions/{sol['id']}", headers=world.headers(owner)).json
    ip = shown["IPv4 Address"]
    assert shown["outputs"]["ssh"] == f"ssh root@{ip}"
    assert any(e["message"].startswith("container deployed, IP ") for e in shown["events"])
    _cancel_and_check(world, owner, str(sol["id"]))


def test_flist_with_a_volume_end_to_end(world: DeployerWorld) -> None:
    owner = "alice.3bot"
    world.network(owner)
    spec = {"name": "web", "where": {"pool_id": world.pool(owner)}, "network": "net",
            "flist": "https://hub.grid.tf/tf-official-apps/redis_zinit.flist", "volume": {"size": 5},
            "corex": False, "entrypoint": "/bin/redis-server", "environment": {"MODE": "test"},
            "secret_environment": ["REDIS_PASSWORD"]}  # fmt: skip
    refused = world.submit(owner, "flist", {**spec, "name": "nosecret"})
    assert not refused["ok"] and refused["errors"][0]["field"] == "env_REDIS_PASSWORD"  # value: a secret
    sol = world.deploy(owner, "flist", spec, secrets={"env_REDIS_PASSWORD": "redis-s3cret"})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    rows = {w["kind"]: w for w in world.workloads(str(sol["id"]))}
    volume, container = rows["volume"], rows["container"]
    # The password is sealed to the node: neither the sent workload nor the stored spec holds it in clear.
    assert container["body"]["environment"] == {"MODE": "test"}
    assert set(container["body"]["secret_environment"]) == {"REDIS_PASSWORD"}
    assert "redis-s3cret" not in str(container["body"]) and "redis-s3cret" not in str(sol["spec"])
    assert container["body"]["volumes"] == [{"volume_id": f"{volume['grid_id']}-1", "mountpoint": "/data"}]
    assert volume["node_id"] == container["node_id"]
    _cancel_and_check(world, owner, str(sol["id"]))


def test_kubernetes_master_and_workers_on_distinct_nodes(world: DeployerWorld) -> None:
    owner = "alice.3bot"
    world.network(owner)
    pools = [world.pool(owner), world.pool(owner, key="second")]
    spec = {"name": "k3s", "workers": 2, "pool_ids": pools, "network": "net", "ssh_keys": [SSH_KEY]}
    sol = world.deploy(owner, "kubernetes", spec, secrets={"cluster_secret": "s3cret-value"})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    vms = [w for w in world.workloads(str(sol["id"])) if w["kind"] == "kubernetes"]
    assert len(vms) == 3 and len({vm["node_id"] for vm in vms}) == 3
    master = next(vm for vm in vms if vm["key"] == "master")
    workers = [vm for vm in vms if vm["key"] != "master"]
    assert all(w["body"]["master_ips"] == [master["body"]["ipaddress"]] for w in workers)
    assert all("s3cret-value" not in str(vm["body"]) for vm in vms)  # sealed to the node, never in clear
    shown = world.client().get(f"/api/solutions/{sol['id']}", headers=world.headers(owner)).json
    assert shown["Master IP"] == master["body"]["ipaddress"] and len(shown["Slave IPs"]) == 2
    _cancel_and_check(world, owner, str(sol["id"]))


def test_minio_master_slave_with_hdd_zdbs(world: DeployerWorld) -> None:
    owner = "alice.3bot"
    world.network(owner)
    pool = world.pool(owner)
    spec = {"name": "s3", "setup": "master_slave", "zdb_disk_type": "hdd", "data": 2, "parity": 1,
            "zdb_pool_ids": [pool], "primary": {"pool_id": pool}, "secondary": {"pool_id": pool},
            "network": "net", "access_key": "alice"}  # fmt: skip
    sol = world.deploy(owner, "minio", spec, secrets={"secret_key": "minio-secret-key"})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    rows = world.workloads(str(sol["id"]))
    zdbs = [w for w in rows if w["kind"] == "zdb"]
    assert len(zdbs) == 4 and all(z["body"]["disk_type"] == 0 for z in zdbs)  # the disk type the user chose
    containers = [w for w in rows if w["kind"] == "container"]
    assert len(containers) == 2
    assert all("minio-secret-key" not in str(c["body"]) for c in containers)
    shown = world.client().get(f"/api/solutions/{sol['id']}", headers=world.headers(owner)).json
    assert shown["outputs"]["Primary URL"].endswith(":9000")
    _cancel_and_check(world, owner, str(sol["id"]))


def test_a_stage_built_in_the_pass_that_saw_the_previous_one_deploy_uses_its_results(world: DeployerWorld) -> None:
    # A grid that deploys at once: the pass that sends the ZDBs sees them deployed by its own look, and builds
    # MinIO's containers from the ZDBs' results (namespace, address, port) in that same pass.
    owner = "instant.3bot"
    world.network(owner)
    pool = world.pool(owner)
    spec = {"name": "s3-instant", "setup": "single", "zdb_disk_type": "ssd", "data": 2, "parity": 1,
            "zdb_pool_ids": [pool], "primary": {"pool_id": pool}, "network": "net",
            "access_key": "instant"}  # fmt: skip
    world.admin("config", {"deploy_latency": {"default": 0}})
    try:
        sol = world.deploy(owner, "minio", spec, secrets={"secret_key": "minio-secret-key"})
    finally:
        world.healthy()
    assert sol["status"] == "deployed", (sol["error"], world.events(str(sol["id"])))
    _cancel_and_check(world, owner, str(sol["id"]))


def test_monitoring_end_to_end(world: DeployerWorld) -> None:
    owner = "alice.3bot"
    world.network(owner)
    pool = world.pool(owner)
    where = {"where": {"pool_id": pool}}
    spec = {"name": "mon", "ssh_key": SSH_KEY, "redis": where, "prometheus": where, "grafana": where, "network": "net"}
    sol = world.deploy(owner, "monitoring", spec)
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    rows = {w["key"]: w for w in world.workloads(str(sol["id"]))}
    redis_ip = rows["redis"]["body"]["network_connection"][0]["ipaddress"]
    assert rows["prometheus"]["body"]["logs"][0]["data"]["stdout"] == f"redis://{redis_ip}:6379/prometheus-stdout"
    listed = world.client().get("/api/solutions?type=monitoring", headers=world.headers(owner)).json["solutions"]
    assert [s["Name"] for s in listed] == ["mon"] and listed[0]["Redis IPv4"] == redis_ip
    _cancel_and_check(world, owner, str(sol["id"]))


def test_metadata_of_every_workload_decrypts_to_owner_and_solution(world: DeployerWorld) -> None:
    owner = "bob.3bot"
    net = world.network(owner)
    sol = world.deploy(owner, "ubuntu", ubuntu_spec(world, owner, "meta"))
    assert sol["status"] == "deployed"
    for solution_id in (str(sol["id"]), net):
        for row in world.workloads(solution_id):
            stored = world.grid_workload(row["grid_id"])
            record = world.identity.decrypt_metadata(stored["metadata"])
            assert record is not None and record["owner"] == owner
            assert record["solution_uuid"] == solution_id.replace("-", "")
            assert record["wl"] == row["id"]
    _cancel_and_check(world, owner, str(sol["id"]))


def test_another_access_point_joins_a_network_and_leaves_it(world: DeployerWorld) -> None:
    owner = "alice.3bot"
    net = world.deploy(owner, "network", {"name": "roam", "pool_ids": [world.pool(owner)]})
    assert net["status"] == "deployed"
    spec = {"name": "phone", "network": "roam", "pool_ids": [world.pool(owner)]}
    access = world.deploy(owner, "network_access", spec)
    assert access["status"] == "deployed", world.events(str(access["id"]))
    config = world.client().post(f"/api/solutions/{access['id']}/wireguard", headers=world.headers(owner))
    assert config.status_code == 200 and "PrivateKey = " in config.get_data(as_text=True)
    # Named after the first network-resource version carrying the access point (not the network's first NR).
    versions = sql("SELECT grid_id FROM deployer.workloads WHERE network_id = %s AND kind = 'network_resource' "
                   "AND grid_id IS NOT NULL ORDER BY id", net["network_id"])  # fmt: skip
    nr_ids = [r["grid_id"] for r in versions]
    named = int(config.headers["Content-Disposition"].split('filename="wg-')[1].removesuffix('.conf"'))
    assert named in nr_ids[1:], (named, nr_ids)
    subnets = sql("SELECT subnet::text AS s FROM deployer.network_subnets WHERE solution_id = %s", str(access["id"]))
    assert len(subnets) == 1
    latest = sql("SELECT DISTINCT ON (node_id) body FROM deployer.workloads WHERE network_id = %s AND kind = "
                 "'network_resource' AND state <> 'superseded' ORDER BY node_id, id DESC",
                 net["network_id"])  # fmt: skip
    ranges = {r for row in latest for p in row["body"]["peers"] for r in p["allowed_iprange"]}
    assert subnets[0]["s"] in ranges  # the new access point is routed by the network
    # Access points are not listed on their own, and do not keep the network alive.
    assert all(s["type"] != "network_access" for s in
               world.client().get("/api/solutions", headers=world.headers(owner)).json["solutions"])  # fmt: skip
    assert world.cancel(owner, str(access["id"])).status_code == 202
    assert world.wait(str(access["id"]), ("cancelled",))["status"] == "cancelled"
    assert sql("SELECT * FROM deployer.network_subnets WHERE solution_id = %s", str(access["id"])) == []
    _cancel_and_check(world, owner, str(net["id"]))
