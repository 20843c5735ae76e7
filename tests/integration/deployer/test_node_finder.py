"""The node index and node finder against real PostgreSQL and a real grid emulator process.

Most tests load the emulator's node list into a transaction that is rolled back afterwards (``load_index`` is the
body of a refresh), so they neither see nor disturb other tests' rows. The refresh tests themselves commit, as
beat does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extras
import pytest
import requests

from services.common.capacity import Resources
from services.common.db import Database
from services.common.explorer import Explorer
from services.common.identity import Identity
from services.common.migrations import migrate
from services.common.settings import load_settings
from services.deployer.grid.node_finder import (
    NodeQuery,
    NoNodeFits,
    endpoints_of,
    ensure_fresh,
    find_nodes,
    get_node,
    load_index,
    node_fits,
    refresh_index,
    release,
    reserve,
)
from tests.conftest import PYTHON, TEST_DATABASE_URL, Processes, base_env, free_port, wait_http

NODES, FARMS = 60, 3
SMALL = Resources(cru=1, mru=1, sru=1)


@dataclass
class Grid:
    url: str  # emulator base (admin endpoints under /_emulator)
    explorer: Explorer

    def listing(self) -> list[dict[str, Any]]:
        return self.explorer.list_all("/nodes", size=1000)

    def set_down(self, node_id: str, down: bool) -> None:
        answer = requests.post(f"{self.url}/_emulator/nodes/{node_id}/{'down' if down else 'up'}", timeout=10)
        assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grid]:
    tmp: Path = tmp_path_factory.mktemp("node-finder")
    (tmp / "logs").mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    migrate(TEST_DATABASE_URL, ("deployer",))
    processes = Processes(tmp / "logs")
    try:
        args = ["--port", str(port), "--state", str(tmp / "grid.sqlite3"), "--nodes", str(NODES),
                "--farms", str(FARMS), "--seed", "7"]  # fmt: skip
        proc = processes.start("grid", [PYTHON, "-m", "emulators.grid", *args], {})
        wait_http(f"{url}/_emulator/healthz", proc=proc)
        settings = load_settings(base_env(tmp, EXPLORER_URL=f"{url}/api/v1", HTTP_READ_TIMEOUT="10"))
        explorer = Explorer(settings, Identity(bytes(range(40, 72))))
        yield Grid(url=url, explorer=explorer)
        explorer.close()
    finally:
        processes.stop_all()
        # Leave no index of this throw-away grid behind: the next test world must read its own grid.
        conn = psycopg2.connect(TEST_DATABASE_URL)
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE deployer.nodes, deployer.node_index, deployer.node_holds")
        conn.close()


@pytest.fixture(scope="module")
def listing(grid: Grid) -> list[dict[str, Any]]:
    return grid.listing()


@pytest.fixture
def cur(rollback_cursor: Any, listing: list[dict[str, Any]]) -> Any:
    """A rolled-back transaction whose node index holds exactly the emulator's nodes."""
    assert load_index(rollback_cursor, listing) == NODES
    return rollback_cursor


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database(TEST_DATABASE_URL, maxconn=8)
    yield database
    database.close()


def ids(nodes: list[Any]) -> set[str]:
    return {n.node_id for n in nodes}


def free(node: dict[str, Any], unit: str) -> float:
    """A node's free capacity as the grid reports it (GRID_API §10.4); other tenants use part of every node."""
    return float(node["total_resources"][unit] - max(0, node["reserved_resources"][unit]))


def wire(listing: list[dict[str, Any]], node_id: str) -> dict[str, Any]:
    return next(n for n in listing if n["node_id"] == node_id)


def fits_exactly(cur: Any, query: NodeQuery, expected: set[str]) -> None:
    """The nodes fitting ``query`` are ``expected``: asking for all of them gives them, one more fails."""
    assert ids(find_nodes(cur, query, len(expected), over_provisioning=False)) == expected
    with pytest.raises(NoNodeFits, match=rf"^only {len(expected)} "):
        find_nodes(cur, query, len(expected) + 1, over_provisioning=False)


# --- Refresh ----------------------------------------------------------------------------------------------------


