from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.common.capacity import Resources
from services.deployer.grid.kinds import Kind
from services.deployer.solutions.base import WorkloadView
from services.deployer.solutions.network import PLANNER, NetworkSpec
from tests.unit.deployer.solutions.conftest import context


def spec(**overrides: Any) -> NetworkSpec:
    return NetworkSpec.model_validate({"name": "net", "pool_ids": [3, 5, 8]} | overrides)


def nr(grid_id: int | None, node: str, iprange: str, state: str = "deployed") -> WorkloadView:
    fields = {"name": "alice.3bot_net", "network_iprange": "10.20.0.0/16", "iprange": iprange, "peers": []}
    return WorkloadView("nr", Kind.NETWORK_RESOURCE, "access", node, 3, grid_id, state, fields, {})


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "Net_1"},
        {"pool_ids": []},
        {"pool_ids": [0]},
        {"ip_range": "10.20.0.0/24"},
        {"ip_range": "8.8.0.0/16"},
        {"ip_range": "172.32.0.0/16"},
        {"ip_range": "10.20.1.0/16"},
        {"ip_range": "not a range"},
    ],
)
def test_rejects_invalid_specs(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        spec(**overrides)


@pytest.mark.parametrize("ip_range", ["10.20.0.0/16", "172.16.0.0/16", "172.31.0.0/16", "192.168.0.0/16"])
def test_accepts_private_16s(ip_range: str) -> None:
    assert spec(ip_range=ip_range).ip_range == ip_range


def test_asks_for_an_access_node_with_a_public_address_of_the_chosen_family() -> None:
    (ipv4,) = PLANNER.placements(spec())
    assert (ipv4.role, ipv4.pool_id, ipv4.alternatives) == ("access", 3, (5, 8))
    assert (ipv4.public_ipv4, ipv4.public_ipv6, ipv4.network, ipv4.resources) == (True, False, False, Resources())
    (ipv6,) = PLANNER.placements(spec(ipv6=True))
    assert (ipv6.public_ipv4, ipv6.public_ipv6) == (False, True)


def test_the_planner_builds_no_workload_itself() -> None:
    s = spec()
    ctx = context(PLANNER, s)
    assert PLANNER.network_of(s) == "net"
    assert [PLANNER.build(s, ctx, stage) for stage in range(3)] == [None, None, None]


def test_listing_shows_the_range_and_the_current_subnet_of_each_node() -> None:
    s = spec()
    workloads = [
        nr(12, "node-b", "10.20.3.0/24"),
        nr(10, "node-a", "10.20.2.0/24"),
        nr(11, "node-b", "10.20.9.0/24"),
        nr(13, "node-c", "10.20.4.0/24", state="deleted"),
    ]
    expected = {"IP Range": "10.20.0.0/16", "nodes": {"node-a": "10.20.2.0/24", "node-b": "10.20.3.0/24"}}
    assert PLANNER.listing(s, workloads) == {"Name": "net", "wids": [10, 11, 12]} | expected
    assert PLANNER.outputs(s, workloads) == expected


def test_listing_before_any_nr_shows_the_chosen_range() -> None:
    assert PLANNER.listing(spec(ip_range="10.30.0.0/16"), []) == {
        "Name": "net",
        "wids": [],
        "IP Range": "10.30.0.0/16",
        "nodes": {},
    }
