from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from services.common.capacity import Resources
from services.deployer.grid.kinds import Kind
from services.deployer.solutions.base import Sealed
from services.deployer.solutions.kubernetes import PLANNER, KubernetesSpec, spread
from tests.unit.deployer.solutions.conftest import NETWORK, SSH_KEY, run

RSA_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC bob@laptop"


def spec(**overrides: Any) -> KubernetesSpec:
    data: dict[str, Any] = {"name": "k3s", "pool_ids": [3, 5], "network": "net", "ssh_keys": [SSH_KEY, RSA_KEY]}
    return KubernetesSpec.model_validate(data | overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"workers": 0},
        {"workers": 21},
        {"size": 3},
        {"pool_ids": []},
        {"pool_ids": [3, 3]},
        {"ssh_keys": []},
        {"ssh_keys": ["nonsense"]},
        {"workers": 1, "worker_ips": ["10.1.3.2", "10.1.4.2"]},
        {"master_ip": "10.1.2.2", "worker_ips": ["10.1.2.2"]},
        {"worker_ips": ["10.1.3"]},
        {"cluster_secret": "plaintext"},
    ],
)
def test_rejects_invalid_specs(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        spec(**overrides)


def test_declares_the_cluster_secret() -> None:
    assert KubernetesSpec.secret_names == ("cluster_secret",)
    assert KubernetesSpec.generated_secrets == ()


def test_spread_is_round_robin_with_the_other_pools_as_alternatives() -> None:
    assert spread((1, 2, 3), 4) == [(1, (2, 3)), (2, (3, 1)), (3, (1, 2)), (1, (2, 3))]
    assert spread((9,), 2) == [(9, ()), (9, ())]


@pytest.mark.parametrize(("size", "query"), [(1, Resources(1, 2, 50)), (2, Resources(2, 4, 100))])
def test_places_master_and_workers_on_distinct_nodes_across_pools(size: int, query: Resources) -> None:
    placements = PLANNER.placements(spec(size=size, workers=3, master_ip="10.1.2.9", worker_ips=[None, "10.1.3.9"]))
    assert [p.role for p in placements] == ["master", "worker-1", "worker-2", "worker-3"]
    assert [p.pool_id for p in placements] == [3, 5, 3, 5]
    assert [p.alternatives for p in placements] == [(5,), (3,), (5,), (3,)]
    assert [p.ip for p in placements] == ["10.1.2.9", None, "10.1.3.9", None]
    assert {(p.group, p.network, p.resources) for p in placements} == {("vm", True, query)}


def test_all_vms_go_in_one_stage() -> None:
    s = spec(size=2, workers=2)
    result = run(PLANNER, s)
    (stage,) = result.stages
    master, *workers = stage
    assert [p.key for p in stage] == ["master", "worker-1", "worker-2"]
    assert {p.kind for p in stage} == {Kind.KUBERNETES}
    assert master.fields == {
        "size": 2,
        "network_id": NETWORK,
        "ipaddress": "10.1.2.2",
        "cluster_secret": Sealed("cluster_secret"),
        "master_ips": [],
        "ssh_keys": [SSH_KEY, RSA_KEY],
        "stats_aggregator": [],
    }
    assert json.loads(master.description) == {"role": "master"}
    for i, worker in enumerate(workers):
        assert worker.fields["ipaddress"] == f"10.1.{i + 3}.2"
        assert worker.fields["master_ips"] == ["10.1.2.2"]
        assert worker.fields["cluster_secret"] == Sealed("cluster_secret")
        assert json.loads(worker.description) == {"role": "worker"}
    assert PLANNER.build(s, result.ctx, 1) is None


@pytest.mark.parametrize(("size", "shown"), [(1, (1, 2048, "50GiB")), (2, (2, 4096, "100GiB"))])
def test_listing(size: int, shown: tuple[int, int, str]) -> None:
    s = spec(size=size, workers=2)
    listing = PLANNER.listing(s, run(PLANNER, s).views())
    assert listing == {
        "Name": "k3s",
        "wids": [1001, 1002, 1003],
        "Network": "net",
        "Master IP": "10.1.2.2",
        "Master Pool": 100,
        "Slave IPs": ["10.1.3.2", "10.1.4.2"],
        "Slave Pools": [101, 102],
        "CPU": shown[0],
        "Memory": shown[1],
        "Disk Size": shown[2],
    }


def test_outputs_an_ssh_command_per_vm() -> None:
    s = spec()
    assert PLANNER.outputs(s, run(PLANNER, s).views()) == {
        "master": {"Workload ID": 1001, "IP": "10.1.2.2", "ssh": "ssh rancher@10.1.2.2"},
        "worker-1": {"Workload ID": 1002, "IP": "10.1.3.2", "ssh": "ssh rancher@10.1.3.2"},
    }