def test_refresh_indexes_every_node_and_drops_vanished_ones(grid: Grid, db: Database) -> None:
    seeded = requests.get(f"{grid.url}/_emulator/info", timeout=5).json()["seeded"]["nodes"]
    with db.transaction() as c:
        c.execute("""INSERT INTO deployer.nodes (node_id, farm_id, updated) VALUES ('gone-node', 1, now())
                     ON CONFLICT (node_id) DO NOTHING""")  # fmt: skip
    assert refresh_index(db, grid.explorer) == seeded == NODES
    with db.transaction() as c:
        assert get_node(c, "gone-node") is None
        c.execute("SELECT count(*) AS n FROM deployer.nodes")
        assert c.fetchone()["n"] == NODES
        c.execute("SELECT node_count FROM deployer.node_index")
        assert c.fetchone()["node_count"] == NODES
        node = get_node(c, grid.listing()[0]["node_id"])
    first = grid.listing()[0]
    assert node is not None and node.farm_id == first["farm_id"]
    assert (node.public_ipv4, node.public_ipv6) == endpoints_of(first)
    assert node.wg_ports == tuple(first["wg_ports"])
    assert node.free_sru == free(first, "sru")


def test_ensure_fresh_refreshes_once_for_many_workers(grid: Grid, db: Database) -> None:
    refresh_index(db, grid.explorer)
    assert ensure_fresh(db, grid.explorer, max_age_seconds=3600) is False
    with db.transaction() as c:
        c.execute("UPDATE deployer.node_index SET refreshed_at = now() - interval '2 hours'")
    results: list[bool] = []
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait()
        results.append(ensure_fresh(db, grid.explorer, max_age_seconds=600))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False, False, False, True]
    assert ensure_fresh(db, grid.explorer, max_age_seconds=600) is False


# --- Filters ----------------------------------------------------------------------------------------------------


def test_farm_country_and_city_filters(cur: Any, listing: list[dict[str, Any]]) -> None:
    farm2 = {n["node_id"] for n in listing if n["farm_id"] == 2}
    fits_exactly(cur, NodeQuery(SMALL, farm_id=2), farm2)
    where = listing[0]["location"]
    in_country = {n["node_id"] for n in listing if n["location"]["country"] == where["country"]}
    in_city = {n["node_id"] for n in listing if n["location"]["city"] == where["city"]}
    fits_exactly(cur, NodeQuery(SMALL, country=where["country"]), in_country)
    fits_exactly(cur, NodeQuery(SMALL, country=where["country"], city=where["city"]), in_city)
    with pytest.raises(NoNodeFits, match=r"^no node is in Atlantis$"):
        find_nodes(cur, NodeQuery(SMALL, country="Atlantis"), over_provisioning=False)
    elsewhere = next(n["location"]["city"] for n in listing if n["location"]["country"] != where["country"])
    with pytest.raises(NoNodeFits, match=rf"^no node is in {elsewhere}, {where['country']}$"):
        find_nodes(cur, NodeQuery(SMALL, country=where["country"], city=elsewhere), over_provisioning=False)


def test_pool_node_ids_limit_the_choice(cur: Any, listing: list[dict[str, Any]]) -> None:
    pool = [n["node_id"] for n in listing[10:15]]
    chosen = find_nodes(cur, NodeQuery(SMALL, node_ids=pool), 5, over_provisioning=False)
    assert ids(chosen) == set(pool)
    with pytest.raises(NoNodeFits, match=r"^only 5 nodes are in pool 12 \(6 needed\)$"):
        find_nodes(cur, NodeQuery(SMALL, node_ids=pool, pool_label="pool 12"), 6, over_provisioning=False)


def test_free_to_use_only_on_free_farm(cur: Any, listing: list[dict[str, Any]]) -> None:
    free = {n["node_id"] for n in listing if n["free_to_use"]}
    farm1 = {n["node_id"] for n in listing if n["farm_id"] == 1}
    assert free and free < farm1  # the free farm mixes free-to-use and paid nodes
    fits_exactly(cur, NodeQuery(SMALL, free_to_use=True), free)
    fits_exactly(cur, NodeQuery(SMALL, farm_id=1, free_to_use=True), free)
    with pytest.raises(NoNodeFits, match=r"^no node in farm 2 is free to use \(payable with FreeTFT\)$"):
        find_nodes(cur, NodeQuery(SMALL, farm_id=2, free_to_use=True), over_provisioning=False)


def test_public_ipv4_and_ipv6(cur: Any, listing: list[dict[str, Any]]) -> None:
    v4 = {n["node_id"] for n in listing if endpoints_of(n)[0]}
    v6 = {n["node_id"] for n in listing if endpoints_of(n)[1]}
    hidden = [n["node_id"] for n in listing if endpoints_of(n) == (None, None)]
    assert v4 and v6 and hidden and v4 != v6
    fits_exactly(cur, NodeQuery(SMALL, public_ipv4=True), v4)
    fits_exactly(cur, NodeQuery(SMALL, public_ipv6=True), v6)
    fits_exactly(cur, NodeQuery(SMALL, public_ipv4=True, public_ipv6=True), v4 & v6)
    for node in find_nodes(cur, NodeQuery(SMALL, public_ipv4=True), 5, over_provisioning=False):
        assert node.public_ipv4 == endpoints_of(wire(listing, node.node_id))[0]
    with pytest.raises(NoNodeFits, match=r"^no node of your pool has a public IPv4 address$"):
        find_nodes(cur, NodeQuery(SMALL, node_ids=hidden, public_ipv4=True), over_provisioning=False)


