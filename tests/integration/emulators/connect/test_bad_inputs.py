"""Whatever a client sends, the emulator answers 4xx with a message, never a 500 or a traceback (the one
exception being verify-sei's deliberate "Invalid or corrupted signature")."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from connect_emulator_support import STATE
from flask.testing import FlaskClient

from emulators.connect.kyc import KycService
from emulators.connect.users import DEFAULT_KYC_SEED

GOOD = {
    "state": STATE,
    "appid": "localhost:8080",
    "scope": '{"user": true, "email": true}',
    "redirecturl": "/auth/3bot_callback",
    "publickey": "RwHQhIhFH1RaQJ+1iuPlhYHKQKw/fxFGmM1x3qxzygE=",
}
BAD_QUERIES = {
    "state_with_dash": ("state", "Zq3LmN8p-R2tV6wXy", "not_alphanumeric"),
    "state_with_space": ("state", "abc def", "not_alphanumeric"),
    "state_missing": ("state", "", "missing"),
    "publickey_short": ("publickey", "AAAA", "bad_length"),
    "publickey_not_base64": ("publickey", "!!notbase64!!", "not_base64"),
    "publickey_low_order": ("publickey", base64.b64encode(bytes(32)).decode(), "weak_key"),
    "scope_not_json": ("scope", "{user: true", "not_json"),
    "scope_not_object": ("scope", "[1, 2]", "not_object"),
    "appid_with_path": ("appid", "evil.example.com/x", "bad_host"),
    "appid_with_userinfo": ("appid", "user@evil.example.com", "bad_host"),
    "appid_with_scheme": ("appid", "https://evil.example.com", "bad_host"),
    "redirecturl_with_fragment": ("redirecturl", "/cb#frag", "bad_path"),
    "redirecturl_with_backslash": ("redirecturl", "/\\evil", "bad_path"),
    "redirecturl_with_newline": ("redirecturl", "/cb\r\nSet-Cookie: x=1", "bad_path"),
}


@pytest.mark.parametrize(("field", "value", "code"), BAD_QUERIES.values(), ids=list(BAD_QUERIES))
def test_bad_login_parameter_gives_400_naming_the_field(client: FlaskClient, field: str, value: str, code: str) -> None:
    query = {**GOOD, field: value}
    page = client.get("/", query_string=query, headers={"Accept": "text/html"})
    assert page.status_code == 400
    assert page.mimetype == "text/html"
    assert f"<strong>{field}</strong>" in page.get_data(as_text=True)

    as_json = client.get("/", query_string=query, headers={"Accept": "application/json"})
    assert as_json.status_code == 400
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in as_json.get_json()["errors"]
    ]
    # The hidden form fields are checked again on Approve, so a doctored form fails the same way.
    assert client.post("/approve", data={**query, "user": "alice.3bot"}).status_code == 400
    assert client.post("/cancel", data=query).status_code == 400


def test_good_parameters_give_the_page(client: FlaskClient) -> None:
    # The counterpart of the test above: without the one bad value the same request succeeds.
    assert client.get("/", query_string=GOOD).status_code == 200


@pytest.mark.parametrize(("user", "code"), [("mallory.3bot", "unknown_user"), ("", "missing")])
def test_approve_for_an_unknown_or_missing_user_is_400(client: FlaskClient, user: str, code: str) -> None:
    response = client.post("/approve", data={**GOOD, "user": user}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == code


def test_unknown_user_lookup_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/api/users/mallory.3bot")
    assert response.status_code == 404
    assert response.get_json()["message"] == "User not found"
    assert client.get("/api/users/ALICE.3BOT").get_json()["doublename"] == "alice.3bot"


def test_unknown_route_and_wrong_method_are_json_on_the_real_server(live: str) -> None:
    missing = requests.get(f"{live}/no/such/page", timeout=5)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/json"
    assert "Not Found" in missing.json()["message"]
    wrong = requests.delete(f"{live}/approve", timeout=5)
    assert wrong.status_code == 405
    assert wrong.headers["Content-Type"] == "application/json"
    assert requests.get(f"{live}/approve", timeout=5).status_code == 405


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"signedEmailIdentifier": 5}', b"{}", b'{"signedEmailIdentifier": ""}'],
    ids=["text", "list", "number", "empty", "empty_string"],
)
def test_malformed_verify_sei_body_is_400(client: FlaskClient, body: bytes) -> None:
    response = client.post("/verification/verify-sei", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] in ("", "signedEmailIdentifier")


@pytest.mark.parametrize(
    "sei", ["not base64!", base64.b64encode(b"short").decode(), base64.b64encode(bytes(64) + b"{}").decode()]
)
def test_bad_sei_gets_the_real_services_500_text(client: FlaskClient, sei: str) -> None:
    response = client.post("/verification/verify-sei", json={"signedEmailIdentifier": sei})
    assert (response.status_code, response.get_data(as_text=True)) == (500, "Invalid or corrupted signature")


def test_valid_sei_returns_its_payload(client: FlaskClient) -> None:
    sei = KycService(DEFAULT_KYC_SEED).sign("bob@example.com", "bob.3bot")
    response = client.post("/verification/verify-sei", json={"signedEmailIdentifier": sei})
    assert response.status_code == 200
    assert response.get_json() == {"email": "bob@example.com", "identifier": "bob.3bot"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"signedAttempt": "x"},
        {"signedAttempt": "not base64!", "doubleName": "alice.3bot"},
        {"signedAttempt": base64.b64encode(b"tiny").decode(), "doubleName": "alice.3bot"},
        {"signedAttempt": base64.b64encode(bytes(80)).decode(), "doubleName": "alice.3bot"},
        {"signedAttempt": base64.b64encode(bytes(80)).decode(), "doubleName": "nobody.3bot"},
    ],
)
def test_bad_signed_attempt_post_is_400(client: FlaskClient, body: dict[str, str]) -> None:
    assert client.post("/api/signedAttempt", json=body).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        "{}",
        json.dumps({"user": "alice.3bot", "state": STATE, "appid": "localhost:8080"}),
        json.dumps({**GOOD, "user": "alice.3bot", "not_a_switch": True}),
        json.dumps({**GOOD, "user": "alice.3bot", "data_null": "yes"}),
        json.dumps({**GOOD, "user": "nobody.3bot"}),
        json.dumps({**GOOD, "user": "alice.3bot", "state": "bad-state"}),
        "{broken",
    ],
)
def test_bad_attempt_endpoint_body_is_400(client: FlaskClient, body: str) -> None:
    response = client.post("/_emulator/attempt", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["message"]


def test_oversized_body_is_413_json(client: FlaskClient) -> None:
    response = client.post("/approve", data={"state": "A" * 100_000})
    assert response.status_code == 413
    assert response.get_json()["message"].startswith("Request Entity Too Large")


def test_odd_inputs_never_give_500(client: FlaskClient) -> None:
    odd_values = ["", " ", "%", "\x00", "é", "{}", "[]", "null", "A" * 3000, "+/=", "../..", "<script>"]
    for value in odd_values:
        for field in GOOD:
            query = {**GOOD, field: value}
            assert client.get("/", query_string=query).status_code < 500, (field, value)
            assert client.post("/approve", data={**query, "user": value}).status_code < 500, (field, value)
            assert client.post("/cancel", data=query).status_code < 500, (field, value)
        assert client.get(f"/api/users/{value}").status_code < 500, value
        assert client.post("/replay", data={"state": value}).status_code < 500, value
        assert client.post("/_emulator/config", data=value, content_type="application/json").status_code < 500
        assert client.post("/api/signedAttempt", data=value).status_code < 500, value
