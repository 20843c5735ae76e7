"""Hosted 3Bot (SOLUTIONS §3.12): the workloads in order, each in the right pool and on the right kind of node (the
tunnel client on the 3Bot's node); the backup password only sealed, never in the plain environment; every free-text
field refused with its name; the backup password bounded as the image's seed derivation needs (LOGIN_PROTOCOL §9.4).
"""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from pydantic import ValidationError

from services.deployer.solutions.base import Sealed
from services.deployer.solutions.threebot import PLANNER, ThreebotSpec, entrypoint, password_problem
from tests.unit.deployer.solutions.conftest import (
    GATEWAY_POOL,
    MARKETPLACE,
    SSH_KEY,
    assert_tunnelled_layout,
    run,
)

BASE = {"name": "mybot", "where": {"pool_id": 7}, "network": "net", "ssh_key": SSH_KEY,
        "parent_domain": "gw1.grid.example", "gateway_pool_ids": [3]}  # fmt: skip
SHELL = ["a;reboot", "$(id)", "`id`", "a b", "a|b", "a&&b", "a'b", 'a"b', "a\nb", "a>b", "*", "~root"]
PASSWORD = "s3cret-Backup-pass"


def spec(**overrides: Any) -> ThreebotSpec:
    return ThreebotSpec.model_validate(BASE | overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        *({"sdk_branch": f"dev{bad}"} for bad in SHELL),
        *({"name": f"bot{bad}"} for bad in SHELL),
        {"sdk_branch": "-branch"},
        {"sdk_branch": "b" * 101},
        {"sdk_branch": ""},
        {"ssh_key": "not-a-key"},
        {"ssh_key": SSH_KEY + "\nssh-ed25519 AAAA\x00x me"},
        {"ssh_key": "k" * 20_000},
        {"parent_domain": "gw1.grid.example;ls"},
        {"parent_domain": "g" * 300 + ".example"},
        {"public_ipv6": "yes"},
        {"gateway_pool_ids": []},
        {"resources": {"cpu": 1, "memory": 512, "disk": 2048}},
        {"backup_password": "in the spec"},
    ],
)
def test_rejects_hostile_or_invalid_fields_naming_them(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        spec(**overrides)
    assert info.value.errors()[0]["loc"][0] == next(iter(overrides))


def test_defaults_are_those_of_the_spec() -> None:
    s = spec()
    assert (s.resources.cpu, s.resources.memory, s.resources.disk) == (1, 2048, 2048)
    assert s.sdk_branch == "development" and s.public_ipv6 is False


def test_four_workloads_in_order_each_in_its_pool_and_the_tunnel_client_on_the_3bots_node() -> None:
    keys = f"{SSH_KEY}\nssh-rsa AAAAB3NzaC1yc2E bob@desk\n"
    result = run(PLANNER, spec(resources={"cpu": 2, "memory": 4096, "disk": 3072}, sdk_branch="release/v11.0",
                               public_ipv6=True, ssh_key=f"\n  {keys}  \n"))  # fmt: skip
    fqdn = "alice-mybot.gw1.grid.example"
    container = assert_tunnelled_layout(result, fqdn)
    assert container["flist"] == MARKETPLACE.flists["FLIST_THREEBOT"]
    assert container["entrypoint"] == f"/bin/bash {MARKETPLACE.threebot_entrypoint}"
    assert container["environment"] == {"SDK_VERSION": "release/v11.0", "INSTANCE_NAME": "mybot",
                                        "THREEBOT_NAME": "alice", "DOMAIN": fqdn, "SSHKEY": keys.strip()}  # fmt: skip
    assert container["secret_environment"] == {"BACKUP_PASSWORD": Sealed("backup_password")}
    assert container["capacity"] == {"cpu": 2, "memory": 4096, "disk_size": 3072, "disk_type": 1}
    assert container["network_connection"][0]["public_ip6"] is True


def test_the_gateway_is_the_chosen_managed_domain_with_the_exact_owner_label() -> None:
    (request,) = PLANNER.gateways(spec(gateway_pool_ids=[3, 9], parent_domain="GW2.grid.example."))
    assert (request.role, request.pool_ids, request.label, request.parent, request.owner_prefix, request.suffix) == (
        "gateway", (3, 9), "mybot", "gw2.grid.example", "advanced", False)  # fmt: skip


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        (PASSWORD, True),
        ("p" * 32, True),
        ("p" * 33, False),
        ("é" * 17, False),
        ("é" * 16, True),
        ("", False),
        ("tab\there", False),
        ("nl\n", False),
    ],
)
def test_the_backup_password_is_at_most_32_bytes_of_printable_text(password: str, ok: bool) -> None:
    assert (password_problem(password) is None) is ok
    assert (ThreebotSpec.secret_problems({"backup_password": password}) == {}) is ok


def test_the_entrypoint_script_is_one_shell_word() -> None:
    assert shlex.split(entrypoint("/opt/my dir/entry.sh")) == ["/bin/bash", "/opt/my dir/entry.sh"]


def test_listing_and_outputs_show_the_domain_the_admin_url_and_no_password() -> None:
    result = run(PLANNER, spec())
    listing = PLANNER.listing(spec(), result.views())
    assert listing["Domain"] == "alice-mybot.gw1.grid.example" and listing["Name"] == "mybot"
    assert {"Name", "wids", "IPv4 Address", "IPv6 Address", "Node", "Pool", "Network", "CPU", "Memory",
            "RootFS Type", "RootFS Size", "Domain"} <= set(listing)  # fmt: skip
    assert listing["Pool"] != GATEWAY_POOL and listing["Memory"] == 2048 and listing["RootFS Size"] == 2048
    outputs = PLANNER.outputs(spec(), result.views())
    assert outputs["Admin URL"] == "https://alice-mybot.gw1.grid.example/admin"
    assert outputs["IP"] == result.ctx.placed["container"].ip
    assert PLANNER.ready_fqdn(spec(), result.views()) == "alice-mybot.gw1.grid.example"
    assert "backup_password" not in str(listing) + str(outputs)
