from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from services.common.migrations import SERVICES, ensure_current, migrate, pending
from services.common.settings import load_settings
from tests.conftest import TEST_DATABASE_URL, base_env


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A brand-new empty database, dropped afterwards."""
    name = f"mkt_migr_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(TEST_DATABASE_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield TEST_DATABASE_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def test_fresh_database_is_behind_until_migrated(fresh_database: str) -> None:
    assert pending(fresh_database, "auth") == ["0001.initial"]
    with pytest.raises(Exception, match="make migrate"):
        ensure_current(fresh_database, "auth")
    applied = migrate(fresh_database)
    assert set(applied) == set(SERVICES)
    assert all(ids for ids in applied.values())
    for service in SERVICES:
        assert pending(fresh_database, service) == []
        ensure_current(fresh_database, service)
    assert migrate(fresh_database) == {service: [] for service in SERVICES}  # idempotent


def test_each_service_has_its_own_schema_and_history(fresh_database: str) -> None:
    migrate(fresh_database)
    conn = psycopg2.connect(fresh_database)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = '_yoyo_migration'"
                " ORDER BY table_schema"
            )
            assert [row[0] for row in cur.fetchall()] == sorted(SERVICES)
            cur.execute(
                "SELECT to_regclass('auth.users'), to_regclass('deployer.solutions'), to_regclass('pools.pools')"
            )
            assert all(cur.fetchone())
    finally:
        conn.close()


def test_concurrent_migrations_serialise_under_the_advisory_lock(fresh_database: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(fresh_database)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(pending(fresh_database, s) == [] for s in SERVICES)


def test_web_process_refuses_to_start_on_a_stale_schema(fresh_database: str, tmp_path: Path) -> None:
    from services.auth.app import create_app

    with pytest.raises(SystemExit) as info:
        create_app(load_settings(base_env(tmp_path, DATABASE_URL=fresh_database)))
    assert info.value.code == 3
    migrate(fresh_database, ("auth",))
    assert create_app(load_settings(base_env(tmp_path, DATABASE_URL=fresh_database))).name == "marketplace.auth"
