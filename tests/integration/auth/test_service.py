"""The login rules (services/auth/service.py) check by check, in-process, against the real 3Bot Connect emulator.

The emulator (served from a thread) answers the provider's user-key and the KYC service's verify-sei requests;
the test itself plays the phone app with the emulator's deterministic user and KYC keys, so each attempt can be
spoiled in exactly one way and the check that must refuse it is named by its message.
"""

from __future__ import annotations

import base64
import json
import string
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server

from emulators.connect import EmulatorConfig, create_app
from emulators.connect.kyc import KycService
from emulators.connect.users import DEFAULT_KYC_SEED, default_users
from services.auth import service
from services.auth.provider import LoginRejected
from services.auth.service import LoggedIn, new_state, provider_redirect, safe_next, verify_attempt
from services.common.identity import Identity
from services.common.settings import Settings

USERS = {u.double_name: u for u in default_users()}
KYC = KycService(DEFAULT_KYC_SEED)
MARKETPLACE = Identity(bytes(range(0x60, 0x80)))
STATE = "S" * 20 + "t" * 19 + "9"
APP_ID = "localhost:8080"
MISSING = "the login response is missing its signed attempt or 3Bot name"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def connect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The real emulator app over real HTTP, served from a thread: it starts in milliseconds, which matters to
    # `make mutate` (every mutant runs these tests in a fresh process).
    app = create_app(EmulatorConfig(state_dir=tmp_path_factory.mktemp("connect") / "state"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], connect: str) -> Settings:
    return make_settings(THREEBOT_LOGIN_URL=connect, OPENKYC_URL=connect, MARKETPLACE_DOMAIN=APP_ID)


def scope_for(user: str = "alice.3bot", email: str | None = None, sei: str | None = None) -> dict[str, Any]:
    who = USERS[user]
    address = email if email is not None else who.email
    return {"email": {"email": address, "sei": sei if sei is not None else KYC.sign(who.email, who.double_name)}}


def encrypted(user: str, plaintext: bytes) -> dict[str, str]:
    box = Identity(USERS[user].seed).box_encrypt(MARKETPLACE.verify_key, plaintext)
    return {"nonce": b64(box[:24]), "ciphertext": b64(box[24:])}


def phone(user: str = "alice.3bot", *, scope: Any = None, data: Any = "encrypt", outer: Any = None,
          message: Any = None, **fields: Any) -> str:  # fmt: skip
    """The callback's ``signedAttempt`` text for ``user``, with any part replaced."""
    if data == "encrypt":
        data = encrypted(user, json.dumps(scope if scope is not None else scope_for(user)).encode())
    attempt = {"signedState": STATE, "data": data, "doubleName": user, "appId": APP_ID, "randomRoom": "r",
               "selectedImageId": 1, **fields}  # fmt: skip
    text = message if message is not None else json.dumps(attempt)
    signed = b64(bytes(USERS[user].signing_key.sign(text.encode())))
    return json.dumps(outer if outer is not None else {"signedAttempt": signed, "doubleName": user})


def refused(settings: Settings, raw: str, reason: str, state: str = STATE) -> None:
    with pytest.raises(LoginRejected) as raised:
        verify_attempt(settings, MARKETPLACE, raw, state)
    assert str(raised.value) == reason


def test_a_good_attempt_signs_the_user_in(settings: Settings) -> None:
    alice = USERS["alice.3bot"]
    assert verify_attempt(settings, MARKETPLACE, phone(), STATE) == LoggedIn(
        "alice.3bot", "alice@example.com", b64(alice.verify_key)
    )


def test_names_and_addresses_are_compared_without_case(settings: Settings) -> None:
    sei = KYC.sign("ALICE@example.com", "Alice.3bot")
    raw = phone(scope=scope_for(email="Alice@Example.com", sei=sei), doubleName="ALICE.3BOT")
    outer = json.loads(raw)
    logged_in = verify_attempt(settings, MARKETPLACE, json.dumps({**outer, "doubleName": " Alice.3bot "}), STATE)
    assert (logged_in.username, logged_in.email) == ("alice.3bot", "alice@example.com")


