"""Start the stack exactly as `make run` does, check it through Caddy, stop it with Ctrl-C, find no leftovers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import dns.resolver
import pytest
import requests
from celery import Celery

from services.common import contracts
from services.common.identity import load_identity
from services.common.settings import Settings, load_settings
from services.common.tasks import send
from tests.conftest import PYTHON, Processes, base_env, free_port, redis_db_url, wait_http

PREFIXES = ("/auth", "/api/chatflows", "/api/solutions", "/api/pools", "/api/backup")


def _stack_pids(stack_id: str) -> list[int]:
    """Processes whose environment carries this stack's id (everything run_local started inherits it)."""
    needle = f"MARKETPLACE_STACK_ID={stack_id}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stack_env(tmp_path: Path, **overrides: str) -> tuple[dict[str, int], dict[str, str], str]:
    """Environment for one stack on free ports, its own Redis db and state dir, tagged with a stack id."""
    ports = {
        name: free_port()
        for name in (
            "PROXY_PORT", "AUTH_PORT", "CHATFLOW_PORT", "DEPLOYER_PORT", "POOLS_PORT", "BACKUP_PORT",
            "GRID_EMULATOR_PORT", "GRID_EMULATOR_DNS_PORT", "CONNECT_EMULATOR_PORT",
        )
    }  # fmt: skip
    stack_id = uuid.uuid4().hex
    local = tmp_path / "local"
    env = base_env(
        tmp_path,
        APP_ENV="dev",
        MARKETPLACE_DOMAIN=f"localhost:{ports['PROXY_PORT']}",
        REDIS_URL=redis_db_url(5),
        EXPLORER_URL=f"http://127.0.0.1:{ports['GRID_EMULATOR_PORT']}/api/v1",
        DNS_RESOLVER=f"127.0.0.1:{ports['GRID_EMULATOR_DNS_PORT']}",
        CT_LOG_URL=f"http://127.0.0.1:{ports['GRID_EMULATOR_PORT']}/_emulator/ct",
        THREEBOT_LOGIN_URL=f"http://127.0.0.1:{ports['CONNECT_EMULATOR_PORT']}",
        OPENKYC_URL=f"http://127.0.0.1:{ports['CONNECT_EMULATOR_PORT']}",
        LOCAL_DIR=str(local),
        IDENTITY_SEED_FILE=str(local / "identity.seed"),
        WEB_CONCURRENCY="1",
        WORKER_CONCURRENCY="1",
        MARKETPLACE_STACK_ID=stack_id,
        **{k: str(v) for k, v in ports.items()},
    )
    env.update(overrides)
    return ports, env, stack_id


