"""An emulator's address is recognised (services/common/emulator_urls.py) and refused by the production settings;
dev and test keep using the emulators, and the real systems' addresses pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.emulator_urls import emulator_url
from services.common.settings import SettingsError, load_settings
from tests.conftest import base_env

REAL = {
    "MARKETPLACE_DOMAIN": "market.example.org",
    "EXPLORER_URL": "https://explorer.grid.tf/api/v1",
    "THREEBOT_LOGIN_URL": "https://login.threefold.me",
    "OPENKYC_URL": "https://openkyc.live",
    "CT_LOG_URL": "https://crt.sh",
    "DNS_RESOLVER": "1.1.1.1:53",
}
EMULATORS = [
    ("EXPLORER_URL", "http://127.0.0.1:8201/api/v1"),
    ("EXPLORER_URL", "http://127.1:8201/api/v1"),
    ("EXPLORER_URL", "http://2130706433:8201/api/v1"),
    ("EXPLORER_URL", "http://0.0.0.0:8201/api/v1"),
    ("EXPLORER_URL", "http://grid-emulator:8000/api/v1"),
    ("EXPLORER_URL", "http://GRID-EMULATOR.internal:8000/api/v1"),
    ("THREEBOT_LOGIN_URL", "http://localhost:8202"),
    ("THREEBOT_LOGIN_URL", "http://app.localhost."),
    ("THREEBOT_LOGIN_API_URL", "http://connect-emulator:8000"),
    ("OPENKYC_URL", "http://[::1]:8202"),
    ("OPENKYC_URL", "http://[::ffff:127.0.0.1]:8202"),
    ("CT_LOG_URL", "https://ct.example.org/_emulator/ct"),
    ("CT_LOG_URL", "https://ct.example.org/%5Femulator/ct"),
    ("DNS_RESOLVER", "grid-emulator:8253"),
]


@pytest.mark.parametrize(("name", "value"), EMULATORS)
def test_production_refuses_an_emulator_address(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(base_env(tmp_path, APP_ENV="production", **{**REAL, name: value}))
    assert str(info.value).startswith(f"{name} is invalid: Value error, is an emulator's address (")
    assert "APP_ENV=production" in str(info.value)


@pytest.mark.parametrize(("name", "value"), EMULATORS)
def test_dev_and_test_use_the_emulators(tmp_path: Path, name: str, value: str) -> None:
    for app_env in ("dev", "test"):
        assert load_settings(base_env(tmp_path, APP_ENV=app_env, **{**REAL, name: value}))


def test_the_real_systems_and_a_local_caching_resolver_pass_in_production(tmp_path: Path) -> None:
    settings = load_settings(base_env(tmp_path, APP_ENV="production", **{**REAL, "DNS_RESOLVER": "127.0.0.53:53"}))
    assert settings.explorer_url == REAL["EXPLORER_URL"] and settings.dns_resolver == "127.0.0.53:53"


@pytest.mark.parametrize(
    "url",
    ["https://explorer.grid.tf/api/v1", "https://emulators-docs.example.org/x", "https://128.0.0.1/_emulatorx/"],
)
def test_not_an_emulator(url: str) -> None:
    assert emulator_url(url) is None