# -- the relayed object ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{", "the login response is not valid JSON"),
        ("[]", "the login response is malformed"),
        ("{}", MISSING),
        ('{"signedAttempt": "", "doubleName": "alice.3bot"}', MISSING),
        ('{"signedAttempt": 1, "doubleName": "alice.3bot"}', MISSING),
        ('{"signedAttempt": "x", "doubleName": 1}', MISSING),
        ('{"signedAttempt": "x"}', MISSING),
        ('{"signedAttempt": "x", "doubleName": "alice"}', "the 3Bot name in the login response is malformed"),
        ('{"signedAttempt": "x", "doubleName": "_a.3bot"}', "the 3Bot name in the login response is malformed"),
        ('{"signedAttempt": "x", "doubleName": "a.3bot.x"}', "the 3Bot name in the login response is malformed"),
        ('{"signedAttempt": "x", "doubleName": "a b.3bot"}', "the 3Bot name in the login response is malformed"),
    ],
)  # fmt: skip
def test_a_malformed_relayed_object_is_refused(settings: Settings, raw: str, reason: str) -> None:
    refused(settings, raw, reason)


def test_the_name_may_have_1_to_59_characters_before_dot_3bot(settings: Settings) -> None:
    # Well-formed names reach the provider (which does not know these); one character more is malformed.
    unknown = "the login provider does not know this 3Bot name"
    for name in ("a.3bot", "a" * 59 + ".3bot", "a-b_c.d.3bot"):
        refused(settings, json.dumps({"signedAttempt": "x", "doubleName": name}), unknown)
    malformed = "the 3Bot name in the login response is malformed"
    refused(settings, json.dumps({"signedAttempt": "x", "doubleName": "a" * 60 + ".3bot"}), malformed)


# -- the signed attempt ---------------------------------------------------------------------------------------


def test_an_attempt_signed_by_another_key_or_not_base64_is_refused(settings: Settings) -> None:
    reason = "the login response is not signed by this 3Bot's key"
    bob_signed = json.loads(phone("bob.3bot"))["signedAttempt"]
    refused(settings, json.dumps({"signedAttempt": bob_signed, "doubleName": "alice.3bot"}), reason)
    refused(settings, json.dumps({"signedAttempt": "not base64!", "doubleName": "alice.3bot"}), reason)


def test_base64_with_foreign_characters_is_refused_not_cleaned(settings: Settings) -> None:
    # Lenient decoding would drop the "*" and accept the attempt; every base64 field is decoded strictly.
    outer = json.loads(phone())
    signed = outer["signedAttempt"]
    spoiled = json.dumps({**outer, "signedAttempt": signed[:8] + "*" + signed[8:]})
    refused(settings, spoiled, "the login response is not signed by this 3Bot's key")
    good = encrypted("alice.3bot", json.dumps(scope_for()).encode())
    for field in ("nonce", "ciphertext"):
        data = {**good, field: good[field][:4] + "*" + good[field][4:]}
        refused(settings, phone(data=data), "the login data could not be decrypted")


def test_the_signed_message_must_be_a_json_object(settings: Settings) -> None:
    refused(settings, phone(message="not json"), "the signed login attempt is not valid JSON")
    refused(settings, phone(message="[1]"), "the signed login attempt is malformed")


def test_the_signed_name_state_and_site_must_be_this_sign_in(settings: Settings) -> None:
    refused(settings, phone(doubleName="bob.3bot"), "the signed login attempt is for another 3Bot name")
    refused(settings, phone(doubleName=None), "the signed login attempt is for another 3Bot name")
    without_name = json.dumps({"signedState": STATE, "data": None, "appId": APP_ID})
    refused(settings, phone(message=without_name), "the signed login attempt is for another 3Bot name")
    refused(settings, phone(), "the login attempt does not belong to this sign-in", state=STATE[:-1] + "8")
    refused(settings, phone(signedState=None), "the login attempt does not belong to this sign-in")
    without_state = json.dumps({"doubleName": "alice.3bot", "data": None, "appId": APP_ID})
    refused(settings, phone(message=without_state), "the login attempt does not belong to this sign-in")
    refused(settings, phone(appId="evil.example"), "the login attempt was made for another site")


