"""JSON from outside, parsed with a bound on nesting: deep input is a clear refusal, never a ``RecursionError``.

The standard library's parser recurses once per ``[`` or ``{``: a request body of a few kilobytes of brackets
raises ``RecursionError`` (not ``ValueError``), which no view expects, so it surfaced as a 500. Every service reads
bodies through :class:`JSONProvider` (installed by ``create_service_app``) and the login callback reads its query
parameter with :func:`loads`, so one rule holds everywhere: nesting deeper than :data:`MAX_DEPTH` is refused.
"""

from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider

from services.common.errors import ApiError, FieldError

# No answer, spec or login message of ours nests beyond a handful of levels; 64 leaves room for any client.
MAX_DEPTH = 64


class TooDeep(ValueError):
    """The document nests deeper than :data:`MAX_DEPTH` (a ``ValueError``: callers treat it as invalid JSON)."""


def _depth(value: Any) -> int:
    """The nesting depth of a parsed value, walked without recursion (a scalar is 0, ``[]`` is 1)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level) for child in children)
    return deepest


def loads(text: str | bytes) -> Any:
    """``json.loads`` that raises :class:`TooDeep` (a ``ValueError``) for input nested beyond :data:`MAX_DEPTH`.

    Raises:
        ValueError: not JSON (``json.JSONDecodeError``) or nested too deeply (:class:`TooDeep`).
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(f"nested deeper than {MAX_DEPTH} levels") from None
    if _depth(value) > MAX_DEPTH:
        raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
    return value


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with the depth rule: a too-deep request body is a 400 in the standard shape.

    The 400 is raised rather than returned as ``ValueError`` so that ``get_json(silent=True)`` (which the views use
    to word their own "send an object" message) cannot turn it into ``None`` and let a 422 hide the real reason.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return loads(s)
        except TooDeep as exc:
            message = f"the JSON body is {exc}"
            raise ApiError(400, message, (FieldError("too_deep", message),)) from None
