"""``python -m services.common.migrations --wait SECONDS`` (the compose ``migrate`` job): it keeps trying while
PostgreSQL does not answer, gives up with one line after that long, and migrates once the server answers."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.conftest import PYTHON, TEST_DATABASE_URL, base_env, closed_port


def _migrate(tmp_path: Path, database_url: str, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = base_env(tmp_path, DATABASE_URL=database_url)
    started = time.monotonic()
    result = subprocess.run([PYTHON, "-m", "services.common.migrations", *args], env=env, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    return result, time.monotonic() - started


def test_without_a_database_it_waits_then_fails_with_one_line(tmp_path: Path) -> None:
    down = f"postgresql://postgres@127.0.0.1:{closed_port()}/nothing"
    result, seconds = _migrate(tmp_path, down, "--wait", "3")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("migrate: PostgreSQL is not reachable:")
    assert seconds >= 3
    assert "waiting for PostgreSQL" in result.stdout + result.stderr
    # Without --wait: the first refusal is final.
    result, seconds = _migrate(tmp_path, down)
    assert result.returncode == 1 and seconds < 3


def test_with_a_database_it_migrates_at_once(tmp_path: Path) -> None:
    result, _ = _migrate(tmp_path, TEST_DATABASE_URL, "--wait", "30")
    assert result.returncode == 0, result.stderr
