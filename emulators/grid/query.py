"""Query-string parsing for list endpoints: integer filters and pagination with the `Pages` header (§2.3)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import Response, request

from emulators.grid.enums import MAX_INT64
from emulators.grid.wire import ApiError, json_response

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def int_arg(name: str) -> int | None:
    """An optional integer query parameter. Raises ApiError(400) when present but not an int64."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or abs(int(text)) > MAX_INT64:
        raise ApiError(400, f"query parameter {name} must be an integer")
    return int(text)


def str_arg(name: str) -> str | None:
    raw = request.args.get(name)
    return raw if raw else None


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def pages(self, total: int) -> int:
        return math.ceil(total / self.size)


def page_arg() -> Page:
    """`page` (values < 1 are 1) and `size` (default 100, capped at 1000). Raises ApiError(400) on non-integers."""
    number = int_arg("page")
    size = int_arg("size")
    number = 1 if number is None or number < 1 else number
    size = DEFAULT_PAGE_SIZE if size is None or size < 1 else min(size, MAX_PAGE_SIZE)
    # Far past the last page: keep the offset small enough for SQLite (the result is empty anyway).
    number = min(number, MAX_INT64 // (MAX_PAGE_SIZE * 2))
    return Page(number, size)


def paged_response(items: Sequence[Any], total: int, page: Page) -> Response:
    return json_response(list(items), headers={"Pages": str(page.pages(total))})


def path_id(raw: str, what: str, status: int = 400) -> int:
    """A positive int64 id taken from the URL path. Raises ApiError(``status``) otherwise."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_INT64:
        raise ApiError(status, f"invalid {what} id {raw!r}" if status == 400 else f"{what} not found")
    return int(raw)
