from __future__ import annotations

import subprocess

import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "deploy" / "docker-compose.yml"


def test_compose_file_is_valid() -> None:
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_compose_runs_every_process_and_publishes_only_caddy() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    expected = {
        "postgres", "redis", "migrate", "grid-emulator", "connect-emulator", "proxy", "beat",
        "auth-web", "chatflow-web", "deployer-web", "pools-web", "backup-web",
        "chatflow-worker", "deployer-worker", "pools-worker", "backup-worker",
    }  # fmt: skip
    assert set(services) == expected
    assert [name for name, svc in services.items() if svc.get("ports")] == ["proxy"]
    for name in ("auth-web", "chatflow-web", "deployer-web", "pools-web", "backup-web"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in services[name]
    assert services["migrate"]["command"] == ["migrate"]
