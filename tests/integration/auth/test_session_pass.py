"""The session pass through the real Caddy and auth-web (issue 16): after one call through forward_auth, a
browser's API calls go straight to the service; what a pass can never do — outlive its session by more than the
assertion TTL, survive a logout or a new login in the same browser, stand in for a page's session check."""

from __future__ import annotations

import time

import requests

from services.common import assertion
from services.common.identity import Identity
from tests.integration.auth.conftest import ASSERTION_TTL, Browser, Stack


def _verifies(stack: Stack) -> int:
    return stack.processes.log("auth").count("path=/auth/verify ")


def test_api_calls_with_a_pass_skip_the_session_check(stack: Stack, browser: Browser) -> None:
    browser.login(user="carol.3bot")
    first = browser.get("/api/pools/assertion")
    assert first.status_code == 200 and first.json()["via_auth"]
    assert browser.session_pass == first.json()["token"]
    time.sleep(0.3)  # auth-web's log line of that verify
    before = _verifies(stack)
    for _ in range(10):
        answer = browser.get("/api/pools/assertion")
        assert answer.status_code == 200 and not answer.json()["via_auth"]
    assert browser.get("/api/pools/whoami").json()["username"] == "carol.3bot"
    time.sleep(0.3)
    assert _verifies(stack) == before  # not one of those eleven calls asked auth-web


def test_a_copy_of_the_pass_kept_after_logout_is_refused_within_the_ttl(stack: Stack, browser: Browser) -> None:
    browser.login(user="bob.3bot")
    assert browser.get("/api/pools/whoami").status_code == 200
    kept = browser.session_pass
    assert kept
    assert browser.post("/auth/logout").status_code == 200
    assert browser.session_pass is None  # logout deleted the browser's pass
    assert browser.get("/api/pools/whoami").status_code == 401
    signed_out = time.monotonic()
    while requests.get(f"{stack.proxy}/api/pools/whoami", cookies={"mp_pass": kept}, timeout=5).status_code == 200:
        assert time.monotonic() - signed_out < ASSERTION_TTL + 1, "a pass outlived its session by more than the TTL"
        time.sleep(0.25)


def test_a_new_login_in_the_same_browser_drops_the_previous_users_pass(browser: Browser) -> None:
    browser.login(user="alice.3bot")
    assert browser.get("/api/pools/whoami").json()["username"] == "alice.3bot"
    assert browser.session_pass
    browser.login(user="bob.3bot")
    assert browser.session_pass is None
    assert browser.get("/api/pools/whoami").json()["username"] == "bob.3bot"


def test_a_forged_pass_is_refused_then_the_session_answers_again(stack: Stack, browser: Browser) -> None:
    browser.login(user="alice.3bot")
    forged = assertion.issue(Identity(bytes(range(0x40, 0x60))), assertion.User("alice.3bot", "a@b.c", "1"), ttl=60)
    browser.http.cookies.set("mp_pass", forged, domain="localhost.local")
    assert browser.get("/api/pools/whoami").status_code == 401
    assert browser.session_pass is None  # deleted by the refusal: the next call asks auth-web
    assert browser.get("/api/pools/whoami").json()["username"] == "alice.3bot"
    # Without any session, a forged pass gets nothing either.
    stranger = requests.get(f"{stack.proxy}/api/pools/whoami", cookies={"mp_pass": forged}, timeout=5)
    assert stranger.status_code == 401


def test_pages_ask_for_the_session_even_with_a_pass(stack: Stack, browser: Browser) -> None:
    browser.login(user="alice.3bot")
    browser.get("/api/pools/whoami")
    kept = browser.session_pass
    page = requests.get(f"{stack.proxy}/wizard.html", cookies={"mp_pass": kept or ""}, timeout=5,
                        headers={"Accept": "text/html"}, allow_redirects=False)  # fmt: skip
    assert page.status_code == 302 and page.headers["Location"].startswith("/auth/login")
