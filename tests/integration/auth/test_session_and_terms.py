"""Sessions, forward_auth, assertions, the same-origin rule and the terms gate — through Caddy."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import redis
import requests

from services.common import assertion
from services.common.identity import Identity, load_identity
from tests.integration.auth.conftest import Browser, Stack, error_message, forget_terms


def test_me_and_api_calls_without_a_session_are_401_json(stack: Stack, browser: Browser) -> None:
    assert browser.get("/auth/me").status_code == 401
    response = browser.get("/api/pools/whoami")
    assert response.status_code == 401
    assert error_message(response) == "sign in first"


def test_page_navigation_without_a_session_goes_to_the_login_page(browser: Browser) -> None:
    response = browser.get("/pools.html?x=1", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/pools.html%3Fx%3D1"
    page = browser.get("/auth/login?next=/pools.html", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "Sign in with 3Bot Connect" in page.text


def test_forward_auth_hands_the_service_a_verified_user(browser: Browser) -> None:
    browser.login(user="carol.3bot")
    response = browser.get("/api/pools/whoami")
    assert response.status_code == 200
    assert response.json() == {
        "username": "carol.3bot",
        "email": "carol@example.com",
        "terms": response.json()["terms"],
    }


def test_identity_headers_sent_by_a_client_are_ignored(browser: Browser) -> None:
    browser.login(user="bob.3bot")
    forged = {assertion.USER_HEADER: "alice.3bot", assertion.EMAIL_HEADER: "alice@example.com"}
    assert browser.get("/api/pools/whoami", headers=forged).json()["username"] == "bob.3bot"
    # Without a session, forged headers alone get nothing.
    assert requests.get(f"{browser.stack.proxy}/api/pools/whoami", headers=forged, timeout=5).status_code == 401


def _direct(stack: Stack, token: str, username: str = "alice.3bot") -> requests.Response:
    headers = {assertion.USER_HEADER: username, assertion.EMAIL_HEADER: "a@b.c", assertion.ASSERTION_HEADER: token}
    return requests.get(f"{stack.probe}/api/pools/whoami", headers=headers, timeout=5)


def test_forged_expired_or_mismatched_assertions_straight_to_a_service_get_401(stack: Stack) -> None:
    alice = assertion.User("alice.3bot", "alice@example.com", None)
    forger = Identity(bytes(32))
    real_signer = load_identity(Path(stack.env["AUTH_SIGNING_SEED_FILE"]))
    assert _direct(stack, assertion.issue(real_signer, alice, ttl=60)).status_code == 200  # the control
    assert _direct(stack, assertion.issue(forger, alice, ttl=60)).status_code == 401
    assert _direct(stack, assertion.issue(real_signer, alice, ttl=60, now=0)).status_code == 401  # expired
    assert _direct(stack, assertion.issue(real_signer, alice, ttl=60), username="bob.3bot").status_code == 401
    assert _direct(stack, "garbage").status_code == 401
    assert requests.get(f"{stack.probe}/api/pools/whoami", timeout=5).status_code == 401


def test_terms_start_unaccepted_and_acceptance_is_recorded_idempotently(stack: Stack, browser: Browser) -> None:
    browser.login(user="alice.3bot")
    forget_terms(stack.env["DATABASE_URL"], "alice.3bot")
    terms = browser.get("/auth/terms").json()
    assert terms == {"version": stack.settings.terms_version, "grid_network": "testnet", "accepted": False}
    for _ in range(2):
        response = browser.post("/auth/terms/accept")
        assert response.status_code == 200
        assert response.json()["accepted"] is True
    assert browser.get("/auth/terms").json()["accepted"] is True


def test_terms_gate_blocks_a_deploy_capable_endpoint_until_accepted(stack: Stack, browser: Browser) -> None:
    browser.login(user="bob.3bot")
    forget_terms(stack.env["DATABASE_URL"], "bob.3bot")
    blocked = browser.post("/api/pools/spend")
    assert blocked.status_code == 403
    assert "accept the terms of service" in error_message(blocked)
    assert browser.post("/auth/terms/accept").status_code == 200
    allowed = browser.post("/api/pools/spend")
    assert allowed.status_code == 200
    assert allowed.json() == {"spent_by": "bob.3bot"}


def test_cross_site_posts_are_refused(stack: Stack, browser: Browser) -> None:
    browser.login()
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}):
        response = browser.http.post(f"{stack.proxy}/auth/terms/accept", json={}, headers=headers)
        assert response.status_code == 403
        assert error_message(response) == "cross-site request refused"
    response = browser.http.post(f"{stack.proxy}/api/pools/spend", json={}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    # A POST without Origin or Referer (not a browser form of ours) is refused too.
    assert browser.http.post(f"{stack.proxy}/auth/logout", json={}).status_code == 403
    assert browser.get("/auth/me").status_code == 200  # …and did not log us out


def test_state_changing_endpoints_refuse_get(browser: Browser) -> None:
    browser.login()
    assert browser.get("/auth/terms/accept").status_code == 405
    assert browser.get("/auth/logout").status_code == 405


def test_logout_from_a_form_redirects_home(browser: Browser) -> None:
    browser.login()
    response = browser.http.post(
        f"{browser.stack.proxy}/auth/logout", data={}, headers={"Origin": browser.stack.proxy}, allow_redirects=False
    )
    assert response.status_code == 303
    assert browser.get("/auth/me").status_code == 401


def _session_max_age(response: requests.Response) -> int | None:
    for header in response.raw.headers.getlist("Set-Cookie"):
        if header.startswith("mp_session=") and "Max-Age=" in header:
            return int(header.split("Max-Age=")[1].split(";")[0])
    return None


def test_the_session_cookie_is_renewed_on_use_up_to_the_absolute_limit(stack: Stack, browser: Browser) -> None:
    # The server slides the session's idle expiry on every use; a cookie set once at login died before it.
    settings = stack.settings
    assert _session_max_age(browser.login()) == settings.session_ttl
    me = browser.get("/auth/me")
    assert me.status_code == 200
    assert _session_max_age(me) == settings.session_ttl
    # Near the absolute limit the cookie lives only as long as the session may.
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    key = f"auth:session:{hashlib.sha256((browser.session_cookie or '').encode()).hexdigest()}"
    record = json.loads(client.get(key) or b"{}")
    record["created"] = time.time() - settings.session_absolute_ttl + 100
    client.set(key, json.dumps(record), ex=settings.session_ttl)
    max_age = _session_max_age(browser.get("/auth/me"))
    assert max_age is not None and 90 <= max_age <= 100
    assert 90 <= client.ttl(key) <= 100
    client.close()
