from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.settings import SettingsError, load_settings
from tests.conftest import ROOT, TEST_LIMITS, base_env


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
        ("BACKUP_SERVER1", "restic@backup1.example:22\n", "BACKUP_SERVER1 is invalid"),  # "$" before a newline
        ("APP_ENV", "staging", "APP_ENV is invalid"),
        ("TASK_TIME_LIMIT", "abc", "TASK_TIME_LIMIT is invalid"),
        ("ACME_CA", "not a url", "ACME_CA is invalid"),
        ("DNS_RESOLVER", "1.1.1.1", "DNS_RESOLVER is invalid"),
        ("DNS_RESOLVER", "1.1.1.1:70000", "DNS_RESOLVER is invalid"),
        ("DNS_RESOLVER", "udp://1.1.1.1:53", "DNS_RESOLVER is invalid"),
        ("CT_LOG_URL", "crt.sh", "CT_LOG_URL is invalid"),
        ("FLIST_GITEA", "http://hub.grid.tf/x/gitea.flist", "FLIST_GITEA is invalid"),
        ("FLIST_GOLLUM", "https://hub.grid.tf/x/gollum.tar.gz", "FLIST_GOLLUM is invalid"),
        # The abuse limits: a cap of 0 would lock everyone out; a body limit above Caddy's would never be answered.
        ("CHATFLOW_OPEN_SESSIONS", "0", "CHATFLOW_OPEN_SESSIONS is invalid"),
        ("CHATFLOW_ANSWER_RATE_LIMIT", "-1", "CHATFLOW_ANSWER_RATE_LIMIT is invalid"),
        ("CHATFLOW_QUERY_RATE_LIMIT", "many", "CHATFLOW_QUERY_RATE_LIMIT is invalid"),
        ("CHATFLOW_RATE_WINDOW", "0", "CHATFLOW_RATE_WINDOW is invalid"),
        ("MAX_REQUEST_BODY", "4000001", "MAX_REQUEST_BODY is invalid"),
        ("MAX_REQUEST_BODY", "100", "MAX_REQUEST_BODY is invalid"),
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


def test_the_abuse_limits_have_their_production_defaults(tmp_path: Path) -> None:
    env = {k: v for k, v in base_env(tmp_path).items() if k not in TEST_LIMITS}
    settings = load_settings(env)
    assert (settings.chatflow_open_sessions, settings.chatflow_answer_rate_limit, settings.chatflow_query_rate_limit,
            settings.chatflow_rate_window, settings.max_request_body) == (20, 60, 120, 60, 256 * 1024)  # fmt: skip


def test_gateway_settings_have_public_defaults_and_accept_local_values(tmp_path: Path) -> None:
    defaults = load_settings(base_env(tmp_path, DNS_RESOLVER="", CT_LOG_URL=""))
    assert (defaults.dns_resolver, defaults.ct_log_url) == ("1.1.1.1:53", "https://crt.sh")
    local = load_settings(
        base_env(tmp_path, DNS_RESOLVER="127.0.0.1:8253", CT_LOG_URL="http://127.0.0.1:8201/_emulator/ct")
    )
    assert (local.dns_resolver, local.ct_log_url) == ("127.0.0.1:8253", "http://127.0.0.1:8201/_emulator/ct")
    assert load_settings(base_env(tmp_path, DNS_RESOLVER="[::1]:53")).dns_resolver == "[::1]:53"


PORTS = {
    "AUTH_PORT": "8101",
    "CHATFLOW_PORT": "8102",
    "DEPLOYER_PORT": "8103",
    "POOLS_PORT": "8104",
    "BACKUP_PORT": "8105",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("on", True),
        ("yes", True),
        ("false", False),
        ("0", False),
        ("off", False),
    ],
)
def test_test_cert_has_one_reading_shared_by_settings_and_the_launcher(
    tmp_path: Path, text: str, expected: bool
) -> None:
    from deploy.role import LETS_ENCRYPT, LETS_ENCRYPT_STAGING, proxy_env

    assert load_settings(base_env(tmp_path, TEST_CERT=text)).test_cert is expected
    env = {**base_env(tmp_path), **PORTS, "MARKETPLACE_DOMAIN": "market.example.org", "TEST_CERT": text}
    assert proxy_env(env)["CADDY_ACME_CA"] == (LETS_ENCRYPT_STAGING if expected else LETS_ENCRYPT)


def test_launcher_refuses_a_test_cert_the_settings_refuse(tmp_path: Path) -> None:
    from deploy.role import RoleError, proxy_env

    env = {**base_env(tmp_path), **PORTS, "MARKETPLACE_DOMAIN": "market.example.org", "TEST_CERT": "maybe"}
    with pytest.raises(RoleError, match="TEST_CERT is invalid"):
        proxy_env(env)


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
