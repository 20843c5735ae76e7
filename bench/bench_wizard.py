"""Wizard steps: the answer → next question round trip through Caddy, 50 users stepping through the ubuntu wizard.

The whole stack runs as real processes: Caddy (forward_auth to auth-web on every request), chatflow-web, the pools
and deployer workers answering the wizard's questions over Celery, the grid emulator, and the connect emulator the
50 users sign in through (one session cookie each, the current terms accepted). Each user has an active pool and a
network, so every step offers real choices. 50 threads then start ubuntu wizards and answer every step up to, but
not including, the confirmation (nothing deploys); each answer POST is timed. The floor is the same 50 threads
sending trivial requests to the same Caddy: ``GET /api/chatflows/healthz`` (proxy → gunicorn), and
``GET /api/chatflows`` (the catalogue: the same forward_auth and assertion check as an answer, no engine work).
The same requests from one user alone show what a step costs without queueing behind the others.
Target: p99 ≤ 50 ms on a 2-core machine. The stack runs with the shipped process layout (2 gunicorn workers of 4
threads per web service, 2 Celery processes per worker), the clients in this process.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
import requests

from bench.harness import (
    PYTHON,
    Timing,
    bench_env,
    free_port,
    http_ok,
    pay_reservations,
    process,
    scratch_database,
)
from services.common import contracts
from services.common.db import Database
from services.common.explorer import Explorer
from services.common.identity import load_identity
from services.common.migrations import migrate
from services.common.settings import Settings, load_settings
from services.common.tasks import close_celery, make_celery, send

USERS = 50
ROUNDS = 4  # measured walks per user (after one warm-up walk)
SOLO_ROUNDS = 10  # walks of one user alone
HEALTH = "/api/chatflows/healthz"
CATALOGUE = "/api/chatflows"
TARGET_P99_MS = 50.0
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJlbmNobWFyayBrZXkgZm9yIHRoZSB3aXphcmQ bench@host"


def _names(count: int = USERS) -> list[str]:
    return [f"wiz{i:02d}.3bot" for i in range(count)]


def _users_file(path: Path, names: list[str]) -> Path:
    """The connect emulator's test users: one phone per benchmark user (deterministic keys)."""
    users = [{"double_name": n, "email": f"{n.split('.')[0]}@example.com",
              "seed": hashlib.sha256(n.encode()).hexdigest()} for n in names]  # fmt: skip
    path.write_text(json.dumps(users))
    return path


def _login(proxy: str, connect: str, user: str) -> requests.Session:
    """Sign ``user`` in through Caddy and the emulated phone, accept the terms; the session cookie is kept."""
    browser = requests.Session()
    start = browser.get(f"{proxy}/auth/login", params={"provider": "3bot", "next": "/"}, allow_redirects=False,
                        timeout=10)  # fmt: skip
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["Location"]).query).items()}
    attempt = requests.post(
        f"{connect}/_emulator/attempt",
        json={"user": user, **{k: params[k] for k in ("state", "appid", "publickey", "redirecturl")}},
        timeout=10,
    ).json()
    done = browser.get(attempt["callback_url"], allow_redirects=False, timeout=10)
    if done.status_code != 302 or "mp_session" not in browser.cookies:
        raise SystemExit(f"login of {user} failed: {done.status_code} {done.text[:200]}")
    browser.headers["Origin"] = proxy  # what a page of ours sends with every POST
    accepted = browser.post(f"{proxy}/auth/terms/accept", json={}, timeout=10)
    if accepted.status_code != 200:
        raise SystemExit(f"terms of {user} not accepted: {accepted.status_code} {accepted.text[:200]}")
    return browser


def _pools(settings: Settings, grid: str, celery: Any, names: list[str]) -> dict[str, int]:
    """An active pool per user: bought through the pools service, paid through the emulator."""
    from services.pools import service as pools

    db = Database(settings.database_url, maxconn=2)
    explorer = Explorer(settings, load_identity(settings.identity_seed_file, create=True))
    owned: dict[str, int] = {}
    try:
        for owner in names:
            pool_id, _ = pools.create_pool(db, explorer, settings, owner, uuid.uuid4().hex, 1, "TFT",
                                           40 * 30 * 86400, 400 * 30 * 86400, 30)  # fmt: skip
            owned[owner] = int(pool_id)
        with db.transaction() as cur:
            cur.execute("SELECT grid_pool_id FROM pools.pools WHERE id = ANY(%s)", (list(owned.values()),))
            grid_pools = [r["grid_pool_id"] for r in cur.fetchall()]
        pay_reservations(grid, grid_pools)
        send(celery, contracts.POOLS_WATCH_PAYMENTS, contracts.WatchPayments()).get(timeout=120)
        with db.transaction() as cur:
            cur.execute("SELECT count(*) AS n FROM pools.pools WHERE id = ANY(%s) AND state = 'active'",
                        (list(owned.values()),))  # fmt: skip
            if cur.fetchone()["n"] != len(names):
                raise SystemExit("benchmark pools did not all become active")
    finally:
        db.close()
        explorer.close()
    return owned


