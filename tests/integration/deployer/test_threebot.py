"""Hosted 3Bot (SOLUTIONS §3.12) against the real stack: the grid emulator with its DNS and CT log, deployer workers
and beat, PostgreSQL, and a loopback TLS double answering ``/admin`` like a 3Bot (tests.integration.threebot_double).

Each workload in its pool and on its kind of node, the tunnel client on the 3Bot's node, the backup password
nowhere but sealed; "initialising" ends ``up`` when ``/admin`` answers, and with "3Bot did not come up, contact
support" after THREEBOT_READY_WAIT (10 s here) when it never does — the workloads then stay on the grid; cancel
leaves the grid clean either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from services.deployer import readiness
from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld, sql
from tests.integration.deployer.test_gitea import assert_tunnelled_layout, ct, dig, grid_pool
from tests.integration.deployer.test_gollum import logs_text
from tests.integration.threebot_double import HANG, UP, ThreebotDouble, for_env

pytestmark = [
    pytest.mark.stack,
    pytest.mark.usefixtures("dig_installed"),
]
__all__ = ["ct"]  # the fixture, imported to be used here
PASSWORD = "Backup-NeverShown-42"
SECOND_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 bob@desk"


@pytest.fixture
def double(world: DeployerWorld) -> Iterator[ThreebotDouble]:
    served = for_env(world.env)
    yield served
    served.stop()


def threebot_spec(world: DeployerWorld, owner: str, name: str, app_pool: int, gateway_pools: list[int],
                  **overrides: Any) -> dict[str, Any]:  # fmt: skip
    world.network(owner)
    return {"name": name, "where": {"pool_id": app_pool}, "network": "net", "ssh_key": f"{SSH_KEY}\n{SECOND_KEY}\n",
            "resources": {"cpu": 1, "memory": 2048, "disk": 2048}, "sdk_branch": "development",
            "parent_domain": "gw2.grid.example", "gateway_pool_ids": gateway_pools, **overrides}  # fmt: skip


def wait_status(world: DeployerWorld, sid: str, timeout: float) -> dict[str, Any]:
    """The solution once its outputs' Status is no longer ``initialising``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sol = world.solution(sid)
        if sol["outputs"].get("Status") != readiness.INITIALISING:
            return sol
        time.sleep(0.2)
    raise AssertionError(f"still initialising after {timeout}s: {world.events(sid)}")


def test_threebot_deploys_in_the_right_pools_comes_up_keeps_the_password_sealed_and_cancels_clean(
    world: DeployerWorld, ct: None, double: ThreebotDouble
) -> None:
    owner = "tbot1.3bot"
    app_pool, gateway_pool = world.pool(owner, farm_id=1), world.pool(owner, farm_id=2)
    fqdn = "tbot1-mybot.gw2.grid.example"
    double.behaviour[fqdn] = UP
    spec = threebot_spec(world, owner, "mybot", app_pool, [app_pool, gateway_pool])
    sol = world.deploy(owner, "threebot", spec, {"backup_password": PASSWORD}, timeout=120)
    sid = str(sol["id"])
    assert sol["status"] == "deployed", world.events(sid)
    rows = assert_tunnelled_layout(world, sid, app_pool, gateway_pool, fqdn)
    container = rows[1]
    assert container["body"]["flist"] == world.settings.flist_threebot
    assert container["body"]["entrypoint"] == f"/bin/bash {world.settings.threebot_entrypoint}"
    assert container["body"]["environment"] == {"SDK_VERSION": "development", "INSTANCE_NAME": "mybot",
                                                "THREEBOT_NAME": "tbot1", "DOMAIN": fqdn,
                                                "SSHKEY": f"{SSH_KEY}\n{SECOND_KEY}"}  # fmt: skip
    assert set(container["body"]["secret_environment"]) == {"BACKUP_PASSWORD"}
    assert sol["outputs"]["Admin URL"] == f"https://{fqdn}/admin"
    assert sol["secrets"] is None  # the sealed password is gone from our database once deployed (migration 0009)

    up = wait_status(world, sid, timeout=30)
    assert up["outputs"]["Status"] == readiness.UP and up["error"] is None and up["status"] == "deployed"
    assert double.asked[fqdn] >= 1
    events = world.events(sid)
    assert "initialising: waiting for its /admin to answer" in events and any("3Bot is up" in e for e in events)

    status, answers = dig(world, fqdn)
    assert status == "NOERROR" and answers == rows[0]["body"]["ips"] and answers
    (entry,) = world.client().get("/api/solutions?type=threebot", headers=world.headers(owner)).get_json()["solutions"]
    assert entry["type"] == "threebot" and entry["Name"] == "mybot" and entry["Domain"] == fqdn
    assert entry["Network"] == "net" and entry["Pool"] == grid_pool(app_pool) and entry["Memory"] == 2048
    assert {"wids", "IPv4 Address", "IPv6 Address", "Node", "CPU", "RootFS Type", "RootFS Size"} <= set(entry)
    assert sorted(entry["wids"]) == sorted(int(w["grid_id"]) for w in rows)
    shown = world.client().get(f"/api/solutions/{sid}", headers=world.headers(owner)).get_data(as_text=True)
    grid_text = json.dumps([world.grid_workload(int(w["grid_id"])) for w in rows])
    text = json.dumps(entry) + shown + json.dumps(world.events(sid)) + json.dumps(rows, default=str)
    assert PASSWORD not in text + grid_text + logs_text(world)

    assert world.cancel(owner, sid).status_code == 202
    assert world.wait(sid, ("cancelled",), timeout=60)["status"] == "cancelled"
    world.assert_gone_from_grid(sid)
    assert not {int(w["id"]) for w in world.live_on_grid()} & {int(w["grid_id"]) for w in rows}
    assert dig(world, fqdn)[0] == "NXDOMAIN"


