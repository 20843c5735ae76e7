from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.common.capacity import Resources
from services.deployer.grid.kinds import Kind
from services.deployer.solutions.monitoring import PLANNER, MonitoringSpec
from tests.unit.deployer.solutions.conftest import SSH_KEY, run


def spec(**overrides: Any) -> MonitoringSpec:
    data: dict[str, Any] = {
        "name": "mon",
        "ssh_key": SSH_KEY,
        "redis": {"where": {"pool_id": 3}},
        "prometheus": {
            "where": {"pool_id": 5, "ip": "10.1.7.7"},
            "resources": {"cpu": 2, "memory": 2048, "disk": 1024},
        },
        "grafana": {"where": {"pool_id": 8}},
        "network": "net",
    }
    return MonitoringSpec.model_validate(data | overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"ssh_key": ""},
        {"volume_size": 0},
        {"redis": {"where": {"pool_id": 3}, "resources": {"memory": 100}}},
        {"grafana": {"resources": {}}},
        {"network": "Net!"},
    ],
)
def test_rejects_invalid_specs(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        spec(**overrides)


def test_places_redis_prometheus_grafana_with_the_volume_in_prometheus_query() -> None:
    placements = PLANNER.placements(spec(volume_size=30))
    assert [(p.role, p.pool_id, p.ip) for p in placements] == [
        ("redis", 3, None),
        ("prometheus", 5, "10.1.7.7"),
        ("grafana", 8, None),
    ]
    assert [p.resources for p in placements] == [
        Resources(cru=1, mru=1, sru=1),
        Resources(cru=2, mru=2, sru=1 + 30),
        Resources(cru=1, mru=1, sru=1),
    ]


def test_volume_then_one_container_per_stage() -> None:
    s = spec(volume_size=30)
    result = run(PLANNER, s)
    assert [[(p.key, p.kind, p.role) for p in stage] for stage in result.stages] == [
        [("prometheus-volume", Kind.VOLUME, "prometheus")],
        [("redis", Kind.CONTAINER, "redis")],
        [("prometheus", Kind.CONTAINER, "prometheus")],
        [("grafana", Kind.CONTAINER, "grafana")],
    ]
    assert result.plans["prometheus-volume"].fields == {"size": 30, "type": 1}
    assert PLANNER.build(s, result.ctx, 4) is None


def test_containers_use_the_official_images_ssh_key_and_log_to_redis() -> None:
    result = run(PLANNER, spec())
    redis, prometheus, grafana = (result.plans[k].fields for k in ("redis", "prometheus", "grafana"))
    assert redis["flist"] == "https://hub.grid.tf/tf-official-apps/redis_zinit.flist"
    assert prometheus["flist"] == "https://hub.grid.tf/tf-official-apps/prometheus:latest.flist"
    assert grafana["flist"].endswith("/grafana-grafana-latest.flist")
    for fields in (redis, prometheus, grafana):
        assert fields["environment"] == {"SSH_KEY": SSH_KEY}
        assert fields["entrypoint"] == ""
    assert redis["logs"] == []
    for name, fields in (("prometheus", prometheus), ("grafana", grafana)):
        base = f"redis://10.1.2.2:6379/{name}"
        assert fields["logs"] == [{"type": "redis", "data": {"stdout": f"{base}-stdout", "stderr": f"{base}-stderr"}}]
    volume_id = result.deployed["prometheus-volume"].grid_id
    assert prometheus["volumes"] == [{"volume_id": f"{volume_id}-1", "mountpoint": "/data"}]
    assert redis["volumes"] == grafana["volumes"] == []
    # Not paying twice: Prometheus' root disk is what the user asked, the volume is separate.
    assert prometheus["capacity"] == {"cpu": 2, "memory": 2048, "disk_size": 1024, "disk_type": 1}


def test_listing_keys() -> None:
    s = spec()
    listing = PLANNER.listing(s, run(PLANNER, s).views())
    per = ("IPv4", "IPv6", "Node", "Pool", "CPU", "Memory", "RootFS Type", "RootFS Size")
    assert list(listing) == ["Name", "wids", *(f"{x} {k}" for x in ("Redis", "Prometheus", "Grafana") for k in per)]
    assert listing["wids"] == [1001, 1002, 1003, 1004]
    assert (listing["Prometheus IPv4"], listing["Prometheus Node"], listing["Prometheus CPU"]) == (
        "10.1.7.7",
        "node-prometheus",
        2,
    )


def test_outputs() -> None:
    s = spec()
    assert PLANNER.outputs(s, run(PLANNER, s).views()) == {
        "Workload IDs": [1001, 1002, 1003, 1004],
        "ssh": "ssh root@10.1.7.7",
        "Prometheus": "http://10.1.7.7:9090/graph",
        "Grafana": "http://10.1.4.2:3000",
        "Redis": "redis-cli -h 10.1.2.2",
    }
