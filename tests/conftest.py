"""Fixtures shared by the whole suite: test settings, real PostgreSQL and Redis, free ports, processes."""

from __future__ import annotations

import gc
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from celery import Celery

from deploy.local_backup import make_ssh_key
from deploy.test_servers import DEFAULT_TEST_DATABASE_URL, DEFAULT_TEST_REDIS_URL
from services.common import assertion
from services.common.identity import Identity
from services.common.migrations import migrate
from services.common.settings import Settings, load_settings
from services.common.tasks import close_celery, make_celery

ROOT = Path(__file__).resolve().parent.parent
# The suite runs against real PostgreSQL and Redis (no stand-ins): the machine's, or the private instances
# `make test` starts when those do not answer (deploy.test_servers sets these variables then). A separate database
# and Redis db index keep it away from a `make run` stack on the same machine.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)


def redis_db_url(db: int) -> str:
    """Db index ``db`` on the suite's Redis server (for tests that need a db of their own): never a hard-coded
    server, which would not answer where `make test` started a private one."""
    return urlsplit(TEST_REDIS_URL)._replace(path=f"/{db}").geturl()


# Plays the auth service in tests that call a service directly: signs the per-request user assertions.
AUTH_SIGNER = Identity(bytes(range(0xA0, 0xC0)))


def user_headers(settings: Settings, username: str, terms: bool = True) -> dict[str, str]:
    """What Caddy's forward_auth adds for a signed-in user (who may not have accepted the terms), plus Origin."""
    who = assertion.User(username, f"{username.split('.')[0]}@example.com",
                         settings.terms_version if terms else None)  # fmt: skip
    return {
        assertion.USER_HEADER: username,
        assertion.EMAIL_HEADER: who.email,
        assertion.ASSERTION_HEADER: assertion.issue(AUTH_SIGNER, who, ttl=300),
        "Origin": settings.public_origin,
    }


# Below the kernel's ephemeral range (32768–60999): a port chosen by binding port 0 came from that range, where any
# process's outgoing connection (to PostgreSQL, Redis…) could take it before the server under test bound it
# (seen in CI: gunicorn "Connection in use"). Outgoing connections never use a port from this range.
_TEST_PORTS = range(20000, 32768)
_given: set[int] = set()


def free_port() -> int:
    """A loopback port free now, never handed out before in this run, outside the ephemeral range."""
    for _ in range(500):
        port = random.choice(_TEST_PORTS)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError("no free port between 20000 and 32767")


def closed_port() -> int:
    """A port nothing listens on (for "dependency down" tests)."""
    return free_port()


TEST_LIMITS = {"CHATFLOW_OPEN_SESSIONS": "10000", "CHATFLOW_ANSWER_RATE_LIMIT": "1000000",
               "CHATFLOW_QUERY_RATE_LIMIT": "1000000"}  # fmt: skip


def base_env(tmp: Path, **overrides: str) -> dict[str, str]:
    """A complete, valid environment for any marketplace process in tests."""
    env = {
        "APP_ENV": "test",
        "LOG_LEVEL": "INFO",
        "MARKETPLACE_DOMAIN": "localhost:8080",
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "EXPLORER_URL": f"http://127.0.0.1:{closed_port()}/api/v1",
        "THREEBOT_LOGIN_URL": f"http://127.0.0.1:{closed_port()}",
        "OPENKYC_URL": f"http://127.0.0.1:{closed_port()}",
        # Never the public resolver or crt.sh from a test: a test that needs them starts the grid emulator's.
        "DNS_RESOLVER": f"127.0.0.1:{closed_port()}",
        "CT_LOG_URL": f"http://127.0.0.1:{closed_port()}/ct",
        "IDENTITY_SEED_FILE": str(tmp / "identity.seed"),
        "AUTH_SIGNING_SEED_FILE": str(tmp / "auth-signing.seed"),
        "LOCAL_DIR": str(tmp),
        # The backup processes refuse to start without their servers: two that do not answer, a real key.
        "BACKUP_SERVER1": f"marketplace-backup@127.0.0.1:{closed_port()}",
        "BACKUP_SERVER2": f"marketplace-backup@127.0.0.2:{closed_port()}",
        "BACKUP_SSH_KEY_FILE": str(tmp / "backup_ssh_key"),
        "BACKUP_KNOWN_HOSTS_FILE": str(tmp / "backup_known_hosts"),
        # Tests walk many wizards for one user in seconds: the per-user abuse limits (production defaults: 20 open
        # wizards, 60 moves and 120 questions a minute) are out of their way; tests/integration/stack/
        # test_abuse_limits.py sets them low.
        **TEST_LIMITS,
    }
    make_ssh_key(tmp / "backup_ssh_key")
    (tmp / "backup_known_hosts").touch()
    env.update(overrides)
    return env


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def build(**overrides: str) -> Settings:
        return load_settings(base_env(tmp_path, **overrides))

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def migrated_database() -> str:
    """The test database with every service schema at head (migrations are idempotent)."""
    migrate(TEST_DATABASE_URL)
    return TEST_DATABASE_URL


