"""Deeply nested JSON from outside is a clear 400, never a RecursionError (services/common/jsonin.py).

The Flask apps read bodies through the shared JSON provider; the login callback reads its query parameter with
the same parser. Before the shared parser, both turned ``[[[[…]]]]`` into a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, request

from services.auth.provider import LoginRejected
from services.auth.service import verify_attempt
from services.common import jsonin
from services.common.identity import Identity
from services.common.settings import Settings
from services.common.web import create_service_app

ORIGIN = "http://localhost:8080"
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"answers": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"


@pytest.fixture
def app(make_settings: Callable[..., Settings]) -> Iterator[Flask]:
    app = create_service_app("chatflow", "/api/chatflows", make_settings(), check_schema=False)

    @app.post("/api/chatflows/echo")
    def echo() -> Any:
        # The views' own way of reading a body (services/chatflow/views.py, pools, backup).
        body = request.get_json(silent=True)
        return jsonify(kind=type(body).__name__)

    yield app
    app.extensions["marketplace"].close()


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT, "[" * (jsonin.MAX_DEPTH + 1) + "]" * (jsonin.MAX_DEPTH + 1)])
def test_a_deeply_nested_body_is_a_400_in_the_standard_shape(app: Flask, body: str) -> None:
    response = app.test_client().post(
        "/api/chatflows/echo", data=body, content_type="application/json", headers={"Origin": ORIGIN}
    )
    assert response.status_code == 400, response.data[:200]
    answer = response.json or {}
    assert answer["errors"] == [{"code": "too_deep", "field": None, "description": answer["message"]}]


def test_ordinary_bodies_still_parse(app: Flask) -> None:
    nested = "[" * jsonin.MAX_DEPTH + "]" * jsonin.MAX_DEPTH
    for body, kind in ((nested, "list"), ('{"answers": {"a": [1, {"b": 2}]}}', "dict"), ("not json", "NoneType")):
        response = app.test_client().post(
            "/api/chatflows/echo", data=body, content_type="application/json", headers={"Origin": ORIGIN}
        )
        assert response.status_code == 200 and response.json == {"kind": kind}


@pytest.mark.parametrize("raw", [DEEP, '{"signedAttempt": ' + DEEP + ', "doubleName": "a.3bot"}'])
def test_a_deeply_nested_login_callback_is_refused_as_a_bad_login(settings: Settings, raw: str) -> None:
    with pytest.raises(LoginRejected, match="not valid JSON"):
        verify_attempt(settings, Identity(bytes(32)), raw, "state")


def test_the_parser_itself_refuses_depth_not_size() -> None:
    assert jsonin.loads('{"a": ' + "[" * 10 + "]" * 10 + "}") == {"a": [[[[[[[[[[]]]]]]]]]]}
    assert len(jsonin.loads("[" + ",".join(["[1]"] * 10_000) + "]")) == 10_000
    with pytest.raises(ValueError):
        jsonin.loads(DEEP)