@pytest.mark.stack
def test_whole_stack_starts_answers_and_stops_cleanly(
    tmp_path: Path, processes: Processes, celery_clients: Callable[[Settings], Celery]
) -> None:
    ports, env, stack_id = _stack_env(tmp_path)
    local = Path(env["LOCAL_DIR"])
    proxy = f"http://127.0.0.1:{ports['PROXY_PORT']}"
    proc = processes.start("stack", [PYTHON, "-m", "deploy.run_local"], env)
    try:
        for prefix in PREFIXES:
            wait_http(f"{proxy}{prefix}/healthz", timeout=90, proc=proc)

        # The banner tells a newcomer where to go and who to log in as.
        log = processes.log("stack")
        assert f"http://localhost:{ports['PROXY_PORT']}" in log
        assert all(user in log for user in ("alice.3bot", "bob.3bot", "carol.3bot"))

        # Every service is healthy and ready through Caddy, with a request id on every answer.
        for prefix in PREFIXES:
            for probe in ("healthz", "readyz"):
                response = requests.get(f"{proxy}{prefix}/{probe}", timeout=5)
                assert response.status_code == 200, (prefix, probe, response.text)
                assert response.headers["X-Request-Id"]
            assert requests.get(f"{proxy}{prefix}/readyz", timeout=5).json()["checks"] == {
                "postgres": "ok",
                "redis": "ok",
            }

        # Unknown routes are JSON errors: 404 from a service; an unknown API path needs a session first (401).
        response = requests.get(f"{proxy}/auth/nothing-here", timeout=5)
        assert response.status_code == 404
        assert response.json()["message"] == "no such resource"
        response = requests.get(f"{proxy}/api/nothing-here", timeout=5)
        assert response.status_code == 401
        assert response.json()["message"] == "sign in first"
        # The two server-to-server backup calls need no session and no Origin (LOGIN_PROTOCOL §9.1).
        key = requests.post(f"{proxy}/api/backup/public_key", timeout=5)
        assert key.status_code == 200, key.text
        assert key.json() == load_identity(Path(env["IDENTITY_SEED_FILE"])).box_public_key_b64
        init = requests.post(f"{proxy}/api/backup/init", json={"threebot_name": "Bad Name"}, timeout=5)
        assert init.status_code == 400, init.text
        # The catalogue is public (issue 13): a browser without a session gets the page itself, not a redirect,
        # and the catalogue's list answers; a page of one's own still sends the browser to sign in first.
        page = requests.get(f"{proxy}/", headers={"Accept": "text/html"}, timeout=5)
        assert page.status_code == 200 and page.url == f"{proxy}/", page.url
        assert requests.get(f"{proxy}/api/chatflows", timeout=5).status_code == 200
        mine = requests.get(f"{proxy}/solutions.html", headers={"Accept": "text/html"}, timeout=5)
        assert mine.url.startswith(f"{proxy}/auth/login?next="), mine.url
        assert "Sign in with 3Bot Connect" in mine.text

        # A ping round trip through every worker queue.
        client = celery_clients(load_settings(env))
        for task in contracts.PING_TASKS:
            pong = send(client, task, contracts.Ping(echo=task)).get(timeout=30)
            assert pong["service"] == contracts.queue_of(task)
            assert pong["echo"] == task

        # The workers registered the marketplace identity in the grid emulator's phonebook.
        identity = load_identity(local / "identity.seed")
        deadline = time.monotonic() + 30
        users: list[dict[str, object]] = []
        while time.monotonic() < deadline and not users:
            users = requests.get(f"{env['EXPLORER_URL']}/users", params={"name": "marketplace.3bot"}, timeout=5).json()
            time.sleep(0.5)
        assert users and users[0]["pubkey"] == identity.verify_key_hex
        # The login emulator is up behind THREEBOT_LOGIN_URL.
        assert requests.get(f"{env['THREEBOT_LOGIN_URL']}/api/users/alice.3bot", timeout=5).status_code == 200
        # The grid emulator's gateway DNS and CT log answer at DNS_RESOLVER and CT_LOG_URL.
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = ["127.0.0.1"], ports["GRID_EMULATOR_DNS_PORT"]
        resolver.lifetime = 5.0
        assert [r.address for r in resolver.resolve("ns1.gw1.grid.example", "A")] == ["185.69.250.2"]
        ct = requests.get(env["CT_LOG_URL"], params={"q": "gw1.grid.example", "output": "json"}, timeout=5)
        assert ct.status_code == 200 and ct.json() == []
    finally:
        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _stack_pids(stack_id):
        time.sleep(0.2)
    assert _stack_pids(stack_id) == [], "processes left behind after Ctrl-C"
    assert not any(_port_open(port) for port in ports.values())


@pytest.mark.stack
def test_private_postgres_and_redis_when_none_answer_and_kill_stops_all(tmp_path: Path, processes: Processes) -> None:
    # The private PostgreSQL runs as the postgres user when we are root: its directory must be reachable.
    local = Path(tempfile.mkdtemp(prefix="mkt-stack-", dir="/tmp"))
    local.chmod(0o755)
    ports, env, stack_id = _stack_env(
        tmp_path,
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/marketplace",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        LOCAL_DIR=str(local),
        IDENTITY_SEED_FILE=str(local / "identity.seed"),
    )
    proxy = f"http://127.0.0.1:{ports['PROXY_PORT']}"
    proc = processes.start("stack", [PYTHON, "-m", "deploy.run_local"], env)
    try:
        wait_http(f"{proxy}/api/pools/readyz", timeout=120, proc=proc)
        assert "starting a private instance" in processes.log("stack")
        assert _port_open(55432) and _port_open(56379)
    finally:
        # A plain `kill` of run_local alone (not the process group) must still stop everything it started.
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
        shutil.rmtree(local, ignore_errors=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (_stack_pids(stack_id) or _port_open(55432) or _port_open(56379)):
        time.sleep(0.2)
    assert _stack_pids(stack_id) == []
    assert not _port_open(55432) and not _port_open(56379)
    assert not any(_port_open(port) for port in ports.values())
