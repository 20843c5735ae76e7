from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.role import LETS_ENCRYPT, LETS_ENCRYPT_STAGING, RoleError, command, proxy_env
from deploy.run_local import load_env_file
from deploy.validate_caddy import validate
from tests.conftest import ROOT


@pytest.fixture
def dev_env() -> dict[str, str]:
    env: dict[str, str] = {}
    load_env_file(ROOT / "dev.env", env)
    return env


def test_every_web_role_runs_gunicorn_on_its_port(dev_env: dict[str, str]) -> None:
    for service, port in (
        ("auth", "8101"),
        ("chatflow", "8102"),
        ("deployer", "8103"),
        ("pools", "8104"),
        ("backup", "8105"),
    ):
        args, _ = command(f"{service}-web", dev_env)
        assert args[1:3] == ["-m", "gunicorn"]
        assert f"127.0.0.1:{port}" in args
        assert args[-1] == f"services.{service}.app:create_app()"


def test_every_worker_role_consumes_its_own_queue(dev_env: dict[str, str]) -> None:
    for service in ("deployer", "pools", "backup"):
        args, _ = command(f"{service}-worker", dev_env)
        assert args[args.index("-A") + 1] == f"services.{service}.worker"
        assert args[args.index("-Q") + 1] == service


def test_local_proxy_serves_plain_http_on_the_proxy_port(dev_env: dict[str, str]) -> None:
    env = proxy_env(dev_env)
    assert env["CADDY_SITE"] == "http://:8080"
    assert env["AUTH_UPSTREAM"] == "127.0.0.1:8101"
    assert env["CADDY_EMAIL_OPTION"] == ""


def test_public_domain_uses_acme_and_test_cert_selects_staging(dev_env: dict[str, str]) -> None:
    prod = {**dev_env, "MARKETPLACE_DOMAIN": "market.example.org", "ACME_EMAIL": "ops@example.org"}
    assert proxy_env(prod)["CADDY_SITE"] == "market.example.org"
    assert proxy_env(prod)["CADDY_ACME_CA"] == LETS_ENCRYPT
    assert proxy_env(prod)["CADDY_EMAIL_OPTION"] == "email ops@example.org"
    assert proxy_env({**prod, "TEST_CERT": "true"})["CADDY_ACME_CA"] == LETS_ENCRYPT_STAGING
    override = {**prod, "TEST_CERT": "true", "ACME_CA": "https://127.0.0.1:14000/dir"}
    assert proxy_env(override)["CADDY_ACME_CA"] == "https://127.0.0.1:14000/dir"


def _adapted_issuers(env: dict[str, str]) -> list[dict[str, Any]]:
    """The ACME issuers of the JSON config Caddy itself makes of proxy/Caddyfile for ``env`` (``caddy adapt``)."""
    result = subprocess.run(
        ["caddy", "adapt", "--config", str(ROOT / "proxy" / "Caddyfile"), "--adapter", "caddyfile"],
        env={**os.environ, **env, **proxy_env(env)}, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    policies = json.loads(result.stdout)["apps"]["tls"]["automation"]["policies"]
    return [issuer for policy in policies for issuer in policy["issuers"]]


@pytest.mark.parametrize(("test_cert", "directory"), [("true", LETS_ENCRYPT_STAGING), ("false", LETS_ENCRYPT)])
def test_caddy_uses_the_staging_directory_only_for_test_cert(
    dev_env: dict[str, str], test_cert: str, directory: str
) -> None:
    env = {**dev_env, "MARKETPLACE_DOMAIN": "market.example.org", "ACME_EMAIL": "ops@example.org"}
    issuers = _adapted_issuers({**env, "TEST_CERT": test_cert})
    assert [(i["module"], i["ca"]) for i in issuers] == [("acme", directory)]


def test_private_acme_ca_and_its_root_reach_caddy(dev_env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "root.pem"
    root.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {**dev_env, "MARKETPLACE_DOMAIN": "market.example.org", "ACME_CA": "https://ca.internal/dir"}
    issuers = _adapted_issuers({**env, "ACME_CA_ROOT": str(root)})
    assert [(i["ca"], i.get("trusted_roots_pem_files")) for i in issuers] == [("https://ca.internal/dir", [str(root)])]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ACME_CA", "http://ca.internal/dir"),
        ("ACME_CA", "ca.internal/dir"),
        ("ACME_CA", "https:///dir"),
        ("ACME_CA_ROOT", "/nonexistent/root.pem"),
        ("ACME_CA_ROOT", "/"),
        ("TEST_CERT", "sometimes"),
        ("PROXY_HTTPS_PORT", "70000"),
    ],
)
def test_bad_acme_settings_are_one_line_errors(
    dev_env: dict[str, str], variable: str, value: str, tmp_path: Path
) -> None:
    env = {**dev_env, "MARKETPLACE_DOMAIN": "market.example.org", variable: value}
    result = subprocess.run(
        [sys.executable, "-m", "deploy.role", "proxy"], cwd=ROOT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"configuration error: {variable} is invalid: "), lines


def test_test_cert_reads_every_spelling_the_settings_read(dev_env: dict[str, str]) -> None:
    prod = {**dev_env, "MARKETPLACE_DOMAIN": "market.example.org"}
    for spelling in ("true", "True", "1", "yes", "on"):
        assert proxy_env({**prod, "TEST_CERT": spelling})["CADDY_ACME_CA"] == LETS_ENCRYPT_STAGING, spelling
    for spelling in ("false", "0", "no", "off", ""):
        assert proxy_env({**prod, "TEST_CERT": spelling})["CADDY_ACME_CA"] == LETS_ENCRYPT, spelling


