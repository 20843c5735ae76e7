from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient

from services.auth.app import create_app
from services.auth.service import safe_next
from services.common.settings import Settings
from tests.conftest import redis_db_url


@pytest.fixture
def client(migrated_database: str, make_settings: Callable[..., Settings]) -> Iterator[FlaskClient]:
    settings = make_settings(
        LOGIN_RATE_LIMIT="3",
        LOGIN_RATE_WINDOW="60",
        REDIS_URL=redis_db_url(7),
        AUTH_SIGNING_SEED_FILE=f"/tmp/auth-{uuid.uuid4().hex}.seed",
    )
    app = create_app(settings)
    try:
        yield app.test_client()
    finally:
        app.extensions["marketplace"].close()


def test_login_attempts_are_rate_limited_per_client_address(client: FlaskClient) -> None:
    me = {"X-Forwarded-For": f"2001:db8::{uuid.uuid4().hex[:4]}"}
    # Caddy appends the real peer last; what a client put before it is not trusted.
    someone_else = {"X-Forwarded-For": f"{me['X-Forwarded-For']}, 2001:db8:1::{uuid.uuid4().hex[:4]}"}
    for _ in range(3):
        assert client.get("/auth/login?provider=3bot", headers=me).status_code == 302
    limited = client.get("/auth/login?provider=3bot", headers=me)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "too many sign-in attempts" in limited.json["message"]
    assert client.get("/auth/login?provider=3bot", headers=someone_else).status_code == 302
    # The plain login page is never limited.
    assert client.get("/auth/login", headers=me).status_code == 200


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/"),
        ("/pools", "/pools"),
        ("/solutions?type=ubuntu", "/solutions?type=ubuntu"),
        ("https://evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/a\r\nSet-Cookie: x", "/"),
        ("javascript:alert(1)", "/"),
        ("pools", "/"),
    ],
)
def test_next_is_only_ever_a_path_of_this_site(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected
