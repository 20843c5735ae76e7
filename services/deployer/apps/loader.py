"""Reading the app definition files: the built-in ones (``definitions/``) and an operator's (``APP_DEFINITIONS_DIR``).

The first problem found stops the process with one line — the file, the key and the reason — e.g.
``app definition cryptpad.yaml: exposure.port: missing port: the C pattern forwards to the app's HTTP port``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from services.deployer.apps.schema import Definition

BUILTIN = Path(__file__).parent / "definitions"
MAX_FILE = 64 * 1024


class DefinitionError(Exception):
    """A definition file is unusable; the message is the one line to print."""


def _problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(part) for part in err["loc"])
    reason = {"extra_forbidden": "unknown key", "missing": "required key missing"}.get(err["type"], err["msg"])
    reason = reason.removeprefix("Value error, ")
    return f"{key}: {reason}" if key else reason


def load_file(path: Path, known_images: Collection[str]) -> Definition:
    """One definition file, validated; ``known_images``: the image keys it may name (``solutions/images.py``).

    Raises:
        DefinitionError: unreadable, not YAML, not a mapping, or against the schema.
    """
    where = f"app definition {path.name}"
    try:
        text = path.read_text(encoding="utf-8")[: MAX_FILE + 1]
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{where}: cannot be read: {exc}") from None
    if len(text) > MAX_FILE:
        raise DefinitionError(f"{where}: larger than {MAX_FILE} bytes")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise DefinitionError(f"{where}: not valid YAML{line}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise DefinitionError(f"{where}: must be a mapping of keys (type, title, …)")
    try:
        return Definition.model_validate(data, context={"images": frozenset(known_images)})
    except ValidationError as exc:
        raise DefinitionError(f"{where}: {_problem(exc)}") from None


def load_dir(directory: Path, known_images: Collection[str]) -> list[Definition]:
    """Every ``*.yaml`` of ``directory`` (sorted by name).

    Raises:
        DefinitionError: the directory is missing, or a file is bad.
    """
    if not directory.is_dir():
        raise DefinitionError(f"app definitions: {directory} is not a directory")
    return [load_file(path, known_images) for path in sorted(directory.glob("*.yaml"))]


def combine(definitions: Iterable[Definition], taken: Collection[str]) -> list[Definition]:
    """The definitions, refusing a type defined twice or that another solution already has.

    Raises:
        DefinitionError: the first duplicate.
    """
    seen: set[str] = set()
    out = []
    for d in definitions:
        if d.type in seen or d.type in taken:
            raise DefinitionError(f"app definition {d.type}: type: {d.type!r} is already a solution type")
        seen.add(d.type)
        out.append(d)
    return out
