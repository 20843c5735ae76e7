"""Gollum (issue 12): the workloads in order, each in the right pool and on the right kind of node; the token only
sealed; every free-text field either refused or, in the entrypoint, one shell word."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from pydantic import ValidationError

from services.deployer.solutions.base import Sealed
from services.deployer.solutions.gollum import PLANNER, GollumSpec, entrypoint
from tests.unit.deployer.solutions.conftest import (
    GATEWAY_POOL,
    MARKETPLACE,
    SSH_KEY,
    assert_tunnelled_layout,
    run,
)

BASE = {"name": "wiki", "where": {"pool_id": 7}, "network": "net", "ssh_key": SSH_KEY, "email": "ops@example.com",
        "github_user": "alice-w", "github_email": "alice@example.org", "github_repo": "my.wiki",
        "parent_domain": "gw1.grid.example", "gateway_pool_ids": [3]}  # fmt: skip
SHELL = ["a;reboot", "$(id)", "`id`", "a b", "a|b", "a&&b", "a'b", 'a"b', "a\nb", "a>b", "*", "~root"]


def spec(**overrides: Any) -> GollumSpec:
    return GollumSpec.model_validate(BASE | overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        *({"email": f"x{bad}@example.com"} for bad in SHELL),
        *({"github_email": f"me@ex{bad}ample.com"} for bad in SHELL),
        *({"github_user": f"al{bad}ice"} for bad in SHELL),
        *({"github_repo": f"wi{bad}ki"} for bad in SHELL),
        {"email": "ops@example"},
        {"email": "é@example.com"},
        {"email": "a" * 300 + "@example.com"},
        {"github_user": "-alice"},
        {"github_user": "al--ice"},
        {"github_user": "a" * 40},
        {"github_repo": ".."},
        {"github_repo": "alice/wiki"},
        {"github_repo": "https://github.com/alice/wiki"},
        {"github_repo": "r" * 101},
        {"github_repo": "wïki"},
        {"parent_domain": "gw1.grid.example;ls"},
        {"parent_domain": "gw1.grïd.example"},
        {"parent_domain": "g" * 300 + ".example"},
        {"name": "wiki.example"},
        {"name": "w" * 300},
        {"gateway_pool_ids": []},
        {"resources": {"cpu": 1, "memory": 512, "disk": 256}},
    ],
)
def test_rejects_hostile_or_invalid_fields_naming_them(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        spec(**overrides)
    assert info.value.errors()[0]["loc"][0] == next(iter(overrides))


def test_four_workloads_in_order_each_in_its_pool_and_on_its_kind_of_node() -> None:
    result = run(PLANNER, spec(resources={"cpu": 2, "memory": 2048, "disk": 1024}))
    fqdn = "alice-wiki.gw1.grid.example"
    container = assert_tunnelled_layout(result, fqdn)
    assert container["flist"] == MARKETPLACE.flists["gollum"]
    assert container["entrypoint"] == f"/bin/bash /start.sh {fqdn} ops@example.com"
    assert container["environment"] == {"pub_key": SSH_KEY, "GITHUB_USER": "alice-w",
                                        "GITHUB_EMAIL": "alice@example.org", "GITHUB_REPO": "my.wiki"}  # fmt: skip
    assert container["secret_environment"] == {"GITHUB_TOKEN": Sealed("github_token")}
    assert container["capacity"] == {"cpu": 2, "memory": 2048, "disk_size": 1024, "disk_type": 1}


def test_the_gateway_is_the_chosen_managed_domain_in_the_users_pools_with_the_owner_label() -> None:
    (request,) = PLANNER.gateways(spec(gateway_pool_ids=[3, 9], parent_domain="GW2.grid.example."))
    assert (request.role, request.pool_ids, request.label, request.parent, request.owner_prefix) == (
        "gateway", (3, 9), "wiki", "gw2.grid.example", "advanced")  # fmt: skip


@pytest.mark.parametrize("hostile", [*SHELL, "x y", "a'; rm -rf / #"])
def test_the_entrypoint_arguments_stay_one_word_whatever_they_hold(hostile: str) -> None:
    # The spec refuses these; the entrypoint quotes anyway (defence in depth): bash sees exactly two arguments.
    words = shlex.split(entrypoint(f"w{hostile}.gw1.grid.example", f"{hostile}@example.com"))
    assert words == ["/bin/bash", "/start.sh", f"w{hostile}.gw1.grid.example", f"{hostile}@example.com"]


def test_listing_and_outputs_show_the_domain_and_no_token() -> None:
    result = run(PLANNER, spec())
    listing = PLANNER.listing(spec(), result.views())
    assert listing["Domain"] == "alice-wiki.gw1.grid.example"
    assert {"Name", "wids", "IPv4 Address", "IPv6 Address", "Node", "Pool", "Network", "CPU", "Memory",
            "RootFS Type", "RootFS Size"} <= set(listing)  # fmt: skip
    assert listing["Network"] == "net" and listing["CPU"] == 1 and listing["Pool"] != GATEWAY_POOL
    outputs = PLANNER.outputs(spec(), result.views())
    assert outputs["URL"] == "https://alice-wiki.gw1.grid.example"
    assert outputs["ssh"] == f"ssh root@{result.ctx.placed['container'].ip}"
    assert "github_token" not in str(listing) + str(outputs)