def wait_http(url: str, timeout: float = 30, proc: subprocess.Popen[bytes] | None = None) -> requests.Response:
    """Poll ``url`` until it answers 200; fail early when ``proc`` died."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before {url} answered")
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return response
            last = response.status_code
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {timeout}s (last: {last})")


class Processes:
    """Start real processes for a test and make sure every one is gone afterwards."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.files: list[object] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 — closed with the process
        proc = subprocess.Popen(
            args,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        self.files.append(log)
        return proc

    def log(self, name: str) -> str:
        return (self.logdir / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for handle in self.files:
            handle.close()  # type: ignore[attr-defined]


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    procs = Processes(logdir)
    try:
        yield procs
    finally:
        procs.stop_all()


PYTHON = sys.executable


@pytest.fixture
def celery_clients() -> Iterator[Callable[[Settings], Celery]]:
    """Producer Celery apps for tests, closed afterwards (no socket outlives its test)."""
    made: list[Celery] = []

    def build(settings: Settings) -> Celery:
        app = make_celery(settings)
        made.append(app)
        return app

    yield build
    # AsyncResult.__del__ unsubscribes through the backend: collect the test's results before closing it.
    gc.collect()
    for app in made:
        close_celery(app)


@pytest.fixture
def rollback_cursor(migrated_database: str) -> Iterator[Any]:
    """A cursor in a transaction that is rolled back after the test: store tests leave nothing behind."""
    import psycopg2
    import psycopg2.extras

    conn = psycopg2.connect(migrated_database)
    try:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            yield cur
        conn.rollback()
    finally:
        conn.close()


class RowLocks:
    """Two connections to the test database, for tests of row locks (a row lock is per transaction): rows are
    committed on the first, which the test reads through (``one``), and :meth:`locked_elsewhere` asks the second."""

    def __init__(self, database: str) -> None:
        import psycopg2
        import psycopg2.extras

        self._first = psycopg2.connect(database)
        self._second = psycopg2.connect(database)
        self._made: list[tuple[str, str]] = []
        self.one = self._first.cursor(cursor_factory=psycopg2.extras.RealDictCursor)

    def commit(self, table: str, make: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        """The row ``make(cursor)`` writes to ``table``, committed; its owner's rows there are deleted afterwards."""
        with self._first.cursor(cursor_factory=type(self.one)) as cur:
            row = make(cur)
        self._first.commit()
        self._made.append((table, str(row["owner"])))
        return row

    def locked_elsewhere(self, table: str, row_id: Any) -> bool:
        """Whether another transaction holds the lock of row ``row_id`` of ``table`` (asked without waiting)."""
        import psycopg2.errors
        from psycopg2 import sql

        query = sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR UPDATE NOWAIT").format(sql.Identifier(*table.split(".")))
        try:
            with self._second.cursor() as other:
                other.execute(query, (row_id,))
        except psycopg2.errors.LockNotAvailable:
            return True
        finally:
            self._second.rollback()
        return False

    def close(self) -> None:
        from psycopg2 import sql

        self._first.rollback()
        self._second.rollback()
        with self._first, self._first.cursor() as cur:
            for table, owner in self._made:
                cur.execute(sql.SQL("DELETE FROM {} WHERE owner = %s").format(sql.Identifier(*table.split("."))),
                            (owner,))  # fmt: skip
        self._first.close()
        self._second.close()


@pytest.fixture
def row_locks(migrated_database: str) -> Iterator[RowLocks]:
    """Two connections for row-lock tests; the rows they committed are deleted after the test."""
    locks = RowLocks(migrated_database)
    try:
        yield locks
    finally:
        locks.close()


def require(tool: str, package: str) -> None:
    """Fail (never skip: a skipped test proves nothing) when a program the test drives is missing; ``make test``
    installs it as root (deploy/packages.py)."""
    import shutil

    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: apt-get install -y {package} (make test installs it when run as root)")


@pytest.fixture(scope="session")
def dig_installed() -> None:
    """The gateway tests ask the emulator's DNS with ``dig``, as an outside client would."""
    require("dig", "bind9-dnsutils")