def _networks(settings: Settings, celery: Any, pools: dict[str, int], timeout: float = 300) -> None:
    """A deployed network "net" per user (submitted together, as many users would)."""
    lookup = Database(settings.database_url, maxconn=1)
    try:
        with lookup.transaction() as cur:  # what the chatflow hands over: the owner's verified grid pool
            cur.execute("SELECT id, grid_pool_id FROM pools.pools WHERE id = ANY(%s)", (list(pools.values()),))
            grid = {int(r["id"]): int(r["grid_pool_id"]) for r in cur.fetchall()}
    finally:
        lookup.close()
    pending = [send(celery, contracts.DEPLOYER_SUBMIT, contracts.SubmitSolution(
        idempotency_key=uuid.uuid4().hex, owner=owner, type="network", spec={"name": "net", "pool_ids": [pool]},
        secrets="", pools=[contracts.VerifiedPool(pool_id=pool, grid_pool_id=grid[pool])]))
        for owner, pool in pools.items()]  # fmt: skip
    ids = [result.get(timeout=60)["solution_id"] for result in pending]
    db = Database(settings.database_url, maxconn=1)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with db.transaction() as cur:
                cur.execute("SELECT status, count(*) AS n FROM deployer.solutions WHERE id = ANY(%s::uuid[]) "
                            "GROUP BY status", (ids,))  # fmt: skip
                states = {r["status"]: r["n"] for r in cur.fetchall()}
            if states.get("deployed") == len(ids):
                return
            if any(s in states for s in ("rolled_back", "cancelled")):
                raise SystemExit(f"benchmark networks did not all deploy: {states}")
            time.sleep(0.2)
    finally:
        db.close()
    raise SystemExit("benchmark networks did not deploy in time")


@dataclass
class WizardStack:
    proxy: str  # Caddy, as the browser reaches it
    grid: str  # the grid emulator (its payment API)
    database: str  # the stack's database (what a benchmark waits for is read there: no pools/deployer web runs)
    sessions: dict[str, requests.Session]  # user → signed in, terms accepted
    pools: dict[str, int]  # user → an active pool (with a deployed network "net")


@contextmanager
def wizard_stack(users: int = USERS, beat: bool = False, database: str = "bench_wizard") -> Iterator[WizardStack]:
    """Every process the wizard needs, ``users`` signed-in users with a pool and a network "net" each. ``beat``:
    the Celery beat too (the pools' payment watch every second, the deployer's grid poller), for wizards that wait
    for a payment. ``database``: the name of the scratch database (one per benchmark)."""
    names = _names(users)
    ports = {k: free_port() for k in ("PROXY_PORT", "AUTH_PORT", "CHATFLOW_PORT", "CONNECT_EMULATOR_PORT")}
    grid_port, dns_port = free_port(), free_port()
    grid = f"http://127.0.0.1:{grid_port}"
    connect = f"http://127.0.0.1:{ports['CONNECT_EMULATOR_PORT']}"
    proxy = f"http://localhost:{ports['PROXY_PORT']}"
    with scratch_database(database) as database_url:
        env = bench_env(
            APP_ENV="dev", DATABASE_URL=database_url, EXPLORER_URL=f"{grid}/api/v1",
            MARKETPLACE_DOMAIN=f"localhost:{ports['PROXY_PORT']}", THREEBOT_LOGIN_URL=connect, OPENKYC_URL=connect,
            LOGIN_RATE_LIMIT="10000", WEB_CONCURRENCY="2", WORKER_CONCURRENCY="2", QUERY_TIMEOUT="10",
            DEPLOY_POLL_INTERVAL="0.2", DEPLOYER_PORT="9", POOLS_PORT="9", BACKUP_PORT="9",
            # The gateways' DNS and the certificate-transparency log are the emulator's (the apps' domains).
            DNS_RESOLVER=f"127.0.0.1:{dns_port}", CT_LOG_URL=f"{grid}/_emulator/ct",
            **{k: str(v) for k, v in ports.items()},
        )  # fmt: skip
        local = Path(env["LOCAL_DIR"])
        env["AUTH_SIGNING_SEED_FILE"] = str(local / "auth.seed")
        env["CONNECT_EMULATOR_USERS_FILE"] = str(_users_file(local / "users.json", names))
        env["PAYMENT_WATCH_INTERVAL"] = "1"
        settings = load_settings(env)
        # Made once here, before the processes start, so none of them races another to create a key.
        load_identity(settings.identity_seed_file, create=True)
        load_identity(local / "auth.seed", create=True)
        migrate(database_url, ("auth", "pools", "deployer", "chatflow"))
        broker = redis.Redis.from_url(env["REDIS_URL"])
        broker.flushdb()
        broker.close()
        celery = make_celery(settings)
        grid_args = ["--port", str(grid_port), "--dns-port", str(dns_port), "--state", str(local / "grid.sqlite3"),
                     "--nodes", "50", "--deploy-latency", "0", "--delete-latency", "0"]  # fmt: skip
        role = [PYTHON, "-m", "deploy.role"]
        try:
            with ExitStack() as stack:
                stack.enter_context(process([PYTHON, "-m", "emulators.grid", *grid_args], env,
                                            http_ok(f"{grid}/_emulator/healthz")))  # fmt: skip
                stack.enter_context(process([*role, "connect-emulator"], env, http_ok(f"{connect}/_emulator/healthz")))
                stack.enter_context(process([*role, "pools-worker"], env, lambda: True))
                stack.enter_context(process([*role, "deployer-worker"], env, lambda: True))
                if beat:
                    stack.enter_context(process([*role, "beat"], env, lambda: True))
                for service in ("auth", "chatflow"):
                    port = ports[f"{service.upper()}_PORT"]
                    stack.enter_context(process([*role, f"{service}-web"], env,
                                                http_ok(f"http://127.0.0.1:{port}/healthz")))  # fmt: skip
                stack.enter_context(process([*role, "proxy"], env, http_ok(f"{proxy}/api/chatflows/healthz")))
                for ping in (contracts.POOLS_PING, contracts.DEPLOYER_PING):
                    send(celery, ping, contracts.Ping()).get(timeout=60)
                pools = _pools(settings, grid, celery, names)
                _networks(settings, celery, pools)
                sessions = {user: _login(proxy, connect, user) for user in names}
                try:
                    yield WizardStack(proxy, grid, database_url, sessions, pools)
                finally:
                    for browser in sessions.values():
                        browser.close()
        finally:
            close_celery(celery)


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


