"""`init` is rate-limited per 3Bot name and per client address (LOGIN_PROTOCOL §9.3), in Redis."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from flask import Flask

from services.backup.app import create_app
from services.common.settings import Settings
from tests.conftest import redis_db_url

SEALED = base64.b64encode(b"\x01" * 60).decode()  # well-formed, never decrypts: each call is still counted


@pytest.fixture
def app(make_settings: Callable[..., Settings], migrated_database: str) -> Iterator[Flask]:
    # Counters of earlier runs in this window would answer 429 before the test's own calls: start from none.
    client = redis.Redis.from_url(redis_db_url(9))
    for key in client.scan_iter("backup:rate:*"):
        client.delete(key)
    client.close()
    built = create_app(make_settings(REDIS_URL=redis_db_url(9), BACKUP_RATE_LIMIT_NAME="3",
                                     BACKUP_RATE_LIMIT_ADDRESS="5", BACKUP_RATE_WINDOW="3600"))  # fmt: skip
    yield built
    built.extensions["marketplace"].close()


def _init(app: Flask, name: str, address: str) -> tuple[int, dict[str, str]]:
    response = app.test_client().post(
        "/api/backup/init",
        json={"threebot_name": name, "passwd": SEALED, "new": True},
        environ_base={"REMOTE_ADDR": address},
    )
    return response.status_code, dict(response.headers)


def test_per_name_limit(app: Flask) -> None:
    name = f"rl_{uuid.uuid4().hex[:10]}"
    net = f"10.1.{uuid.uuid4().int % 250}"  # fresh addresses: the address limit must not be what answers
    # Under the limit the request goes on (here: the explorer is down → 503); over it: 429 with Retry-After.
    statuses = [_init(app, name, f"{net}.{i + 1}")[0] for i in range(3)]
    assert 429 not in statuses and 403 not in statuses  # server-to-server: no same-origin check
    status, headers = _init(app, name, f"{net}.9")
    assert status == 429
    assert 0 < int(headers["Retry-After"]) <= 3600
    assert _init(app, f"other_{uuid.uuid4().hex[:8]}", f"{net}.10")[0] != 429  # another name is not affected


def test_per_address_limit(app: Flask) -> None:
    address = f"10.2.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    statuses = [_init(app, f"a{i}_{uuid.uuid4().hex[:8]}", address)[0] for i in range(5)]
    assert 429 not in statuses
    assert _init(app, f"z_{uuid.uuid4().hex[:8]}", address)[0] == 429
    # Malformed bodies count too (the address limit comes first).
    assert (
        app.test_client().post("/api/backup/init", data="x", environ_base={"REMOTE_ADDR": address}).status_code == 429
    )
