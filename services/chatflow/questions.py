"""Question types of the wizards (``services/chatflow/API.md``): what the browser renders, what the server accepts.

Every answer is validated here, on the server, against the declared constraints; the browser's checks are only a
convenience. ``check`` returns the clean value or raises :class:`Invalid` with the message shown next to the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

Choices = list[tuple[str, str]]  # (value, label)


class Invalid(Exception):
    """An answer breaks a constraint; ``code`` is machine-readable, the message is for the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Question:
    """One field of a step. ``default`` pre-fills it; ``required`` refuses an empty answer."""

    name: str
    label: str
    help: str = ""
    required: bool = True
    default: Any = None
    kind: ClassVar[str] = ""
    secret: ClassVar[bool] = False
    display_only: ClassVar[bool] = False

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "label": self.label, "help": self.help,
                "required": self.required, "default": None if self.secret else self.default}  # fmt: skip

    def check(self, value: Any) -> Any:
        """The clean answer, ``None`` for an allowed empty one.

        Raises:
            Invalid: missing, wrong type, or outside the constraints.
        """
        if value is None or value == "" or value == []:
            if self.required:
                raise Invalid("required", "this field is required")
            return None
        return self.clean(value)

    def clean(self, value: Any) -> Any:
        return value


@dataclass
class String(Question):
    min_length: int | None = None
    max_length: int = 256
    pattern: str | None = None
    pattern_help: str = ""
    kind: ClassVar[str] = "string"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "min_length": self.min_length, "max_length": self.max_length,
                "pattern": self.pattern}  # fmt: skip

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise Invalid("type", "expected text")
        if not value.strip():  # whitespace only is as empty as "": required refuses it, optional stores nothing
            return super().check(None)
        # Names and addresses are trimmed; a secret is kept exactly as typed (spaces may be part of it).
        value = value.strip() if self.kind == "string" else value
        if self.min_length is not None and len(value) < self.min_length:
            raise Invalid("too_short", f"at least {self.min_length} characters")
        if len(value) > self.max_length:
            raise Invalid("too_long", f"at most {self.max_length} characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise Invalid("pattern", self.pattern_help or "not in the expected format")
        return value


@dataclass
class Secret(String):
    """Never sent back to the browser, stored encrypted; ``default`` is a proposal (e.g. a random value)."""

    kind: ClassVar[str] = "secret"
    secret: ClassVar[bool] = True

    def as_json(self) -> dict[str, Any]:
        # A proposed random value is shown once, as the initial value of the field; an answer never is.
        return {**super().as_json(), "default": self.default}


@dataclass
class Text(String):
    max_length: int = 16_384
    kind: ClassVar[str] = "text"


@dataclass
class SecretText(Text):
    """A multi-line answer kept only encrypted (``secret_answers``) and never sent back, like a secret: the flist
    wizard's environment, whose values may be tokens or passwords."""

    secret: ClassVar[bool] = True


@dataclass
class Integer(Question):
    min: int | None = None
    max: int | None = None
    kind: ClassVar[str] = "integer"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "min": self.min, "max": self.max}

    def clean(self, value: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("type", "expected a whole number")
        if self.min is not None and value < self.min:
            raise Invalid("too_small", f"at least {self.min}")
        if self.max is not None and value > self.max:
            raise Invalid("too_large", f"at most {self.max}")
        return value


@dataclass
class Choice(Question):
    """One of ``choices`` (radio buttons)."""

    choices: Choices = field(default_factory=list)
    kind: ClassVar[str] = "choice"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "choices": [{"value": v, "label": lbl} for v, lbl in self.choices]}

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str | int) or str(value) not in {v for v, _ in self.choices}:
            raise Invalid("choice", "choose one of the options")
        return str(value)


@dataclass
class Dropdown(Choice):
    kind: ClassVar[str] = "dropdown"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "searchable": True}


