"""Each negative-test switch spoils the attempt so that a correct verifier (conftest.Marketplace, which follows
LOGIN_PROTOCOL.md §5) rejects it at one specific step, and only that switch makes it fail there."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from connect_emulator_support import STATE, Browser, Marketplace
from nacl.public import Box
from nacl.signing import VerifyKey

# switch -> the §5 step at which the marketplace must refuse the login
EXPECTED_STEP = {
    None: "accepted",
    "wrong_user_key": "signature",
    "tampered_state": "state",
    "wrong_app_id": "app_id",
    "data_null": "data",
    "wrong_box_key": "decrypt",
    "sei_wrong_signer": "sei",
    "sei_other_identity": "sei_identity",
    "sei_other_name": "sei_identity",
    "email_missing": "email",
}


@pytest.mark.parametrize(("switch", "step"), EXPECTED_STEP.items(), ids=[str(s) for s in EXPECTED_STEP])
def test_switch_on_the_page_is_rejected_at_its_step(
    live: str, marketplace: Marketplace, browser: Browser, switch: str | None, step: str
) -> None:
    page = browser.get(marketplace.login_url())
    response = browser.press(page, "Approve", user="alice.3bot", switches=(switch,) if switch else ())
    assert response.status_code == 302
    assert marketplace.outcome(response.headers["Location"]) == step


@pytest.mark.parametrize("switch", [s for s in EXPECTED_STEP if s])
def test_switch_through_the_attempt_endpoint_is_rejected_at_its_step(
    live: str, marketplace: Marketplace, switch: str
) -> None:
    body = {"user": "bob.3bot", "state": STATE, "appid": "localhost:8080", "publickey": marketplace.publickey}
    response = requests.post(f"{live}/_emulator/attempt", json={**body, switch: True}, timeout=10)
    assert response.status_code == 200
    assert response.json()["switches"] == [switch]
    assert marketplace.outcome(response.json()["callback_url"]) == EXPECTED_STEP[switch]


def _attempt(location: str) -> dict[str, object]:
    """The signed attempt's message (after the 64-byte signature), without checking anything."""
    outer = json.loads(parse_qs(urlsplit(location).query)["signedAttempt"][0])
    attempt: dict[str, object] = json.loads(base64.b64decode(outer["signedAttempt"])[64:])
    return attempt


def test_sei_of_a_wrong_signer_is_refused_by_verify_sei_with_the_real_answer(
    live: str, marketplace: Marketplace, browser: Browser
) -> None:
    # The decrypted SEI itself is what verify-sei refuses, with the real service's 500 text.
    page = browser.get(marketplace.login_url())
    location = browser.press(page, "Approve", switches=("sei_wrong_signer",)).headers["Location"]
    attempt = _attempt(location)
    user_key = base64.b64decode(requests.get(f"{live}/api/users/alice.3bot", timeout=5).json()["publicKey"])
    box = Box(marketplace.sign_key.to_curve25519_private_key(), VerifyKey(user_key).to_curve25519_public_key())
    data = attempt["data"]
    assert isinstance(data, dict)
    plain = json.loads(box.decrypt(base64.b64decode(data["ciphertext"]), base64.b64decode(data["nonce"])))
    assert plain["email"]["email"] == "alice@example.com"
    answer = requests.post(
        f"{live}/verification/verify-sei", json={"signedEmailIdentifier": plain["email"]["sei"]}, timeout=5
    )
    assert (answer.status_code, answer.text) == (500, "Invalid or corrupted signature")


def test_sei_for_another_name_keeps_the_users_own_email(live: str, marketplace: Marketplace, browser: Browser) -> None:
    # Only the 3Bot name differs: verify-sei accepts the SEI and its e-mail is the one the app shares, so a
    # marketplace refuses it only if it compares the identifier with the double name too.
    page = browser.get(marketplace.login_url())
    approved = browser.press(page, "Approve", user="bob.3bot", switches=("sei_other_name",))
    attempt = _attempt(approved.headers["Location"])
    user_key = base64.b64decode(requests.get(f"{live}/api/users/bob.3bot", timeout=5).json()["publicKey"])
    box = Box(marketplace.sign_key.to_curve25519_private_key(), VerifyKey(user_key).to_curve25519_public_key())
    data = attempt["data"]
    assert isinstance(data, dict)
    plain = json.loads(box.decrypt(base64.b64decode(data["ciphertext"]), base64.b64decode(data["nonce"])))
    assert plain["email"]["email"] == "bob@example.com"
    answer = requests.post(
        f"{live}/verification/verify-sei", json={"signedEmailIdentifier": plain["email"]["sei"]}, timeout=5
    )
    assert answer.status_code == 200
    assert json.loads(answer.text) == {"email": "bob@example.com", "identifier": "mallory.3bot"}
    assert attempt["doubleName"] == "bob.3bot"


def test_switches_spoil_only_their_own_field(live: str, marketplace: Marketplace, browser: Browser) -> None:
    page = browser.get(marketplace.login_url())
    plain = _attempt(browser.press(page, "Approve").headers["Location"])
    page = browser.get(marketplace.login_url())
    spoiled = _attempt(browser.press(page, "Approve", switches=("tampered_state", "data_null")).headers["Location"])
    assert plain["signedState"] == STATE and plain["appId"] == "localhost:8080"
    assert spoiled["signedState"] != STATE and len(str(spoiled["signedState"])) == len(STATE)
    assert str(spoiled["signedState"]).isalnum()
    assert spoiled["data"] is None and spoiled["appId"] == "localhost:8080"
