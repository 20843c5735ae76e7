"""Private PostgreSQL and Redis under a local directory, for when the configured servers do not answer.

One mechanism for ``make run`` (``deploy.run_local``: the dev database and Redis) and ``make test``
(``deploy.test_servers``: the test database and Redis). For each URL variable: if a server at the URL accepts us
(and the database exists or can be created), it is used untouched; otherwise a private instance is started under
the given directory — PostgreSQL with trust authentication, both listening on 127.0.0.1 only — the variable is
pointed at it, and it is stopped again when the ``with`` block ends, however it ends.

Standard library at import; psycopg2 and redis are imported when a URL is checked (the virtual environment
exists by then).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class Plan:
    """Where the private instances live and what they listen on, should they be needed."""

    directory: Path
    postgres_port: int
    redis_port: int
    # Extra ``-c name=value`` settings for the private PostgreSQL (the test instance trades durability for speed).
    postgres_settings: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reachable(url: str) -> bool:
    """Whether something accepts TCP connections at the host and port of ``url``."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start on {host}:{port}")


def ensure_database(url: str) -> None:
    """Create the database of ``url`` when the server has no such database yet."""
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    conn = psycopg2.connect(admin, connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def postgres_problem(url: str) -> str | None:
    """Why ``url`` cannot be used (nothing answers, authentication refused, …), or None when it can.

    A missing database is created: a fresh install has none of ours. Authentication is part of the question
    because a fresh Debian PostgreSQL answers on 5432 but asks for a password nobody has set.
    """
    if not reachable(url):
        return "nothing answers"
    import psycopg2

    try:
        ensure_database(url)
        psycopg2.connect(url, connect_timeout=5).close()
    except psycopg2.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def redis_problem(url: str) -> str | None:
    """Why ``url`` cannot be used, or None when Redis there answers a PING."""
    if not reachable(url):
        return "nothing answers"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    return None


def _pg_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    if not versions:
        raise SystemExit("PostgreSQL does not answer and is not installed: apt-get install -y postgresql")
    return str(versions[0] / name)


def _as_postgres_user() -> list[str]:
    """initdb and postgres refuse to run as root: as root, they run as the ``postgres`` system user."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@contextmanager
def private_postgres(data: Path, port: int, database: str, settings: dict[str, str] | None = None) -> Iterator[str]:
    """A PostgreSQL cluster in ``data`` (created on first use, trust auth) on 127.0.0.1:``port``; yields the URL
    of ``database`` in it, created if missing.

    Started and stopped with ``pg_ctl`` in its own session, so a Ctrl-C meant for the processes using it cannot
    kill it half-way; its log is ``<data>.log``.
    """
    data = data.resolve()
    as_user = _as_postgres_user()
    pg_ctl = [*as_user, _pg_bin("pg_ctl"), "-D", str(data)]
    if postgres_running(data):
        raise SystemExit(f"a PostgreSQL already runs in {data} (another run, or one killed outright); stop it "
                         f"with: {' '.join(pg_ctl)} stop")  # fmt: skip
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if as_user:
            shutil.chown(data, "postgres")
            _check_reachable_by_postgres(data)
        initdb = [*as_user, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        if (settings or {}).get("fsync") == "off":
            initdb.append("--no-sync")  # a cluster whose server will not fsync gains nothing from a synced initdb
        subprocess.run(initdb, check=True, stdout=subprocess.DEVNULL)
    logfile = data.parent / f"{data.name}.log"
    logfile.touch()
    if as_user:
        shutil.chown(logfile, "postgres")
    options = " ".join(
        [f"-p {port}", f"-k {data}", "-h 127.0.0.1", *(f"-c {k}={v}" for k, v in (settings or {}).items())]
    )
    started = subprocess.run([*pg_ctl, "-l", str(logfile), "-o", options, "-w", "start"], check=False,
                             stdout=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    if started.returncode != 0:
        raise SystemExit(f"the private PostgreSQL in {data} did not start on port {port}: see {logfile}")
    try:
        wait_port("127.0.0.1", port, "private PostgreSQL")
        url = f"postgresql://postgres@127.0.0.1:{port}/{database}"
        ensure_database(url)
        yield url
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], check=False, stdout=subprocess.DEVNULL)


def postgres_running(data: Path) -> bool:
    """Whether a server runs on the cluster in ``data`` (a stale ``postmaster.pid`` alone does not count)."""
    if not (data / "postmaster.pid").exists():
        return False
    status = [*_as_postgres_user(), _pg_bin("pg_ctl"), "-D", str(data.resolve()), "status"]
    return subprocess.run(status, check=False, capture_output=True).returncode == 0


def stop_postgres(data: Path) -> None:
    """Stop the server of the cluster in ``data`` if one runs (for a run that was killed outright)."""
    if postgres_running(data):
        stop = [*_as_postgres_user(), _pg_bin("pg_ctl"), "-D", str(data.resolve()), "-m", "immediate", "-w", "stop"]
        subprocess.run(stop, check=False, capture_output=True)


def _check_reachable_by_postgres(data: Path) -> None:
    probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(data)], check=False)
    if probe.returncode != 0:
        raise SystemExit(
            f"the postgres user cannot reach {data} (a parent directory is private to root); "
            "clone the repository somewhere world-traversable, or point the URL at a running server"
        )


@contextmanager
def private_redis(data: Path, port: int, db: int = 0) -> Iterator[str]:
    """A Redis on 127.0.0.1:``port`` working in ``data``, no persistence; yields the URL of db index ``db``.

    Its own session, like PostgreSQL: it outlives a Ctrl-C long enough for the users' shutdown to finish.
    """
    data.mkdir(parents=True, exist_ok=True)
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data.resolve()),
               "--pidfile", str((data / "redis.pid").resolve()), "--save", "", "--appendonly", "no"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port("127.0.0.1", port, "private Redis")
        yield f"redis://127.0.0.1:{port}/{db}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_redis(data: Path) -> None:
    """Stop the Redis started in ``data`` if it still runs (for a run that was killed outright)."""
    with suppress(OSError, ValueError):
        pid = int((data / "redis.pid").read_text())
        if b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGTERM)


@contextmanager
def servers(env: dict[str, str], database_key: str, redis_key: str, plan: Plan) -> Iterator[list[str]]:
    """Point ``env[database_key]`` / ``env[redis_key]`` at private instances when their servers cannot be used.

    Yields the names of the variables that were redirected. The database name and Redis db index of the
    original URLs are kept.
    """
    started: list[str] = []
    with ExitStack() as stack:
        problem = postgres_problem(env[database_key])
        if problem is not None:
            _announce(database_key, env[database_key], problem, plan)
            database = urlsplit(env[database_key]).path.lstrip("/") or "postgres"
            env[database_key] = stack.enter_context(
                private_postgres(plan.directory / "postgres", plan.postgres_port, database, plan.postgres_settings)
            )
            started.append(database_key)
        problem = redis_problem(env[redis_key])
        if problem is not None:
            _announce(redis_key, env[redis_key], problem, plan)
            db = int(urlsplit(env[redis_key]).path.lstrip("/") or 0)
            env[redis_key] = stack.enter_context(private_redis(plan.directory / "redis", plan.redis_port, db))
            started.append(redis_key)
        yield started


def _announce(key: str, url: str, problem: str, plan: Plan) -> None:
    print(f"{key} ({hide_password(url)}) cannot be used ({problem}): starting a private instance under "
          f"{plan.directory}/", flush=True)  # fmt: skip


def hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return url
