"""Wizard steps: the answer → next question round trip through Caddy, 50 users stepping through the ubuntu wizard.

The whole stack runs as real processes: Caddy (forward_auth to auth-web on every request), chatflow-web, the pools
and deployer workers answering the wizard's questions over Celery, the grid emulator, and the connect emulator the
50 users sign in through (one session cookie each, the current terms accepted). Each user has an active pool and a
network, so every step offers real choices. 50 threads then start ubuntu wizards and answer every step up to, but
not including, the confirmation (nothing deploys); each answer POST is timed. The floor is the same 50 threads
sending trivial requests to the same Caddy: ``GET /api/chatflows/healthz`` (proxy → gunicorn, no session check),
``GET /api/chatflows`` (the catalogue, public: no session check either, but the app definitions) and
``GET /api/chatflows/sessions`` (the user's open wizards: the same session check as an answer, one small query —
the authenticated GET of issue 16's goals), the same with the browser's session pass dropped before each call (so
that every call asks auth-web through forward_auth, as every call did before the pass), and
``GET /api/chatflows/readyz`` (no session check, but a PostgreSQL and a Redis round trip: the sessions GET's work
without its session check).
The same requests from one user alone show what a step costs without queueing behind the others.
Target: p99 ≤ 50 ms on a 2-core machine. The stack runs with the shipped process layout (2 gunicorn workers of 4
threads per web service, 2 Celery processes per worker), the clients in this process.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from bench.harness import Timing, cpu_seconds
from bench.wizard_world import USERS, WizardStack, wizard_stack

__all__ = ["WizardStack", "wizard_stack"]

ROUNDS = 4  # measured walks per user (after one warm-up walk)
SOLO_ROUNDS = 10  # walks of one user alone
HEALTH = "/api/chatflows/healthz"
CATALOGUE = "/api/chatflows"
AUTHED = "/api/chatflows/sessions"
READY = "/api/chatflows/readyz"
TARGET_P99_MS = 50.0
PAIRS = int(os.environ.get("BENCH_WIZARD_METRICS_PAIRS", "1"))  # stacks with and without the metrics
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJlbmNobWFyayBrZXkgZm9yIHRoZSB3aXphcmQ bench@host"


def _answers(pool: int) -> dict[str, dict[str, Any]]:
    return {
        "name": {"name": "box"},
        "version": {"version": "ubuntu-20.04"},
        "resources": {"cpu": 1, "memory": 1024, "disk": 256},
        "pool_id": {"pool_id": str(pool)},
        "network": {"network": "net"},
        "logs": {"logs": "no"},
        "ssh_key": {"ssh_key": {"filename": "id.pub", "content": SSH_KEY + "\n"}},
        "node_auto": {"node_auto": "yes"},
        "ip": {"ip": "auto"},
        "ipv6": {"ipv6": "no"},
    }


Sample = tuple[str, float, int]  # (step or path, seconds, HTTP status)
BAD_GATEWAY = 502


def _walk(proxy: str, browser: requests.Session, answers: dict[str, dict[str, Any]]) -> list[Sample]:
    """One ubuntu wizard from its first step to its confirmation (not answered): each answer's round trip.

    A 502 is Caddy reusing a keep-alive connection that gunicorn closes at that moment (gunicorn's keep-alive is
    2 s, Caddy's 2 min; Caddy retries only idempotent requests): counted, then the wizard goes on from wherever
    the session is.
    """
    samples: list[Sample] = []
    started = browser.post(f"{proxy}/api/chatflows/ubuntu", json={}, timeout=30)
    while started.status_code == BAD_GATEWAY:
        samples.append(("start", 0.0, BAD_GATEWAY))
        started = browser.post(f"{proxy}/api/chatflows/ubuntu", json={}, timeout=30)
    if started.status_code != 201:
        raise SystemExit(f"starting a wizard failed: {started.status_code} {started.text[:200]}")
    view = started.json()
    session = f"{proxy}/api/chatflows/sessions/{view['id']}"
    while not view["step"]["final"]:
        step = view["step"]["name"]
        if step not in answers:
            raise SystemExit(f"the ubuntu wizard has a step the benchmark does not know: {step}")
        t0 = time.perf_counter()
        answered = browser.post(f"{session}/answer", json={"answers": answers[step]}, timeout=30)
        samples.append((step, time.perf_counter() - t0, answered.status_code))
        if answered.status_code == BAD_GATEWAY:
            answered = browser.get(session, timeout=30)
        if answered.status_code != 200:
            raise SystemExit(f"answering {step} failed: {answered.status_code} {answered.text[:300]}")
        view = answered.json()
    browser.delete(session, timeout=30)
    return samples


def _in_parallel(work: Callable[[str], list[Sample]], users: list[str]) -> tuple[list[Sample], float]:
    """Run ``work(user)`` in one thread per user, all released at once; (every sample, wall seconds)."""
    barrier = threading.Barrier(len(users) + 1)
    results: dict[str, list[Sample]] = {}
    failures: list[BaseException] = []

    def run(user: str) -> None:
        barrier.wait()
        try:
            results[user] = work(user)
        except BaseException as exc:  # reported below, in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} benchmark users failed; first: {failures[0]!r}")
    return [sample for samples in results.values() for sample in samples], seconds


def _timing(name: str, samples: list[Sample], seconds: float) -> Timing:
    """The successful requests' latencies (``per_second`` counts them only, over the whole run)."""
    return Timing(name, len(_ok(samples)), seconds, [s for _, s, _ in _ok(samples)])


def _ok(samples: list[Sample]) -> list[Sample]:
    return [s for s in samples if s[2] < 300]


def _answers_in(metrics: str) -> tuple[Timing, Timing, float]:
    """The answers on a stack whose processes run with ``METRICS=<metrics>``: 50 users at once, then 1 alone, and
    the CPU every process of the stack spent per answer of the 50 users (ms)."""
    with wizard_stack(USERS, metrics=metrics) as running:
        proxy, sessions = running.proxy, running.sessions
        answers = {user: _answers(running.pools[user]) for user in sessions}

        def walks(rounds: int) -> Callable[[str], list[Sample]]:
            return lambda user: [s for _ in range(rounds) for s in _walk(proxy, sessions[user], answers[user])]

        _in_parallel(walks(1), list(sessions))
        cpu = cpu_seconds(running.local_dir)
        crowd, crowd_s = _in_parallel(walks(ROUNDS), list(sessions))
        cpu = (cpu_seconds(running.local_dir) - cpu) / len(_ok(crowd)) * 1000
        solo, solo_s = _in_parallel(walks(SOLO_ROUNDS), list(sessions)[:1])
    return _timing(f"answers, METRICS={metrics}", crowd, crowd_s), _timing("1 user alone", solo, solo_s), cpu


Pair = tuple[tuple[Timing, Timing, float], tuple[Timing, Timing, float]]  # (with, without)


def _metrics_cost(pairs: list[Pair]) -> list[str]:
    """Issue 18: the metrics add at most 5 % to the answer (with / without, same run, pairs back to back)."""
    lines = ["", f"| metrics (issue 18: ≤ 5 %), {len(pairs)} pair(s) | with p50 ms | without p50 ms | with p99 ms "
             "| without p99 ms | answers/s with / without |", "|---|---|---|---|---|---|"]  # fmt: skip
    for index, (on, off) in enumerate(pairs, 1):
        for who, with_, without in ((f"{USERS} users", on[0], off[0]), ("1 user alone", on[1], off[1])):
            lines.append(f"| pair {index}, {who} | {with_.p50_ms:.2f} | {without.p50_ms:.2f} | {with_.p99_ms:.2f} "
                         f"| {without.p99_ms:.2f} | {with_.per_second:.0f} / {without.per_second:.0f} |")  # fmt: skip
    for who, crowd in ((f"{USERS} users", True), ("1 user alone", False)):
        ratios = [(on[0] if crowd else on[1]).p50_ms / (off[0] if crowd else off[1]).p50_ms for on, off in pairs]
        lines.append(f"with / without, p50, {who}: median {statistics.median(ratios):.3f} "
                     f"({', '.join(f'{r:.3f}' for r in ratios)})")  # fmt: skip
    cpu = [on[2] / off[2] for on, off in pairs]
    cpu_on, cpu_off = statistics.median(on[2] for on, _ in pairs), statistics.median(off[2] for _, off in pairs)
    each = ", ".join(f"{c:.3f}" for c in cpu)
    lines.append(f"CPU of every process of the stack per answer ({USERS} users), with / without: {cpu_on:.1f} / "
                 f"{cpu_off:.1f} ms, median {statistics.median(cpu):.3f} ({each})")  # fmt: skip
    return lines


def run() -> str:
    # Without the metrics first, then the stack as shipped (with them): both in one run (issue 18); more pairs,
    # each in turn without or with first, with BENCH_WIZARD_METRICS_PAIRS.
    unmetered = _answers_in("off")
    with wizard_stack(USERS) as running:
        proxy, sessions, pools = running.proxy, running.sessions, running.pools
        users = list(sessions)
        answers = {user: _answers(pools[user]) for user in users}

        def walks(rounds: int) -> Callable[[str], list[Sample]]:
            def work(user: str) -> list[Sample]:
                return [s for _ in range(rounds) for s in _walk(proxy, sessions[user], answers[user])]

            return work

        def gets(path: str, count: int, via_auth: bool = False) -> Callable[[str], list[Sample]]:
            def work(user: str) -> list[Sample]:
                samples = []
                for _ in range(count):
                    if via_auth:
                        _drop_pass(sessions[user])
                    t0 = time.perf_counter()
                    response = sessions[user].get(f"{proxy}{path}", timeout=30)
                    samples.append((path, time.perf_counter() - t0, response.status_code))
                    if response.status_code != 200:
                        raise SystemExit(f"GET {path} failed: {response.status_code}")
                return samples

            return work

        _in_parallel(walks(1), users)  # warm-up: connections, caches, every code path once
        cpu = cpu_seconds(running.local_dir)
        crowd, crowd_s = _in_parallel(walks(ROUNDS), users)
        cpu = (cpu_seconds(running.local_dir) - cpu) / len(_ok(crowd)) * 1000
        per_user = len(_ok(crowd)) // len(users)
        health, health_s = _in_parallel(gets(HEALTH, per_user), users)
        catalogue, catalogue_s = _in_parallel(gets(CATALOGUE, per_user), users)
        authed, authed_s = _in_parallel(gets(AUTHED, per_user), users)
        via_auth, via_auth_s = _in_parallel(gets(AUTHED, per_user, via_auth=True), users)
        ready, ready_s = _in_parallel(gets(READY, per_user), users)
        # One user alone: what a step costs without queueing behind 49 others.
        solo, solo_s = _in_parallel(walks(SOLO_ROUNDS), users[:1])
        solo_health, solo_health_s = _in_parallel(gets(HEALTH, len(_ok(solo))), users[:1])
        solo_catalogue, solo_catalogue_s = _in_parallel(gets(CATALOGUE, len(_ok(solo))), users[:1])
        solo_authed, solo_authed_s = _in_parallel(gets(AUTHED, len(_ok(solo))), users[:1])
        solo_via_auth, solo_via_auth_s = _in_parallel(gets(AUTHED, len(_ok(solo)), via_auth=True), users[:1])
        solo_ready, solo_ready_s = _in_parallel(gets(READY, len(_ok(solo))), users[:1])

    ours = _timing(f"answer POST → next step, {USERS} users at once", crowd, crowd_s)
    floors = [_timing(f"GET {HEALTH} (floor: Caddy → gunicorn)", health, health_s),
              _timing(f"GET {CATALOGUE} (public catalogue)", catalogue, catalogue_s),
              _timing(f"GET {AUTHED} (session pass: no forward_auth)", authed, authed_s),
              _timing(f"GET {AUTHED} (every call through forward_auth)", via_auth, via_auth_s),
              _timing(f"GET {READY} (the same work, no session check)", ready, ready_s)]  # fmt: skip
    alone = [_timing("answer POST → next step, 1 user alone", solo, solo_s),
             _timing(f"GET {HEALTH}, 1 user alone", solo_health, solo_health_s),
             _timing(f"GET {CATALOGUE}, 1 user alone", solo_catalogue, solo_catalogue_s),
             _timing(f"GET {AUTHED}, 1 user alone", solo_authed, solo_authed_s),
             _timing(f"GET {AUTHED} through forward_auth, 1 user alone", solo_via_auth, solo_via_auth_s),
             _timing(f"GET {READY}, 1 user alone", solo_ready, solo_ready_s)]  # fmt: skip
    ratios = [f"{f.name.split(' (')[0]}: p50 {ours.p50_ms / f.p50_ms:.1f}x, p99 {ours.p99_ms / f.p99_ms:.1f}x"
              for f in floors]  # fmt: skip
    measured = (ours, *floors, *alone)
    steps = dict.fromkeys(step for step, _, _ in _ok(crowd))
    failed = [s for s in (*crowd, *solo) if s[2] >= 300]
    met = "met" if ours.p99_ms <= TARGET_P99_MS else "NOT met"
    lines = [
        f"## Wizard step round trips through Caddy ({USERS} concurrent users, ubuntu wizard)",
        "| measured | n | p50 ms | p99 ms | per s |",
        "|---|---|---|---|---|",
        *(f"| {t.name} | {t.count} | {t.p50_ms:.2f} | {t.p99_ms:.2f} | {t.per_second:.0f} |" for t in measured),
        f"ratio ({USERS} users, ours / floor): " + "; ".join(ratios),
        f"target p99 ≤ {TARGET_P99_MS:.0f} ms with {USERS} users: {met} ({ours.p99_ms:.1f} ms)",
        *_goals(ours, floors, alone),
        f"502 from Caddy (upstream keep-alive race; the wizard then went on): {len(failed)} requests, with "
        f"{len(_ok(crowd)) + len(_ok(solo))} answers",
        "",
        f"| step answered | p50 ms, 1 user | p50 ms, {USERS} users | p99 ms, {USERS} users |",
        "|---|---|---|---|",
        *(f"| {step} | {_p50(solo, step):.2f} | {_p50(crowd, step):.2f} | {_p99(crowd, step):.2f} |" for step in steps),
        *_metrics_cost([((ours, alone[0], cpu), unmetered), *_more_pairs()]),
    ]
    return "\n".join(lines)


def _more_pairs() -> list[Pair]:
    pairs: list[Pair] = []
    for index in range(1, PAIRS):
        order = ("on", "off") if index % 2 else ("off", "on")
        measured = {metrics: _answers_in(metrics) for metrics in order}
        pairs.append((measured["on"], measured["off"]))
    return pairs


def _drop_pass(browser: requests.Session) -> None:
    for cookie in [c for c in browser.cookies if c.name == "mp_pass"]:
        browser.cookies.clear(cookie.domain, cookie.path, cookie.name)


def _goals(answers: Timing, floors: list[Timing], alone: list[Timing]) -> list[str]:
    """Issue 16's goals: throughput at 50 users as a share of healthz's, 1-user p50 as a multiple of healthz's;
    and the session check's own cost: the sessions GET against readyz (the same round trips, no check)."""
    health, _, authed, via_auth, ready = floors
    solo_answer, solo_health, _, solo_authed, solo_via_auth, solo_ready = alone

    def share(t: Timing) -> str:
        return f"{100 * t.per_second / health.per_second:.0f} % of healthz throughput"

    def times(t: Timing) -> str:
        return f"{t.p50_ms / solo_health.p50_ms:.1f}x healthz"

    return [
        f"goal, authenticated GET {AUTHED}: {USERS} users {share(authed)} (≥ 70 %); 1 user p50 {times(solo_authed)} "
        "(≤ 1.5x)",
        f"goal, wizard answer: {USERS} users {share(answers)} (≥ 50 %), p99 {answers.p99_ms:.0f} ms; 1 user p50 "
        f"{times(solo_answer)} (≤ 2.5x)",
        f"before the pass (every call through forward_auth): {USERS} users {share(via_auth)}; 1 user p50 "
        f"{times(solo_via_auth)}",
        f"the session check's own cost: {AUTHED} at {USERS} users {100 * authed.per_second / ready.per_second:.0f} % "
        f"of {READY}'s throughput (1 user p50 {solo_authed.p50_ms / solo_ready.p50_ms:.2f}x); through forward_auth "
        f"{100 * via_auth.per_second / ready.per_second:.0f} % ({solo_via_auth.p50_ms / solo_ready.p50_ms:.2f}x)",
    ]


def _p50(samples: list[Sample], step: str) -> float:
    return statistics.median(s for name, s, _ in _ok(samples) if name == step) * 1000


def _p99(samples: list[Sample], step: str) -> float:
    return statistics.quantiles([s for name, s, _ in _ok(samples) if name == step], n=100)[98] * 1000


if __name__ == "__main__":
    print(run())
