"""The `.htpasswd` lines of a backup server (services/backup/htpasswd.py): names, bcrypt forms, strict parsing."""

from __future__ import annotations

import bcrypt
import pytest

from services.backup import htpasswd

# A fixed bcrypt hash of b"12345678" (cost 04, salt of '.'): 53 characters after "$2b$04$".
FIXED = bcrypt.hashpw(b"12345678", b"$2b$04$" + b"." * 22).decode()[4:]  # "04$..." without the prefix


@pytest.mark.parametrize("name", ["a", "0", "a" * 64, "a-b_c9", "9_-"])
def test_valid_account_names(name: str) -> None:
    assert htpasswd.USERNAME.fullmatch(name)
    assert list(htpasswd.parse(f"{name}:$2y${FIXED}\n")) == [name]


@pytest.mark.parametrize("name", ["", "a" * 65, "-a", "_a", "A", "a.b", "a b", "a:b", "é", "a\n"])
def test_invalid_account_names_are_refused_both_ways(name: str) -> None:
    with pytest.raises(htpasswd.HtpasswdError, match=r"^refusing to write a malformed entry$"):
        htpasswd.render({name: f"$2y${FIXED}"})


@pytest.mark.parametrize("prefix", ["$2a$", "$2b$", "$2y$"])
def test_the_three_bcrypt_prefixes_parse_and_check(prefix: str) -> None:
    hashed = prefix + FIXED
    assert htpasswd.parse(f"alice:{hashed}") == {"alice": hashed}
    assert htpasswd.render({"alice": hashed}) == f"alice:{hashed}\n"
    assert htpasswd.check_password(b"12345678", hashed)
    assert not htpasswd.check_password(b"12345679", hashed)


@pytest.mark.parametrize(
    "hashed",
    [
        "$2x$" + FIXED,  # not a bcrypt variant rclone reads
        "$1$" + FIXED,
        "$2y$4$" + FIXED[3:],  # the cost has two digits
        "$2y$" + FIXED[:-1],  # 52 characters
        "$2y$" + FIXED + "a",  # 54
        "$2y$" + FIXED[:-1] + "!",  # outside bcrypt's alphabet
        " $2y$" + FIXED,
        "$2y$" + FIXED + " ",
        "12345678",
        "",
    ],
)
def test_malformed_hashes_never_check_and_never_parse_or_render(hashed: str) -> None:
    assert htpasswd.check_password(b"12345678", hashed) is False
    with pytest.raises(htpasswd.HtpasswdError, match=r"^line 1 is not a bcrypt entry$"):
        htpasswd.parse(f"alice:{hashed}")
    with pytest.raises(htpasswd.HtpasswdError, match=r"^refusing to write a malformed entry$"):
        htpasswd.render({"alice": hashed})


def test_a_trailing_newline_is_not_part_of_a_valid_name_or_hash() -> None:
    # `$` of a regular expression also matches before a final newline: "alice\n" once passed as a name.
    assert htpasswd.parse(f"alice:$2y${FIXED}\n") == {"alice": f"$2y${FIXED}"}  # a line ends there
    assert htpasswd.check_password(b"12345678", f"$2y${FIXED}\n") is False
    with pytest.raises(htpasswd.HtpasswdError):
        htpasswd.render({"alice": f"$2y${FIXED}\n"})


def test_a_fresh_hash_is_2y_cost_10_and_salted() -> None:
    first, second = htpasswd.hash_password(b"p:a$s`w'o\"rd"), htpasswd.hash_password(b"p:a$s`w'o\"rd")
    assert first.startswith("$2y$10$") and len(first) == 60 and first != second
    assert htpasswd.check_password(b"p:a$s`w'o\"rd", first) and htpasswd.check_password(b"p:a$s`w'o\"rd", second)
    assert not htpasswd.check_password(b"p:a$s`w'o\"r", first)
    assert htpasswd.parse(f"bob:{first}") == {"bob": first}


def test_parse_keeps_file_order_and_skips_blank_lines() -> None:
    text = f"\n  \nzed:$2y${FIXED}\n\t\nalice:$2a${FIXED}\r\nbob:$2b${FIXED}"
    entries = htpasswd.parse(text)
    assert list(entries.items()) == [("zed", f"$2y${FIXED}"), ("alice", f"$2a${FIXED}"), ("bob", f"$2b${FIXED}")]
    assert htpasswd.parse("") == {} and htpasswd.parse("\n\n") == {}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (f"alice $2y${FIXED}", 1),  # no separator
        (f"alice:$2y${FIXED}\nbob", 2),
        (f"alice:$2y${FIXED}\n\nalice:$2b${FIXED}", 3),  # a name twice: the file is not ours
        (f"alice:$2y${FIXED}\nAlice:$2y${FIXED}", 2),
        (f"a.b:$2y${FIXED}", 1),
        (f":$2y${FIXED}", 1),
        (f"alice:$2y${FIXED}:x", 1),
        (f" alice:$2y${FIXED}", 1),
    ],
)
def test_a_line_that_is_not_an_entry_is_named_by_its_number(text: str, line: int) -> None:
    with pytest.raises(htpasswd.HtpasswdError, match=rf"^line {line} is not a bcrypt entry$"):
        htpasswd.parse(text)


def test_render_writes_one_line_per_entry_in_order_and_parses_back() -> None:
    entries = {"zed": f"$2y${FIXED}", "alice": f"$2b${FIXED}"}
    text = htpasswd.render(entries)
    assert text == f"zed:$2y${FIXED}\nalice:$2b${FIXED}\n"
    assert htpasswd.parse(text) == entries
    assert htpasswd.render({}) == ""
    with pytest.raises(htpasswd.HtpasswdError):  # a bad entry after good ones still refuses the whole file
        htpasswd.render({"alice": f"$2y${FIXED}", "bob": "plain"})
