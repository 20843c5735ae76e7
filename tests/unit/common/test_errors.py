from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import BaseModel, Field

from services.common.db import DatabaseUnavailable
from services.common.errors import ApiError, FieldError
from services.common.settings import Settings
from services.common.web import create_service_app

SAME_ORIGIN = {"Origin": "http://localhost:8080"}


class Body(BaseModel):
    name: str = Field(min_length=1)
    count: int = Field(ge=1)


@pytest.fixture
def app(settings: Settings) -> Flask:
    app = create_service_app("auth", "/auth", settings, check_schema=False)

    @app.post("/auth/echo")
    def echo() -> dict[str, object]:
        from flask import request

        return Body.model_validate(request.get_json(silent=True) or {}).model_dump()

    @app.get("/auth/forbidden")
    def forbidden() -> None:
        raise ApiError(403, "not yours", (FieldError("forbidden", "not yours"),))

    @app.get("/auth/boom")
    def boom() -> None:
        raise RuntimeError("password=hunter2 in a stack trace")

    @app.get("/auth/db-down")
    def db_down() -> None:
        raise DatabaseUnavailable("connection refused")

    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def assert_shape(body: dict[str, object]) -> None:
    assert set(body) == {"message", "errors", "request_id"}
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], list)
    for entry in body["errors"]:
        assert set(entry) == {"code", "field", "description"}


def test_unknown_route_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/auth/nope")
    assert response.status_code == 404
    assert response.is_json
    assert_shape(response.json)


def test_wrong_method_is_a_json_405_with_allow(client: FlaskClient) -> None:
    response = client.delete("/auth/healthz")
    assert response.status_code == 405
    assert_shape(response.json)
    assert "GET" in response.headers["Allow"]


def test_validation_error_is_422_with_one_entry_per_field(client: FlaskClient) -> None:
    response = client.post("/auth/echo", json={"name": "", "count": 0}, headers=SAME_ORIGIN)
    assert response.status_code == 422
    assert_shape(response.json)
    fields = sorted(e["field"] for e in response.json["errors"])
    assert fields == ["count", "name"]


def test_api_error_keeps_status_and_message(client: FlaskClient) -> None:
    response = client.get("/auth/forbidden")
    assert response.status_code == 403
    assert response.json["message"] == "not yours"


def test_500_leaks_nothing_but_the_request_id(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    response = client.get("/auth/boom", headers={"X-Request-Id": "req-123"})
    assert response.status_code == 500
    assert_shape(response.json)
    assert "hunter2" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert response.json["request_id"] == "req-123"
    assert "req-123" in caplog.text  # the stack is logged with the request id
    assert "Traceback" in caplog.text or caplog.records[-1].exc_info


def test_dependency_down_is_503(client: FlaskClient) -> None:
    response = client.get("/auth/db-down")
    assert response.status_code == 503
    assert_shape(response.json)
    assert "database" in response.json["message"]


def test_bad_request_id_header_is_replaced(client: FlaskClient) -> None:
    response = client.get("/auth/healthz", headers={"X-Request-Id": "bad id <script>"})
    assert response.headers["X-Request-Id"] != "bad id <script>"
    assert len(response.headers["X-Request-Id"]) == 32


def test_health_is_served_bare_and_under_the_prefix(make_settings: Callable[..., Settings]) -> None:
    client = create_service_app("pools", "/api/pools", make_settings(), check_schema=False).test_client()
    for path in ("/healthz", "/api/pools/healthz"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json["status"] == "ok"


def test_oversized_body_is_a_json_413(client: FlaskClient) -> None:
    response = client.post(
        "/auth/echo", data=b"x" * (2 * 1024 * 1024), content_type="application/json", headers=SAME_ORIGIN
    )
    assert response.status_code == 413
    assert_shape(response.json)


def test_cross_site_post_is_refused(client: FlaskClient) -> None:
    for headers in ({}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}):
        response = client.post("/auth/echo", json={"name": "a", "count": 1}, headers=headers)
        assert response.status_code == 403
        assert response.json["message"] == "cross-site request refused"
    same_site_referer = {"Referer": "http://localhost:8080/pools"}
    assert client.post("/auth/echo", json={"name": "a", "count": 1}, headers=same_site_referer).status_code == 200


def test_post_with_a_non_json_non_form_body_is_refused(client: FlaskClient) -> None:
    response = client.post("/auth/echo", data="name=a", content_type="text/plain", headers=SAME_ORIGIN)
    assert response.status_code == 415


def test_unknown_post_route_is_still_a_404(client: FlaskClient) -> None:
    assert client.post("/auth/nowhere", json={}).status_code == 404
