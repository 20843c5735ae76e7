"""The wizard benchmarks' world: the whole stack as real processes and 50 signed-in users, each with an active
pool and a deployed network "net" (used by ``bench_wizard``, ``bench_apps_wizard`` and ``bench_page_load``)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
import requests

from bench.harness import PYTHON, bench_env, free_port, http_ok, pay_reservations, process, scratch_database
from services.common import contracts
from services.common.db import Database
from services.common.explorer import Explorer
from services.common.identity import load_identity
from services.common.migrations import migrate
from services.common.settings import Settings, load_settings
from services.common.tasks import close_celery, make_celery, send

USERS = 50
# A web service not run is a closed port: Caddy answers 502 for it at once.
CLOSED = {"DEPLOYER_PORT": 9, "POOLS_PORT": 9, "BACKUP_PORT": 9}


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
    local_dir: str = ""  # the LOCAL_DIR every process of the stack runs with (harness.cpu_seconds)


@contextmanager
def wizard_stack(users: int = USERS, beat: bool = False, database: str = "bench_wizard",
                 web: tuple[str, ...] = ("auth", "chatflow"),
                 metrics: str = "on") -> Iterator[WizardStack]:  # fmt: skip
    """Every process the wizard needs, ``users`` signed-in users with a pool and a network "net" each. ``beat``:
    the Celery beat too (the pools' payment watch every second, the deployer's grid poller), for wizards that wait
    for a payment. ``database``: the name of the scratch database (one per benchmark). ``web``: the web services
    run (the others answer 502 through Caddy). ``metrics``: ``METRICS`` of every process (``off``: no instrument
    records)."""
    names = _names(users)
    ports = {k: free_port() for k in ("PROXY_PORT", "CONNECT_EMULATOR_PORT", *(f"{s.upper()}_PORT" for s in web))}
    grid_port, dns_port = free_port(), free_port()
    grid = f"http://127.0.0.1:{grid_port}"
    connect = f"http://127.0.0.1:{ports['CONNECT_EMULATOR_PORT']}"
    proxy = f"http://localhost:{ports['PROXY_PORT']}"
    with scratch_database(database) as database_url:
        env = bench_env(
            APP_ENV="dev", DATABASE_URL=database_url, EXPLORER_URL=f"{grid}/api/v1",
            MARKETPLACE_DOMAIN=f"localhost:{ports['PROXY_PORT']}", THREEBOT_LOGIN_URL=connect, OPENKYC_URL=connect,
            LOGIN_RATE_LIMIT="10000", WORKER_CONCURRENCY="2", QUERY_TIMEOUT="10",
            DEPLOY_POLL_INTERVAL="0.2", METRICS=metrics,
            # The gateways' DNS and the certificate-transparency log are the emulator's (the apps' domains).
            DNS_RESOLVER=f"127.0.0.1:{dns_port}", CT_LOG_URL=f"{grid}/_emulator/ct",
            **{k: str(v) for k, v in {**CLOSED, **ports}.items()},
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
                for service in web:
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
                    yield WizardStack(proxy, grid, database_url, sessions, pools, str(local))
                finally:
                    for browser in sessions.values():
                        browser.close()
        finally:
            close_celery(celery)
