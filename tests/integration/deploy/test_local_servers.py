"""The private PostgreSQL and Redis of `make run` and `make test` (deploy.local_servers, deploy.test_servers):
started only when the configured servers cannot be used, answering, stopped and removed however the run ends."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
import redis

from deploy.local_servers import Plan, free_port, servers, stop_postgres, stop_redis
from tests.conftest import PYTHON, ROOT, TEST_DATABASE_URL, TEST_REDIS_URL, closed_port

# The child `make test` would run: it reports the URLs it was given, proves both servers answer, then waits to be
# interrupted and proves they still answer during its teardown.
CHILD = """
import os, sys, time, psycopg2, redis
db, rd = os.environ["TEST_DATABASE_URL"], os.environ["TEST_REDIS_URL"]
psycopg2.connect(db).close()
redis.Redis.from_url(rd).ping()
print("ready", db, rd, os.getpid(), flush=True)
try:
    time.sleep(120)
except KeyboardInterrupt:
    psycopg2.connect(db).close()
    print("teardown ran", flush=True)
    sys.exit(3)
"""


@pytest.fixture
def private_dir() -> Iterator[Path]:
    # Not tmp_path: as root the private PostgreSQL runs as the postgres user, who must be able to reach it.
    directory = Path(tempfile.mkdtemp(prefix="mkt-servers-", dir="/tmp"))
    directory.chmod(0o755)
    yield directory
    stop_postgres(directory / "postgres")
    stop_redis(directory / "redis")
    shutil.rmtree(directory, ignore_errors=True)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _port(url: str) -> int:
    return int(urlsplit(url).port or 0)


def _wait_closed(*ports: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_port_open(p) for p in ports):
        time.sleep(0.2)
    assert not any(_port_open(p) for p in ports), f"still listening on one of {ports}"


def test_servers_that_answer_are_used_untouched(private_dir: Path) -> None:
    env = {"DB": TEST_DATABASE_URL, "REDIS": TEST_REDIS_URL}
    with servers(env, "DB", "REDIS", Plan(private_dir, free_port(), free_port())) as started:
        assert started == []
        assert env == {"DB": TEST_DATABASE_URL, "REDIS": TEST_REDIS_URL}
    assert not (private_dir / "postgres").exists()


def test_private_instances_when_nothing_answers_or_the_login_is_refused(private_dir: Path) -> None:
    # A server that answers but refuses us (as a fresh Debian PostgreSQL does) counts as unusable, like a closed port.
    server = urlsplit(TEST_DATABASE_URL)
    refused = f"postgresql://no_such_role@{server.hostname}:{server.port or 5432}/some_db"
    env = {"DB": refused, "REDIS": f"redis://127.0.0.1:{closed_port()}/7"}
    plan = Plan(private_dir, free_port(), free_port(), {"fsync": "off"})
    with servers(env, "DB", "REDIS", plan) as started:
        assert started == ["DB", "REDIS"]
        assert env["DB"] == f"postgresql://postgres@127.0.0.1:{plan.postgres_port}/some_db"
        assert env["REDIS"] == f"redis://127.0.0.1:{plan.redis_port}/7"
        # Trust authentication, the database created, the settings applied; Redis on the same db index.
        with psycopg2.connect(env["DB"]) as conn, conn.cursor() as cur:
            cur.execute("SELECT current_database(), current_setting('fsync')")
            assert cur.fetchone() == ("some_db", "off")
        conn.close()
        client = redis.Redis.from_url(env["REDIS"])
        assert client.ping() and client.connection_pool.connection_kwargs["db"] == 7
        client.close()
    _wait_closed(plan.postgres_port, plan.redis_port)
    assert not (private_dir / "postgres" / "postmaster.pid").exists()


def _start(directory: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "deploy.test_servers", "--dir", str(directory), "--", PYTHON, "-c", CHILD],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _until_ready(proc: subprocess.Popen[str]) -> tuple[str, str, int, str]:
    """The URLs the wrapped command got, its pid, and everything printed until then."""
    assert proc.stdout is not None
    seen = ""
    for line in proc.stdout:
        seen += line
        if line.startswith("ready "):
            _, db, rd, pid = line.split()
            return db, rd, int(pid), seen
    raise AssertionError(f"the wrapped command never got ready:\n{seen}")


def test_make_test_wrapper_starts_stops_and_cleans_up_after_killed_runs(private_dir: Path) -> None:
    env = {
        **os.environ,
        "TEST_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed_port()}/test",
        "TEST_REDIS_URL": f"redis://127.0.0.1:{closed_port()}/1",
    }
    # A run killed outright (SIGKILL) cannot stop its servers: they are left running.
    first = _start(private_dir, env)
    try:
        old_db, old_redis, command, _ = _until_ready(first)
        os.kill(command, signal.SIGKILL)
    finally:
        first.kill()
        first.wait(timeout=30)
        assert first.stdout is not None
        first.stdout.close()  # the leftover Redis still holds the other end
    assert _port_open(_port(old_db)) and _port_open(_port(old_redis))

    second = _start(private_dir, env)
    command = 0
    try:
        db, rd, command, seen = _until_ready(second)
        # The next run stopped the leftovers, then started its own private pair with the suite's names.
        assert not _port_open(_port(old_db)) and not _port_open(_port(old_redis))
        assert "TEST_DATABASE_URL" in seen and "starting a private instance" in seen
        assert urlsplit(db).path == "/test" and urlsplit(rd).path == "/1"
        # One run per directory: a second one at the same time is refused, and leaves the first alone.
        third = subprocess.run([PYTHON, "-m", "deploy.test_servers", "--dir", str(private_dir), "--", "true"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert third.returncode != 0 and "another test run" in third.stderr
        assert _port_open(_port(db)) and _port_open(_port(rd))
        # A SIGTERM to the wrapper (as `make` sends on its own SIGTERM) lets the command tear down first.
        second.send_signal(signal.SIGTERM)
        rest = second.communicate(timeout=60)[0]
    finally:
        if second.poll() is None:  # the test failed: leave nothing running
            second.kill()
            if command > 0:  # its pid, once known (never 0: that would be our own process group)
                with suppress(ProcessLookupError):
                    os.kill(command, signal.SIGKILL)
            second.wait(timeout=30)
            assert second.stdout is not None
            second.stdout.close()
    assert "teardown ran" in rest
    assert second.returncode == 3, "the command's exit status is the wrapper's"
    _wait_closed(_port(db), _port(rd))
    assert not (private_dir / "postgres").exists() and not (private_dir / "redis").exists()
