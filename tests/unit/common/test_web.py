"""The same-origin (CSRF) check every web service runs, and the caller helpers (services/common/web.py).

A real service app in-process (Flask test client): no dependency is touched by these routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, jsonify
from flask.testing import FlaskClient

from services.common.assertion import ASSERTION_HEADER, PASS_MARGIN, USER_HEADER, User, issue
from services.common.identity import Identity
from services.common.settings import Settings
from services.common.web import create_service_app, csrf_exempt, require_accepted_terms, user

SIGNER = Identity(bytes(range(0xA0, 0xC0)))
ORIGIN = "http://localhost:8080"  # the public origin of the test settings (MARKETPLACE_DOMAIN=localhost:8080)


@pytest.fixture
def app(make_settings: Callable[..., Settings]) -> Iterator[Flask]:
    app = create_service_app("pools", "/api/pools", make_settings(AUTH_PUBLIC_KEY=SIGNER.verify_key.hex()),
                             check_schema=False)  # fmt: skip

    @app.post("/api/pools/change")
    def change() -> Any:
        return jsonify(ok=True)

    @app.get("/api/pools/read")
    def read() -> Any:
        return jsonify(ok=True)

    @app.post("/api/pools/hook")
    @csrf_exempt
    def hook() -> Any:
        return jsonify(ok=True)

    @app.get("/api/pools/whoami")
    def whoami() -> Any:
        return jsonify(username=user().username)

    @app.post("/api/pools/spend")
    def spend() -> Any:
        return jsonify(spent_by=require_accepted_terms().username)

    yield app
    app.extensions["marketplace"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def refused(response: Any, status: int = 403, code: str = "cross_site_request") -> bool:
    """The standard error shape: the status, and one error whose description is the message."""
    body = response.json
    expected = [{"code": code, "field": None, "description": body["message"]}]
    return response.status_code == status and body["errors"] == expected


def test_a_change_from_our_own_pages_passes(client: FlaskClient) -> None:
    assert client.post("/api/pools/change", json={}, headers={"Origin": ORIGIN}).status_code == 200


@pytest.mark.parametrize(
    "sent",
    [
        {},
        {"Origin": "https://evil.example"},
        {"Origin": "http://localhost:8081"},
        {"Origin": "null"},
        {"Origin": "https://evil.example", "Referer": f"{ORIGIN}/pools"},  # the Origin header wins
        {"Referer": "https://evil.example/page"},
        {"Referer": "localhost:8080/pools"},  # no scheme: no origin
        {"Referer": "http:///pools"},  # no host: no origin
    ],
)
def test_a_change_from_anywhere_else_is_refused(client: FlaskClient, sent: dict[str, str]) -> None:
    response = client.post("/api/pools/change", json={}, headers=sent)
    assert refused(response) and response.json["message"] == "cross-site request refused"


@pytest.mark.parametrize("referer", [f"{ORIGIN}/pools?x=1", f"{ORIGIN}/", ORIGIN])
def test_without_origin_the_referer_counts(client: FlaskClient, referer: str) -> None:
    assert client.post("/api/pools/change", json={}, headers={"Referer": referer}).status_code == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_every_unsafe_method_is_checked(app: Flask, client: FlaskClient, method: str) -> None:
    app.add_url_rule("/api/pools/any", "any", lambda: jsonify(ok=True), methods=[method])
    assert refused(client.open("/api/pools/any", method=method))
    assert client.open("/api/pools/any", method=method, headers={"Origin": ORIGIN}).status_code == 200


def test_safe_methods_unknown_routes_and_wrong_methods_are_not_checked(client: FlaskClient) -> None:
    assert client.get("/api/pools/read").status_code == 200
    assert client.head("/api/pools/read").status_code == 200
    assert client.options("/api/pools/change").status_code == 200
    assert client.post("/api/pools/nowhere", json={}).status_code == 404
    assert client.post("/api/pools/read", json={}).status_code == 405


def test_server_to_server_views_are_exempt(client: FlaskClient) -> None:
    assert client.post("/api/pools/hook", json={}).status_code == 200
    assert csrf_exempt(lambda: None).csrf_exempt is True  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 200),
        ("application/x-www-form-urlencoded", 200),
        ("multipart/form-data; boundary=x", 200),
        ("text/plain", 415),
        ("application/xml", 415),
    ],
)
def test_only_json_and_forms_are_accepted_as_a_body(client: FlaskClient, content_type: str, status: int) -> None:
    response = client.post("/api/pools/change", data=b"--x--", content_type=content_type, headers={"Origin": ORIGIN})
    assert response.status_code == status
    if status == 415:
        assert refused(response, 415, "unsupported_media_type")
        assert response.json["message"] == "send a JSON body (Content-Type: application/json) or a form"


def test_a_cross_site_body_is_refused_before_its_type_is_looked_at(client: FlaskClient) -> None:
    assert refused(client.post("/api/pools/change", data=b"x", content_type="text/plain"))


def test_an_empty_body_needs_no_type(client: FlaskClient) -> None:
    assert client.post("/api/pools/change", headers={"Origin": ORIGIN}).status_code == 200


def assertion_headers(terms: str | None) -> dict[str, str]:
    alice = User("alice.3bot", "alice@example.com", terms)
    return {USER_HEADER: "alice.3bot", ASSERTION_HEADER: issue(SIGNER, alice, ttl=60), "Origin": ORIGIN}


def test_the_caller_is_the_asserted_user(client: FlaskClient) -> None:
    assert refused(client.get("/api/pools/whoami"), 401, "not_authenticated")
    assert client.get("/api/pools/whoami", headers=assertion_headers(None)).json == {"username": "alice.3bot"}


def test_spending_needs_the_current_terms(client: FlaskClient) -> None:
    assert refused(client.post("/api/pools/spend", json={}, headers={"Origin": ORIGIN}), 401, "not_authenticated")
    assert refused(client.post("/api/pools/spend", json={}, headers=assertion_headers(None)), 403,
                   "terms_not_accepted")  # fmt: skip
    response = client.post("/api/pools/spend", json={}, headers=assertion_headers("1"))
    assert response.status_code == 200 and response.json == {"spent_by": "alice.3bot"}


def _pass_cookie(response: Any) -> str | None:
    """The session pass a response sets ("" when it deletes it), or None when it says nothing of it."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("mp_pass="):
            return str(header)
    return None


