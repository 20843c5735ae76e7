"""The laptop's WireGuard config (SOLUTIONS §3.2): a same-origin POST hands it out once, as ``wg-<first NR id>.conf``,
erasing it in the transaction that built the answer; a GET consumes nothing; and no solution that failed, was
rolled back or cancelled keeps the laptop's private key."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.integration.deployer.conftest import DeployerWorld, sql


def _path(solution_id: str) -> str:
    return f"/api/solutions/{solution_id}/wireguard"


def _stored(solution_id: str) -> str | None:
    value = sql("SELECT secret_outputs FROM deployer.solutions WHERE id = %s", solution_id)[0]["secret_outputs"]
    return None if value is None else str(value)


def _first_nr(solution_id: str) -> int:
    rows = sql("SELECT grid_id FROM deployer.workloads WHERE solution_id = %s AND kind = 'network_resource' "
               "AND grid_id IS NOT NULL ORDER BY id LIMIT 1", solution_id)  # fmt: skip
    return int(rows[0]["grid_id"])


def test_the_config_is_a_same_origin_post_handed_out_once(world: DeployerWorld) -> None:
    owner = "wanda.3bot"
    sol = world.deploy(owner, "network", {"name": "once", "pool_ids": [world.pool(owner)]})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    solution_id = str(sol["id"])
    headers = world.headers(owner)
    stored = _stored(solution_id)
    assert stored is not None

    # A GET (a prefetch, a link opened twice) is not the download and consumes nothing.
    assert world.client().get(_path(solution_id), headers=headers).status_code == 405
    # Nor does a cross-site POST, or one that says nothing of where it comes from.
    for origin in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}, {}):
        forged = {k: v for k, v in headers.items() if k != "Origin"} | origin
        refused = world.client().post(_path(solution_id), headers=forged)
        assert refused.status_code == 403, origin
        assert refused.json["errors"][0]["code"] == "cross_site_request"
    assert _stored(solution_id) == stored
    shown = world.client().get(f"/api/solutions/{solution_id}", headers=headers).json
    assert shown["wireguard_config"] == "available"

    download = world.client().post(_path(solution_id), headers=headers)
    assert download.status_code == 200
    config = download.get_data(as_text=True)
    assert "[Interface]" in config and "PrivateKey = " in config and "[Peer]" in config
    assert download.headers["Content-Disposition"] == f'attachment; filename="wg-{_first_nr(solution_id)}.conf"'
    assert download.headers["Cache-Control"] == "no-store"
    assert download.mimetype == "text/plain"
    assert _stored(solution_id) is None
    shown = world.client().get(f"/api/solutions/{solution_id}", headers=headers).json
    assert shown["wireguard_config"] is None
    # What stays: the file's name and what to do with it (SOLUTIONS §3.2), no key and no link that would consume it.
    name = f"wg-{_first_nr(solution_id)}"
    assert shown["outputs"]["WireGuard config"] == f"{name}.conf: copy it to /etc/wireguard/ and run wg-quick up {name}"

    again = world.client().post(_path(solution_id), headers=headers)
    assert again.status_code == 410
    assert again.json["message"].startswith("the WireGuard config was already downloaded")
    assert again.json["errors"][0]["code"] == "gone"
    assert "PrivateKey" not in again.get_data(as_text=True)


def test_two_downloads_at_once_hand_it_out_once(world: DeployerWorld) -> None:
    owner = "wanda.3bot"
    sol = world.deploy(owner, "network", {"name": "twice", "pool_ids": [world.pool(owner)]})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    barrier = threading.Barrier(4)

    def download(_: int) -> int:
        client = world.client()
        barrier.wait()
        return int(client.post(_path(str(sol["id"])), headers=world.headers(owner)).status_code)

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(download, range(4)))
    assert codes == [200, 410, 410, 410]


def test_a_download_that_fails_while_building_erases_nothing(world: DeployerWorld) -> None:
    owner = "wanda.3bot"
    sol = world.deploy(owner, "network", {"name": "retry", "pool_ids": [world.pool(owner)]})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    solution_id = str(sol["id"])
    stored = _stored(solution_id)
    assert stored is not None
    # A value this marketplace cannot decrypt makes building the answer fail, after the row was read and locked.
    sql("UPDATE deployer.solutions SET secret_outputs = 'not-a-sealed-value' WHERE id = %s", solution_id)
    try:
        broken = world.client().post(_path(solution_id), headers=world.headers(owner))
    except Exception:  # the test app may re-raise instead of answering 500; either way nothing may be erased
        broken = None
    assert broken is None or broken.status_code == 500
    assert _stored(solution_id) == "not-a-sealed-value"
    sql("UPDATE deployer.solutions SET secret_outputs = %s WHERE id = %s", stored, solution_id)
    download = world.client().post(_path(solution_id), headers=world.headers(owner))
    assert download.status_code == 200 and "PrivateKey = " in download.get_data(as_text=True)


def test_an_unknown_solution_has_no_config(world: DeployerWorld) -> None:
    headers = world.headers("wanda.3bot")
    for solution_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        answer = world.client().post(_path(solution_id), headers=headers)
        assert answer.status_code == 404 and answer.json["errors"][0]["code"] == "not_found"


def test_every_status_but_a_live_one_drops_the_config_whoever_writes_it(rollback_cursor: Any) -> None:
    # The trigger of migration 0006, through plain SQL: no writer (old, new, or a compare-and-set) can forget it.
    cur = rollback_cursor
    live = ("submitted", "planning", "deploying", "deployed")
    for status in (*live, "failed", "rolled_back", "cancelling", "cancelled"):
        cur.execute(
            "INSERT INTO deployer.solutions (id, idempotency_key, owner, type, name, spec, status, secret_outputs) "
            "VALUES (gen_random_uuid(), gen_random_uuid()::text, 'trigger.3bot', 'network_access', %s, '{}', "
            "'deploying', 'sealed') RETURNING id",
            (f"t-{status}",),
        )  # fmt: skip
        row_id = cur.fetchone()["id"]
        cur.execute("UPDATE deployer.solutions SET status = %s WHERE id = %s RETURNING secret_outputs",
                    (status, row_id))  # fmt: skip
        assert (cur.fetchone()["secret_outputs"] is not None) == (status in live), status
        # Set again afterwards (a late writer): kept only while the solution is live.
        cur.execute("UPDATE deployer.solutions SET secret_outputs = 'late' WHERE id = %s RETURNING secret_outputs",
                    (row_id,))  # fmt: skip
        assert (cur.fetchone()["secret_outputs"] == "late") == (status in live), status
    cur.execute(
        "INSERT INTO deployer.solutions (id, idempotency_key, owner, type, name, spec, status, secret_outputs) "
        "VALUES (gen_random_uuid(), gen_random_uuid()::text, 'trigger.3bot', 'network', 'born-failed', '{}', "
        "'failed', 'sealed') RETURNING secret_outputs"
    )  # fmt: skip
    assert cur.fetchone()["secret_outputs"] is None


def test_a_cancelled_network_keeps_no_private_key(world: DeployerWorld) -> None:
    owner = "wanda.3bot"
    sol = world.deploy(owner, "network", {"name": "dropped", "pool_ids": [world.pool(owner)]})
    assert sol["status"] == "deployed" and _stored(str(sol["id"])) is not None
    assert world.cancel(owner, str(sol["id"])).status_code == 202
    assert _stored(str(sol["id"])) is None  # from the moment it is cancelling
    world.wait(str(sol["id"]), ("cancelled",))
    assert _stored(str(sol["id"])) is None
    gone = world.client().post(_path(str(sol["id"])), headers=world.headers(owner))
    assert gone.status_code == 410 and gone.json["message"].startswith("the WireGuard config is gone")


def test_a_rolled_back_network_keeps_no_private_key(world: DeployerWorld) -> None:
    owner = "wanda.3bot"
    pool = world.pool(owner)
    # The network resource stays pending on the node (the node never answers within the deployment's time).
    assert world.admin("config", {"deploy_latency": {"default": 0.2, "network_resource": 3600}}).status_code == 200
    try:
        answer = world.submit(owner, "network", {"name": "doomed", "pool_ids": [pool]})
        assert answer["ok"], answer
        solution_id = str(answer["solution_id"])
        deadline = time.monotonic() + 60
        sent: list[dict[str, Any]] = []
        while not sent and time.monotonic() < deadline:
            sent = sql("SELECT grid_id FROM deployer.workloads WHERE solution_id = %s AND grid_id IS NOT NULL",
                       solution_id)  # fmt: skip
            time.sleep(0.2)
        assert sent, world.events(solution_id)
        assert _stored(solution_id) is not None  # planned: the laptop's config waits for its download
        # Its time is up (the network resource's and the solution's deadline): the deployment fails and rolls back.
        sql("UPDATE deployer.workloads SET deadline = now() - interval '1 second' WHERE solution_id = %s",
            solution_id)  # fmt: skip
        sql("UPDATE deployer.solutions SET deadline = now() - interval '1 second' WHERE id = %s", solution_id)
        sol = world.wait(solution_id, ("rolled_back",))
    finally:
        world.healthy()
    assert sol["status"] == "rolled_back", world.events(solution_id)
    assert sol["secret_outputs"] is None
    gone = world.client().post(_path(solution_id), headers=world.headers(owner))
    assert gone.status_code == 410
    assert gone.json["message"] == "the WireGuard config is gone: the deployment was rolled back"