def test_a_down_node_is_never_chosen(grid: Grid, rollback_cursor: Any, listing: list[dict[str, Any]]) -> None:
    down, *others = [n["node_id"] for n in listing[20:23]]
    grid.set_down(down, True)
    try:
        load_index(rollback_cursor, grid.listing())
    finally:
        grid.set_down(down, False)
    cur = rollback_cursor
    fits_exactly(cur, NodeQuery(SMALL, node_ids=[down, *others]), set(others))
    with pytest.raises(NoNodeFits, match=r"^no node of pool 3 is up$"):
        find_nodes(cur, NodeQuery(SMALL, node_ids=[down], pool_label="pool 3"), over_provisioning=False)
    with pytest.raises(NoNodeFits, match=rf"^node {down} is not up \(no heartbeat in the last 10 minutes\)$"):
        node_fits(cur, down, NodeQuery(SMALL), over_provisioning=False)
    assert node_fits(cur, others[0], NodeQuery(SMALL), over_provisioning=False).node_id == others[0]


def test_several_nodes_are_distinct(cur: Any, listing: list[dict[str, Any]]) -> None:
    for _ in range(20):
        chosen = find_nodes(cur, NodeQuery(SMALL), 3, over_provisioning=False)
        assert len(ids(chosen)) == 3
    chosen = find_nodes(cur, NodeQuery(SMALL, exclude=[n["node_id"] for n in listing[3:]]), 3, over_provisioning=False)
    assert ids(chosen) == {n["node_id"] for n in listing[:3]}
    with pytest.raises(NoNodeFits, match=r"^only 3 nodes are left besides the nodes already chosen \(4 needed\)$"):
        find_nodes(cur, NodeQuery(SMALL, exclude=[n["node_id"] for n in listing[3:]]), 4, over_provisioning=False)


# --- Over-provisioning and capacity -------------------------------------------------------------------------------


def test_over_provisioning_ignores_cpu_and_memory_but_not_disk(cur: Any, listing: list[dict[str, Any]]) -> None:
    most_cru = int(max(free(n, "cru") for n in listing))
    most_sru = max(free(n, "sru") for n in listing)
    greedy = Resources(cru=most_cru * 4, mru=100_000, sru=1)
    assert len(find_nodes(cur, NodeQuery(greedy), 3, over_provisioning=True)) == 3
    node_id = listing[0]["node_id"]
    assert node_fits(cur, node_id, NodeQuery(greedy), over_provisioning=True).node_id == node_id
    expected = rf"^no node has {most_cru * 4} free CPU cores \(the most any has is {most_cru} cores\)$"
    with pytest.raises(NoNodeFits, match=expected):
        find_nodes(cur, NodeQuery(Resources(cru=most_cru * 4, sru=1)), over_provisioning=False)
    with pytest.raises(NoNodeFits, match="CPU cores"):
        node_fits(cur, node_id, NodeQuery(greedy), over_provisioning=False)
    disk = Resources(cru=1, sru=most_sru + 1)
    expected = rf"^no node has {most_sru + 1:g} GiB of free SSD storage \(the most any has is {most_sru:g} GiB\)$"
    with pytest.raises(NoNodeFits, match=expected):
        find_nodes(cur, NodeQuery(disk), over_provisioning=True)


def test_the_message_names_the_missing_capacity_of_the_pool(cur: Any, listing: list[dict[str, Any]]) -> None:
    pool = [n["node_id"] for n in listing[:6]]
    most = max(free(n, "sru") for n in listing[:6])
    query = NodeQuery(Resources(cru=1, mru=1, sru=most + 50), node_ids=pool, pool_label="pool 12")
    expected = rf"^no node of pool 12 has {most + 50:g} GiB of free SSD storage \(the most any has is {most:g} GiB\)$"
    with pytest.raises(NoNodeFits, match=expected):
        find_nodes(cur, query, over_provisioning=False)
    small = min(pool, key=lambda n: free(wire(listing, n), "sru"))
    with pytest.raises(NoNodeFits, match=rf"^node {small} has only \d+ GiB of free SSD storage \({most + 50:g} GiB"):
        node_fits(cur, small, query, over_provisioning=False)
    outsider = listing[7]["node_id"]
    with pytest.raises(NoNodeFits, match=rf"^node {outsider} is not in pool 12 and has only \d+ GiB of free SSD"):
        node_fits(cur, outsider, query, over_provisioning=False)
    with pytest.raises(NoNodeFits, match=rf"^node {outsider} is not in pool 12$"):
        node_fits(cur, outsider, NodeQuery(SMALL, node_ids=pool, pool_label="pool 12"), over_provisioning=False)
    with pytest.raises(NoNodeFits, match=r"^node nope is not on the grid$"):
        node_fits(cur, "nope", query, over_provisioning=False)


