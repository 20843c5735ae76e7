"""Small JSON files under ``--state-dir``: the only state the emulator keeps across restarts."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)


def read_json(path: Path | None) -> Any:
    """The file's JSON, or None when there is no state dir, no file, or a file we cannot use.

    A damaged state file is logged and ignored rather than fatal: it only holds test switches and replays.
    """
    if path is None or not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("state_file_ignored", path=str(path), error=str(exc))
        return None


def write_json(path: Path | None, value: Any) -> None:
    """Replace the file atomically (write a sibling, then rename) so a crash never leaves half a file."""
    if path is None:
        return
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