def test_the_token_forward_auth_brought_becomes_the_browsers_session_pass(client: FlaskClient) -> None:
    headers = assertion_headers("1")
    answer = client.get("/api/pools/whoami", headers=headers)
    cookie = _pass_cookie(answer)
    assert cookie is not None and cookie.startswith(f"mp_pass={headers[ASSERTION_HEADER]};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    max_age = int(cookie.split("Max-Age=")[1].split(";")[0])
    assert 60 - PASS_MARGIN - 2 <= max_age <= 60 - PASS_MARGIN  # gone before the token expires
    # With the pass alone (no forward_auth: Caddy let the call through), the same user, nothing set again.
    again = client.get("/api/pools/whoami", headers={"Origin": ORIGIN})
    assert again.json == {"username": "alice.3bot"} and _pass_cookie(again) is None
    assert client.post("/api/pools/spend", json={}, headers={"Origin": ORIGIN}).json == {"spent_by": "alice.3bot"}


def test_the_pass_carries_the_terms_gate(client: FlaskClient) -> None:
    client.get("/api/pools/whoami", headers=assertion_headers(None))
    assert refused(client.post("/api/pools/spend", json={}, headers={"Origin": ORIGIN}), 403, "terms_not_accepted")


@pytest.mark.parametrize(
    "token",
    [
        issue(Identity(bytes(range(0x40, 0x60))), User("alice.3bot", "alice@example.com", "1"), ttl=60),  # other key
        issue(SIGNER, User("alice.3bot", "alice@example.com", "1"), ttl=60, now=1_700_000_000),  # expired
        "not-a-token",
    ],
    ids=["foreign", "expired", "malformed"],
)
def test_a_bad_pass_is_refused_and_deleted(client: FlaskClient, token: str) -> None:
    client.set_cookie("mp_pass", token)
    answer = client.get("/api/pools/whoami")
    assert refused(answer, 401, "not_authenticated")
    assert (_pass_cookie(answer) or "").startswith("mp_pass=;")  # the next call asks auth again
    assert client.get_cookie("mp_pass") is None


def test_forward_auths_answer_wins_over_a_pass_of_someone_else(client: FlaskClient) -> None:
    bob = issue(SIGNER, User("bob.3bot", "bob@example.com", "1"), ttl=60)
    client.set_cookie("mp_pass", bob)
    answer = client.get("/api/pools/whoami", headers=assertion_headers("1"))
    assert answer.json == {"username": "alice.3bot"}
    assert (_pass_cookie(answer) or "").startswith("mp_pass=ey")  # replaced by alice's
