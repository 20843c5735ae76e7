"""The nodes act on their own (node_agents.py): a workload coming due is deployed, and a deletion confirmed, with no
request in between, so the next listing replays nothing; a clock jump still applies everything it skipped over,
each event at its own time; without the background thread (the in-process test client) requests replay it all.

The state file is read directly (SQLite, read-only) to see what the emulator did without asking it anything.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from grid_emulator_client import EmulatorProcess, Grid
from grid_emulator_signing import Identity

N = 20
LATENCY = 3.0


def _rows(state: Path, ids: list[int]) -> list[sqlite3.Row]:
    with sqlite3.connect(f"{state.resolve().as_uri()}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        marks = ",".join("?" * len(ids))
        columns = "id, deploy_at, delete_at, active, active_from, created, next_action"
        query = f"SELECT {columns} FROM workloads WHERE id IN ({marks})"
        return conn.execute(query, ids).fetchall()


def _wait_in_state_file(state: Path, ids: list[int], done: Callable[[sqlite3.Row], bool], timeout: float) -> None:
    """Poll the state file (no request to the emulator) until every row is ``done``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(done(row) for row in _rows(state, ids)):
            return
        time.sleep(0.1)
    raise AssertionError(f"not applied without a request: {[dict(r) for r in _rows(state, ids) if not done(r)]}")


def _events(grid: Grid) -> dict[str, int]:
    reply = grid.admin("GET", "/stats")
    assert reply.status == 200, reply.body
    return dict(reply.body["lifecycle_events"])


def _volumes(grid: Grid, who: Identity, count: int) -> list[int]:
    node = grid.farm_nodes(1)[0][0]["node_id"]
    pool_id = grid.paid_pool(who, [node], cus=1_000_000, sus=1_000_000)
    return [grid.deploy(who, grid.workload_body(who, node, pool_id, 2, size=1, type=1)) for _ in range(count)]


def test_due_deployments_and_deletions_are_applied_with_no_request(
    spawn: Callable[..., EmulatorProcess], tmp_path: Path
) -> None:
    state = tmp_path / "state.sqlite3"
    emulator = spawn("--deploy-latency", str(LATENCY), "--delete-latency", str(LATENCY), state=state)
    grid = emulator.grid()
    alice = grid.register("alice.3bot")
    ids = _volumes(grid, alice, N)
    before = _events(grid)
    pending = [row["id"] for row in _rows(state, ids) if row["deploy_at"] is not None]
    assert pending, f"all {N} came due while they were being posted: raise LATENCY"

    _wait_in_state_file(state, ids, lambda row: row["deploy_at"] is None and row["active"] == 1, LATENCY + 20)
    after = _events(grid)
    assert after["requests"] == before["requests"]  # nobody asked: the nodes deployed them
    assert after["background"] - before["background"] == len(pending)
    listing = grid.api("GET", f"/reservations/workloads?customer_tid={alice.tid}&size=100").body
    assert sorted(w["id"] for w in listing if w["result"]["state"] == 1) == sorted(ids)
    assert _events(grid) == after  # the listing replayed nothing: it had nothing left to pay for

    for workload_id in ids:
        assert grid.sign_delete(alice, workload_id).status == 201
    _wait_in_state_file(state, ids, lambda row: row["next_action"] == 6 and row["delete_at"] is None, LATENCY + 20)
    final = _events(grid)
    assert final["requests"] == after["requests"]
    assert final["background"] - after["background"] == N


def test_a_clock_jump_applies_everything_due_each_at_its_own_time(
    spawn: Callable[..., EmulatorProcess], tmp_path: Path
) -> None:
    state = tmp_path / "state.sqlite3"
    emulator = spawn("--deploy-latency", "3600", state=state)
    grid = emulator.grid()
    alice = grid.register("alice.3bot")
    ids = _volumes(grid, alice, N)
    assert all(row["deploy_at"] is not None for row in _rows(state, ids))
    before = _events(grid)

    grid.advance(3600)
    rows = _rows(state, ids)  # as the clock request answered, before anything else could apply them
    assert all(row["deploy_at"] is None and row["active"] == 1 for row in rows), [dict(r) for r in rows]
    # Started when each came due (created + latency), not at the moment of the jump.
    assert all(abs(row["active_from"] - (row["created"] + 3600)) < 0.01 for row in rows), [dict(r) for r in rows]
    after = _events(grid)
    assert sum(after.values()) - sum(before.values()) == N


def test_without_node_agents_a_read_replays_what_came_due(make_grid: Callable[..., Grid], tmp_path: Path) -> None:
    grid = make_grid()  # the Flask test client: no background thread
    alice = grid.register("alice.3bot")
    ids = _volumes(grid, alice, 5)
    before = _events(grid)
    time.sleep(0.5)  # past the deploy latency (0.3 s); nothing runs in between
    pending = [row["id"] for row in _rows(tmp_path / "state.sqlite3", ids) if row["deploy_at"] is not None]
    assert pending and _events(grid) == before
    listing = grid.api("GET", f"/reservations/workloads?customer_tid={alice.tid}").body
    assert sorted(w["id"] for w in listing if w["result"]["state"] == 1) == sorted(ids)
    assert _events(grid) == {"background": 0, "requests": before["requests"] + len(pending)}
