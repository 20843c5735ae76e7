"""Abuse limits through the real stack (`deploy.run_local`: Caddy, every service under gunicorn, workers, Redis,
PostgreSQL, emulators), signed in with 3Bot Connect: request bodies over MAX_REQUEST_BODY (413 on every service,
declared or chunked), unfinished wizards per user (CHATFLOW_OPEN_SESSIONS), wizard moves and questions to other
services per user and window (CHATFLOW_ANSWER_RATE_LIMIT, CHATFLOW_QUERY_RATE_LIMIT per CHATFLOW_RATE_WINDOW).
Each refusal is in the standard error shape, keeps what was there, leaves other users alone and ends with its
window. Limits are set low here; the production defaults are in the README."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from tests.e2e.test_wizard_ubuntu import running_stack
from tests.integration.auth.conftest import Browser

MAX_BODY = 65536
OPEN_SESSIONS = 3
MOVES = 10
QUERIES = 3
WINDOW = 6
# A POST route of each service (the body is refused before the route or the caller is looked at).
POST_ROUTES = {
    "auth": "/auth/terms/accept",
    "chatflow": "/api/chatflows/ubuntu",
    "deployer": "/api/solutions/00000000000000000000000000000000/wireguard",
    "pools": "/api/pools",
    "backup": "/api/backup/init",
}


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Browser]]:
    overrides = {"MAX_REQUEST_BODY": str(MAX_BODY), "CHATFLOW_OPEN_SESSIONS": str(OPEN_SESSIONS),
                 "CHATFLOW_ANSWER_RATE_LIMIT": str(MOVES), "CHATFLOW_QUERY_RATE_LIMIT": str(QUERIES),
                 "CHATFLOW_RATE_WINDOW": str(WINDOW)}  # fmt: skip
    with running_stack(tmp_path_factory.mktemp("limits-stack"), "marketplace_limits", **overrides) as stack:
        signed_in = {}
        for name in ("alice.3bot", "bob.3bot", "carol.3bot"):
            browser = Browser(SimpleNamespace(proxy=stack["proxy"], connect=stack["connect"]))  # type: ignore[arg-type]
            browser.login(name)
            assert browser.post("/auth/terms/accept").status_code == 200
            signed_in[name] = browser
        yield signed_in


def refusal(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """The standard error shape with ``code``, and the request id Caddy gave the request."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message", "errors", "request_id"}, body
    assert body["errors"][0]["code"] == code, body
    assert body["request_id"] == response.headers["X-Request-Id"]
    return dict(body)


def retry_after(response: requests.Response, at_most: int) -> int:
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= at_most, wait
    return wait


def start(user: Browser) -> requests.Response:
    return user.post("/api/chatflows/ubuntu")


def answer(user: Browser, session_id: str, answers: dict[str, Any]) -> requests.Response:
    return user.post(f"/api/chatflows/sessions/{session_id}/answer", {"answers": answers})


def open_ids(user: Browser) -> set[str]:
    response = user.get("/api/chatflows/sessions")
    assert response.status_code == 200, response.text
    return {s["id"] for s in response.json()["sessions"]}


@pytest.mark.stack
def test_a_body_over_the_limit_is_413_on_every_service_declared_or_chunked(users: dict[str, Browser]) -> None:
    alice = users["alice.3bot"]
    big = b'{"x": "' + b"a" * MAX_BODY + b'"}'
    for service, path in POST_ROUTES.items():
        headers = {"Origin": alice.stack.proxy, "Content-Type": "application/json"}
        declared = alice.http.post(f"{alice.stack.proxy}{path}", data=big, headers=headers)
        body = refusal(declared, 413, "request_entity_too_large")
        assert f"at most {MAX_BODY} bytes" in body["message"], (service, body)
        # Without a Content-Length (Transfer-Encoding: chunked) the service stops reading at the limit.
        chunked = alice.http.post(f"{alice.stack.proxy}{path}", data=iter([big[:40000], big[40000:]]), headers=headers)
        assert "chunked" in chunked.request.headers.get("Transfer-Encoding", ""), service
        refusal(chunked, 413, "request_entity_too_large")
        # A body under the limit reaches the route (whatever it then says of it).
        small = alice.http.post(f"{alice.stack.proxy}{path}", data=b'{"x": "a"}', headers=headers)
        assert small.status_code not in (413, 500, 502), (service, small.status_code, small.text)
    # Past the most any service may allow (4 MB), Caddy refuses the body itself, in the same shape.
    huge = b"a" * 5_000_000
    headers = {"Origin": alice.stack.proxy, "Content-Type": "application/json"}
    for data in (huge, iter([huge[:1_000_000], huge[1_000_000:]])):
        response = alice.http.post(f"{alice.stack.proxy}/api/pools", data=data, headers=headers)
        assert "at most 4000000 bytes" in refusal(response, 413, "request_entity_too_large")["message"]


