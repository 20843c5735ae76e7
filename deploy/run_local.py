"""``make run``: the whole stack on this machine, supervised by honcho, stopped by Ctrl-C.

1. Load ``dev.env`` (variables already in the environment win).
2. Check the Debian packages the stack needs; install them when root, else print the one apt-get line.
3. Use PostgreSQL and Redis at DATABASE_URL / REDIS_URL; when they do not answer, start private instances
   under ``.local/`` (stopped again on exit).
4. Create the dev identity seed if missing, migrate every schema.
5. Print the URL and the test users, then run every process of the ``Procfile`` under honcho.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"caddy": "caddy", "redis-server": "redis-server", "pg_ctlcluster": "postgresql"}
TEST_USERS = ("alice.3bot", "bob.3bot", "carol.3bot")
PRIVATE_PG_PORT = 55432
PRIVATE_REDIS_PORT = 56379


def load_env_file(path: Path, environ: dict[str, str]) -> None:
    """Add ``KEY=value`` lines of ``path`` to ``environ`` unless already set there."""
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise SystemExit(f"{path}:{number}: expected KEY=value")
        environ.setdefault(key.strip(), value.strip())


def ensure_packages() -> None:
    missing = sorted({pkg for binary, pkg in PACKAGES.items() if shutil.which(binary) is None})
    if not missing:
        return
    line = f"apt-get install -y {' '.join(missing)}"
    if os.geteuid() != 0:
        raise SystemExit(f"missing Debian packages; run as root:\n    {line}")
    print(f"installing {' '.join(missing)} …", flush=True)
    subprocess.run(["apt-get", "update", "-q"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", *missing],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2):
            return True
    except OSError:
        return False


def _wait_port(host: str, port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start on {host}:{port}")


def _pg_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if not versions:
        raise SystemExit("PostgreSQL is not reachable and not installed: apt-get install -y postgresql")
    return str(versions[0] / name)


@contextmanager
def private_postgres(local: Path) -> Iterator[str]:
    """A throw-away PostgreSQL cluster under ``.local/postgres`` on port 55432; yields its URL.

    Started and stopped with ``pg_ctl`` (its own session: a Ctrl-C meant for the stack cannot kill it half-way);
    its log goes to ``.local/postgres.log``.
    """
    data = (local / "postgres").resolve()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if as_user:
            shutil.chown(data, "postgres")
        initdb = [*as_user, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        subprocess.run(initdb, check=True, stdout=subprocess.DEVNULL)
    logfile = data.parent / "postgres.log"
    logfile.touch()
    if as_user:
        shutil.chown(logfile, "postgres")
    options = f"-p {PRIVATE_PG_PORT} -k {data} -h 127.0.0.1"
    pg_ctl = [*as_user, _pg_bin("pg_ctl"), "-D", str(data)]
    subprocess.run([*pg_ctl, "-l", str(logfile), "-o", options, "-w", "start"], check=True, stdout=subprocess.DEVNULL,
                   start_new_session=True)  # fmt: skip
    try:
        _wait_port("127.0.0.1", PRIVATE_PG_PORT, "private PostgreSQL")
        yield f"postgresql://postgres@127.0.0.1:{PRIVATE_PG_PORT}/marketplace"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], check=False, stdout=subprocess.DEVNULL)


@contextmanager
def private_redis(local: Path) -> Iterator[str]:
    """A private Redis on port 56379 (no persistence); yields its URL."""
    data = local / "redis"
    data.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(PRIVATE_REDIS_PORT),
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_port("127.0.0.1", PRIVATE_REDIS_PORT, "private Redis")
        yield f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


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


def banner(env: dict[str, str]) -> str:
    url = f"http://localhost:{env.get('PROXY_PORT', '8080')}"
    users = "\n".join(f"      {name}" for name in TEST_USERS)
    return (
        f"\n  Marketplace is starting at  {url}\n"
        f"  Sign in through the bundled 3Bot Connect emulator as one of:\n{users}\n"
        f"  Grid explorer emulator: {env['EXPLORER_URL']}\n"
        f"  PostgreSQL: {_hide_password(env['DATABASE_URL'])}   Redis: {env['REDIS_URL']}\n"
        f"  Ctrl-C stops every process.\n"
    )


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", default=str(ROOT / "dev.env"))
    parser.add_argument("--procfile", default=str(ROOT / "Procfile"))
    args = parser.parse_args(argv)

    env = dict(os.environ)
    load_env_file(Path(args.env_file), env)
    os.chdir(ROOT)
    ensure_packages()
    local = Path(env["LOCAL_DIR"])
    local.mkdir(parents=True, exist_ok=True)
    # Every process started below inherits this id, so a test can prove none is left after Ctrl-C.
    env.setdefault("MARKETPLACE_STACK_ID", uuid.uuid4().hex)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

    with _dependencies(env, local):
        os.environ.update(env)
        from services.common.identity import load_identity
        from services.common.migrations import migrate
        from services.common.settings import load_or_exit

        settings = load_or_exit(env)
        ensure_database(settings.database_url)
        load_identity(settings.identity_seed_file, create=settings.is_dev)
        migrate(settings.database_url)
        print(banner(env), flush=True)
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", args.procfile, "-d", str(ROOT), "--no-colour"],
            env=env,
        )

        # Ctrl-C in a terminal reaches every process of the group; a `kill` reaches only us. Either way honcho is
        # told to stop, and it stops every process of the Procfile before we stop the private servers.
        def forward(signum: int, _frame: object) -> None:
            if honcho.poll() is None:
                honcho.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        return honcho.wait()


@contextmanager
def _dependencies(env: dict[str, str], local: Path) -> Iterator[None]:
    with (
        _maybe(env, "DATABASE_URL", lambda: private_postgres(local)),
        _maybe(env, "REDIS_URL", lambda: private_redis(local)),
    ):
        yield


@contextmanager
def _maybe(env: dict[str, str], key: str, start: object) -> Iterator[None]:
    if _reachable(env[key]):
        yield
        return
    print(f"{key} is not reachable: starting a private instance under {env['LOCAL_DIR']}/", flush=True)
    with start() as url:  # type: ignore[operator]
        env[key] = url
        yield


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        sys.exit(main())
