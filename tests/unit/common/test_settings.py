from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.settings import SettingsError, load_settings
from tests.conftest import ROOT, base_env


def test_valid_environment_parses_into_frozen_settings(tmp_path: Path) -> None:
    settings = load_settings(base_env(tmp_path, TEST_CERT="true", OVER_PROVISIONING="1"))
    assert settings.test_cert is True
    assert settings.over_provisioning is True
    with pytest.raises(ValidationError):
        settings.terms_version = "2"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", None, "DATABASE_URL is not set"),
        ("REDIS_URL", None, "REDIS_URL is not set"),
        ("EXPLORER_URL", None, "EXPLORER_URL is not set"),
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL is invalid"),
        ("REDIS_URL", "127.0.0.1:6379", "REDIS_URL is invalid"),
        ("EXPLORER_URL", "ftp://explorer", "EXPLORER_URL is invalid"),
        ("TEST_CERT", "maybe", "TEST_CERT is invalid"),
        ("OVER_PROVISIONING", "2", "OVER_PROVISIONING is invalid"),
        ("MARKETPLACE_DOMAIN", "https://example.org/", "MARKETPLACE_DOMAIN is invalid"),
        ("BACKUP_SERVER1", "host-without-user", "BACKUP_SERVER1 is invalid"),
        ("APP_ENV", "staging", "APP_ENV is invalid"),
        ("TASK_TIME_LIMIT", "abc", "TASK_TIME_LIMIT is invalid"),
        ("ACME_CA", "not a url", "ACME_CA is invalid"),
    ],
)
def test_missing_or_malformed_variable_is_named(tmp_path: Path, name: str, value: str | None, expected: str) -> None:
    env = base_env(tmp_path)
    if value is None:
        env.pop(name)
    else:
        env[name] = value
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert str(info.value).startswith(expected)


def test_error_message_never_echoes_the_value(tmp_path: Path) -> None:
    env = base_env(tmp_path, DATABASE_URL="mysql://user:hunter2@db/x")
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert "hunter2" not in str(info.value)


def test_empty_value_falls_back_to_default(tmp_path: Path) -> None:
    settings = load_settings(base_env(tmp_path, TERMS_VERSION="", ACME_CA=""))
    assert settings.terms_version == "1"
    assert settings.acme_ca == ""


@pytest.mark.parametrize(
    "code",
    [
        "from services.common.settings import load_or_exit; load_or_exit()",
        "from services.auth.app import create_app; create_app()",
        "from services.pools.worker import app; app",
    ],
)
def test_process_with_malformed_env_exits_with_one_line(tmp_path: Path, code: str) -> None:
    env = base_env(tmp_path, REDIS_URL="not-a-url")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "configuration error: REDIS_URL is invalid: Value error, must be a URL starting with redis:// or rediss://"
    ]