def test_a_3bot_whose_admin_never_answers_fails_after_the_limit_and_keeps_its_workloads(
    world: DeployerWorld, ct: None, double: ThreebotDouble
) -> None:
    owner = "tbot2.3bot"
    app_pool, gateway_pool = world.pool(owner, farm_id=1), world.pool(owner, farm_id=2)
    fqdn = "tbot2-silent.gw2.grid.example"
    double.behaviour[fqdn] = HANG
    spec = threebot_spec(world, owner, "silent", app_pool, [gateway_pool])
    sol = world.deploy(owner, "threebot", spec, {"backup_password": PASSWORD}, timeout=120)
    sid = str(sol["id"])
    assert sol["status"] == "deployed", world.events(sid)
    assert sol["outputs"]["Status"] == readiness.INITIALISING
    double.wait_asked(fqdn)  # it is being asked, and does not answer
    failed = wait_status(world, sid, timeout=60)
    waited = (failed["updated_at"] - failed["finished_at"]).total_seconds()
    assert waited >= world.settings.threebot_ready_wait  # not before the limit
    assert failed["outputs"]["Status"] == readiness.FAILURE == failed["error"]
    assert readiness.FAILURE == "3Bot did not come up, contact support"
    assert failed["status"] == "deployed"  # kept for support: nothing rolled back
    assert any(e.startswith(readiness.FAILURE) for e in world.events(sid))
    rows = world.workloads(sid)
    assert [w["state"] for w in rows] == ["deployed"] * 4
    live = {int(w["id"]) for w in world.live_on_grid()}
    assert {int(w["grid_id"]) for w in rows} <= live
    detail = world.client().get(f"/api/solutions/{sid}", headers=world.headers(owner)).get_json()
    assert detail["outputs"]["Status"] == readiness.FAILURE

    assert world.cancel(owner, sid).status_code == 202
    assert world.wait(sid, ("cancelled",), timeout=60)["status"] == "cancelled"
    world.assert_gone_from_grid(sid)


@pytest.mark.parametrize(
    ("field", "value", "secret"),
    [
        ("sdk_branch", "dev; reboot", PASSWORD),
        ("sdk_branch", "$(curl evil)", PASSWORD),
        ("ssh_key", "ssh-ed25519 `id`\x00 x", PASSWORD),
        ("parent_domain", "gw1.grid.example\nls", PASSWORD),
        ("name", "bot.example", PASSWORD),
        ("backup_password", None, "p" * 33),
        ("backup_password", None, "tab\tinside"),
        ("backup_password", None, ""),
    ],
)
def test_hostile_input_is_refused_at_submission_naming_the_field(world: DeployerWorld, field: str, value: Any,
                                                                 secret: str) -> None:  # fmt: skip
    owner = "tbot3.3bot"
    pool = world.pool(owner, farm_id=1)
    spec = threebot_spec(world, owner, "bot", pool, [pool])
    if value is not None:
        spec[field] = value
    answer = world.submit(owner, "threebot", spec, {"backup_password": secret} if secret else None)
    assert answer["ok"] is False and [e["field"] for e in answer["errors"]] == [field], answer
    assert not sql("SELECT id FROM deployer.solutions WHERE owner = %s AND type = 'threebot'", owner)