@pytest.mark.parametrize("domain", ["localhost:8080", "market.example.org"])
@pytest.mark.parametrize("login_site", ["", "connect-emulator:8000"])
def test_caddyfile_validates(dev_env: dict[str, str], domain: str, login_site: str) -> None:
    env = {**dev_env, "MARKETPLACE_DOMAIN": domain, "TEST_CERT": "true", "CONNECT_EMULATOR_UPSTREAM": login_site}
    result = validate(env)
    assert result.returncode == 0, result.stderr


def test_login_emulator_site_only_when_asked(dev_env: dict[str, str]) -> None:
    assert proxy_env(dev_env)["CADDY_EXTRA_SITE"].endswith("none.caddy")
    compose = proxy_env({**dev_env, "CONNECT_EMULATOR_UPSTREAM": "connect-emulator:8000"})
    assert compose["CADDY_EXTRA_SITE"].endswith("login-emulator.caddy")
    assert compose["LOGIN_EMULATOR_PUBLIC_PORT"] == "8202"


def test_bad_layout_variables_are_named(dev_env: dict[str, str]) -> None:
    with pytest.raises(RoleError, match="AUTH_PORT"):
        command("auth-web", {**dev_env, "AUTH_PORT": "99999"})
    with pytest.raises(RoleError, match="WEB_CONCURRENCY"):
        command("auth-web", {**dev_env, "WEB_CONCURRENCY": "zero"})
    with pytest.raises(RoleError, match="ACME_EMAIL"):
        proxy_env({**dev_env, "ACME_EMAIL": "a b"})
    with pytest.raises(RoleError, match="unknown role"):
        command("mystery", dev_env)


def test_role_entry_point_rejects_unknown_roles_with_usage() -> None:
    result = subprocess.run([sys.executable, "-m", "deploy.role", "mystery"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert "usage" in result.stderr and "auth-web" in result.stderr


def test_env_file_rejects_malformed_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.env"
    bad.write_text("GOOD=1\nthis is not a variable\n")
    with pytest.raises(SystemExit, match=r"bad\.env:2"):
        load_env_file(bad, {})
    env = {"GOOD": "from-environment"}
    good = tmp_path / "good.env"
    good.write_text("# comment\nGOOD=1\nOTHER=a=b\n")
    load_env_file(good, env)
    assert env == {"GOOD": "from-environment", "OTHER": "a=b"}


@pytest.mark.parametrize("role", ["auth-web", "pools-worker", "beat", "migrate"])
def test_role_with_a_malformed_setting_exits_with_one_line(tmp_path: Path, role: str) -> None:
    from tests.conftest import base_env

    env = base_env(tmp_path, LOGIN_RATE_LIMIT="lots", AUTH_PORT="9999")
    result = subprocess.run(
        [sys.executable, "-m", "deploy.role", role], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: LOGIN_RATE_LIMIT is invalid: "
        "Input should be a valid integer, unable to parse string as an integer"
    ]


def test_each_metered_role_gets_its_own_metrics_port_and_a_fresh_directory(dev_env: dict[str, str],
                                                                           tmp_path: Path) -> None:  # fmt: skip
    from deploy.role import metrics_env, prepare_metrics_dir

    env = {**dev_env, "LOCAL_DIR": str(tmp_path)}
    ports = {}
    for role in ("auth-web", "chatflow-web", "deployer-web", "pools-web", "backup-web", "chatflow-worker",
                 "deployer-worker", "pools-worker", "backup-worker"):  # fmt: skip
        args, extra = command(role, env)
        ports[role] = extra["METRICS_PORT"]
        assert extra["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "metrics" / f"{role}.{os.getpid()}")
        if role.endswith("-web"):
            assert args[args.index("--config") + 1] == "python:deploy.gunicorn_metrics"
    assert len(set(ports.values())) == len(ports)  # one port each, as make run needs them
    assert "METRICS_PORT" not in command("beat", env)[1]
    # Compose: one METRICS_PORT for every process (each has its container); none at all: not served.
    bare = {k: v for k, v in env.items() if not k.endswith("_METRICS_PORT")}
    assert metrics_env("deployer-worker", {**bare, "METRICS_PORT": "9100"}, 7)["METRICS_PORT"] == "9100"
    assert "METRICS_PORT" not in metrics_env("deployer-worker", bare, 7)
    with pytest.raises(RoleError, match="DEPLOYER_WORKER_METRICS_PORT is invalid"):
        metrics_env("deployer-worker", {**env, "DEPLOYER_WORKER_METRICS_PORT": "99999"}, 7)
    # The directory starts empty; a dead group's directory of the same role goes, a live one stays.
    stale, alive = tmp_path / "metrics" / "pools-web.999999999", tmp_path / "metrics" / f"pools-web.{os.getppid()}"
    for old in (stale, alive):
        old.mkdir(parents=True)
        (old / "counter_1.db").write_bytes(b"x")
    mine = tmp_path / "metrics" / f"pools-web.{os.getpid()}"
    mine.mkdir()
    (mine / "counter_2.db").write_bytes(b"x")
    prepare_metrics_dir(mine)
    assert mine.is_dir() and not list(mine.iterdir())
    assert not stale.exists() and alive.exists()
