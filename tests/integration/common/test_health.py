from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.common.settings import Settings
from services.common.web import Dependencies, create_service_app
from tests.conftest import closed_port

SERVICES = {
    "auth": "/auth",
    "chatflow": "/api/chatflows",
    "deployer": "/api/solutions",
    "pools": "/api/pools",
    "backup": "/api/backup",
}


_apps: list[Flask] = []


@pytest.fixture(autouse=True)
def _close_apps() -> Iterator[None]:
    yield
    while _apps:
        deps_of(_apps.pop()).close()


def deps_of(app: Flask) -> Dependencies:
    return app.extensions["marketplace"]  # type: ignore[no-any-return]


def _client(service: str, settings: Settings) -> FlaskClient:
    app = importlib.import_module(f"services.{service}.app").create_app(settings)
    _apps.append(app)
    return app.test_client()


@pytest.mark.parametrize("service", SERVICES)
def test_readyz_is_ready_with_postgres_and_redis(service: str, migrated_database: str, settings: Settings) -> None:
    response = _client(service, settings).get(f"{SERVICES[service]}/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"postgres": "ok", "redis": "ok"}


def test_readyz_names_a_dead_redis(
    migrated_database: str, make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    settings = make_settings(REDIS_URL=f"redis://127.0.0.1:{port}/0")
    client = _client("pools", settings)
    response = client.get("/api/pools/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"postgres": "ok", "redis": "down"}
    assert str(port) not in response.text  # the public answer names no address
    assert str(port) in capsys.readouterr().err  # the log says why
    # healthz only says the process is up: it must not depend on Redis.
    assert client.get("/api/pools/healthz").status_code == 200


def test_readyz_names_a_dead_postgres(
    migrated_database: str, make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    settings = make_settings(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/test")
    app = create_service_app("deployer", "/api/solutions", settings, check_schema=False)
    _apps.append(app)
    client = app.test_client()
    response = client.get("/api/solutions/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"postgres": "down", "redis": "ok"}
    assert str(port) not in response.text and "127.0.0.1" not in response.text  # no host, port or driver text
    assert str(port) in capsys.readouterr().err


def test_web_process_refuses_to_start_without_postgres(make_settings: Callable[..., Settings]) -> None:
    from services.backup.app import create_app

    with pytest.raises(SystemExit):
        create_app(make_settings(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/test"))
