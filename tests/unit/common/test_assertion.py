"""The signed user assertion every service trusts (services/common/assertion.py): each check on its own."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from services.common import assertion
from services.common.assertion import InvalidAssertion, User, issue, verify
from services.common.errors import ApiError
from services.common.identity import Identity, IdentityError, verify_detached
from services.common.settings import Settings

SIGNER = Identity(bytes(range(0xA0, 0xC0)))
OTHER = Identity(bytes(range(0x10, 0x30)))
ALICE = User("alice.3bot", "alice@example.com", "1")
NOW = 1_700_000_000.0


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(claims: object, signer: Identity = SIGNER) -> str:
    payload = json.dumps(claims).encode()
    return f"{b64(payload)}.{b64(signer.sign(payload))}"


@pytest.fixture(autouse=True)
def no_checked_tokens() -> None:
    # The signature cache is per process: without this, a token another test verified would skip the checks here.
    assertion._checked.clear()


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_issued_claims_are_the_user_the_terms_and_an_expiry() -> None:
    token = issue(SIGNER, ALICE, ttl=300, now=NOW)
    assert claims_of(token) == {"sub": "alice.3bot", "email": "alice@example.com", "terms": "1", "iat": int(NOW),
                                "exp": int(NOW) + 300}  # fmt: skip
    assert "=" not in token  # unpadded base64url, as the services expect
    assert verify(token, SIGNER.verify_key, "alice.3bot", now=NOW) == ALICE


def test_without_a_clock_the_current_time_is_used() -> None:
    token = issue(SIGNER, ALICE, ttl=60)
    assert verify(token, SIGNER.verify_key, "alice.3bot") == ALICE
    old = issue(SIGNER, ALICE, ttl=60, now=NOW)
    with pytest.raises(InvalidAssertion, match=r"^expired assertion$"):
        verify(old, SIGNER.verify_key, "alice.3bot")


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 6])
def test_every_payload_length_decodes(length: int) -> None:
    # Unpadded base64 of every length modulo 3 must decode (the padding is restored before decoding).
    user = User("a" * length + ".3bot", "e" * length + "@example.com", None)
    assert verify(issue(SIGNER, user, ttl=60, now=NOW), SIGNER.verify_key, user.username, now=NOW) == user


def test_the_assertion_is_valid_until_its_expiry_second() -> None:
    token = issue(SIGNER, ALICE, ttl=300, now=NOW)
    assert verify(token, SIGNER.verify_key, "alice.3bot", now=NOW + 300) == ALICE
    with pytest.raises(InvalidAssertion, match=r"^expired assertion$"):
        verify(token, SIGNER.verify_key, "alice.3bot", now=NOW + 300.5)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!!.###", "YWJj.***"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidAssertion, match=r"^(malformed assertion|bad assertion signature)$"):
        verify(token, SIGNER.verify_key, "alice.3bot", now=NOW)


def test_a_token_without_its_separator_is_malformed() -> None:
    with pytest.raises(InvalidAssertion, match=r"^malformed assertion$"):
        verify(issue(SIGNER, ALICE, ttl=300, now=NOW).replace(".", ""), SIGNER.verify_key, "alice.3bot", now=NOW)


def test_a_token_signed_by_another_key_is_refused() -> None:
    token = issue(OTHER, ALICE, ttl=300, now=NOW)
    with pytest.raises(InvalidAssertion, match=r"^bad assertion signature$"):
        verify(token, SIGNER.verify_key, "alice.3bot", now=NOW)


def test_a_payload_changed_after_signing_is_refused() -> None:
    payload, signature = issue(SIGNER, ALICE, ttl=300, now=NOW).split(".")
    forged = b64(json.dumps({**claims_of(payload + ".x"), "sub": "bob.3bot"}).encode())
    with pytest.raises(InvalidAssertion, match=r"^bad assertion signature$"):
        verify(f"{forged}.{signature}", SIGNER.verify_key, "bob.3bot", now=NOW)


@pytest.mark.parametrize(
    "claims",
    [
        ["alice.3bot"],
        {"email": "alice@example.com", "exp": NOW + 60},
        {"sub": "alice.3bot", "exp": NOW + 60},
        {"sub": "alice.3bot", "email": "alice@example.com"},
        {"sub": "alice.3bot", "email": "alice@example.com", "exp": "soon"},
        {"sub": "alice.3bot", "email": "alice@example.com", "exp": None},
    ],
)
def test_signed_but_malformed_claims_are_refused(claims: object) -> None:
    with pytest.raises(InvalidAssertion, match=r"^malformed assertion claims$"):
        verify(signed(claims), SIGNER.verify_key, "alice.3bot", now=NOW)


def test_signed_text_that_is_not_json_is_refused() -> None:
    payload = b"not json"
    token = f"{b64(payload)}.{b64(SIGNER.sign(payload))}"
    with pytest.raises(InvalidAssertion, match=r"^malformed assertion claims$"):
        verify(token, SIGNER.verify_key, "alice.3bot", now=NOW)


def test_the_assertion_must_be_for_the_user_in_the_header() -> None:
    with pytest.raises(InvalidAssertion, match=r"^assertion is for another user$"):
        verify(issue(SIGNER, ALICE, ttl=300, now=NOW), SIGNER.verify_key, "bob.3bot", now=NOW)


def test_terms_are_kept_only_when_they_are_a_version_string() -> None:
    base = {"sub": "alice.3bot", "email": "alice@example.com", "exp": NOW + 60}
    assert verify(signed({**base, "terms": "2"}), SIGNER.verify_key, "alice.3bot", now=NOW).terms_version == "2"
    assert verify(signed({**base, "terms": 2}), SIGNER.verify_key, "alice.3bot", now=NOW).terms_version is None
    assert verify(signed(base), SIGNER.verify_key, "alice.3bot", now=NOW).terms_version is None
    user = verify(signed({**base, "exp": str(int(NOW) + 60)}), SIGNER.verify_key, "alice.3bot", now=NOW)
    assert (user.username, user.email) == ("alice.3bot", "alice@example.com")


# -- the signature cache -------------------------------------------------------------------------------------


def test_a_tokens_signature_is_checked_once_its_expiry_and_user_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[bytes] = []

    def counted(public_key: bytes, payload: bytes, signature: bytes) -> bool:
        checks.append(payload)
        return verify_detached(public_key, payload, signature)

    monkeypatch.setattr(assertion, "verify_detached", counted)
    token = issue(SIGNER, ALICE, ttl=300, now=NOW)
    assert verify(token, SIGNER.verify_key, "alice.3bot", now=NOW) == ALICE
    assert verify(token, SIGNER.verify_key, "alice.3bot", now=NOW + 1) == ALICE
    assert len(checks) == 1
    with pytest.raises(InvalidAssertion, match=r"^expired assertion$"):
        verify(token, SIGNER.verify_key, "alice.3bot", now=NOW + 301)
    with pytest.raises(InvalidAssertion, match=r"^assertion is for another user$"):
        verify(token, SIGNER.verify_key, "bob.3bot", now=NOW)
    # The cache is per verify key: the same token under another key is checked (and refused).
    with pytest.raises(InvalidAssertion, match=r"^bad assertion signature$"):
        verify(token, OTHER.verify_key, "alice.3bot", now=NOW)
    assert len(checks) == 2


def test_the_signature_cache_is_emptied_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assertion, "_MAX_CHECKED", 3)
    users = [User(f"user{n}.3bot", "u@example.com", None) for n in range(4)]
    for user in users[:3]:
        verify(issue(SIGNER, user, ttl=300, now=NOW), SIGNER.verify_key, user.username, now=NOW)
    assert len(assertion._checked) == 3
    last = issue(SIGNER, users[3], ttl=300, now=NOW)
    verify(last, SIGNER.verify_key, users[3].username, now=NOW)
    assert list(assertion._checked) == [(last, SIGNER.verify_key)]


# -- the verify key --------------------------------------------------------------------------------------------


def test_the_configured_public_key_wins(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(AUTH_PUBLIC_KEY=SIGNER.verify_key.hex())
    assert assertion.auth_public_key(settings) == SIGNER.verify_key


def test_the_key_comes_from_the_seed_file_otherwise(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    seed = tmp_path / "auth.seed"
    settings = make_settings(AUTH_SIGNING_SEED_FILE=str(seed))  # test environment: a missing seed file is made
    created = assertion.auth_public_key(settings)
    assert seed.exists() and assertion.auth_public_key(settings) == created
    # Production (never generates a seed); its loopback test URLs would be refused at load, hence model_copy.
    missing = settings.model_copy(update={"app_env": "production", "auth_signing_seed_file": tmp_path / "none.seed"})
    with pytest.raises(IdentityError, match="does not exist"):
        assertion.auth_public_key(missing)


def test_without_key_or_seed_file_the_service_cannot_check_anyone(tmp_path: Path) -> None:
    from services.common.settings import load_settings
    from tests.conftest import base_env

    env = base_env(tmp_path)
    del env["AUTH_SIGNING_SEED_FILE"]
    with pytest.raises(IdentityError, match=r"^AUTH_PUBLIC_KEY \(or AUTH_SIGNING_SEED_FILE\) is not set$"):
        assertion.auth_public_key(load_settings(env))


# -- the caller of a request and the terms gate ------------------------------------------------------------


def headers(user: str = "alice.3bot", token: str | None = None) -> dict[str, str]:
    return {assertion.USER_HEADER: user, assertion.ASSERTION_HEADER: token or issue(SIGNER, ALICE, ttl=300)}


def test_the_caller_is_the_verified_user_and_is_cached(settings: Settings) -> None:
    app = Flask(__name__)
    with app.test_request_context(headers=headers()):
        assert assertion.current_user(settings, SIGNER.verify_key) == ALICE
        # Cached for the request: a second call does not verify again (the key below would refuse it).
        assert assertion.current_user(settings, OTHER.verify_key) == ALICE


@pytest.mark.parametrize(
    "sent",
    [
        {},
        {assertion.USER_HEADER: "alice.3bot"},
        {assertion.ASSERTION_HEADER: issue(SIGNER, ALICE, ttl=300)},
        headers(user="bob.3bot"),
        headers(token=issue(OTHER, ALICE, ttl=300)),
    ],
)
def test_without_a_valid_assertion_the_caller_gets_401(settings: Settings, sent: dict[str, str]) -> None:
    with Flask(__name__).test_request_context(headers=sent), pytest.raises(ApiError) as raised:
        assertion.current_user(settings, SIGNER.verify_key)
    assert raised.value.status == 401 and raised.value.message == "sign in first"
    assert [e.code for e in raised.value.errors] == ["not_authenticated"]


def test_the_terms_gate(settings: Settings) -> None:
    assertion.require_terms(settings, ALICE)  # accepted the current version: passes
    for terms in (None, "0"):
        with pytest.raises(ApiError) as raised:
            assertion.require_terms(settings, User("alice.3bot", "alice@example.com", terms))
        assert raised.value.status == 403
        assert raised.value.message == "accept the terms of service (version 1) before deploying or paying"
        assert [(e.code, e.description) for e in raised.value.errors] == [("terms_not_accepted", raised.value.message)]
