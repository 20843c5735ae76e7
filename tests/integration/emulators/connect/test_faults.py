"""Fault injection through /_emulator/config on a running emulator: what the marketplace's tests rely on."""

from __future__ import annotations

import time

import pytest
import requests
from connect_emulator_support import Marketplace

from emulators.connect.kyc import KycService
from emulators.connect.users import DEFAULT_KYC_SEED

NO_FAULTS = {
    "users": {"missing": [], "delay": 0.0, "down": False},
    "kyc": {"unverified": False, "delay": 0.0, "down": False},
}
ALICE_SEI = KycService(DEFAULT_KYC_SEED).sign("alice@example.com", "alice.3bot")


def _configure(live: str, body: object) -> requests.Response:
    return requests.post(f"{live}/_emulator/config", json=body, timeout=5)


def _verify_sei(live: str, timeout: float = 5) -> requests.Response:
    return requests.post(f"{live}/verification/verify-sei", json={"signedEmailIdentifier": ALICE_SEI}, timeout=timeout)


def test_health_and_default_config(live: str) -> None:
    assert requests.get(f"{live}/_emulator/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{live}/_emulator/config", timeout=5).json() == NO_FAULTS


def test_partial_update_keeps_the_other_fields(live: str) -> None:
    assert _configure(live, {"users": {"down": True}}).status_code == 200
    response = _configure(live, {"users": {"missing": ["Bob.3bot"]}, "kyc": {"delay": 1}})
    assert response.json() == {
        "users": {"missing": ["bob.3bot"], "delay": 0.0, "down": True},
        "kyc": {"unverified": False, "delay": 1.0, "down": False},
    }
    assert requests.get(f"{live}/_emulator/config", timeout=5).json() == response.json()
    assert requests.post(f"{live}/_emulator/reset", timeout=5).json() == NO_FAULTS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"users": {"delay": -1}}, "users.delay"),
        ({"users": {"delay": 10_000}}, "users.delay"),
        ({"users": {"down": "yes"}}, "users.down"),
        ({"users": {"missing": "bob.3bot"}}, "users.missing"),
        ({"users": {"nope": 1}}, "users.nope"),
        ({"kyc": {"unverified": 1}}, "kyc.unverified"),
        ({"kyc": []}, "kyc"),
        ({"bogus": {}}, "bogus"),
        ([], ""),
    ],
)
def test_bad_config_is_400_and_changes_nothing(live: str, body: object, field: str) -> None:
    # A valid field next to the bad one must not be applied either.
    if isinstance(body, dict):
        body = {**body, **({} if "kyc" in body else {"kyc": {"down": True}})}
    response = _configure(live, body)
    assert response.status_code == 400
    assert field in [e["field"] for e in response.json()["errors"]]
    assert requests.get(f"{live}/_emulator/config", timeout=5).json() == NO_FAULTS


def test_missing_user_gets_404_only_for_that_name(live: str) -> None:
    _configure(live, {"users": {"missing": ["bob.3bot"]}})
    assert requests.get(f"{live}/api/users/bob.3bot", timeout=5).status_code == 404
    assert requests.get(f"{live}/api/users/BOB.3bot", timeout=5).json()["message"] == "User not found"
    assert requests.get(f"{live}/api/users/alice.3bot", timeout=5).status_code == 200


def test_users_down_is_503(live: str) -> None:
    _configure(live, {"users": {"down": True}})
    response = requests.get(f"{live}/api/users/alice.3bot", timeout=5)
    assert response.status_code == 503
    assert "unavailable" in response.json()["message"]


def test_users_slow_makes_a_short_timeout_expire(live: str) -> None:
    _configure(live, {"users": {"delay": 0.6}})
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{live}/api/users/alice.3bot", timeout=(2, 0.3))
    started = time.monotonic()
    assert requests.get(f"{live}/api/users/alice.3bot", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.6
    # The admin side is not slowed down, so a test can always switch the fault off again.
    assert requests.get(f"{live}/_emulator/healthz", timeout=0.3).status_code == 200


def test_kyc_unverified_refuses_a_valid_sei(live: str) -> None:
    assert _verify_sei(live).status_code == 200
    _configure(live, {"kyc": {"unverified": True}})
    response = _verify_sei(live)
    assert (response.status_code, response.text) == (500, "Invalid or corrupted signature")


def test_kyc_down_and_slow(live: str) -> None:
    _configure(live, {"kyc": {"down": True}})
    assert _verify_sei(live).status_code == 503
    assert requests.get(f"{live}/verification/public-key", timeout=5).status_code == 503
    _configure(live, {"kyc": {"down": False, "delay": 0.6}})
    with pytest.raises(requests.ReadTimeout):
        _verify_sei(live, timeout=0.3)


def test_faults_turn_into_marketplace_rejections(live: str, marketplace: Marketplace) -> None:
    body = {"user": "bob.3bot", "state": "Zq3LmN8pR2tV6wXy1B4cD7fG9hJ0kM5n", "appid": "localhost:8080"}
    made = requests.post(f"{live}/_emulator/attempt", json={**body, "publickey": marketplace.publickey}, timeout=5)
    location = made.json()["callback_url"]
    _configure(live, {"users": {"missing": ["bob.3bot"]}})
    assert marketplace.outcome(location) == "user_lookup"
    marketplace.used_states.clear()
    _configure(live, {"users": {"missing": []}, "kyc": {"unverified": True}})
    assert marketplace.outcome(location) == "sei"
