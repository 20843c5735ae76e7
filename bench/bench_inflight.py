"""500 Ubuntu solutions submitted at once while the grid takes 30 s to deploy each workload.

What waiting costs. The emulator's request counters are sampled every second during the run; afterwards the
emulator's state file says, for every container, when it was sent (``created``) and when its node reported it
deployed (``active_from``, exact whoever looked when), so the number in flight (sent, not yet deployed by the grid)
is known at every sample. Reported: explorer GETs per minute over the span where the number in flight stays
within 90 % of its peak (the target: one listing per tick, whatever that number), and per solution the time from
the grid deploying its container to the solution being ``deployed`` (its ``finished_at``; target ≤ one tick).
Also printed: how many due events (deployments, deletions, payments) the emulator's node agents applied in the
background and how many a request had to replay inside its answer (``GET /_emulator/stats``).
If sending all N takes longer than the latency, fewer than N are ever in flight together: the peak is printed.

``BENCH_INFLIGHT_N`` (500), ``BENCH_INFLIGHT_LATENCY`` (30 s), ``BENCH_INFLIGHT_WORKERS`` (4),
``BENCH_INFLIGHT_TICK`` (how often a waiting deployment looks at the grid: ``DEPLOY_POLL_INTERVAL``, 2 s).
"""

from __future__ import annotations

import bisect
import math
import os
import statistics
import threading
import time
from dataclasses import dataclass, field

import requests

from bench.deploy_world import (
    Watcher,
    World,
    committed_transactions,
    difference,
    explorer_requests,
    grid_clock_offset,
    grid_rows,
    running,
    submit_all,
    ubuntu,
    world,
)

N = int(os.environ.get("BENCH_INFLIGHT_N", "500"))
LATENCY = float(os.environ.get("BENCH_INFLIGHT_LATENCY", "30"))
WORKERS = int(os.environ.get("BENCH_INFLIGHT_WORKERS", "4"))
TICK = os.environ.get("BENCH_INFLIGHT_TICK", "2")
PER_NODE = 200  # a node's /24 holds ~250 addresses
PEAK_SHARE = 0.9


@dataclass
class Sampler:
    """Explorer GETs answered so far, every second, on a thread of its own (admin requests are not counted)."""

    w: World
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            gets = {key: n for key, n in explorer_requests(self.w).items() if key.startswith("GET ")}
            self.samples.append((time.time(), gets))
            self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Container:
    sent: float  # wall-clock seconds
    deployed: float  # when the grid reported it
    finished: float  # when the solution became deployed


def _containers(w: World, watcher: Watcher, ids: list[str]) -> list[Container]:
    rows = watcher.rows("SELECT w.grid_id, s.finished_at FROM deployer.workloads w JOIN deployer.solutions s "
                        "ON s.id = w.solution_id WHERE s.id = ANY(%s::uuid[]) AND w.grid_id IS NOT NULL",
                        (ids,))  # fmt: skip
    offset = grid_clock_offset(w)
    grid = {int(r["id"]): r for r in grid_rows(w, "SELECT id, created, active_from FROM workloads")}
    return [Container(float(grid[int(r["grid_id"])]["created"]) - offset,
                      float(grid[int(r["grid_id"])]["active_from"]) - offset, r["finished_at"].timestamp())
            for r in rows]  # fmt: skip


def _lifecycle_events(w: World) -> dict[str, int]:
    """Due events the emulator applied so far: by its node agents in the background, or replayed by a request that
    found them due and not applied yet (what a listing pays for inside its answer)."""
    return dict(requests.get(f"{w.grid}/_emulator/stats", timeout=10).json()["lifecycle_events"])


def _in_flight(containers: list[Container], at: float) -> int:
    return sum(1 for c in containers if c.sent <= at < c.deployed)


def _peak_span(samples: list[tuple[float, dict[str, int]]], flying: list[int], sent_all: float) -> tuple[int, int]:
    """First and last sample with at least PEAK_SHARE of the peak in flight, after the last one was sent if that
    leaves 3 s or more (waiting only, no sending in the window)."""
    top = max(flying)
    inside = [i for i, n in enumerate(flying) if n >= PEAK_SHARE * top]
    waiting = [i for i in inside if samples[i][0] >= sent_all]
    if len(waiting) >= 2 and samples[waiting[-1]][0] - samples[waiting[0]][0] >= 3:
        return waiting[0], waiting[-1]
    return inside[0], inside[-1]


def run() -> str:
    with world(nodes=math.ceil(N / PER_NODE), deploy_latency=LATENCY, DEPLOY_POLL_INTERVAL=TICK) as w:
        before_tx = committed_transactions()
        with running(w, WORKERS):
            watcher = Watcher(w.database_url)
            calls_start = explorer_requests(w)
            sampler = Sampler(w)
            t_submit = time.time()
            ids = submit_all(w, [ubuntu(w, f"f{i}", w.nodes[i % len(w.nodes)]) for i in range(N)])
            watcher.wait_final(ids, step=0.5)
            total = time.time() - t_submit
            sampler.stop()
            calls_all = difference(explorer_requests(w), calls_start)
            events = _lifecycle_events(w)
            containers = _containers(w, watcher, ids)
            watcher.close()
        transactions = committed_transactions() - before_tx - watcher.transactions
    samples = sampler.samples
    flying = [_in_flight(containers, t) for t, _ in samples]
    sent_all = max(c.sent for c in containers)
    first, last = _peak_span(samples, flying, sent_all)
    span = samples[last][0] - samples[first][0]
    window = difference(samples[last][1], samples[first][1])
    gets_per_minute = sum(window.values()) * 60 / span if span > 0 else float("nan")
    waiting_only = samples[first][0] >= sent_all
    mean_flying = statistics.mean(flying[first : last + 1])
    lags = sorted(c.finished - c.deployed for c in containers)
    tick = float(TICK)
    within_tick = bisect.bisect_right(lags, tick) / len(lags)
    lines = [
        f"## {N} Ubuntu solutions submitted at once, grid deploy latency {LATENCY:g} s, {WORKERS} deployer workers, "
        f"tick {TICK} s",
        "| measured | value |",
        "|---|---|",
        f"| in flight at the peak (sent, not yet deployed by the grid) | {max(flying)} (all {N} sent "
        f"{sent_all - t_submit:.1f} s after submission) |",
        f"| explorer GETs per minute at the peak ({span:.0f} s with ≥ {PEAK_SHARE:.0%} of it in flight, "
        f"{mean_flying:.0f} on average, {'all sent' if waiting_only else 'sending still under way'}) "
        f"| {gets_per_minute:.0f} |",
        f"| grid deployed → solution deployed, p50 / p90 / max | {statistics.median(lags):.1f} / "
        f"{lags[int(len(lags) * 0.9)]:.1f} / {lags[-1]:.1f} s ({within_tick:.0%} within one tick) |",
        f"| submission → all {N} deployed | {total:.1f} s |",
        f"| explorer calls per deployment (whole run) | {sum(calls_all.values()) / N:.1f} |",
        f"| transactions per deployment (whole run) | {transactions / N:.1f} |",
        f"| due events the emulator applied in the background / replayed inside requests | "
        f"{events['background']} / {events['requests']} |",
        "at the peak, per minute: "
        + ", ".join(f"{k} {n * 60 / span:.0f}" for k, n in sorted(window.items(), key=lambda item: -item[1])),
        "whole run, per deployment: "
        + ", ".join(f"{k} {n / N:.2f}" for k, n in sorted(calls_all.items(), key=lambda item: -item[1])),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
