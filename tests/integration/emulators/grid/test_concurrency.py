"""Requests are served concurrently (a connection per server thread, SQLite's own locking) and the state stays
consistent: creates racing lists, deletes racing each other, reads never waiting for a writer."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from grid_emulator_client import EmulatorProcess, Grid
from grid_emulator_signing import Identity

from emulators.grid.store import Store


def _world(spawn: Callable[..., EmulatorProcess]) -> tuple[EmulatorProcess, Grid, Identity, int, list[str]]:
    emulator = spawn("--threads", "8")
    grid = emulator.grid()
    alice = grid.register("alice.3bot")
    nodes = [n["node_id"] for n in grid.farm_nodes(1)[0]]
    pool_id = grid.paid_pool(alice, nodes, cus=10_000_000, sus=10_000_000)
    return emulator, grid, alice, pool_id, nodes


def test_creates_racing_lists_lose_nothing(spawn: Callable[..., EmulatorProcess]) -> None:
    emulator, grid, alice, pool_id, nodes = _world(spawn)
    created: list[int] = []
    problems: list[str] = []
    done = threading.Event()

    def create(i: int) -> None:
        client = emulator.grid()
        body = client.workload_body(alice, nodes[i % len(nodes)], pool_id, 2, size=1, type=1, description=f"v{i}")
        reply = client.create(alice, body)
        if reply.status != 201:
            problems.append(f"create {i}: {reply.status} {reply.body}")
        else:
            created.append(int(reply.body["reservation_id"]))

    def watch() -> None:
        client = emulator.grid()
        seen = 0
        while not done.is_set():
            reply = client.api("GET", f"/reservations/workloads?customer_tid={alice.tid}&size=1000")
            ids = [w["id"] for w in reply.body]
            if reply.status != 200 or ids != sorted(set(ids)) or len(ids) < seen:
                problems.append(f"list: {reply.status}, {len(ids)} ids after {seen}")
            seen = len(ids)

    watchers = [threading.Thread(target=watch) for _ in range(3)]
    for t in watchers:
        t.start()
    with ThreadPoolExecutor(8) as executor:
        list(executor.map(create, range(60)))
    done.set()
    for t in watchers:
        t.join()
    assert problems == []
    final = grid.api("GET", f"/reservations/workloads?customer_tid={alice.tid}&size=1000").body
    assert sorted(w["id"] for w in final) == sorted(created) and len(set(created)) == 60


def test_concurrent_deletes_of_one_workload_delete_it_once(spawn: Callable[..., EmulatorProcess]) -> None:
    emulator, grid, alice, pool_id, nodes = _world(spawn)
    workload_id = grid.deploy(alice, grid.workload_body(alice, nodes[0], pool_id, 2, size=1, type=1))
    grid.wait_result(workload_id)
    clients = [emulator.grid() for _ in range(8)]
    barrier = threading.Barrier(len(clients))

    def delete(client: Grid) -> Any:
        barrier.wait()
        return client.sign_delete(alice, workload_id)

    with ThreadPoolExecutor(len(clients)) as executor:
        replies = list(executor.map(delete, clients))
    statuses = Counter(r.status for r in replies)
    assert statuses == Counter({201: 1, 400: len(clients) - 1}), [(r.status, r.body) for r in replies]
    assert all("already signed" in r.body["error"] for r in replies if r.status == 400)
    stored = grid.workload(workload_id)
    assert stored["next_action"] == 4 and len(stored["signatures_delete"]) == 1


def test_a_read_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.sqlite3")
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'uncommitted')")
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(5)
    started = time.monotonic()
    with store.read() as conn:  # a WAL snapshot: the writer's open transaction is invisible and not waited for
        assert conn.execute("SELECT value FROM meta WHERE key = 'k'").fetchone() is None
    assert time.monotonic() - started < 1
    with pytest.raises(sqlite3.OperationalError, match="readonly"), store.read() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('r', 'x')")  # a read never writes, not even by mistake
    release.set()
    thread.join()
    with store.read() as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'k'").fetchone()["value"] == "uncommitted"
    store.close()


def test_two_writers_never_lose_an_update(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.sqlite3")
    with store.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('n', '0')")

    def bump(_: int) -> None:
        with store.transaction() as conn:  # read-modify-write in one IMMEDIATE transaction
            value = int(conn.execute("SELECT value FROM meta WHERE key = 'n'").fetchone()["value"])
            time.sleep(0.001)
            conn.execute("UPDATE meta SET value = :v WHERE key = 'n'", {"v": str(value + 1)})

    with ThreadPoolExecutor(8) as executor:
        list(executor.map(bump, range(200)))
    with store.read() as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'n'").fetchone()["value"] == "200"
    store.close()
