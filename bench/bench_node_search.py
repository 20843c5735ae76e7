"""Node search on a 10,000-node grid emulator (target: p99 ≤ 20 ms).

The node index is refreshed from a real grid emulator into a scratch PostgreSQL database (created, migrated and
dropped here, so the test database is never touched), then mixed searches run through ``find_nodes`` exactly as
the deployer does: one transaction each, pool / farm / public IPv4 / resource filters, a failed search's
explanation included. Compared with a bare transaction (``SELECT 1``, the floor of any PostgreSQL search) and with
the same search done by listing the whole grid from the explorer per request (what the index replaces).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from bench.harness import PYTHON, Timing, bench_env, free_port, http_ok, measure, process, scratch_database
from services.common.capacity import Resources
from services.common.db import Database
from services.common.explorer import Explorer
from services.common.identity import Identity
from services.common.migrations import migrate
from services.common.settings import load_settings
from services.deployer.grid.node_finder import NodeQuery, NoNodeFits, endpoints_of, find_nodes, refresh_index

NODES, FARMS = 10_000, 50
SIZES = (Resources(1, 1, 10), Resources(2, 4, 50), Resources(4, 8, 100), Resources(8, 32, 500),
         Resources(1, 2, 0, 1000), Resources(16, 64, 1500))  # fmt: skip
TOO_BIG = Resources(2, 4, 3000)  # more SSD than any emulated node has: a failed search, explained
SCRATCH_DB = "bench_node_search"
WARMUP = 20  # measure()'s default warm-up steps, which also search


def _queries(listing: list[dict[str, Any]], n: int) -> list[tuple[NodeQuery, int]]:
    """A reproducible mix: a 200-node pool, a farm, a country, public IPv4, sizes small to large, 1–3 nodes;
    one search in 20 asks for more than any node has."""
    rng = random.Random(42)
    node_ids = [node["node_id"] for node in listing]
    pools = [rng.sample(node_ids, 200) for _ in range(20)]
    countries = sorted({node["location"]["country"] for node in listing})
    mix = []
    for _ in range(n):
        kind = rng.random()
        resources = TOO_BIG if rng.random() < 0.05 else rng.choice(SIZES)
        if kind < 0.5:
            query = NodeQuery(resources, node_ids=rng.choice(pools), public_ipv4=rng.random() < 0.3)
        elif kind < 0.75:
            query = NodeQuery(resources, farm_id=rng.randint(1, FARMS), public_ipv4=rng.random() < 0.5)
        elif kind < 0.9:
            query = NodeQuery(resources, country=rng.choice(countries))
        else:
            query = NodeQuery(resources, public_ipv4=True, free_to_use=rng.random() < 0.5)
        mix.append((query, rng.choice((1, 1, 1, 2, 3))))
    return mix


def _search_step(db: Database, mix: list[tuple[NodeQuery, int]], misses: list[int]) -> Callable[[], None]:
    state = {"i": 0}

    def step() -> None:
        query, count = mix[state["i"] % len(mix)]
        state["i"] += 1
        with db.transaction() as cur:
            try:
                find_nodes(cur, query, count, over_provisioning=False)
            except NoNodeFits:
                misses.append(state["i"])

    return step


def _listing_step(explorer: Explorer, mix: list[tuple[NodeQuery, int]]) -> Callable[[], None]:
    """The search without an index: list the whole grid, then filter in Python (as the original did)."""
    rng = random.Random(7)

    def step() -> None:
        query, count = rng.choice(mix)
        now = time.time()
        fits = []
        for node in explorer.list_all("/nodes", size=1000):
            total, reserved = node["total_resources"], node["reserved_resources"]
            free = {u: float(total[u]) - max(0.0, float(reserved[u])) for u in ("cru", "mru", "sru", "hru")}
            if (
                node["updated"] >= now - 600
                and (query.node_ids is None or node["node_id"] in query.node_ids)
                and (query.farm_id is None or node["farm_id"] == query.farm_id)
                and (query.country is None or node["location"]["country"] == query.country)
                and (not query.free_to_use or node["free_to_use"])
                and (not query.public_ipv4 or endpoints_of(node)[0] is not None)
                and all(free[u] >= getattr(query.resources, u) for u in free)
            ):
                fits.append(node["node_id"])
        random.sample(fits, min(count, len(fits)))

    return step


def _table(title: str, ours: Timing, parts: list[Timing], others: list[Timing], extra: list[str]) -> str:
    lines = [f"## {title}", "| measured | n | p50 ms | p99 ms | per s |", "|---|---|---|---|---|"]
    for t in (ours, *parts, *others):
        lines.append(f"| {t.name} | {t.count} | {t.p50_ms:.2f} | {t.p99_ms:.2f} | {t.per_second:.0f} |")
    for other in others:
        ratio = ours.p50_ms / other.p50_ms
        if ratio >= 1:
            lines.append(f"ratio (p50, ours / {other.name}): {ratio:.1f}x")
        else:  # the index is the faster one: say by how much
            lines.append(f"ratio (p50, {other.name} / ours): {1 / ratio:,.0f}x")
    return "\n".join([*lines, *extra])


def run(n: int = 2000, listings: int = 5) -> str:
    port = free_port()
    grid = f"http://127.0.0.1:{port}"
    env = bench_env(EXPLORER_URL=f"{grid}/api/v1", HTTP_READ_TIMEOUT="60")
    # The state path comes last: the harness names the process log after the last argument (grid.sqlite3.log).
    args = [PYTHON, "-m", "emulators.grid", "--port", str(port), "--nodes", str(NODES), "--farms", str(FARMS),
            "--seed", "1", "--threads", "4", "--state", f"{env['LOCAL_DIR']}/grid.sqlite3"]  # fmt: skip
    with scratch_database(SCRATCH_DB) as database_url:
        migrate(database_url, ("deployer",))
        db = Database(database_url, maxconn=2)
        explorer = Explorer(load_settings(env), Identity(bytes(range(1, 33))))
        try:
            with process(args, env, http_ok(f"{grid}/_emulator/healthz"), timeout=180):
                t0 = time.perf_counter()
                indexed = refresh_index(db, explorer)
                first_refresh = time.perf_counter() - t0
                t0 = time.perf_counter()
                refresh_index(db, explorer)
                refresh = time.perf_counter() - t0
                assert indexed == NODES, f"indexed {indexed} nodes, the emulator has {NODES}"
                mix = _queries(explorer.list_all("/nodes", size=1000), n)
                misses: list[int] = []
                ours = measure(f"find_nodes on the {NODES:,}-node index", n, _search_step(db, mix, misses))
                # Step i (1-based, warm-up included) is latency i - WARMUP - 1 of the measured ones.
                failed = [ours.latencies[i - WARMUP - 1] for i in misses if i > WARMUP]
                failures = Timing("of which failed searches (with the reason)", len(failed), sum(failed), failed)
                floor = measure("transaction with SELECT 1 (floor)", n, lambda: db.ping())
                listing = measure("list the whole grid per search", listings, _listing_step(explorer, mix), warmup=1)
        finally:
            explorer.close()
            db.close()
    extra = [
        f"index refresh of {NODES:,} nodes from the explorer: {first_refresh:.2f} s first, {refresh:.2f} s after",
        f"target p99 ≤ 20 ms: {'met' if ours.p99_ms <= 20 else 'MISSED'}",
    ]
    parts = [failures] if failures.count >= 2 else []  # quantiles need two values
    return _table(f"Node search on a {NODES:,}-node grid", ours, parts, [floor, listing], extra)


if __name__ == "__main__":
    print(run())
