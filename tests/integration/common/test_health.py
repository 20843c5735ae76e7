from __future__ import annotations

from collections.abc import Callable

import pytest

from services.common.settings import Settings
from tests.conftest import closed_port

SERVICES = {
    "auth": "/auth",
    "chatflow": "/api/chatflows",
    "deployer": "/api/solutions",
    "pools": "/api/pools",
    "backup": "/api/backup",
}


def _client(service: str, settings: Settings):  # type: ignore[no-untyped-def]
    import importlib

    return importlib.import_module(f"services.{service}.app").create_app(settings).test_client()


@pytest.mark.parametrize("service", SERVICES)
def test_readyz_is_ready_with_postgres_and_redis(service: str, migrated_database: str, settings: Settings) -> None:
    response = _client(service, settings).get(f"{SERVICES[service]}/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"postgres": "ok", "redis": "ok"}


def test_readyz_names_a_dead_redis(migrated_database: str, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    client = _client("pools", settings)
    response = client.get("/api/pools/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["postgres"] == "ok"
    assert response.json["checks"]["redis"].startswith("unavailable")
    # healthz only says the process is up: it must not depend on Redis.
    assert client.get("/api/pools/healthz").status_code == 200


def test_readyz_names_a_dead_postgres(migrated_database: str, make_settings: Callable[..., Settings]) -> None:
    from services.common.web import create_service_app

    settings = make_settings(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/test")
    client = create_service_app("deployer", "/api/solutions", settings, check_schema=False).test_client()
    response = client.get("/api/solutions/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["postgres"].startswith("unavailable")
    assert response.json["checks"]["redis"] == "ok"


def test_web_process_refuses_to_start_without_postgres(make_settings: Callable[..., Settings]) -> None:
    from services.backup.app import create_app

    with pytest.raises(SystemExit):
        create_app(make_settings(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/test"))
