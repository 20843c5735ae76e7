from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.common.capacity import Resources
from services.deployer.solutions.network_access import PLANNER, NetworkAccessSpec
from tests.unit.deployer.solutions.conftest import context


def spec(**overrides: Any) -> NetworkAccessSpec:
    return NetworkAccessSpec.model_validate({"name": "phone", "network": "net", "pool_ids": [3, 5]} | overrides)


@pytest.mark.parametrize("overrides", [{"network": "Net!"}, {"pool_ids": []}, {"name": ""}, {"extra": 1}])
def test_rejects_invalid_specs(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        spec(**overrides)


@pytest.mark.parametrize(("ipv6", "v4", "v6"), [(False, True, False), (True, False, True)])
def test_asks_for_one_access_node_with_a_public_address_of_the_chosen_family(ipv6: bool, v4: bool, v6: bool) -> None:
    (access,) = PLANNER.placements(spec(ipv6=ipv6))
    assert (access.role, access.pool_id, access.alternatives) == ("access", 3, (5,))
    assert access.resources == Resources() and not access.network
    assert (access.public_ipv4, access.public_ipv6) == (v4, v6)


def test_lives_in_the_named_network_and_has_no_workloads_of_its_own() -> None:
    assert PLANNER.network_of(spec()) == "net"
    assert PLANNER.build(spec(), context(PLANNER, spec()), 0) is None
    assert PLANNER.listing(spec(), []) == {"Name": "phone", "wids": [], "Network": "net"}
    assert "PrivateKey" not in str(PLANNER.outputs(spec(), []))