@pytest.mark.parametrize(
    "data",
    [None, "x", {"ciphertext": "AA=="}, {"nonce": "AA=="}, {"nonce": 1, "ciphertext": "AA=="},
     {"nonce": "AA==", "ciphertext": 1}],
)  # fmt: skip
def test_an_attempt_without_encrypted_data_was_not_approved(settings: Settings, data: Any) -> None:
    refused(settings, phone(data=data), "the login was not approved in the app")


def test_data_that_does_not_decrypt_is_refused(settings: Settings) -> None:
    reason = "the login data could not be decrypted"
    good = encrypted("alice.3bot", json.dumps(scope_for()).encode())
    refused(settings, phone(data={**good, "nonce": "!!"}), reason)
    refused(settings, phone(data={**good, "ciphertext": "!!"}), reason)
    refused(settings, phone(data=encrypted("bob.3bot", json.dumps(scope_for()).encode())), reason)
    refused(settings, phone(data=encrypted("alice.3bot", b"not json")), reason)


@pytest.mark.parametrize(
    ("scope", "reason"),
    [
        ([], "the login did not share an e-mail address"),
        ({}, "the login did not share an e-mail address"),
        ({"email": "alice@example.com"}, "the login did not share an e-mail address"),
        ({"email": {"sei": "x"}}, "the login did not share a verified e-mail address"),
        ({"email": {"email": 1, "sei": "x"}}, "the login did not share a verified e-mail address"),
        ({"email": {"email": "alice.example.com", "sei": "x"}}, "the login did not share a verified e-mail address"),
        ({"email": {"email": "alice@example.com"}}, "the login did not share a verified e-mail address"),
        ({"email": {"email": "alice@example.com", "sei": ""}}, "the login did not share a verified e-mail address"),
        ({"email": {"email": "alice@example.com", "sei": 1}}, "the login did not share a verified e-mail address"),
    ],
)
def test_the_shared_scope_must_carry_an_address_and_its_identifier(settings: Settings, scope: Any, reason: str) -> None:
    refused(settings, phone(scope=scope), reason)


def test_the_identifier_must_be_about_this_address_and_this_3bot(settings: Settings) -> None:
    reason = "your e-mail address could not be verified"
    refused(settings, phone(scope=scope_for(sei="bm90IGEgc2Vp")), reason)  # not signed by the KYC service
    refused(settings, phone(scope=scope_for(sei=KYC.sign("mallory@example.com", "alice.3bot"))), reason)
    refused(settings, phone(scope=scope_for(sei=KYC.sign("alice@example.com", "mallory.3bot"))), reason)
    refused(settings, phone(scope=scope_for(email="mallory@example.com")), reason)


# -- starting a login -----------------------------------------------------------------------------------------


def test_a_state_is_40_random_alphanumerics() -> None:
    states = {new_state() for _ in range(20)}
    assert len(states) == 20
    assert all(len(s) == 40 and set(s) <= set(string.ascii_letters + string.digits) for s in states)


def test_the_provider_page_gets_the_five_parameters(settings: Settings) -> None:
    url = provider_redirect(settings, MARKETPLACE, STATE)
    assert url.startswith(f"{settings.threebot_login_url}/?state=")
    assert "%2B" in url or "+" not in MARKETPLACE.box_public_key_b64  # a "+" of the key is escaped
    assert parse_qs(urlsplit(url).query) == {
        "state": [STATE],
        "appid": [APP_ID],
        "scope": ['{"user": true, "email": true}'],
        "redirecturl": ["/auth/3bot_callback"],
        "publickey": [MARKETPLACE.box_public_key_b64],
    }
    assert service.CALLBACK_PATH == "/auth/3bot_callback"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/"),
        ("", "/"),
        ("pools", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("/a\\b", "/"),
        ("/a\rb", "/"),
        ("/a\nb", "/"),
        ("/a\tb", "/"),
        ("/javascript:alert(1)", "/"),
        ("/pools", "/pools"),
        ("/pools/X9", "/pools/X9"),
        ("/pools?at=12:30", "/pools?at=12:30"),
        ("/" + "p" * 511, "/" + "p" * 511),
        ("/" + "p" * 512, "/"),
    ],
)
def test_next_is_only_a_path_of_this_site(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected
