"""3Bot Connect login end to end, through Caddy, against the connect emulator (LOGIN_PROTOCOL §3 to §7)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, quote, urlsplit

import nacl.public
import nacl.signing
import psycopg2
import pytest
import redis
import requests

from tests.conftest import TEST_DATABASE_URL
from tests.integration.auth.conftest import Browser, Stack, error_message

ALICE_SEED = bytes(range(0x20, 0x40))


@pytest.mark.parametrize(
    ("user", "email"),
    [("alice.3bot", "alice@example.com"), ("bob.3bot", "bob@example.com"), ("carol.3bot", "carol@example.com")],
)
def test_each_test_user_signs_in_through_the_provider_page(
    stack: Stack, browser: Browser, user: str, email: str
) -> None:
    params = browser.start_login("/pools")
    # The redirect carries what the protocol requires, from configuration (not from the Host header).
    assert params["appid"] == stack.settings.marketplace_domain
    assert json.loads(params["scope"]) == {"user": True, "email": True}
    assert params["redirecturl"] == "/auth/3bot_callback"
    assert len(params["state"]) >= 32 and params["state"].isalnum()
    assert len(base64.b64decode(params["publickey"])) == 32
    # The provider page's Approve button, posted like a browser would.
    page = requests.get(f"{stack.connect}/", params=params, timeout=5)
    assert page.status_code == 200
    approve = requests.post(f"{stack.connect}/approve", data={**params, "user": user}, allow_redirects=False, timeout=5)
    assert approve.status_code == 302, approve.text
    response = browser.callback(approve.headers["Location"])
    assert response.status_code == 302
    assert response.headers["Location"] == "/pools"
    cookie = next(c for c in browser.http.cookies if c.name == "mp_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert "samesite=lax" in response.headers["Set-Cookie"].lower()
    me = browser.get("/auth/me")
    assert me.status_code == 200
    assert me.json() == {"username": user, "email": email}
    conn = psycopg2.connect(TEST_DATABASE_URL)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT email FROM auth.users WHERE username = %s", (user,))
            assert cur.fetchone() == (email,)
    finally:
        conn.close()


def _assert_rejected(browser: Browser, response: requests.Response, status: int, phrase: str) -> None:
    assert response.status_code == status, response.text
    assert phrase in error_message(response).lower()
    assert browser.session_cookie is None
    assert browser.get("/auth/me").status_code == 401


@pytest.mark.parametrize(
    ("switch", "phrase"),
    [
        ("wrong_user_key", "not signed by this 3bot"),
        ("tampered_state", "does not belong to this sign-in"),
        ("wrong_app_id", "another site"),
        ("data_null", "not approved"),
        ("wrong_box_key", "could not be decrypted"),
        ("email_missing", "e-mail"),
        ("sei_wrong_signer", "could not be verified"),
        ("sei_other_identity", "could not be verified"),
    ],
)
def test_bad_attempts_are_refused_with_a_clear_400_and_no_session(browser: Browser, switch: str, phrase: str) -> None:
    response = browser.callback(browser.attempt(browser.start_login(), **{switch: True}))
    _assert_rejected(browser, response, 400, phrase)


def _callback_with(browser: Browser, outer: dict[str, str] | str) -> requests.Response:
    raw = outer if isinstance(outer, str) else json.dumps(outer)
    return browser.callback(f"{browser.stack.proxy}/auth/3bot_callback?signedAttempt={quote(raw)}")


def _signed_outer(url: str) -> dict[str, str]:
    return json.loads(parse_qs(urlsplit(url).query)["signedAttempt"][0])


def test_an_identifier_issued_for_another_3bot_name_is_refused(browser: Browser) -> None:
    # bob shares his own e-mail with an SEI the real KYC key signed for that address but for another 3Bot name:
    # every other check passes, only comparing the SEI's identifier with the double name refuses it.
    response = browser.callback(browser.attempt(browser.start_login(), user="bob.3bot", sei_other_name=True))
    _assert_rejected(browser, response, 400, "could not be verified")


def test_tampered_signed_message_is_refused(browser: Browser) -> None:
    outer = _signed_outer(browser.attempt(browser.start_login()))
    raw = bytearray(base64.b64decode(outer["signedAttempt"]))
    raw[80] ^= 0x01  # one bit of the signed JSON
    outer["signedAttempt"] = base64.b64encode(bytes(raw)).decode()
    _assert_rejected(browser, _callback_with(browser, outer), 400, "not signed")


def test_double_name_mismatch_is_refused(browser: Browser) -> None:
    outer = _signed_outer(browser.attempt(browser.start_login(), user="alice.3bot"))
    outer["doubleName"] = "bob.3bot"
    _assert_rejected(browser, _callback_with(browser, outer), 400, "not signed by this 3bot")


def test_tampered_ciphertext_signed_by_the_user_is_refused(browser: Browser) -> None:
    # Play the phone app ourselves (we hold alice's test seed): a valid signature over a corrupted box.
    params = browser.start_login()
    alice = nacl.signing.SigningKey(ALICE_SEED)
    recipient = nacl.public.PublicKey(base64.b64decode(params["publickey"]))
    box = nacl.public.Box(alice.to_curve25519_private_key(), recipient)
    sealed = box.encrypt(b'{"email":{"email":"alice@example.com","sei":"x"}}')
    ciphertext = bytearray(sealed.ciphertext)
    ciphertext[0] ^= 0x01
    attempt = {
        "signedState": params["state"],
        "data": {
            "nonce": base64.b64encode(sealed.nonce).decode(),
            "ciphertext": base64.b64encode(bytes(ciphertext)).decode(),
        },
        "selectedImageId": 1,
        "doubleName": "alice.3bot",
        "randomRoom": "r",
        "appId": params["appid"],
    }
    signed = alice.sign(json.dumps(attempt).encode())
    outer = {"signedAttempt": base64.b64encode(bytes(signed)).decode(), "doubleName": "alice.3bot"}
    _assert_rejected(browser, _callback_with(browser, outer), 400, "could not be decrypted")


def test_unknown_user_at_the_provider_is_refused(stack: Stack, browser: Browser) -> None:
    url = browser.attempt(browser.start_login())
    stack.connect_config(users={"missing": ["alice.3bot"]})
    _assert_rejected(browser, browser.callback(url), 400, "does not know this 3bot")


def test_kyc_unverified_is_refused(stack: Stack, browser: Browser) -> None:
    url = browser.attempt(browser.start_login())
    stack.connect_config(kyc={"unverified": True})
    _assert_rejected(browser, browser.callback(url), 400, "could not be verified")


@pytest.mark.parametrize(
    ("config", "status", "phrase"),
    [
        ({"users": {"down": True}}, 502, "login provider"),
        ({"users": {"delay": 4}}, 503, "did not answer in time"),
        ({"kyc": {"down": True}}, 502, "verification service"),
        ({"kyc": {"delay": 4}}, 503, "did not answer in time"),
    ],
)
def test_provider_or_kyc_down_or_slow_is_a_502_or_503_with_a_message(
    stack: Stack, browser: Browser, config: dict[str, dict[str, object]], status: int, phrase: str
) -> None:
    url = browser.attempt(browser.start_login())
    stack.connect_config(**config)
    started = time.monotonic()
    response = browser.callback(url)
    assert time.monotonic() - started < 8  # our timeout, not the provider's delay
    _assert_rejected(browser, response, status, phrase)


def test_provider_and_kyc_unreachable_are_503(stack: Stack) -> None:
    from services.auth import provider
    from services.common.settings import load_settings
    from tests.conftest import closed_port

    dead = load_settings(
        {
            **stack.env,
            "THREEBOT_LOGIN_URL": f"http://127.0.0.1:{closed_port()}",
            "OPENKYC_URL": f"http://127.0.0.1:{closed_port()}",
        }
    )
    with pytest.raises(provider.UpstreamFailure) as info:
        provider.fetch_user_key(dead, "alice.3bot")
    assert info.value.status == 503 and "unavailable" in info.value.message
    with pytest.raises(provider.UpstreamFailure) as info:
        provider.verify_sei(dead, "sei")
    assert info.value.status == 503


@pytest.mark.parametrize(
    "raw", ["not json", "[]", '{"signedAttempt": 5, "doubleName": "alice.3bot"}', '{"doubleName": "x"}', ""]
)
def test_malformed_signed_attempt_is_a_400(browser: Browser, raw: str) -> None:
    browser.start_login()
    _assert_rejected(browser, _callback_with(browser, raw), 400, "")


def test_missing_state_is_refused(stack: Stack) -> None:
    # A callback in a browser that never started a login (no pending attempt bound to it).
    stranger = stack.browser()
    other = stack.browser()
    url = other.attempt(other.start_login())
    _assert_rejected(stranger, stranger.callback(url), 400, "expired or was already used")


def test_reused_attempt_is_refused(browser: Browser) -> None:
    url = browser.attempt(browser.start_login())
    assert browser.callback(url).status_code == 302
    browser.http.cookies.clear()
    browser.http.cookies.set("mp_login", "replayed-cookie")
    _assert_rejected(browser, browser.callback(url), 400, "expired or was already used")


def test_replay_in_the_same_browser_is_refused(browser: Browser) -> None:
    url = browser.attempt(browser.start_login())
    first = browser.callback(url)
    assert first.status_code == 302
    browser.http.post(f"{browser.stack.proxy}/auth/logout", json={}, headers={"Origin": browser.stack.proxy})
    _assert_rejected(browser, browser.callback(url), 400, "expired or was already used")


def test_a_captured_callback_replayed_with_its_login_cookie_is_refused(stack: Stack, browser: Browser) -> None:
    # The attacker holds all the browser sent: the callback URL and the login cookie. The state's single use is
    # the only thing that refuses the replay: with the consumed record put back, the very same request signs in.
    url = browser.attempt(browser.start_login())
    login_cookie = browser.http.cookies["mp_login"]
    key = f"auth:attempt:{hashlib.sha256(login_cookie.encode()).hexdigest()}"
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    try:
        record = client.get(key)
        assert record is not None
        assert browser.callback(url).status_code == 302
        attacker = stack.browser()
        attacker.http.cookies.set("mp_login", login_cookie)
        _assert_rejected(attacker, attacker.callback(url), 400, "expired or was already used")
        client.set(key, record, ex=60)  # what a reusable state would leave behind
        replayed = stack.browser()
        replayed.http.cookies.set("mp_login", login_cookie)
        assert replayed.callback(url).status_code == 302
        assert replayed.get("/auth/me").json()["username"] == "alice.3bot"
        assert client.get(key) is None  # consumed again by that sign-in
    finally:
        client.close()


def test_expired_attempt_is_refused(stack: Stack, browser: Browser) -> None:
    url = browser.attempt(browser.start_login())
    login_cookie = browser.http.cookies["mp_login"]
    key = f"auth:attempt:{hashlib.sha256(login_cookie.encode()).hexdigest()}"
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    try:
        assert client.ttl(key) > 500  # the 10-minute lifetime…
        client.pexpire(key, 200)  # …run out, by Redis itself
    finally:
        client.close()
    time.sleep(0.4)
    _assert_rejected(browser, browser.callback(url), 400, "expired or was already used")


def test_a_second_login_start_invalidates_the_first_attempt(browser: Browser) -> None:
    first = browser.attempt(browser.start_login())
    browser.start_login()
    _assert_rejected(browser, browser.callback(first), 400, "does not belong to this sign-in")


def test_cancel_in_the_app_is_a_clear_400(browser: Browser) -> None:
    browser.start_login()
    response = browser.callback(f"{browser.stack.proxy}/auth/3bot_callback?error=CancelledByUser")
    _assert_rejected(browser, response, 400, "cancelled")


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)"])
def test_next_outside_the_site_ends_at_root(browser: Browser, target: str) -> None:
    assert browser.login(next_path=target).headers["Location"] == "/"


def test_session_id_changes_at_login_and_the_old_one_dies(browser: Browser) -> None:
    browser.login()
    first = browser.session_cookie
    browser.login(user="bob.3bot")
    second = browser.session_cookie
    assert first and second and first != second
    stale = requests.get(f"{browser.stack.proxy}/auth/me", cookies={"mp_session": first}, timeout=5)
    assert stale.status_code == 401
    assert browser.get("/auth/me").json()["username"] == "bob.3bot"


def test_logout_really_ends_the_session(browser: Browser) -> None:
    browser.login()
    sid = browser.session_cookie
    assert browser.post("/auth/logout").status_code == 200
    assert (
        requests.get(f"{browser.stack.proxy}/auth/me", cookies={"mp_session": sid or ""}, timeout=5).status_code == 401
    )
    assert browser.get("/auth/me").status_code == 401


def test_html_failure_page_for_browsers(browser: Browser) -> None:
    browser.start_login()
    response = browser.http.get(
        f"{browser.stack.proxy}/auth/3bot_callback?signedAttempt=nonsense", headers={"Accept": "text/html"}
    )
    assert response.status_code == 400
    assert "text/html" in response.headers["Content-Type"]
    assert "Sign in again" in response.text


def test_services_can_call_the_provider_at_another_address_than_the_browser(stack: Stack) -> None:
    from services.auth import provider
    from services.auth.service import provider_redirect
    from services.common.identity import Identity
    from services.common.settings import load_settings

    split = load_settings(
        {**stack.env, "THREEBOT_LOGIN_URL": "http://localhost:8202", "THREEBOT_LOGIN_API_URL": stack.connect}
    )
    assert provider_redirect(split, Identity(bytes(32)), "S" * 40).startswith("http://localhost:8202/?state=")
    assert len(provider.fetch_user_key(split, "alice.3bot")) == 32