def test_an_empty_index_says_so(rollback_cursor: Any) -> None:
    rollback_cursor.execute("DELETE FROM deployer.nodes")
    with pytest.raises(NoNodeFits, match="no node is known yet"):
        find_nodes(rollback_cursor, NodeQuery(SMALL), over_provisioning=False)


def test_reserve_takes_the_space_until_the_next_refresh(cur: Any, listing: list[dict[str, Any]]) -> None:
    node = listing[5]
    free = node["total_resources"]["sru"] - max(0, node["reserved_resources"]["sru"])
    query = NodeQuery(Resources(cru=1, mru=1, sru=free), node_ids=[node["node_id"]])
    chosen = find_nodes(cur, query, over_provisioning=False)[0]
    reserve(cur, chosen.node_id, query.resources)
    with pytest.raises(NoNodeFits, match=r"SSD storage \(the most any has is 0 GiB\)"):
        find_nodes(cur, query, over_provisioning=False)
    with pytest.raises(NoNodeFits, match="has only 0 GiB of free SSD storage"):
        reserve(cur, chosen.node_id, query.resources, over_provisioning=True)
    after = get_node(cur, chosen.node_id)
    assert after is not None and after.free_sru == 0 and after.free_cru == chosen.free_cru - 1
    load_index(cur, listing)  # the next refresh: grid truth again
    assert find_nodes(cur, query, over_provisioning=False)[0].node_id == node["node_id"]


def test_a_held_reservation_outlives_refreshes_until_it_expires_or_is_released(
    cur: Any, listing: list[dict[str, Any]]
) -> None:
    node = listing[6]
    room = free(node, "sru")
    need = Resources(cru=1, mru=1, sru=room)
    reserve(cur, node["node_id"], need, over_provisioning=False, holder="solution-a")
    load_index(cur, listing)  # the grid does not show the deployment yet: the hold is added back
    held = get_node(cur, node["node_id"])
    assert held is not None and held.free_sru == 0
    with pytest.raises(NoNodeFits, match="has only 0 GiB of free SSD storage"):
        reserve(cur, node["node_id"], Resources(sru=1), over_provisioning=False, holder="solution-b")
    release(cur, "solution-a")  # rolled back: its capacity comes back at once
    after = get_node(cur, node["node_id"])
    assert after is not None and after.free_sru == room
    reserve(cur, node["node_id"], need, over_provisioning=False, holder="solution-c", hold_seconds=0)
    load_index(cur, listing)  # an expired hold is the grid's business again
    expired = get_node(cur, node["node_id"])
    assert expired is not None and expired.free_sru == room


def test_concurrent_reservations_cannot_both_take_the_last_space(grid: Grid, db: Database) -> None:
    refresh_index(db, grid.explorer)
    with db.transaction() as c:
        node = find_nodes(c, NodeQuery(SMALL), over_provisioning=False)[0]
    last = Resources(sru=node.free_sru)
    first = psycopg2.connect(TEST_DATABASE_URL, cursor_factory=psycopg2.extras.RealDictCursor)
    try:
        with first.cursor() as one:
            reserve(one, node.node_id, last, over_provisioning=False)  # holds the row until commit
            outcome: list[BaseException | None] = []

            def second() -> None:
                try:
                    with db.transaction() as two:
                        reserve(two, node.node_id, last, over_provisioning=False)
                    outcome.append(None)
                except NoNodeFits as exc:
                    outcome.append(exc)

            thread = threading.Thread(target=second)
            thread.start()
            thread.join(timeout=1)
            assert thread.is_alive()  # waiting for the first reservation to end
        first.commit()
        thread.join(timeout=10)
        assert len(outcome) == 1 and isinstance(outcome[0], NoNodeFits)
    finally:
        first.close()
        refresh_index(db, grid.explorer)  # grid truth again for whoever comes next
