"""A process started with APP_ENV=production refuses an unsafe configuration with one line and exit code 2:
an emulator's address, a web service without AUTH_PUBLIC_KEY, a seed file others can read. A correct production
configuration starts. Every process is a real ``python -m deploy.role <role>``, as compose starts it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from services.common.identity import Identity
from tests.conftest import PYTHON, ROOT, base_env, free_port, wait_http

SIGNER_SEED = bytes(range(0x20, 0x40))
PRODUCTION = {
    "APP_ENV": "production",
    "MARKETPLACE_DOMAIN": "market.example.org",
    "EXPLORER_URL": "https://explorer.grid.example.org/api/v1",
    "THREEBOT_LOGIN_URL": "https://login.example.org",
    "OPENKYC_URL": "https://openkyc.example.org",
    "CT_LOG_URL": "https://ct.example.org",
    "DNS_RESOLVER": "192.0.2.53:53",
    "WEB_CONCURRENCY": "1",
}


def production_env(tmp: Path, **overrides: str) -> dict[str, str]:
    """A complete production environment: real-looking outside systems, private seeds, the auth public key."""
    for name, seed in (("identity.seed", bytes(range(32))), ("auth-signing.seed", SIGNER_SEED)):
        path = tmp / name
        path.write_text(seed.hex() + "\n")
        path.chmod(0o600)
    ports = {f"{service}_PORT": str(free_port()) for service in ("AUTH", "CHATFLOW", "DEPLOYER", "POOLS", "BACKUP")}
    env = base_env(tmp, **PRODUCTION, **ports, AUTH_PUBLIC_KEY=Identity(SIGNER_SEED).verify_key.hex())
    env.update(overrides)
    return {name: value for name, value in {**os.environ, **env}.items() if value != ""}


def start(role: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([PYTHON, "-m", "deploy.role", role], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip


def assert_refused(role: str, env: dict[str, str], tmp: Path, expected: str) -> None:
    """``role`` must exit 2 with exactly one line holding ``expected`` — not start serving."""
    log = tmp / f"{role}.log"
    proc = start(role, env, log)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"{role} started instead of refusing: {log.read_text()[-2000:]}") from None
    lines = log.read_text().strip().splitlines()
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("configuration error: ") and expected in lines[0], lines


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EXPLORER_URL", "http://127.0.0.1:8201/api/v1"),  # make run's grid emulator
        ("EXPLORER_URL", "http://grid-emulator:8000/api/v1"),  # compose's grid emulator
        ("THREEBOT_LOGIN_URL", "http://localhost:8202"),
        ("THREEBOT_LOGIN_API_URL", "http://connect-emulator:8000"),
        ("OPENKYC_URL", "http://[::1]:8202"),
        ("CT_LOG_URL", "https://ct.example.org/_emulator/ct"),  # an emulator-only endpoint, whatever the host
        ("DNS_RESOLVER", "grid-emulator:8253"),
    ],
)
def test_an_emulator_address_in_production_is_refused(tmp_path: Path, name: str, value: str) -> None:
    env = production_env(tmp_path, **{name: value})
    assert_refused("chatflow-web", env, tmp_path, f"{name} is invalid")
    assert_refused("deployer-worker", env, tmp_path, f"{name} is invalid")


@pytest.mark.parametrize("role", ["chatflow-web", "deployer-web", "pools-web", "backup-web"])
def test_a_web_service_without_the_auth_public_key_refuses_to_start(tmp_path: Path, role: str) -> None:
    env = production_env(tmp_path)
    del env["AUTH_PUBLIC_KEY"]
    assert_refused(role, env, tmp_path, "AUTH_PUBLIC_KEY is not set")


@pytest.mark.parametrize(
    ("role", "variable"),
    [
        ("chatflow-web", "IDENTITY_SEED_FILE"),
        ("pools-worker", "IDENTITY_SEED_FILE"),
        ("auth-web", "AUTH_SIGNING_SEED_FILE"),
        ("backup-worker", "BACKUP_SSH_KEY_FILE"),
    ],
)
def test_a_seed_file_others_can_read_is_refused(tmp_path: Path, role: str, variable: str) -> None:
    env = production_env(tmp_path)
    seed = Path(env[variable])
    seed.chmod(0o644)
    assert_refused(
        role, env, tmp_path, f"{variable} {seed} has group or other permissions (mode 0644): chmod 600 {seed}"
    )


def test_the_login_emulator_is_never_published_in_production(tmp_path: Path) -> None:
    env = production_env(tmp_path, CONNECT_EMULATOR_UPSTREAM="connect-emulator:8000", PROXY_HTTP_PORT="8080",
                         PROXY_HTTPS_PORT="8443")  # fmt: skip
    assert_refused("proxy", env, tmp_path, "CONNECT_EMULATOR_UPSTREAM")


@pytest.mark.parametrize("role", ["grid-emulator", "connect-emulator"])
def test_an_emulator_refuses_to_start_in_production(tmp_path: Path, role: str) -> None:
    env = production_env(tmp_path, GRID_EMULATOR_PORT=str(free_port()), CONNECT_EMULATOR_PORT=str(free_port()))
    assert_refused(role, env, tmp_path, "APP_ENV=production")


@pytest.mark.usefixtures("migrated_database")
@pytest.mark.parametrize(("role", "port"), [("auth-web", "AUTH_PORT"), ("chatflow-web", "CHATFLOW_PORT")])
def test_a_correct_production_configuration_starts(tmp_path: Path, role: str, port: str) -> None:
    env = production_env(tmp_path)
    proc = start(role, env, tmp_path / f"{role}.log")
    try:
        wait_http(f"http://127.0.0.1:{env[port]}/healthz", proc=proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_auth_refuses_a_public_key_that_is_not_its_seeds(tmp_path: Path) -> None:
    # The other services would refuse every assertion auth signs: a 401 for everyone, found only by users.
    env = production_env(tmp_path, AUTH_PUBLIC_KEY=Identity(bytes(32)).verify_key.hex())
    assert_refused("auth-web", env, tmp_path, "AUTH_PUBLIC_KEY is not the public key of AUTH_SIGNING_SEED_FILE")
