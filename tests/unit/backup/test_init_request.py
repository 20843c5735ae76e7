"""`init`'s request checks and the opening of the sealed password (services/backup/service.py, LOGIN_PROTOCOL §9.3)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.backup import htpasswd
from services.backup.service import MAX_PASSWD, NAME, open_password, parse_init
from services.common.errors import ApiError
from services.common.identity import Identity, IdentityError

MARKETPLACE = Identity(bytes(range(32)))
THREEBOT = Identity(bytes(range(0x60, 0x80)))


def sealed(password: bytes, sender: Identity = THREEBOT) -> bytes:
    return sender.box_encrypt(MARKETPLACE.verify_key, password)


def passwd(size: int) -> str:
    return base64.b64encode(b"\x01" * size).decode()


def refusal(body: object) -> tuple[int, str, str, str | None]:
    with pytest.raises(ApiError) as err:
        parse_init(body)
    (error,) = err.value.errors
    assert error.description == err.value.message
    return err.value.status, error.code, err.value.message, error.field


NAME_RULE = "threebot_name must be 1-64 of a-z 0-9 _ . - starting with a letter or digit"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, (None, "send a JSON object with threebot_name, passwd and new")),
        ([], (None, "send a JSON object with threebot_name, passwd and new")),
        ({"passwd": passwd(25), "new": True}, ("threebot_name", NAME_RULE)),
        ({"threebot_name": 7, "passwd": passwd(25), "new": True}, ("threebot_name", NAME_RULE)),
        ({"threebot_name": "", "passwd": passwd(25), "new": True}, ("threebot_name", NAME_RULE)),
        ({"threebot_name": "a" * 65, "passwd": passwd(25), "new": True}, ("threebot_name", NAME_RULE)),
        ({"threebot_name": ".a", "passwd": passwd(25), "new": True}, ("threebot_name", NAME_RULE)),
        ({"threebot_name": "Alice", "passwd": passwd(25), "new": True}, ("threebot_name", NAME_RULE)),
        ({"threebot_name": "alice\n", "passwd": passwd(25), "new": True}, ("threebot_name", NAME_RULE)),
        ({"threebot_name": "a;b", "passwd": passwd(25), "new": True}, ("threebot_name", NAME_RULE)),
        ({"threebot_name": "a.b c", "passwd": passwd(25), "new": True}, ("threebot_name", NAME_RULE)),
        ({"threebot_name": "a", "new": True}, ("passwd", "passwd must be base64 text of at most 512 characters")),
        (
            {"threebot_name": "a", "passwd": b"x", "new": True},
            ("passwd", "passwd must be base64 text of at most 512 characters"),
        ),
        (
            {"threebot_name": "a", "passwd": "A" * 516, "new": True},
            ("passwd", "passwd must be base64 text of at most 512 characters"),
        ),
        ({"threebot_name": "a", "passwd": "!!!!", "new": True}, ("passwd", "passwd is not valid base64")),
        ({"threebot_name": "a", "passwd": passwd(30)[:-1], "new": True}, ("passwd", "passwd is not valid base64")),
        # Not valid base64, though a lenient decoder would skip the '!' and find 30 bytes.
        ({"threebot_name": "a", "passwd": "!" + passwd(30), "new": True}, ("passwd", "passwd is not valid base64")),
        (
            {"threebot_name": "a", "passwd": "", "new": True},
            ("passwd", "passwd is too short to hold a nonce and a box"),
        ),
        (
            {"threebot_name": "a", "passwd": passwd(24), "new": True},
            ("passwd", "passwd is too short to hold a nonce and a box"),
        ),
        ({"threebot_name": "a", "passwd": passwd(25)}, ("new", "new must be true or false")),
        ({"threebot_name": "a", "passwd": passwd(25), "new": 1}, ("new", "new must be true or false")),
        ({"threebot_name": "a", "passwd": passwd(25), "new": "true"}, ("new", "new must be true or false")),
    ],
)
def test_a_malformed_init_is_a_400_naming_its_field(body: object, expected: tuple[str | None, str]) -> None:
    assert refusal(body) == (400, "invalid", expected[1], expected[0])


@pytest.mark.parametrize(
    ("name", "username"),
    [("a", "a"), ("alice.3bot", "alice"), ("alice_my-bot.x.y", "alice_my-bot"), ("9" * 64, "9" * 64),
     ("a.", "a"), ("a..b", "a")],
)  # fmt: skip
def test_the_account_is_the_name_before_its_first_dot(name: str, username: str) -> None:
    req = parse_init({"threebot_name": name, "passwd": passwd(25), "new": False})
    assert (req.threebot_name, req.username, req.sealed, req.new) == (name, username, b"\x01" * 25, False)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(NAME, fullmatch=True))
def test_every_accepted_name_gives_a_valid_account(name: str) -> None:
    # parse_init relies on it (no check of its own); htpasswd.render would refuse the account otherwise.
    assert htpasswd.USERNAME.fullmatch(parse_init({"threebot_name": name, "passwd": passwd(25), "new": True}).username)


def test_new_is_carried_as_sent() -> None:
    assert parse_init({"threebot_name": "a", "passwd": passwd(25), "new": True}).new is True


def test_the_largest_passwd_is_512_characters() -> None:
    largest = base64.b64encode(b"\x02" * 384).decode()
    assert len(largest) == MAX_PASSWD == 512
    assert parse_init({"threebot_name": "a", "passwd": largest, "new": True}).sealed == b"\x02" * 384


def test_the_test_vector_opens_to_its_password() -> None:
    box = sealed(b"correct horse battery")
    assert open_password(MARKETPLACE, THREEBOT.verify_key, box) == b"correct horse battery"


@pytest.mark.parametrize(
    "password", [b"12345678", b"x" * 72, "é".encode() * 36, b"with space ~!", "日本語のパス".encode()]
)
def test_acceptable_passwords_open(password: bytes) -> None:
    assert open_password(MARKETPLACE, THREEBOT.verify_key, sealed(password)) == password


def open_refusal(threebot_key: bytes, box: bytes) -> tuple[int, str, str, str | None]:
    with pytest.raises(ApiError) as err:
        open_password(MARKETPLACE, threebot_key, box)
    (error,) = err.value.errors
    assert error.description == err.value.message
    return err.value.status, error.code, err.value.message, error.field


NOT_OURS = (400, "decrypt_failed", "passwd does not decrypt with the 3Bot's phonebook key", "passwd")
BAD_PASSWORD = (400, "invalid", "the password must be 8 to 72 bytes of printable characters", "passwd")


def test_only_the_phonebook_key_of_the_sender_opens_the_box() -> None:
    box = sealed(b"correct horse battery")
    assert open_refusal(Identity(bytes(32)).verify_key, box) == NOT_OURS  # another identity's key
    assert open_refusal(THREEBOT.verify_key, box[:-1]) == NOT_OURS  # truncated
    assert open_refusal(THREEBOT.verify_key, box[:24] + bytes([box[24] ^ 1]) + box[25:]) == NOT_OURS  # tampered
    assert open_refusal(THREEBOT.verify_key, box[:24]) == NOT_OURS  # a nonce and no box


def test_the_box_refusal_says_why() -> None:
    with pytest.raises(IdentityError, match=r"^cannot decrypt: wrong key or tampered data$"):
        MARKETPLACE.box_decrypt(THREEBOT.verify_key, sealed(b"12345678")[:-1])


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        (b"1234567", BAD_PASSWORD),
        (b"x" * 73, BAD_PASSWORD),
        ("é".encode() * 36 + b"x", BAD_PASSWORD),  # 37 characters, 73 bytes: bcrypt counts bytes
        (b"", BAD_PASSWORD),
        (b"line\nbreak", BAD_PASSWORD),
        (b"nul\x00inside", BAD_PASSWORD),
        (b"\xff\xfe12345678", (400, "invalid", "the password must be UTF-8 text", "passwd")),
    ],
)
def test_unacceptable_passwords_are_refused(password: bytes, expected: tuple[int, str, str, str]) -> None:
    assert open_refusal(THREEBOT.verify_key, sealed(password)) == expected
