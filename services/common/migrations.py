"""Per-service schema migrations with yoyo, under a PostgreSQL advisory lock.

Each service owns one PostgreSQL schema (``auth``, ``chatflow``, …) and one migration history: SQL files in
``services/<name>/migrations/``, recorded in yoyo's tables *inside that schema*. ``make migrate`` (and the
one-shot ``migrate`` job of docker-compose) applies them before any web process starts. Web processes do not
migrate: they refuse to start on a stale schema (:func:`ensure_current`), so two versions of the code never
race to change one schema and a rolling deploy fails loudly instead of running against the wrong tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extensions
import structlog
from psycopg2 import sql
from yoyo import get_backend, read_migrations

log = structlog.get_logger(__name__)

SERVICES = ("auth", "chatflow", "deployer", "pools", "backup")
_ROOT = Path(__file__).resolve().parent.parent
# Every migration of every service takes this one lock: migrations are rare and short, and one lock keeps
# concurrent `migrate` jobs (two deploys, or a test run beside `make run`) from interleaving DDL.
_LOCK_KEY = 0x6D61726B  # "mark"


class SchemaBehind(Exception):
    """The database schema of a service lacks migrations this code needs."""


def migrations_dir(service: str) -> Path:
    return _ROOT / service / "migrations"


def _yoyo_uri(database_url: str, service: str) -> str:
    parts = urlsplit(database_url)
    query = f"{parts.query}&schema={service}" if parts.query else f"schema={service}"
    return urlunsplit(("postgresql", parts.netloc, parts.path, query, ""))


@contextmanager
def _advisory_lock(database_url: str) -> Iterator[psycopg2.extensions.connection]:
    conn = psycopg2.connect(database_url, connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        yield conn
    finally:
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        finally:
            conn.close()


def pending(database_url: str, service: str) -> list[str]:
    """Ids of the migrations of ``service`` not yet applied (all of them when the schema does not exist)."""
    conn = psycopg2.connect(database_url, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (service,))
            exists = cur.fetchone() is not None
    finally:
        conn.close()
    migrations = read_migrations(str(migrations_dir(service)))
    if not exists:
        return [m.id for m in migrations]
    backend = get_backend(_yoyo_uri(database_url, service))
    try:
        return [m.id for m in backend.to_apply(migrations)]
    finally:
        backend.connection.close()


def migrate(database_url: str, services: tuple[str, ...] = SERVICES) -> dict[str, list[str]]:
    """Apply every pending migration of ``services``; returns the ids applied per service.

    Raises:
        psycopg2.OperationalError: PostgreSQL is not reachable.
    """
    applied: dict[str, list[str]] = {}
    with _advisory_lock(database_url) as conn:
        for service in services:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(service)))
            backend = get_backend(_yoyo_uri(database_url, service))
            try:
                migrations = read_migrations(str(migrations_dir(service)))
                todo = backend.to_apply(migrations)
                with backend.lock():
                    backend.apply_migrations(todo)
                applied[service] = [m.id for m in todo]
            finally:
                backend.connection.close()
            log.info("schema migrated", service=service, applied=applied[service])
    return applied


def ensure_current(database_url: str, service: str) -> None:
    """Refuse to run on a stale schema.

    Raises:
        SchemaBehind: with a message that says which migrations are missing and what to run.
    """
    missing = pending(database_url, service)
    if missing:
        raise SchemaBehind(f"schema {service!r} lacks migrations {', '.join(missing)}: run `make migrate` first")


def main(argv: list[str]) -> None:
    """``python -m services.common.migrations [--wait SECONDS]`` (``make migrate``): migrate every service's schema.

    ``--wait``: keep trying while PostgreSQL does not answer, up to that long (the compose ``migrate`` job: the
    database container may still be starting, and not every compose runs healthcheck conditions).
    """
    from services.common.log import configure_logging
    from services.common.settings import load_or_exit

    parser = argparse.ArgumentParser(prog="python -m services.common.migrations")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS")
    deadline = time.monotonic() + parser.parse_args(argv).wait
    settings = load_or_exit()
    configure_logging(json=settings.app_env == "production", level=settings.log_level)
    while True:
        try:
            migrate(settings.database_url)
            return
        except psycopg2.OperationalError as exc:
            reason = str(exc).splitlines()[0]
            if time.monotonic() >= deadline:
                raise SystemExit(f"migrate: PostgreSQL is not reachable: {reason}") from None
            log.info("waiting for PostgreSQL", reason=reason)
            time.sleep(1)


if __name__ == "__main__":
    main(sys.argv[1:])
