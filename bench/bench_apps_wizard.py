"""The apps wizard from start to submitted, step by step, against the advanced Ubuntu wizard in the same run.

One stack (``bench_wizard.wizard_stack``: Caddy with forward_auth, auth-web, chatflow-web, the pools and deployer
workers, Celery beat, the grid and connect emulators), ``USERS`` signed-in users. Each user walks ``ROUNDS`` Cryptpad
wizards (start → name → storage size → end date → currency → plan → payment → [apps network] → overview →
submitted), each followed by an Ubuntu wizard (start → name … confirm → submitted, in the pool and network the stack
gave them), all users at once — the two wizards alternate so both meet the same load, including the deployments
they submitted running in the background — then one user alone walks both again. Every request a person's click sends
is timed: the start POST and each answer POST, through Caddy. What a person waits for between clicks is not:
paying the new pool (the benchmark pays it through the emulator's payment API, then waits for the pools service to
activate it) and the apps network being deployed (only a user's first app creates it).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import requests

from bench.bench_wizard import BAD_GATEWAY, Sample, WizardStack, _answers, _in_parallel, _ok, wizard_stack
from bench.harness import pay_reservations

USERS = 10
ROUNDS = 3  # walks of each wizard per user, all users at once
SOLO_ROUNDS = 5  # walks of each wizard by one user alone
APP = "cryptpad"
WAIT_S = 120  # for a payment to be credited or the apps network to deploy


def _app_answers(round_: int) -> dict[str, dict[str, Any]]:
    end = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    return {"name": {"name": f"pad{round_}"}, "app": {"size": "5"}, "end": {"end": end},
            "currency": {"currency": "TFT"}, "plan": {}, "payment": {}, "network": {}, "overview": {}}  # fmt: skip


def _ubuntu_answers(pool: int, round_: int) -> dict[str, dict[str, Any]]:
    return _answers(pool) | {"name": {"name": f"box{round_}"}, "confirm": {}}


def _wait_for(database: str, query: str, arg: object, wanted: str) -> None:
    """Poll one value in the stack's database until it is ``wanted`` (the time a person waits, not measured)."""
    deadline = time.monotonic() + WAIT_S
    conn = psycopg2.connect(database)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            while True:
                cur.execute(query, (arg,))
                row = cur.fetchone()
                if row is not None and row[0] == wanted:
                    return
                if time.monotonic() > deadline:
                    raise SystemExit(f"waited {WAIT_S} s for {query!r} ({arg}) to be {wanted!r}: {row}")
                time.sleep(0.1)
    finally:
        conn.close()


def _between(running: WizardStack) -> Callable[[str, dict[str, Any]], None]:
    """Before answering a step: pay the new pool (payment), wait for the apps network (network)."""

    def wait(step: str, view: dict[str, Any]) -> None:
        fields = {f["name"]: f for f in view["step"]["fields"]}
        if step == "payment":
            payment = fields["payment"]
            memo = dict(payment["rows"])["Memo"]
            match = re.fullmatch(r"p-(\d+)", memo)
            if match is None:
                raise SystemExit(f"unexpected payment memo {memo!r}")
            pay_reservations(running.grid, [int(match.group(1))])
            _wait_for(running.database, "SELECT state FROM pools.pools WHERE id = %s", payment["pool_id"], "active")
        elif step == "network" and "network_progress" in fields:
            _wait_for(running.database, "SELECT status FROM deployer.solutions WHERE id = %s::uuid",
                      fields["network_progress"]["solution_id"], "deployed")  # fmt: skip

    return wait


def walk(proxy: str, browser: requests.Session, flow: str, answers: dict[str, dict[str, Any]],
         between: Callable[[str, dict[str, Any]], None] = lambda step, view: None) -> list[Sample]:  # fmt: skip
    """One wizard of ``flow`` from its start to submitted: the start and every answer's round trip.

    A 502 (Caddy reusing a keep-alive connection gunicorn closes at that moment, see bench_wizard) is counted and
    the wizard goes on from wherever the session is.
    """
    samples: list[Sample] = []
    while True:
        t0 = time.perf_counter()
        started = browser.post(f"{proxy}/api/chatflows/{flow}", json={}, timeout=60)
        samples.append((f"{flow}:start", time.perf_counter() - t0, started.status_code))
        if started.status_code != BAD_GATEWAY:
            break
    if started.status_code != 201:
        raise SystemExit(f"starting {flow} failed: {started.status_code} {started.text[:200]}")
    view = started.json()
    session = f"{proxy}/api/chatflows/sessions/{view['id']}"
    while view["status"] == "active":
        step = view["step"]["name"]
        if step not in answers:
            raise SystemExit(f"the {flow} wizard has a step the benchmark does not know: {step}")
        between(step, view)
        t0 = time.perf_counter()
        answered = browser.post(f"{session}/answer", json={"answers": answers[step]}, timeout=60)
        samples.append((f"{flow}:{step}", time.perf_counter() - t0, answered.status_code))
        if answered.status_code == BAD_GATEWAY:
            answered = browser.get(session, timeout=60)
        if answered.status_code != 200:
            raise SystemExit(f"answering {flow} {step} failed: {answered.status_code} {answered.text[:300]}")
        view = answered.json()
    if view["status"] != "submitted":
        raise SystemExit(f"the {flow} wizard ended {view['status']}, not submitted")
    return samples