@pytest.mark.stack
def test_unfinished_wizards_are_capped_per_user_and_freed_by_abandoning_one(users: dict[str, Browser]) -> None:
    bob, carol = users["bob.3bot"], users["carol.3bot"]
    made = []
    for _ in range(OPEN_SESSIONS):
        response = start(bob)
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    refused = start(bob)
    refusal(refused, 429, "too_many_sessions")
    retry_after(refused, 86400)  # the oldest one's expiry (CHATFLOW_SESSION_TTL)
    assert open_ids(bob) == set(made)  # nothing lost, nothing added

    # Another user is not affected.
    assert start(carol).status_code == 201

    # Abandoning one frees a place.
    assert bob.http.delete(f"{bob.stack.proxy}/api/chatflows/sessions/{made[0]}",
                           headers={"Origin": bob.stack.proxy}).status_code == 204  # fmt: skip
    again = start(bob)
    assert again.status_code == 201, again.text
    assert open_ids(bob) == {*made[1:], again.json()["id"]}


@pytest.mark.stack
def test_wizard_answers_per_window_are_capped_per_user_then_reset(users: dict[str, Browser]) -> None:
    alice, bob = users["alice.3bot"], users["bob.3bot"]
    time.sleep(WINDOW)  # a fresh window for everyone
    session = start(alice).json()
    moved = answer(alice, session["id"], {"name": "limited"})
    assert moved.status_code == 200 and moved.json()["step"]["name"] == "version", moved.text
    for _ in range(MOVES - 2):
        assert answer(alice, session["id"], {"version": "nope"}).status_code == 422
    refused = answer(alice, session["id"], {"version": "ubuntu-20.04"})
    body = refusal(refused, 429, "rate_limited")
    assert "wizard answers" in body["message"]
    wait = retry_after(refused, WINDOW)
    # Nothing lost: the session is where it was, with its earlier answer; the refused one was not applied.
    view = alice.get(f"/api/chatflows/sessions/{session['id']}").json()
    assert view["step"]["name"] == "version" and view["answers"] == {"name": "limited"}
    assert alice.post(f"/api/chatflows/sessions/{session['id']}/back").status_code == 429  # every move counts

    # Another user answers in the same window (in a wizard of theirs from the test above).
    assert answer(bob, sorted(open_ids(bob))[0], {"name": "bobs"}).status_code == 200

    # The window ends: the same answer is taken.
    time.sleep(wait + 0.5)
    taken = answer(alice, session["id"], {"version": "ubuntu-20.04"})
    assert taken.status_code == 200, taken.text
    assert taken.json()["step"]["name"] == "resources"


@pytest.mark.stack
def test_questions_a_wizard_sends_to_other_services_are_capped_per_user(users: dict[str, Browser]) -> None:
    carol, alice = users["carol.3bot"], users["alice.3bot"]
    time.sleep(WINDOW)
    session_id = start(carol).json()["id"]
    # The name step asks the deployer whether the name is free (never cached): QUERIES questions pass.
    for n in range(QUERIES):
        moved = answer(carol, session_id, {"name": f"q{n}"})
        assert moved.status_code == 200, moved.text
        assert carol.post(f"/api/chatflows/sessions/{session_id}/back").status_code == 200
    refused = answer(carol, session_id, {"name": "q9"})
    body = refusal(refused, 429, "rate_limited")
    assert "questions to other services" in body["message"]
    wait = retry_after(refused, WINDOW)
    view = carol.get(f"/api/chatflows/sessions/{session_id}").json()
    assert view["step"]["name"] == "name" and view["answers"]["name"] == f"q{QUERIES - 1}"

    # Another user's wizard still asks.
    other = start(alice).json()["id"]
    assert answer(alice, other, {"name": "alices"}).status_code == 200

    time.sleep(wait + 0.5)
    assert answer(carol, session_id, {"name": "q9"}).status_code == 200
