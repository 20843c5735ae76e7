from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.common.capacity import Resources
from services.deployer.grid.kinds import Kind
from services.deployer.solutions.ubuntu import PLANNER, UbuntuSpec
from tests.unit.deployer.solutions.conftest import NETWORK, NODE_ID, SSH_KEY, run


def spec(**overrides: Any) -> UbuntuSpec:
    data: dict[str, Any] = {"name": "box", "where": {"pool_id": 7}, "network": "net", "ssh_key": SSH_KEY}
    return UbuntuSpec.model_validate(data | overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "Box"},
        {"name": "-box"},
        {"name": "b" * 32},
        {"ssh_key": "not-a-key"},
        {"ssh_key": ""},
        {"resources": {"memory": 512}},
        {"resources": {"cpu": 0}},
        {"resources": {"disk": 100}},
        {"version": "ubuntu-16.04"},
        {"where": {"pool_id": 7, "ip": "10.1.2.300"}},
        {"where": {"pool_id": 7, "node_id": "0OIl"}},
        {"network": "My Net"},
        {"extra": 1},
    ],
)
def test_rejects_invalid_specs(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        spec(**overrides)


def test_uses_the_first_line_of_an_uploaded_key_file() -> None:
    assert spec(ssh_key=f"{SSH_KEY}\nssh-rsa AAAAB3 other\n").ssh_key == SSH_KEY


def test_places_one_container_with_the_users_choices() -> None:
    where = {"pool_id": 7, "node_id": NODE_ID, "ip": "10.1.3.9"}
    (placement,) = PLANNER.placements(spec(where=where, resources={"cpu": 2, "memory": 3000, "disk": 2048}))
    assert placement.role == "container"
    assert (placement.pool_id, placement.node_id, placement.ip, placement.network) == (7, NODE_ID, "10.1.3.9", True)
    assert placement.resources == Resources(cru=2, mru=3, sru=2)


def test_builds_one_ubuntu_container_then_stops() -> None:
    result = run(PLANNER, spec(version="ubuntu-18.04", public_ipv6=True))
    assert len(result.stages) == 1
    (plan,) = result.stages[0]
    assert (plan.key, plan.kind, plan.role) == ("container", Kind.CONTAINER, "container")
    assert plan.fields["flist"] == "https://hub.grid.tf/tf-bootable/3bot-ubuntu-18.04.flist"
    assert plan.fields["entrypoint"] == "/bin/bash /start.sh"
    assert plan.fields["environment"] == {"pub_key": SSH_KEY}
    assert plan.fields["interactive"] is False
    assert plan.fields["network_connection"] == [{"network_id": NETWORK, "ipaddress": "10.1.2.2", "public_ip6": True}]
    assert plan.fields["capacity"] == {"cpu": 1, "memory": 1024, "disk_size": 256, "disk_type": 1}
    assert PLANNER.build(spec(), result.ctx, 1) is None


def test_forwards_logs_when_asked() -> None:
    logs = {"host": "10.1.9.9", "port": 6379, "channel_name": "box"}
    (plan,) = run(PLANNER, spec(logs=logs)).stages[0]
    assert plan.fields["logs"] == [
        {
            "type": "redis",
            "data": {"stdout": "redis://10.1.9.9:6379/box-stdout", "stderr": "redis://10.1.9.9:6379/box-stderr"},
        }
    ]


def test_listing_and_outputs() -> None:
    s = spec()
    views = run(PLANNER, s).views()
    assert PLANNER.listing(s, views) == {
        "Name": "box",
        "wids": [1001],
        "IPv4 Address": "10.1.2.2",
        "IPv6 Address": "",
        "Node": "node-container",
        "Pool": 100,
        "Network": "net",
        "CPU": 1,
        "Memory": 1024,
        "RootFS Type": "SSD",
        "RootFS Size": 256,
    }
    assert PLANNER.outputs(s, views) == {"IPv4 Address": "10.1.2.2", "ssh": "ssh root@10.1.2.2"}


def test_has_no_secrets() -> None:
    assert (UbuntuSpec.secret_names, UbuntuSpec.generated_secrets) == ((), ())
