"""deploy/docker-compose.yml is valid for both profiles and safe to run in public by default: no emulator outside
the `dev` profile, APP_ENV production, every emulator address empty, each secret mounted only where it is used.
The file is checked as docker-compose resolves it (`config`), with a clean environment: no engine is needed."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
import yaml

from services.common.production import AUTH_SEED, BACKUP_KEY, IDENTITY, SEEDS
from tests.conftest import ROOT

COMPOSE = ROOT / "deploy" / "docker-compose.yml"
DEV = ["--env-file", str(ROOT / "deploy" / "compose-dev.env"), "--profile", "dev"]
EMULATORS = {"grid-emulator", "connect-emulator"}
MONITORING = {"prometheus", "grafana"}
# The variables that point at an outside system (an emulator in the dev profile).
EMULATOR_URLS = ("EXPLORER_URL", "THREEBOT_LOGIN_URL", "THREEBOT_LOGIN_API_URL", "OPENKYC_URL", "CT_LOG_URL",
                 "DNS_RESOLVER", "CONNECT_EMULATOR_UPSTREAM")  # fmt: skip
# Each seed's directory inside the containers (one read-only mount per secret).
MOUNTS = {IDENTITY: "/secrets/identity", AUTH_SEED: "/secrets/auth", BACKUP_KEY: "/secrets/backup"}


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    # Only PATH: a variable of the test runner's environment must not fill in a default.
    return subprocess.run(["docker-compose", "-f", str(COMPOSE), *args], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"]}, timeout=60)  # fmt: skip


def resolved(*args: str) -> dict[str, Any]:
    result = compose(*args, "config")
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    return services


@pytest.mark.parametrize("profile", [[], DEV], ids=["default", "dev"])
def test_compose_file_is_valid(profile: list[str]) -> None:
    result = compose(*profile, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_runs_every_process_and_publishes_only_caddy() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    expected = {
        "postgres", "redis", "migrate", "grid-emulator", "connect-emulator", "proxy", "beat",
        "auth-web", "chatflow-web", "deployer-web", "pools-web", "backup-web",
        "chatflow-worker", "deployer-worker", "pools-worker", "backup-worker", *MONITORING,
    }  # fmt: skip
    assert set(services) == expected
    assert [name for name, svc in services.items() if svc.get("ports") and name not in MONITORING] == ["proxy"]
    # The login emulator's port (dev profile only) is published to this machine alone.
    assert [p for p in services["proxy"]["ports"] if p.endswith(":8202")] == [
        "127.0.0.1:${LOGIN_EMULATOR_PUBLISHED_PORT:-8202}:8202"
    ]
    for name in ("auth-web", "chatflow-web", "deployer-web", "pools-web", "backup-web"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in services[name]
    assert services["migrate"]["command"] == ["migrate"]


def test_emulators_run_only_in_the_dev_profile() -> None:
    services = resolved()
    for name, svc in services.items():
        if name in EMULATORS:
            assert svc.get("profiles") == ["dev"], name
            assert svc["command"] == [name]
        elif name in MONITORING:
            assert svc.get("profiles") == ["monitoring"], name
        else:
            assert not svc.get("profiles"), name
            assert not any(c.endswith("-emulator") for c in svc.get("command", [])), name
            # A default service waiting for a dev-only one would never start in production.
            assert not EMULATORS & set(svc.get("depends_on", {})), name


def test_production_is_the_default_and_every_emulator_address_is_empty() -> None:
    for name, svc in resolved().items():
        env = svc.get("environment")
        if name in ("postgres", "redis", *MONITORING):
            continue
        assert env["APP_ENV"] == "production", name
        for variable in EMULATOR_URLS:
            assert env.get(variable, "") == "", (name, variable)


def test_the_dev_profile_points_at_the_emulators() -> None:
    services = resolved(*DEV)
    env = services["chatflow-web"]["environment"]
    assert env["APP_ENV"] == "dev"
    assert env["EXPLORER_URL"] == "http://grid-emulator:8000/api/v1"
    assert env["THREEBOT_LOGIN_API_URL"] == env["OPENKYC_URL"] == "http://connect-emulator:8000"
    assert services["proxy"]["environment"]["CONNECT_EMULATOR_UPSTREAM"] == "connect-emulator:8000"


def test_each_secret_is_mounted_only_where_it_is_used() -> None:
    services = resolved()
    for name, svc in services.items():
        targets = {str(v).split(":")[1] for v in svc.get("volumes", []) if ":/secrets" in str(v)}
        wanted = SEEDS.get(name, ())
        assert targets == {MOUNTS[variable] for variable in wanted}, name
        for volume in svc.get("volumes", []):
            if ":/secrets" in str(volume):
                assert str(volume).endswith(":ro"), (name, volume)
        env = svc.get("environment", {})
        # The file variables name a path inside the mounted directory, and only where it is mounted.
        for variable in (AUTH_SEED, BACKUP_KEY):
            assert (variable in env) == (variable in wanted), (name, variable)
        for variable in wanted:
            assert env[variable].startswith(MOUNTS[variable] + "/"), (name, variable)
    # The auth signing seed goes to auth-web alone; the others verify with AUTH_PUBLIC_KEY.
    assert [n for n, s in services.items() if MOUNTS[AUTH_SEED] in str(s.get("volumes"))] == ["auth-web"]
    assert sorted(n for n, s in services.items() if MOUNTS[BACKUP_KEY] in str(s.get("volumes"))) == [
        "backup-web", "backup-worker",
    ]  # fmt: skip


def test_the_monitoring_profile_runs_prometheus_and_grafana_on_this_machine_only() -> None:
    services = resolved("--profile", "monitoring")
    assert set(services) >= MONITORING
    assert services["prometheus"]["image"] == "docker.io/prom/prometheus:v2.53.1"
    assert services["grafana"]["image"] == "docker.io/grafana/grafana:11.1.0"
    for name in MONITORING:
        assert services[name]["profiles"] == ["monitoring"]
        assert all(str(p).startswith("127.0.0.1:") for p in services[name]["ports"]), services[name]["ports"]
    mounts = {str(v).split(":")[1] for v in services["grafana"]["volumes"]}
    assert {"/etc/grafana/provisioning", "/var/lib/grafana/dashboards"} <= mounts
    # Every process serves its metrics on 9100 inside the network only: no service publishes it.
    for name, svc in services.items():
        if name not in ("postgres", "redis", *MONITORING):
            assert svc["environment"]["METRICS_PORT"] == "9100", name
        assert not [p for p in svc.get("ports", []) if ":9100" in str(p)], name


@pytest.mark.parametrize("profile", [[], DEV], ids=["default", "dev"])
def test_only_the_proxy_is_published_on_the_usual_ports_by_default(profile: list[str]) -> None:
    services = resolved(*profile)
    # (`config` lists the monitoring profile too: its two are published on 127.0.0.1 only, checked below.)
    assert [name for name, svc in services.items() if svc.get("ports") and name not in MONITORING] == ["proxy"]
    assert services["proxy"]["ports"] == [
        {"published": 8080, "target": 8080}, "127.0.0.1:8202:8202/tcp",
        {"published": 80, "target": 80}, {"published": 443, "target": 443},
    ]  # fmt: skip


def test_the_official_images_are_the_defaults_and_each_is_a_variable() -> None:
    services = resolved()
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert services["migrate"]["build"]["args"] == {"BASE_IMAGE": "python:3.11-slim-bookworm"}
    assert {svc["image"] for name, svc in services.items() if name not in ("postgres", "redis", *MONITORING)} == {
        "marketplace:latest"
    }
    local = {"POSTGRES_IMAGE": "localhost/pg", "REDIS_IMAGE": "localhost/rd", "MARKETPLACE_IMAGE": "localhost/mp",
             "BASE_IMAGE": "localhost/base"}  # fmt: skip
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config"], capture_output=True, text=True,
                            env={"PATH": os.environ["PATH"], **local}, timeout=60, check=True)  # fmt: skip
    services = yaml.safe_load(result.stdout)["services"]
    assert (services["postgres"]["image"], services["redis"]["image"]) == ("localhost/pg", "localhost/rd")
    assert services["migrate"]["build"]["args"] == {"BASE_IMAGE": "localhost/base"}
    assert services["auth-web"]["image"] == "localhost/mp"


def test_the_images_run_as_a_non_root_user_and_workers_stop_gracefully() -> None:
    for dockerfile, user in (("Dockerfile", "10001"), ("images/postgres.Dockerfile", "postgres"),
                             ("images/redis.Dockerfile", "redis")):  # fmt: skip
        lines = (ROOT / "deploy" / dockerfile).read_text().splitlines()
        assert [line for line in lines if line.startswith("USER ")] == [f"USER {user}"], dockerfile
    services = resolved()
    for name in ("chatflow-worker", "deployer-worker", "pools-worker", "backup-worker", "beat"):
        # Celery's warm shutdown on SIGTERM gets a minute to finish running tasks before SIGKILL.
        assert services[name]["stop_grace_period"] == "60s", name
