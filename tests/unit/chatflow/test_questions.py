"""The question types of the wizard engine: what each accepts and refuses on the server, and what the browser gets
(the field shapes of ``services/chatflow/API.md``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.chatflow.questions import (
    Choice,
    Confirm,
    DateTime,
    Download,
    Dropdown,
    File,
    Info,
    Integer,
    Invalid,
    MultiChoice,
    Payment,
    Progress,
    Qr,
    Question,
    Secret,
    String,
    Text,
)

BASE_KEYS = {"name", "kind", "label", "help", "required", "default"}
CHOICES = [("small", "Small"), ("large", "Large"), ("1", "One")]


def refused(question: Question, value: Any) -> Invalid:
    with pytest.raises(Invalid) as caught:
        question.check(value)
    return caught.value


# -- required / optional -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [String("q", "Q"), Secret("q", "Q"), Text("q", "Q"), Integer("q", "Q"), Choice("q", "Q", choices=CHOICES),
     MultiChoice("q", "Q", choices=CHOICES), DateTime("q", "Q"), File("q", "Q")],
    ids=lambda q: q.kind,
)  # fmt: skip
@pytest.mark.parametrize("empty", [None, "", []])
def test_a_required_field_refuses_an_empty_answer(question: Question, empty: Any) -> None:
    error = refused(question, empty)
    assert error.code == "required"
    assert str(error) == "this field is required"


@pytest.mark.parametrize(
    "question",
    [String("q", "Q", required=False), Integer("q", "Q", required=False),
     Choice("q", "Q", required=False, choices=CHOICES), DateTime("q", "Q", required=False, future_only=True)],
    ids=lambda q: q.kind,
)  # fmt: skip
@pytest.mark.parametrize("empty", [None, ""])
def test_an_optional_field_left_empty_stores_nothing(question: Question, empty: Any) -> None:
    assert question.check(empty) is None


@pytest.mark.parametrize("blank", ["   ", "\t\n"])
def test_a_blank_answer_counts_as_empty(blank: str) -> None:
    # Whitespace only is no name: a required field refuses it as missing, an optional one stores nothing.
    assert refused(String("q", "Q"), blank).code == "required"
    assert refused(Text("q", "Q"), blank).code == "required"
    assert String("q", "Q", required=False).check(blank) is None


# -- strings -------------------------------------------------------------------------------------------------------


def test_a_string_is_trimmed_and_checked_for_length() -> None:
    question = String("q", "Q", min_length=3, max_length=5)
    assert question.check("  abc  ") == "abc"
    assert question.check("abcde") == "abcde"
    short = refused(question, " ab ")
    assert (short.code, str(short)) == ("too_short", "at least 3 characters")
    long = refused(question, "abcdef")
    assert (long.code, str(long)) == ("too_long", "at most 5 characters")


def test_a_string_has_a_default_length_limit() -> None:
    assert String("q", "Q").check("x" * 256) == "x" * 256
    assert refused(String("q", "Q"), "x" * 257).code == "too_long"


def test_a_string_pattern_is_matched_whole_and_explained_by_its_help() -> None:
    question = String("name", "Name", pattern=r"[a-z0-9-]+", pattern_help="lower-case letters, digits and dashes")
    assert question.check("my-box-1") == "my-box-1"
    for bad in ("Bad Name!", "box!", "ok box"):
        error = refused(question, bad)
        assert (error.code, str(error)) == ("pattern", "lower-case letters, digits and dashes")
    assert str(refused(String("q", "Q", pattern=r"\d+"), "12a")) == "not in the expected format"


@pytest.mark.parametrize("value", [12, 1.5, True, ["a"], {"a": 1}])
def test_a_string_refuses_anything_but_text(value: Any) -> None:
    assert refused(String("q", "Q"), value).code == "type"


def test_text_keeps_its_lines_and_allows_long_answers() -> None:
    question = Text("q", "Q")
    assert question.check("  line one\nline two\n") == "  line one\nline two\n"
    assert question.check("x" * 16_384) == "x" * 16_384
    assert refused(question, "x" * 16_385).code == "too_long"


# -- secrets -------------------------------------------------------------------------------------------------------


def test_a_secret_is_checked_like_a_string_but_kept_exactly_as_typed() -> None:
    question = Secret("password", "Password", min_length=8, max_length=14)
    assert question.check(" hunter2hunt ") == " hunter2hunt "  # spaces may be part of a password
    assert refused(question, "short").code == "too_short"
    assert refused(question, "x" * 15).code == "too_long"
    assert question.secret and not String("q", "Q").secret


def test_a_secret_field_shows_only_its_proposed_value() -> None:
    proposal = "Zq8-random-proposal"
    shown = Secret("password", "Password", default=proposal, min_length=8).as_json()
    assert shown["kind"] == "secret"
    assert shown["default"] == proposal
    assert shown["min_length"] == 8 and shown["max_length"] == 256
    assert Secret("password", "Password").as_json()["default"] is None


# -- integers ------------------------------------------------------------------------------------------------------


def test_an_integer_accepts_numbers_and_numeric_strings() -> None:
    question = Integer("cpu", "CPU", min=1, max=64)
    assert question.check(4) == 4
    assert question.check("4") == 4
    assert question.check(" 16 ") == 16
    assert Integer("t", "T").check("-3") == -3
    assert Integer("t", "T").check(0) == 0


@pytest.mark.parametrize("value", [True, False, 1.5, 2.0, "1.5", "1e3", "four", "", ["1"], {"v": 1}])
def test_an_integer_refuses_booleans_fractions_and_words(value: Any) -> None:
    question = Integer("cpu", "CPU", required=False)
    if value == "":
        assert question.check(value) is None
        return
    error = refused(question, value)
    assert (error.code, str(error)) == ("type", "expected a whole number")


def test_an_integer_is_kept_within_its_bounds() -> None:
    question = Integer("memory", "Memory", min=1024, max=4096)
    assert question.check(1024) == 1024 and question.check(4096) == 4096
    small = refused(question, 100)
    assert (small.code, str(small)) == ("too_small", "at least 1024")
    large = refused(question, "4097")
    assert (large.code, str(large)) == ("too_large", "at most 4096")


# -- choices -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [Choice, Dropdown])
def test_a_choice_accepts_only_a_listed_value(kind: type[Choice]) -> None:
    question = kind("size", "Size", choices=CHOICES)
    assert question.check("large") == "large"
    assert question.check(1) == "1"  # a numeric value arrives as a number from some forms
    for bad in ("Large", "huge", ["small"], {"value": "small"}, 2.5):
        error = refused(question, bad)
        assert (error.code, str(error)) == ("choice", "choose one of the options")


def test_a_choice_without_options_refuses_every_answer() -> None:
    # e.g. a pool drop-down when the user has no pool that fits: nothing can be chosen.
    assert refused(Dropdown("pool_id", "Pool", choices=[]), "1").code == "choice"


def test_a_multi_choice_collapses_duplicates_and_keeps_the_order() -> None:
    question = MultiChoice("sizes", "Sizes", choices=CHOICES, max_items=2)
    assert question.check(["large", "small", "large"]) == ["large", "small"]
    assert question.check([1, "small"]) == ["1", "small"]


def test_a_multi_choice_counts_distinct_items() -> None:
    question = MultiChoice("sizes", "Sizes", choices=CHOICES, min_items=2, max_items=2)
    few = refused(question, ["small", "small"])
    assert (few.code, str(few)) == ("too_few", "choose at least 2")
    many = refused(question, ["small", "large", "1"])
    assert (many.code, str(many)) == ("too_many", "choose at most 2")
    assert question.check(["small", "large"]) == ["small", "large"]


@pytest.mark.parametrize("value", [["small", "huge"], "small", [["small"]], {"small": True}])
def test_a_multi_choice_refuses_unknown_values_and_non_lists(value: Any) -> None:
    error = refused(MultiChoice("sizes", "Sizes", choices=CHOICES), value)
    assert (error.code, str(error)) == ("choice", "choose among the options")


# -- date and time -------------------------------------------------------------------------------------------------


def test_a_naive_moment_is_taken_as_utc() -> None:
    assert DateTime("at", "At").check("2026-12-01T10:00") == "2026-12-01T10:00:00+00:00"
    assert DateTime("at", "At").check("2026-12-01T10:00:00+02:00") == "2026-12-01T10:00:00+02:00"


def test_a_future_only_moment_refuses_the_past() -> None:
    question = DateTime("at", "At", future_only=True)
    past = (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None).isoformat(timespec="minutes")
    error = refused(question, past)
    assert (error.code, str(error)) == ("past", "choose a moment in the future")
    future = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None, microsecond=0)
    assert question.check(future.isoformat()) == future.replace(tzinfo=UTC).isoformat()
    # Without future_only the past is fine (e.g. "since when").
    assert DateTime("at", "At").check(past).startswith(past)


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01T10:00", "10:00 01/12/2026", 12])
def test_a_moment_must_be_iso_8601(value: Any) -> None:
    error = refused(DateTime("at", "At"), value)
    assert (error.code, str(error)) == ("type", "expected a date and time")


# -- files ---------------------------------------------------------------------------------------------------------

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx5b3JlbSBpcHN1bSBkb2xvciBzaXQgYW1ldA alice@laptop\n"


def test_a_file_answer_is_its_content() -> None:
    question = File("ssh_key", "Key", accept=(".pub", ".txt"))
    assert question.check({"filename": "id_ed25519.pub", "content": KEY}) == KEY
    assert question.check({"filename": "KEY.TXT", "content": KEY}) == KEY


def test_a_file_size_limit_counts_bytes_not_characters() -> None:
    question = File("f", "F", max_size=10)
    assert question.check({"filename": "a.txt", "content": "x" * 10}) == "x" * 10
    error = refused(question, {"filename": "a.txt", "content": "é" * 6})  # 6 characters, 12 bytes
    assert (error.code, str(error)) == ("too_large", "the file must be at most 10 bytes")


def test_a_file_must_have_an_accepted_extension() -> None:
    error = refused(File("ssh_key", "Key", accept=(".pub", ".txt")), {"filename": "id_ed25519", "content": KEY})
    assert (error.code, str(error)) == ("file_type", "expected a .pub or .txt file")
    assert refused(File("k", "K", accept=(".pub",)), {"filename": "key.pub.exe", "content": KEY}).code == "file_type"


def test_a_binary_file_is_refused() -> None:
    error = refused(File("f", "F"), {"filename": "a.txt", "content": "abc\x00def"})
    assert (error.code, str(error)) == ("file_type", "expected a text file")


@pytest.mark.parametrize("value", [{"filename": "a.txt"}, {"filename": "a.txt", "content": 12},
                                   {"filename": 3, "content": "x"}, 42])  # fmt: skip
def test_a_file_answer_must_be_a_name_and_a_text(value: Any) -> None:
    error = refused(File("f", "F"), value)
    assert (error.code, str(error)) == ("type", "upload a text file")


def test_a_required_file_must_not_be_blank() -> None:
    error = refused(File("f", "F"), {"filename": "a.txt", "content": " \n "})
    assert (error.code, str(error)) == ("required", "the file is empty")
    assert File("f", "F", required=False).check({"filename": "a.txt", "content": ""}) == ""


# -- display-only fields -------------------------------------------------------------------------------------------

DISPLAYS = [
    Info("about", "About", markdown="**hello**"),
    Confirm("confirm", "Deploy this?", rows=[("Name", "box")]),
    Qr("qr", "Pay", data="TFT:GADDR?amount=1", image="/api/pools/1/qr.svg", rows=[("Amount", "1 TFT")]),
    Payment("pay", "Pay", data="TFT:GADDR", image="/qr.svg", rows=[("Memo", "p-1")], pool_id=7),
    Download("wg", "WireGuard", url="/api/solutions/x/wireguard", filename="wg.conf"),
    Progress("progress", "Deployment", solution_id="3f2c"),
]


@pytest.mark.parametrize("question", DISPLAYS, ids=lambda q: q.kind)
@pytest.mark.parametrize("value", [None, "", "anything", {"x": 1}])
def test_a_display_field_takes_no_answer(question: Question, value: Any) -> None:
    assert question.display_only
    assert question.required is False
    assert question.check(value) is None


# -- the shapes the browser gets (API.md "Field") ------------------------------------------------------------------

SHAPES: list[tuple[Question, set[str]]] = [
    (String("q", "Q"), {"min_length", "max_length", "pattern"}),
    (Secret("q", "Q"), {"min_length", "max_length"}),
    (Integer("q", "Q"), {"min", "max"}),
    (Text("q", "Q"), {"min_length", "max_length"}),
    (Choice("q", "Q", choices=CHOICES), {"choices"}),
    (Dropdown("q", "Q", choices=CHOICES), {"choices", "searchable"}),
    (MultiChoice("q", "Q", choices=CHOICES), {"choices", "min_items", "max_items"}),
    (DateTime("q", "Q"), {"future_only"}),
    (File("q", "Q"), {"accept", "max_size"}),
    *((display, set()) for display in DISPLAYS),
]
EXTRA_KEYS = {"info": {"markdown"}, "confirm": {"rows"}, "qr": {"data", "image", "rows"},
              "payment": {"pool_id", "image", "rows"}, "download": {"url", "filename"},
              "progress": {"solution_id"}}  # fmt: skip


@pytest.mark.parametrize(("question", "extra"), SHAPES, ids=lambda q: getattr(q, "kind", ""))
def test_every_field_has_the_documented_keys(question: Question, extra: set[str]) -> None:
    shown = question.as_json()
    assert json.loads(json.dumps(shown)) == shown  # plain JSON, nothing the browser cannot read
    assert BASE_KEYS | extra | EXTRA_KEYS.get(question.kind, set()) <= set(shown)
    assert shown["kind"] == question.kind
    assert (shown["name"], shown["label"]) == (question.name, question.label)


def test_field_values_are_shown_as_documented() -> None:
    assert String("name", "Name", help="short", default="box", pattern="[a-z]+", min_length=2).as_json() == {
        "name": "name", "kind": "string", "label": "Name", "help": "short", "required": True, "default": "box",
        "min_length": 2, "max_length": 256, "pattern": "[a-z]+",
    }  # fmt: skip
    assert Integer("cpu", "CPU", default=1, min=1, max=64).as_json()["default"] == 1
    assert Choice("v", "V", choices=[("a", "A")]).as_json()["choices"] == [{"value": "a", "label": "A"}]
    assert Dropdown("v", "V").as_json()["searchable"] is True
    multi = MultiChoice("v", "V", choices=[("a", "A")], min_items=1, max_items=3).as_json()
    assert (multi["min_items"], multi["max_items"]) == (1, 3)
    assert DateTime("at", "At", future_only=True).as_json()["future_only"] is True
    file = File("k", "K", accept=(".pub", ".txt"), max_size=16_384).as_json()
    assert (file["accept"], file["max_size"]) == (".pub,.txt", 16_384)
    assert Confirm("c", "C", rows=[("Name", "box"), ("CPU", "1")]).as_json()["rows"] == [["Name", "box"], ["CPU", "1"]]
    payment = Payment("p", "P", data="d", image="/i.svg", rows=[("Memo", "p-1")], pool_id=7).as_json()
    assert (payment["pool_id"], payment["image"], payment["rows"], payment["data"]) == (7, "/i.svg", [["Memo", "p-1"]],
                                                                                        "d")  # fmt: skip
    assert Download("d", "D", url="/u", filename="wg.conf").as_json()["filename"] == "wg.conf"
    assert Progress("p", "P", solution_id="s1").as_json()["solution_id"] == "s1"
    assert Info("i", "I", markdown="*x*").as_json()["markdown"] == "*x*"
