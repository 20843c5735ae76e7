from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from services.common.capacity import Resources
from services.deployer.grid.kinds import Kind
from services.deployer.solutions.base import Deployed, Sealed, SealedTemplate
from services.deployer.solutions.minio import PLANNER, MinioSpec, zdb_address
from tests.unit.deployer.solutions.conftest import NETWORK, SSH_KEY, context, run

SECONDARY = {"pool_id": 9, "ip": "10.1.8.8"}


def spec(**overrides: Any) -> MinioSpec:
    data: dict[str, Any] = {
        "name": "s3",
        "zdb_pool_ids": [3, 5],
        "primary": {"pool_id": 7},
        "network": "net",
        "access_key": "alice",
    }
    return MinioSpec.model_validate(data | overrides)


def master_slave(**overrides: Any) -> MinioSpec:
    return spec(setup="master_slave", secondary=SECONDARY, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"setup": "master_slave"},
        {"secondary": SECONDARY},
        {"setup": "cluster"},
        {"zdb_disk_type": "nvme"},
        {"data": 0},
        {"parity": 0},
        {"memory": 512},
        {"cpu": 0},
        {"access_key": "al"},
        {"zdb_pool_ids": []},
        {"ssh_key": "nope"},
        {"secret_key": "secret12345"},
        {"disk": 1024},
    ],
)
def test_rejects_invalid_specs(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        spec(**overrides)


def test_declares_its_secrets() -> None:
    assert MinioSpec.secret_names == ("secret_key",)
    assert MinioSpec.generated_secrets == ("zdb_password",)


@pytest.mark.parametrize(("disk", "zdb_query"), [("ssd", Resources(sru=10)), ("hdd", Resources(hru=10))])
def test_places_zdbs_round_robin_on_the_chosen_disk_then_the_minio_containers(disk: str, zdb_query: Resources) -> None:
    placements = PLANNER.placements(master_slave(zdb_disk_type=disk, data=3, parity=2, cpu=2, memory=3000))
    zdbs, minios = placements[:-2], placements[-2:]
    assert [p.role for p in zdbs] == ["zdb-1", "zdb-2", "zdb-3", "zdb-4", "zdb-5", "zdb-6"]
    assert [p.pool_id for p in zdbs] == [3, 5, 3, 5, 3, 5]
    assert {(p.group, p.network, p.resources) for p in zdbs} == {("zdb", False, zdb_query)}
    assert [(p.role, p.pool_id, p.ip, p.network) for p in minios] == [
        ("primary", 7, None, True),
        ("secondary", 9, "10.1.8.8", True),
    ]
    assert {p.resources for p in minios} == {Resources(cru=2, mru=3, sru=10)}


@pytest.mark.parametrize(("disk", "wire"), [("ssd", 1), ("hdd", 0)])
def test_stage_0_is_every_zdb_with_the_chosen_disk_and_the_sealed_password(disk: str, wire: int) -> None:
    zdbs = run(PLANNER, spec(zdb_disk_type=disk)).stages[0]
    assert [z.key for z in zdbs] == ["zdb-1", "zdb-2", "zdb-3"]
    assert {z.kind for z in zdbs} == {Kind.ZDB}
    assert all(z.role == z.key for z in zdbs)
    for zdb in zdbs:
        assert zdb.fields == {
            "size": 10,
            "mode": 0,
            "password": Sealed("zdb_password"),
            "disk_type": wire,
            "public": False,
            "stats_aggregator": [],
        }


def test_single_primary_volume_then_container_with_every_shard() -> None:
    result = run(
        PLANNER, spec(data=2, parity=1, ssh_key=SSH_KEY, logs={"host": "10.1.9.9", "port": 6379, "channel_name": "s3"})
    )
    assert [[p.key for p in stage] for stage in result.stages] == [
        ["zdb-1", "zdb-2", "zdb-3"],
        ["primary-volume"],
        ["primary"],
    ]
    (volume,), (container,) = result.stages[1:]
    assert (volume.kind, volume.role, volume.fields) == (Kind.VOLUME, "primary", {"size": 1, "type": 1})
    fields = container.fields
    assert fields["flist"] == "https://hub.grid.tf/tf-official-apps/minio:latest.flist"
    assert fields["capacity"] == {"cpu": 1, "memory": 1024, "disk_size": 256, "disk_type": 1}
    assert fields["volumes"] == [{"volume_id": f"{result.deployed['primary-volume'].grid_id}-1", "mountpoint": "/data"}]
    assert fields["network_connection"] == [{"network_id": NETWORK, "ipaddress": "10.1.5.2", "public_ip6": False}]
    assert fields["environment"] == {
        "DATA": "2",
        "PARITY": "1",
        "ACCESS_KEY": "alice",
        "SSH_KEY": SSH_KEY,
        "MINIO_PROMETHEUS_AUTH_TYPE": "public",
    }
    shards = ",".join(f"ns-zdb-{i}:{{zdb_password}}@[2a02:1802:5e::{i}]:9900" for i in (1, 2, 3))
    assert fields["secret_environment"] == {
        "SHARDS": SealedTemplate(shards, ("zdb_password",)),
        "SECRET_KEY": Sealed("secret_key"),
    }
    assert fields["logs"][0]["data"]["stdout"] == "redis://10.1.9.9:6379/s3-stdout"
    assert PLANNER.build(spec(), result.ctx, 3) is None


def test_master_slave_keeps_the_last_zdb_for_the_transaction_log() -> None:
    result = run(PLANNER, master_slave(data=2, parity=1))
    assert [[p.key for p in stage] for stage in result.stages] == [
        ["zdb-1", "zdb-2", "zdb-3", "zdb-4"],
        ["primary-volume", "secondary-volume"],
        ["primary", "secondary"],
    ]
    assert result.plans["secondary-volume"].role == "secondary"
    primary, secondary = result.stages[2]
    assert secondary.role == "secondary"
    shards = ",".join(f"ns-zdb-{i}:{{zdb_password}}@[2a02:1802:5e::{i}]:9900" for i in (1, 2, 3))
    tlog = SealedTemplate("ns-zdb-4:{zdb_password}@[2a02:1802:5e::4]:9900", ("zdb_password",))
    assert primary.fields["secret_environment"]["SHARDS"] == SealedTemplate(shards, ("zdb_password",))
    assert primary.fields["secret_environment"]["TLOG"] == tlog
    assert "MASTER" not in primary.fields["secret_environment"]
    assert secondary.fields["secret_environment"]["MASTER"] == tlog
    assert "TLOG" not in secondary.fields["secret_environment"]
    assert secondary.fields["network_connection"][0]["ipaddress"] == "10.1.8.8"
    assert secondary.fields["volumes"][0]["volume_id"] == f"{result.deployed['secondary-volume'].grid_id}-1"


def test_shards_accept_the_older_single_ip_result_and_escape_braces() -> None:
    s = spec(data=1, parity=1)
    ctx = context(PLANNER, s)
    deployed = {
        "zdb-1": Deployed("zdb-1", 1, "n1", {"Namespace": "ns{1}", "IP": "10.9.9.9", "Port": 9900}),
        "zdb-2": Deployed("zdb-2", 2, "n2", {"Namespace": "ns2", "IPs": ["2a02::2"], "Port": 9901}),
        "primary-volume": Deployed("primary-volume", 3, "n3", {}),
    }
    (container,) = PLANNER.build(s, replace(ctx, deployed=deployed), 2) or []
    shards = container.fields["secret_environment"]["SHARDS"]
    assert shards.template.format(zdb_password="p4ss") == "ns{1}:p4ss@[10.9.9.9]:9900,ns2:p4ss@[2a02::2]:9901"


def test_a_zdb_without_namespace_fails_the_build_clearly() -> None:
    s = spec(data=1, parity=1)
    ctx = context(PLANNER, s)
    deployed = {
        "zdb-1": Deployed("zdb-1", 1, "n1", {}),
        "zdb-2": Deployed("zdb-2", 2, "n2", {"Namespace": "ns2", "IPs": ["2a02::2"], "Port": 9901}),
        "primary-volume": Deployed("primary-volume", 3, "n3", {}),
    }
    with pytest.raises(ValueError, match="zdb-1"):
        PLANNER.build(s, replace(ctx, deployed=deployed), 2)


def test_listing_keys_and_outputs() -> None:
    single = spec()
    listing = PLANNER.listing(single, run(PLANNER, single).views())
    primary_keys = [f"Primary {k}" for k in ("IPv4", "IPv6", "Pool", "CPU", "Memory", "RootFS Type", "RootFS Size")]
    assert list(listing) == ["Name", "wids", "Network", *primary_keys]
    assert (listing["Primary IPv4"], listing["Primary Pool"], listing["Primary RootFS Size"]) == ("10.1.5.2", 103, 256)
    assert PLANNER.outputs(single, run(PLANNER, single).views()) == {"Primary URL": "http://10.1.5.2:9000"}

    both = master_slave()
    views = run(PLANNER, both).views()
    secondary_keys = [k.replace("Primary", "Secondary") for k in primary_keys]
    assert list(PLANNER.listing(both, views)) == ["Name", "wids", "Network", *primary_keys, *secondary_keys]
    assert PLANNER.listing(both, views)["wids"] == list(range(1001, 1009))
    assert PLANNER.outputs(both, views) == {
        "Primary URL": "http://10.1.6.2:9000",
        "Secondary URL": "http://10.1.8.8:9000",
    }


def test_a_sealed_template_names_only_its_secrets() -> None:
    assert SealedTemplate("a:{zdb_password}@b,{{literal}}", ("zdb_password",)).template.format(zdb_password="x") == (
        "a:x@b,{literal}"
    )
    for template in ("{other}", "{}", "{zdb_password!r}", "{zdb_password:>9}"):
        with pytest.raises(ValueError, match="not one of the secrets"):
            SealedTemplate(template, ("zdb_password",))


@pytest.mark.parametrize(
    "ips",
    [
        ["2a02:1802:5e::1", "185.69.166.2", "200:abcd::1", "10.0.0.10"],
        ["185.69.166.2", "10.0.0.10", "200:abcd::1", "2a02:1802:5e::1"],
        ["10.0.0.10", "200:abcd::1", "2a02:1802:5e::1", "185.69.166.2"],
        ["fe80::1", "not an address", "2a02:1802:5e::1"],
    ],
)
def test_shard_uses_the_public_ipv6_whatever_the_order(ips: list[str]) -> None:
    """Nodes list the IPv4 or their LAN address first as often as the public IPv6 (GRID_API §5.10)."""
    assert zdb_address(ips) == "2a02:1802:5e::1"
    s = spec(data=1, parity=1)
    deployed = {
        "zdb-1": Deployed("zdb-1", 1, "n1", {"Namespace": "ns1", "IPs": ips, "Port": 9900}),
        "zdb-2": Deployed("zdb-2", 2, "n2", {"Namespace": "ns2", "IPs": ips[::-1], "Port": 9900}),
        "primary-volume": Deployed("primary-volume", 3, "n3", {}),
    }
    (container,) = PLANNER.build(s, replace(context(PLANNER, s), deployed=deployed), 2) or []
    shards = container.fields["secret_environment"]["SHARDS"].template.format(zdb_password="p")
    assert shards == "ns1:p@[2a02:1802:5e::1]:9900,ns2:p@[2a02:1802:5e::1]:9900"


def test_shard_address_falls_back_to_ipv4_then_yggdrasil_then_the_only_address() -> None:
    assert zdb_address(["10.0.0.10", "200:abcd::1", "185.69.166.2"]) == "185.69.166.2"
    assert zdb_address(["10.0.0.10", "200:abcd::1"]) == "200:abcd::1"  # a hidden node
    assert zdb_address(["10.9.9.9"]) == "10.9.9.9"
    assert zdb_address([None, 5]) is None and zdb_address([]) is None