@dataclass
class MultiChoice(Question):
    choices: Choices = field(default_factory=list)
    min_items: int = 1
    max_items: int | None = None
    kind: ClassVar[str] = "multi_choice"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "choices": [{"value": v, "label": lbl} for v, lbl in self.choices],
                "min_items": self.min_items, "max_items": self.max_items}  # fmt: skip

    def clean(self, value: Any) -> Any:
        allowed = {v for v, _ in self.choices}
        if not isinstance(value, list) or not all(isinstance(v, str | int) and str(v) in allowed for v in value):
            raise Invalid("choice", "choose among the options")
        picked = list(dict.fromkeys(str(v) for v in value))
        if len(picked) < self.min_items:
            raise Invalid("too_few", f"choose at least {self.min_items}")
        if self.max_items is not None and len(picked) > self.max_items:
            raise Invalid("too_many", f"choose at most {self.max_items}")
        return picked


@dataclass
class DateTime(Question):
    future_only: bool = False
    kind: ClassVar[str] = "datetime"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "future_only": self.future_only}

    def clean(self, value: Any) -> Any:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise Invalid("type", "expected a date and time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if self.future_only and moment <= datetime.now(UTC):
            raise Invalid("past", "choose a moment in the future")
        return moment.isoformat()


@dataclass
class File(Question):
    """An uploaded text file: ``{"filename", "content"}``; the answer is its content."""

    accept: tuple[str, ...] = ()
    max_size: int = 8192
    kind: ClassVar[str] = "file"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "accept": ",".join(self.accept), "max_size": self.max_size}

    def clean(self, value: Any) -> Any:
        if isinstance(value, dict):
            filename, content = value.get("filename", ""), value.get("content")
        else:
            filename, content = "", value
        if not isinstance(filename, str) or not isinstance(content, str):
            raise Invalid("type", "upload a text file")
        if len(content.encode()) > self.max_size:
            raise Invalid("too_large", f"the file must be at most {self.max_size} bytes")
        if self.accept and filename and not filename.lower().endswith(self.accept):
            raise Invalid("file_type", f"expected a {' or '.join(self.accept)} file")
        if "\x00" in content:
            raise Invalid("file_type", "expected a text file")
        if self.required and not content.strip():
            raise Invalid("required", "the file is empty")
        return content


@dataclass
class Display(Question):
    """A field that shows something and takes no answer."""

    required: bool = False
    display_only: ClassVar[bool] = True

    def check(self, value: Any) -> Any:
        return None


# Every character frontend/markdown.js gives a meaning to, at the start of a line or inline.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]()#.!_>+-])")


def literal(text: str) -> str:
    """``text`` (a farm or pool name from the explorer, anything not ours) as plain text inside an ``Info``'s
    Markdown: one line, every special character backslash-escaped, so ``[x](https://…)`` stays those characters
    and never becomes a link, a heading or a list (the renderer turns ``\\x`` back into ``x``)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


@dataclass
class Info(Display):
    """Markdown the flow wrote; text from elsewhere goes in only through :func:`literal`."""

    markdown: str = ""
    kind: ClassVar[str] = "info"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "markdown": self.markdown}


@dataclass
class Confirm(Display):
    rows: list[tuple[str, str]] = field(default_factory=list)
    kind: ClassVar[str] = "confirm"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "rows": [[k, v] for k, v in self.rows]}


@dataclass
class Qr(Display):
    data: str = ""
    image: str = ""
    rows: list[tuple[str, str]] = field(default_factory=list)
    kind: ClassVar[str] = "qr"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "data": self.data, "image": self.image, "rows": [[k, v] for k, v in self.rows]}


@dataclass
class Payment(Qr):
    pool_id: int = 0
    kind: ClassVar[str] = "payment"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "pool_id": self.pool_id}


@dataclass
class Download(Display):
    url: str = ""
    filename: str = ""
    kind: ClassVar[str] = "download"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "url": self.url, "filename": self.filename}


@dataclass
class Progress(Display):
    """A deployment's progress; ``filename`` names its WireGuard download when set (the apps network's apps.conf).

    ``offers_file`` False: the download is not offered here (the apps network's step, while an app's wizard goes
    on: its file is offered once, on the last page, under ``filename``).
    """

    solution_id: str = ""
    filename: str = ""
    offers_file: bool = True
    kind: ClassVar[str] = "progress"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "solution_id": self.solution_id, "filename": self.filename,
                "offers_file": self.offers_file}  # fmt: skip