def run() -> str:
    with wizard_stack(users=USERS, beat=True, database="bench_apps_wizard") as running:
        proxy, sessions, pools = running.proxy, running.sessions, running.pools
        users = list(sessions)
        between = _between(running)

        def both(first: int, rounds: int) -> Callable[[str], list[Sample]]:
            def work(user: str) -> list[Sample]:
                samples = []
                for r in range(first, first + rounds):
                    samples += walk(proxy, sessions[user], APP, _app_answers(r), between)
                    samples += walk(proxy, sessions[user], "ubuntu", _ubuntu_answers(pools[user], r))
                return samples

            return work

        crowd, crowd_s = _in_parallel(both(0, ROUNDS), users)
        solo, _ = _in_parallel(both(ROUNDS, SOLO_ROUNDS), users[:1])

    walks = USERS * ROUNDS
    app_crowd, ubuntu_crowd = _of(APP, crowd), _of("ubuntu", crowd)
    app_solo, ubuntu_solo = _of(APP, solo), _of("ubuntu", solo)
    failed = [s for s in (*crowd, *solo) if s[2] >= 300]
    lines = [
        f"## The apps wizard (Cryptpad) against the Ubuntu wizard, start to submitted, through Caddy "
        f"({USERS} users at once, {ROUNDS} walks each; then 1 user alone, {SOLO_ROUNDS} walks)",
        f"| step | wizard | p50 ms, 1 user | p50 ms, {USERS} users | p99 ms, {USERS} users | n, {USERS} users |",
        "|---|---|---|---|---|---|",
        *_rows("Cryptpad", app_crowd, app_solo),
        *_rows("Ubuntu", ubuntu_crowd, ubuntu_solo),
        "",
        "| per walk | Cryptpad | Ubuntu |",
        "|---|---|---|",
        f"| requests timed (start + answers) | {len(app_crowd) / walks:.1f} | {len(ubuntu_crowd) / walks:.1f} |",
        f"| sum of the timed round trips, p50 ms ({USERS} users) | {_walk_sum(app_crowd):.0f} | "
        f"{_walk_sum(ubuntu_crowd):.0f} |",
        f"| sum of the timed round trips, p50 ms (1 user) | {_walk_sum(app_solo):.0f} | {_walk_sum(ubuntu_solo):.0f} |",
        "",
        f"wall time of the {walks} + {walks} walks: {crowd_s:.1f} s (with the payments and the first apps networks)",
        f"502 from Caddy (upstream keep-alive race; the wizard then went on): {len(failed)} requests, with "
        f"{len(_ok(crowd)) + len(_ok(solo))} answered",
    ]
    return "\n".join(lines)


def _of(flow: str, samples: list[Sample]) -> list[Sample]:
    """One wizard's samples, the step names without the wizard's prefix."""
    return [(step.split(":", 1)[1], s, status) for step, s, status in samples if step.startswith(f"{flow}:")]


def _rows(title: str, crowd: list[Sample], solo: list[Sample]) -> list[str]:
    steps = dict.fromkeys(step for step, _, _ in _ok(crowd))
    return [f"| {step} | {title} | {_p(solo, step, 50)} | {_p(crowd, step, 50)} | {_p(crowd, step, 99)} | "
            f"{sum(1 for s in _ok(crowd) if s[0] == step)} |" for step in steps]  # fmt: skip


def _p(samples: list[Sample], step: str, pct: int) -> str:
    values = [s * 1000 for name, s, _ in _ok(samples) if name == step]
    if not values:
        return "—"
    if pct == 50 or len(values) < 2:
        return f"{statistics.median(values):.1f}"
    return f"{statistics.quantiles(values, n=100)[pct - 1]:.1f}"


def _walk_sum(samples: list[Sample]) -> float:
    """The p50 of one walk's timed requests added up: chunks of the samples from ``start`` to the next start."""
    sums: list[float] = []
    for step, seconds, status in samples:
        if step == "start" and status != BAD_GATEWAY:
            sums.append(0.0)
        if status < 300 and sums:
            sums[-1] += seconds
    return statistics.median(sums) * 1000 if sums else 0.0


if __name__ == "__main__":
    print(run())
