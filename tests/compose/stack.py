"""The compose stack of deploy/docker-compose.yml, run for real (``make test-compose``): its dev profile up on this
machine's engine, the images of deploy/compose_images.py, the host reaching it only through the published ports.

Docker, where an engine answers, brings it up with ``docker compose up --wait``. Podman (here: 4.3) has neither
the ``healthy`` wait condition nor a running scheduler for healthchecks (they are systemd timers, and there is no
systemd): podman-compose then starts the services level by level of the file's own ``depends_on`` graph and this
module enforces each condition itself — ``service_completed_successfully`` by the job's exit code 0,
``service_healthy`` by running the service's healthcheck (``podman healthcheck run``) until it passes.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deploy import compose_images
from tests.conftest import ROOT

COMPOSE_FILE = ROOT / "deploy" / "docker-compose.yml"
DEV_ENV = ROOT / "deploy" / "compose-dev.env"
PROJECT = "mpcompose"
# This test's ports on the host (the helper's range): Caddy, the login emulator behind it, Caddy's 80 and 443.
PROXY_PORT, LOGIN_PORT, HTTP_PORT, HTTPS_PORT = 18080, 18202, 18081, 18443


@dataclass
class Compose:
    cli: str  # "docker" or "podman"
    env: dict[str, str]
    logs: Path  # where the containers' logs are saved before `down`
    services: dict[str, Any] = field(default_factory=dict)  # the resolved file (dev profile)

    @property
    def proxy(self) -> str:
        return f"http://localhost:{PROXY_PORT}"

    @property
    def connect(self) -> str:
        return f"http://localhost:{LOGIN_PORT}"

    def compose(self, *args: str, timeout: float = 600) -> str:
        base = ["docker", "compose"] if self.cli == "docker" else [str(ROOT / ".venv" / "bin" / "podman-compose")]
        command = [*base, "-p", PROJECT, "-f", str(COMPOSE_FILE), "--env-file", str(DEV_ENV), "--profile", "dev",
                   *args]  # fmt: skip
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        assert result.returncode == 0, f"{' '.join(args)}: {result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result.stdout

    def engine(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([self.cli, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                                check=False)  # fmt: skip
        assert not check or result.returncode == 0, f"{self.cli} {' '.join(args)}: {result.stderr[-2000:]}"
        return result

    def resolve(self) -> None:
        services = yaml.safe_load(self.compose("config"))["services"]
        # The dev profile's services and those of no profile (not the monitoring profile's).
        self.services = {n: s for n, s in services.items() if set(s.get("profiles") or ["dev"]) & {"dev"}}

    def containers(self, service: str | None = None, running: bool = False) -> list[dict[str, Any]]:
        """This project's containers (all states unless ``running``), each with its ``Names`` and ``State``."""
        args = ["ps", "--format", "json", "--filter", f"label=com.docker.compose.project={PROJECT}"]
        if service:
            args += ["--filter", f"label=com.docker.compose.service={service}"]
        out = self.engine(*args, *([] if running else ["-a"])).stdout
        rows = json.loads(out) if out.strip().startswith("[") else [json.loads(line) for line in out.splitlines()]
        for row in rows:
            names = row["Names"]
            row["Name"] = names[0] if isinstance(names, list) else names
        return rows

    def names(self, service: str) -> list[str]:
        return sorted(c["Name"] for c in self.containers(service))

    def up(self, *services: str, scale: str | None = None, timeout: float = 300) -> None:
        """Start ``services`` (all by default) and wait until each meets what its dependents ask of it."""
        extra = ["--scale", scale] if scale else []
        if self.cli == "docker":
            self.compose("up", "-d", "--wait", *extra, *services)
            return
        for level in self.levels(set(services) if services else set(self.services)):
            self.compose("up", "-d", "--no-deps", *extra, *level)
            for service in level:
                self.wait_ready(service, timeout)

    def levels(self, wanted: set[str]) -> list[list[str]]:
        """``wanted`` in start order: each level depends only on services of the levels before it (or not wanted)."""
        levels, done = [], set(self.services) - wanted
        while wanted - done:
            level = sorted(s for s in wanted - done if set(self.services[s].get("depends_on") or {}) <= done)
            assert level, f"a dependency cycle among {wanted - done}"
            levels.append(level)
            done |= set(level)
        return levels

    def wait_ready(self, service: str, timeout: float) -> None:
        """A one-shot job (``restart: "no"``) has exited 0; any other service is running, and healthy if it has a
        healthcheck."""
        job = self.services[service].get("restart") == "no"
        checked = "healthcheck" in self.services[service]
        deadline = time.monotonic() + timeout
        for name in self.names(service):
            while True:
                state = self.inspect(name)["State"]
                if job and state["Status"] == "exited":
                    assert state["ExitCode"] == 0, f"{name} exited {state['ExitCode']}: {self.log(name)[-2000:]}"
                    break
                if not job and state["Status"] == "running" and (not checked or self.healthy(name)):
                    break
                assert time.monotonic() < deadline, f"{name} not ready: {state}\n{self.log(name)[-3000:]}"
                time.sleep(1)

    def healthy(self, name: str) -> bool:
        """Run the container's healthcheck now (podman schedules none without systemd)."""
        return self.engine("healthcheck", "run", name, check=False, timeout=60).returncode == 0

    def inspect(self, name: str) -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(self.engine("inspect", name).stdout)
        return data[0]

    def log(self, name: str) -> str:
        result = self.engine("logs", name, check=False)
        return result.stdout + result.stderr

    def exec(self, name: str, *command: str) -> str:
        return self.engine("exec", name, *command).stdout

    def save_logs(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for container in self.containers():
            (self.logs / f"{container['Name']}.log").write_text(self.log(container["Name"]))

    def down(self) -> None:
        # --remove-orphans: podman-compose's `down` otherwise removes only the replicas the file names (one per
        # service) and leaves the ones `--scale` added running.
        self.compose("down", "-v", "--remove-orphans", "--timeout", "30")


def start(logs: Path) -> Compose:
    """The images built (or found), the dev seeds made, the variables of this run; nothing started yet."""
    cli = compose_images.engine()
    env = compose_images.engine_env()
    images = compose_images.build(cli, env)
    secrets = compose_images.STATE / "secrets"
    python = str(ROOT / ".venv" / "bin" / "python")
    key = subprocess.run([python, "-m", "deploy.compose_secrets", "--dev", str(secrets)], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    env.update(images)
    env.update(
        AUTH_PUBLIC_KEY=key,
        SECRETS_DIR=str(secrets),
        MARKETPLACE_DOMAIN=f"localhost:{PROXY_PORT}",
        PROXY_PUBLISHED_PORT=str(PROXY_PORT),
        LOGIN_EMULATOR_PUBLISHED_PORT=str(LOGIN_PORT),
        PROXY_PUBLISHED_HTTP_PORT=str(HTTP_PORT),
        PROXY_PUBLISHED_HTTPS_PORT=str(HTTPS_PORT),
        # The browser's view of the login emulator: through Caddy's published port.
        THREEBOT_LOGIN_URL=f"http://localhost:{LOGIN_PORT}",
        GRID_EMULATOR_AUTO_PAY_AFTER="2",
        RECONCILE_INTERVAL="10",
    )
    stack = Compose(cli, env, logs)
    stack.resolve()
    return stack