def run() -> str:
    with wizard_stack(USERS) as running:
        proxy, sessions, pools = running.proxy, running.sessions, running.pools
        users = list(sessions)
        answers = {user: _answers(pools[user]) for user in users}

        def walks(rounds: int) -> Callable[[str], list[Sample]]:
            def work(user: str) -> list[Sample]:
                return [s for _ in range(rounds) for s in _walk(proxy, sessions[user], answers[user])]

            return work

        def gets(path: str, count: int) -> Callable[[str], list[Sample]]:
            def work(user: str) -> list[Sample]:
                samples = []
                for _ in range(count):
                    t0 = time.perf_counter()
                    response = sessions[user].get(f"{proxy}{path}", timeout=30)
                    samples.append((path, time.perf_counter() - t0, response.status_code))
                    if response.status_code != 200:
                        raise SystemExit(f"GET {path} failed: {response.status_code}")
                return samples

            return work

        _in_parallel(walks(1), users)  # warm-up: connections, caches, every code path once
        crowd, crowd_s = _in_parallel(walks(ROUNDS), users)
        per_user = len(_ok(crowd)) // len(users)
        health, health_s = _in_parallel(gets(HEALTH, per_user), users)
        catalogue, catalogue_s = _in_parallel(gets(CATALOGUE, per_user), users)
        # One user alone: what a step costs without queueing behind 49 others.
        solo, solo_s = _in_parallel(walks(SOLO_ROUNDS), users[:1])
        solo_health, solo_health_s = _in_parallel(gets(HEALTH, len(_ok(solo))), users[:1])
        solo_catalogue, solo_catalogue_s = _in_parallel(gets(CATALOGUE, len(_ok(solo))), users[:1])

    ours = _timing(f"answer POST → next step, {USERS} users at once", crowd, crowd_s)
    floors = [_timing(f"GET {HEALTH} (floor: Caddy → gunicorn)", health, health_s),
              _timing(f"GET {CATALOGUE} (floor + forward_auth)", catalogue, catalogue_s)]  # fmt: skip
    alone = [_timing("answer POST → next step, 1 user alone", solo, solo_s),
             _timing(f"GET {HEALTH}, 1 user alone", solo_health, solo_health_s),
             _timing(f"GET {CATALOGUE}, 1 user alone", solo_catalogue, solo_catalogue_s)]  # fmt: skip
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
        f"502 from Caddy (upstream keep-alive race; the wizard then went on): {len(failed)} requests, with "
        f"{len(_ok(crowd)) + len(_ok(solo))} answers",
        "",
        f"| step answered | p50 ms, 1 user | p50 ms, {USERS} users | p99 ms, {USERS} users |",
        "|---|---|---|---|",
        *(f"| {step} | {_p50(solo, step):.2f} | {_p50(crowd, step):.2f} | {_p99(crowd, step):.2f} |" for step in steps),
    ]
    return "\n".join(lines)


def _p50(samples: list[Sample], step: str) -> float:
    return statistics.median(s for name, s, _ in _ok(samples) if name == step) * 1000


def _p99(samples: list[Sample], step: str) -> float:
    return statistics.quantiles([s for name, s, _ in _ok(samples) if name == step], n=100)[98] * 1000


if __name__ == "__main__":
    print(run())
