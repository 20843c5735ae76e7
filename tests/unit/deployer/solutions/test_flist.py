from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.common.capacity import Resources
from services.deployer.grid.kinds import Kind
from services.deployer.solutions.flist import PLANNER, FlistSpec
from tests.unit.deployer.solutions.conftest import NETWORK, run

FLIST = "https://hub.grid.tf/alice.3bot/nginx-latest.flist"


def spec(**overrides: Any) -> FlistSpec:
    data: dict[str, Any] = {"name": "web", "where": {"pool_id": 7}, "network": "net", "flist": FLIST}
    return FlistSpec.model_validate(data | overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"flist": "https://example.com/nginx.flist"},
        {"flist": "https://example.com/hub.grid.tf/nginx.flist"},
        {"flist": "http://hub.grid.tf/alice.3bot/nginx.flist"},
        {"flist": "https://hub.grid.tf/alice.3bot/nginx.flist.md"},
        {"flist": "https://hub.grid.tf/alice.3bot/ngi nx.flist"},
        {"flist": "https://hub.grid.tf/" + "a" * 500 + ".flist"},
        {"entrypoint": "/bin/nginx"},
        {"environment": {"1BAD": "x"}},
        {"environment": {"BAD-KEY": "x"}},
        {"environment": {"OK": "x" * 5000}},
        {"environment": {f"K{i}": "v" for i in range(65)}},
        {"volume": {"size": 0}},
        {"volume": {"mountpoint": "data"}},
        {"volume": {"mountpoint": "/"}},
        {"resources": {"memory": 1023}},
    ],
)
def test_rejects_invalid_specs(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        spec(**overrides)


def test_volume_defaults_to_10_gib_at_data() -> None:
    volume = spec(volume={}).volume
    assert volume is not None and (volume.size, volume.mountpoint) == (10, "/data")


def test_query_adds_the_volume_gib_to_sru() -> None:
    (placement,) = PLANNER.placements(spec(volume={"size": 20}, where={"pool_id": 7, "ip": "10.1.4.4"}))
    assert (placement.role, placement.pool_id, placement.ip) == ("container", 7, "10.1.4.4")
    assert placement.resources == Resources(cru=1, mru=1, sru=1 + 20)


def test_without_volume_the_container_is_the_only_stage() -> None:
    result = run(PLANNER, spec())
    assert [[p.key for p in stage] for stage in result.stages] == [["container"]]
    container = result.stages[0][0].fields
    assert container["volumes"] == []
    assert container["network_connection"] == [{"network_id": NETWORK, "ipaddress": "10.1.2.2", "public_ip6": False}]


def test_volume_first_then_the_container_mounts_it_by_grid_id() -> None:
    result = run(PLANNER, spec(volume={"size": 5, "mountpoint": "/var/lib/app"}))
    (volume,), (container,) = result.stages
    assert (volume.key, volume.kind, volume.role, volume.fields) == (
        "volume",
        Kind.VOLUME,
        "container",
        {"size": 5, "type": 1},
    )
    assert container.kind is Kind.CONTAINER
    volume_id = result.deployed["volume"].grid_id
    assert container.fields["volumes"] == [{"volume_id": f"{volume_id}-1", "mountpoint": "/var/lib/app"}]
    # The root disk stays what the user asked: the volume is paid once, as a volume.
    assert container.fields["capacity"]["disk_size"] == 256


def test_corex_runs_interactive_with_the_image_default_entrypoint() -> None:
    (container,) = run(PLANNER, spec()).stages[0]
    assert (container.fields["interactive"], container.fields["entrypoint"]) == (True, "")


def test_without_corex_the_entrypoint_and_environment_are_sent() -> None:
    env = {"MODE": "prod", "_X1": ""}
    (container,) = run(PLANNER, spec(corex=False, entrypoint="/bin/nginx -g 'daemon off;'", environment=env)).stages[0]
    assert container.fields["interactive"] is False
    assert container.fields["entrypoint"] == "/bin/nginx -g 'daemon off;'"
    assert container.fields["environment"] == env
    assert container.fields["flist"] == FLIST


def test_listing_keys() -> None:
    s = spec()
    assert list(PLANNER.listing(s, run(PLANNER, s).views())) == [
        "Name",
        "wids",
        "IPv4 Address",
        "IPv6 Address",
        "Node",
        "Pool",
        "Network",
        "CPU",
        "Memory",
        "RootFS Type",
        "RootFS Size",
    ]
    with_volume = spec(volume={"size": 3})
    listing = PLANNER.listing(with_volume, run(PLANNER, with_volume).views())
    assert listing["wids"] == [1001, 1002]
    assert (listing["Volume Size"], listing["Volume Mount Point"]) == ("3GiB", "/data")


def test_outputs_corex_urls_or_workload_id() -> None:
    s = spec()
    assert PLANNER.outputs(s, run(PLANNER, s).views()) == {
        "IPv4 Address": "10.1.2.2",
        "coreX": "open http://10.1.2.2:7681/api/process/start?arg[]=/bin/bash, then http://10.1.2.2:7681 "
        "and click the job to get a shell",
    }
    plain = spec(corex=False)
    assert PLANNER.outputs(plain, run(PLANNER, plain).views()) == {"IPv4 Address": "10.1.2.2", "Workload ID": 1001}
