"""The backup processes stop at start, with one line naming the variable, when a BACKUP_* value is bad."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, ROOT, base_env


@pytest.mark.parametrize("role", ["backup-web", "backup-worker"])
@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"BACKUP_SERVER1": ""}, "configuration error: BACKUP_SERVER1 is not set"),
        ({"BACKUP_SERVER2": "no-port@host"}, "configuration error: BACKUP_SERVER2 is invalid"),
        ({"BACKUP_SSH_KEY_FILE": "/nonexistent"}, "configuration error: BACKUP_SSH_KEY_FILE is invalid"),
        ({"BACKUP_KNOWN_HOSTS_FILE": ""}, "configuration error: BACKUP_KNOWN_HOSTS_FILE is not set"),
    ],
)
def test_backup_process_refuses_to_start(tmp_path: Path, role: str, overrides: dict[str, str], line: str) -> None:
    env = {**os.environ, **base_env(tmp_path, BACKUP_PORT="9", **overrides)}
    for name, value in overrides.items():
        if not value:
            env.pop(name, None)
    done = subprocess.run([PYTHON, "-m", "deploy.role", role], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # exactly one line
    assert done.stderr.startswith(line)
