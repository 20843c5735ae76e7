"""Gitea (SOLUTIONS §3.8): the workloads in order, each in the right pool and on the right kind of node."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.deployer.solutions.base import Sealed
from services.deployer.solutions.gitea import PLANNER, GiteaSpec
from tests.unit.deployer.solutions.conftest import (
    MARKETPLACE,
    SSH_KEY,
    assert_tunnelled_layout,
    run,
)


def spec(**overrides: Any) -> GiteaSpec:
    data = {"name": "git", "where": {"pool_id": 7}, "network": "net", "ssh_key": SSH_KEY, "gateway_pool_ids": [3]}
    return GiteaSpec.model_validate(data | overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"db_name": "pg; rm -rf /"},
        {"db_user": "$(reboot)"},
        {"repository": "my repo"},
        {"repository": "répo"},
        {"repository": "r" * 65},
        {"db_name": "a.b"},
        {"gateway_pool_ids": []},
        {"name": "git.example"},
        {"name": "g" * 300},
    ],
)
def test_rejects_hostile_or_invalid_fields(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        spec(**overrides)
    assert info.value.errors()[0]["loc"][0] == next(iter(overrides))


def test_four_workloads_in_order_each_in_its_pool() -> None:
    result = run(PLANNER, spec(db_name="gitea", db_user="git", repository="code"))
    fqdn = "alice-git.gw1.grid.example"
    container = assert_tunnelled_layout(result, fqdn, local="3000", local_tls="3000", colocated=False)
    assert container["flist"] == MARKETPLACE.flists["gitea"] and container["entrypoint"] == "/start_gitea.sh"
    assert container["environment"] == {
        "pub_key": SSH_KEY, "POSTGRES_DB": "gitea", "DB_TYPE": "postgres", "DB_HOST": "localhost:5432",
        "POSTGRES_USER": "git", "APP_NAME": "code", "ROOT_URL": f"https://{fqdn}", "HTTP_PORT": "3000",
        "DOMAIN": fqdn,
    }  # fmt: skip
    assert container["secret_environment"] == {"POSTGRES_PASSWORD": Sealed("db_password")}
    assert container["network_connection"][0]["public_ip6"] is True
    assert container["capacity"] == {"cpu": 2, "memory": 1024, "disk_size": 6144, "disk_type": 1}


def test_the_gateway_is_searched_in_the_users_pools_with_the_owner_label() -> None:
    (request,) = PLANNER.gateways(spec(gateway_pool_ids=[3, 9]))
    assert (request.role, request.pool_ids, request.label, request.owner_prefix) == ("gateway", (3, 9), "git",
                                                                                     "advanced")  # fmt: skip


def test_listing_and_outputs_show_the_domain_and_no_secret() -> None:
    result = run(PLANNER, spec())
    listing = PLANNER.listing(spec(), result.views())
    assert listing["Domain"] == "alice-git.gw1.grid.example"
    assert {"IPv4 Address", "IPv6 Address", "Node", "Pool", "Network", "CPU", "Memory", "RootFS Type",
            "RootFS Size"} <= set(listing)  # fmt: skip
    assert listing["Network"] == "net" and listing["CPU"] == 2
    outputs = PLANNER.outputs(spec(), result.views())
    assert outputs["URL"] == "https://alice-git.gw1.grid.example"
    assert outputs["ssh"] == f"ssh git@{result.ctx.placed['container'].ip}"
