"""/auth/verify without its per-request costs (issue 16), nothing weakened — through Caddy, real auth-web, Redis
and PostgreSQL: an ended session is refused at its next request, one assertion serves many requests, the terms
are read from the session record and a new terms version must be accepted again."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
import redis
import requests

from services.common import assertion
from services.common.errors import ApiError
from services.common.identity import load_identity
from services.common.settings import load_settings
from tests.conftest import PYTHON, free_port, wait_http
from tests.integration.auth.conftest import ASSERTION_TTL, Browser, Stack, error_message, forget_terms


def _session_key(browser: Browser) -> str:
    return f"auth:session:{hashlib.sha256((browser.session_cookie or '').encode()).hexdigest()}"


def test_a_signed_out_session_is_refused_at_its_next_request(browser: Browser) -> None:
    browser.login(user="alice.3bot")
    assert browser.get("/api/pools/whoami").status_code == 200  # its assertion is cached now
    cookie = browser.session_cookie
    assert browser.post("/auth/logout").status_code == 200
    # The same cookie, replayed (a copy kept by an attacker): refused at once, not when the assertion expires.
    browser.http.cookies.set("mp_session", cookie or "")
    refused = browser.get("/api/pools/whoami")
    assert refused.status_code == 401 and error_message(refused) == "sign in first"


def test_an_expired_session_is_refused_within_the_assertion_ttl(stack: Stack, browser: Browser) -> None:
    browser.login(user="alice.3bot")
    assert browser.get("/api/pools/whoami").status_code == 200  # the browser holds a session pass now
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    try:
        client.delete(_session_key(browser))  # the idle timeout running out
    finally:
        client.close()
    expired = time.monotonic()
    while browser.get("/api/pools/whoami").status_code == 200:
        assert time.monotonic() - expired < ASSERTION_TTL + 1, "an ended session outlived its pass"
        time.sleep(0.25)
    assert browser.get("/api/pools/whoami").status_code == 401  # and stays refused


def test_one_assertion_serves_many_requests(stack: Stack, browser: Browser) -> None:
    browser.login(user="bob.3bot")
    tokens = {browser.get("/api/pools/assertion").json()["token"]}
    time.sleep(1.1)  # a token signed afresh now would differ (its issue time is in whole seconds)
    for _ in range(5):
        browser.drop_pass()  # each call asks /auth/verify
        answer = browser.get("/api/pools/assertion").json()
        assert answer["via_auth"]
        tokens.add(answer["token"])
    assert len(tokens) == 1  # signed once, not per request
    public_key = load_identity(Path(stack.env["AUTH_SIGNING_SEED_FILE"])).verify_key
    (token,) = tokens
    assert assertion.verify(token, public_key, "bob.3bot").username == "bob.3bot"
    other = stack.browser()
    other.login(user="bob.3bot")  # another session of the same user gets its own token
    assert other.get("/api/pools/assertion").json()["token"] != token


def test_accepting_the_terms_reaches_the_session_at_once(stack: Stack, browser: Browser) -> None:
    forget_terms(stack.env["DATABASE_URL"], "carol.3bot")
    browser.login(user="carol.3bot")
    assert browser.get("/api/pools/whoami").json()["terms"] is None
    assert browser.post("/api/pools/spend").status_code == 403
    assert browser.post("/auth/terms/accept").status_code == 200
    assert browser.get("/api/pools/whoami").json()["terms"] == stack.settings.terms_version
    assert browser.post("/api/pools/spend").status_code == 200


def test_a_new_terms_version_must_be_accepted_again(stack: Stack, browser: Browser) -> None:
    # The same users, sessions and keys, served by an auth-web of a newer terms version (a deploy that changed
    # TERMS_VERSION): a session whose record says "accepted" for the old version is not let through with it.
    browser.login(user="alice.3bot")
    assert browser.post("/auth/terms/accept").status_code == 200
    assert browser.get("/api/pools/whoami").json()["terms"] == stack.settings.terms_version
    newer = f"{stack.settings.terms_version}-next"
    port = free_port()
    env = {**stack.env, "AUTH_PORT": str(port), "TERMS_VERSION": newer}
    auth = stack.processes.start(f"auth-{newer}", [PYTHON, "-m", "deploy.role", "auth-web"], env)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthz", proc=auth)
    cookies = {"mp_session": browser.session_cookie or ""}
    public_key = load_identity(Path(stack.env["AUTH_SIGNING_SEED_FILE"])).verify_key

    def asserted() -> assertion.User:
        verified = requests.get(f"{base}/auth/verify", cookies=cookies, headers={"Accept": "application/json"},
                                timeout=5)  # fmt: skip
        assert verified.status_code == 200
        return assertion.verify(verified.headers[assertion.ASSERTION_HEADER], public_key, "alice.3bot")

    try:
        newer_settings = load_settings(env)
        assert asserted().terms_version is None
        with pytest.raises(ApiError) as refused:
            assertion.require_terms(newer_settings, asserted())
        assert refused.value.status == 403
        accept = requests.post(f"{base}/auth/terms/accept", json={}, cookies=cookies,
                               headers={"Origin": stack.proxy}, timeout=5)  # fmt: skip
        assert accept.status_code == 200
        assert asserted().terms_version == newer
    finally:
        auth.terminate()
        auth.wait(timeout=20)
