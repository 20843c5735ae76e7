"""The whole login against a running emulator: page, Approve, Cancel, replay, as a browser and a marketplace
would see them."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from connect_emulator_support import STATE, Browser, Marketplace
from nacl.signing import SigningKey


def test_login_page_shows_the_request_users_switches_and_buttons(
    live: str, marketplace: Marketplace, browser: Browser
) -> None:
    page = browser.get(marketplace.login_url())
    assert page.status == 200
    assert "Sign in to localhost:8080" in page.html
    assert "<strong>user</strong>" in page.html and "<strong>email</strong>" in page.html
    [form] = page.forms
    assert form.radios["user"] == ["alice.3bot", "bob.3bot", "carol.3bot"]
    assert form.checked_radio == {"user": "alice.3bot"}
    assert set(form.buttons) == {"Approve", "Cancel"}
    assert set(form.checkboxes) == {
        "wrong_user_key",
        "tampered_state",
        "wrong_app_id",
        "data_null",
        "wrong_box_key",
        "sei_wrong_signer",
        "sei_other_identity",
        "sei_other_name",
        "email_missing",
    }
    # Every input has a visible label (keyboard and screen-reader users reach them all).
    assert all(page.labels.get(f"switch-{name}") for name in form.checkboxes)
    assert page.labels["user-2"].startswith("bob.3bot")
    # Phone-width layout, and nothing fetched from anywhere else (no CDN, no script).
    head = page.html.split("</head>")[0]
    assert 'name="viewport" content="width=device-width' in head
    assert "://" not in head and "<link" not in head and "<script" not in page.html


def test_approve_gives_an_attempt_the_marketplace_accepts(
    live: str, marketplace: Marketplace, browser: Browser
) -> None:
    page = browser.get(marketplace.login_url())
    response = browser.press(page, "Approve", user="bob.3bot")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("http://localhost:8080/auth/3bot_callback?signedAttempt=%7B%22signedAttempt%22")
    assert marketplace.verify(location) == "bob@example.com"


def test_the_key_published_for_the_user_verifies_the_attempt(live: str, marketplace: Marketplace) -> None:
    # The phone's own endpoint agrees: the attempt is signed with the key /api/users publishes.
    made = requests.post(
        f"{live}/_emulator/attempt",
        json={"user": "carol.3bot", "state": STATE, "appid": "localhost:8080", "publickey": marketplace.publickey},
        timeout=10,
    )
    assert made.status_code == 200
    relayed = made.json()["signedAttempt"]
    assert requests.post(f"{live}/api/signedAttempt", json=relayed, timeout=10).text == "Ok"
    forged = {**relayed, "doubleName": "alice.3bot"}
    assert requests.post(f"{live}/api/signedAttempt", json=forged, timeout=10).status_code == 400
    assert marketplace.verify(made.json()["callback_url"]) == "carol@example.com"


@pytest.mark.parametrize("where", ["inside", "first"])
def test_unencoded_plus_in_publickey_is_restored(live: str, marketplace: Marketplace, browser: Browser,
                                                 where: str) -> None:  # fmt: skip
    # A marketplace that forgets to encode "+" sends it raw; it arrives as a space and must still work — also as
    # the key's first character (it arrived as a leading space, which was stripped: 1 key in ~64 was refused).
    key = marketplace.publickey
    while "+" not in key[1:] if where == "inside" else not key.startswith("+"):
        marketplace.seed = bytes(
            SigningKey.generate()
        )  # an identity whose box key has one, so it cannot pass vacuously
        key = marketplace.publickey
    query = {**marketplace.login_query(), "publickey": key}
    raw = "&".join(f"{k}={quote(v, safe='+/=') if k == 'publickey' else quote(v, safe='')}" for k, v in query.items())
    page = browser.get(f"{live}/?{raw}")
    assert page.status == 200
    assert page.forms[0].fields["publickey"] == key
    assert marketplace.verify(browser.press(page, "Approve").headers["Location"]) == "alice@example.com"


def test_public_app_id_gets_https_and_an_existing_query_gets_an_ampersand(
    live: str, marketplace: Marketplace, browser: Browser
) -> None:
    url = marketplace.login_url(appid="shop.example.org", redirecturl="auth/cb?lang=en")
    response = browser.press(browser.get(url), "Approve")
    location = response.headers["Location"]
    assert location.startswith("https://shop.example.org/auth/cb?lang=en&signedAttempt=")
    outer = json.loads(parse_qs(urlsplit(location).query)["signedAttempt"][0])
    assert outer["doubleName"] == "alice.3bot"


def test_cancel_redirects_with_cancelled_by_user(live: str, marketplace: Marketplace, browser: Browser) -> None:
    response = browser.press(browser.get(marketplace.login_url()), "Cancel")
    assert response.status_code == 302
    assert response.headers["Location"] == "http://localhost:8080/auth/3bot_callback?error=CancelledByUser"
    assert marketplace.outcome(response.headers["Location"]) == "cancelled"


def test_replay_resends_the_same_attempt_which_a_used_state_rejects(
    live: str, marketplace: Marketplace, browser: Browser
) -> None:
    page = browser.get(marketplace.login_url())
    assert "Re-send the last attempt" not in page.html
    first = browser.press(page, "Approve").headers["Location"]
    assert marketplace.outcome(first) == "accepted"

    page_again = browser.get(marketplace.login_url())
    replayed = browser.press(page_again, "Re-send the last attempt")
    assert replayed.status_code == 302
    assert replayed.headers["Location"] == first
    assert marketplace.outcome(replayed.headers["Location"]) == "state_reused"

    as_json = requests.post(f"{live}/replay", json={"state": STATE}, timeout=10)
    assert as_json.status_code == 200
    assert as_json.json()["callback_url"] == first


def test_replay_without_an_attempt_is_404(live: str) -> None:
    response = requests.post(f"{live}/replay", json={"state": "Nothing0Approved"}, timeout=10)
    assert response.status_code == 404
    assert "No attempt to replay" in response.json()["message"]
