"""The one error type the emulator's handlers raise, rendered as JSON or as an HTML page by ``app.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    """One invalid input: which field, a stable code for tests, and a sentence for people."""

    field: str
    code: str
    description: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "description": self.description}


@dataclass
class EmulatorError(Exception):
    """An answer other than success, with the status code chosen by the handler (never 500)."""

    status: int
    message: str
    errors: Sequence[FieldError] = field(default_factory=tuple)

    def __str__(self) -> str:
        return f"{self.status} {self.message}"


def bad_request(errors: Sequence[FieldError], message: str = "Invalid request") -> EmulatorError:
    return EmulatorError(400, message, tuple(errors))
