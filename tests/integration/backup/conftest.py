"""Two real backup servers (sshd + rclone's restic REST server, prepared by deploy/backup-server/setup.sh), the
grid emulator's phonebook, the backup web app on a real HTTP port and a real backup worker.

Needs root (the setup script creates system users, sshd chroots need root-owned directories): skipped otherwise.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import BaseWSGIServer, make_server

from deploy.local_backup import LocalBackupServer, missing_binaries, prepare
from services.backup.app import create_app
from services.common.identity import Identity
from services.common.migrations import migrate
from services.common.settings import Settings, load_settings
from tests.conftest import PYTHON, TEST_DATABASE_URL, Processes, base_env, free_port, redis_db_url, wait_http

REDIS = redis_db_url(9)
STATE = Path("/var/lib/marketplace-backup-tests")  # root-owned parents: sshd's chroot rules


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "the backup servers need root (system users, sshd chroot)"
    missing = missing_binaries() + [b for b in ("restic",) if shutil.which(b) is None]
    return f"missing: {', '.join(missing)}" if missing else None


@dataclass
class Backups:
    base: str  # the backup web app, http://127.0.0.1:<port>
    servers: list[LocalBackupServer]
    env: dict[str, str]
    settings: Settings
    processes: Processes
    sshd: dict[int, Any] = field(default_factory=dict)
    worker_started: bool = False

    def start_sshd(self, server: LocalBackupServer) -> None:
        proc = self.processes.start(f"sshd{server.index}", server.sshd_command(), {})
        self.sshd[server.index] = proc
        _wait_port(server.ssh_port, proc)

    def stop_sshd(self, server: LocalBackupServer) -> None:
        proc = self.sshd.pop(server.index)
        proc.terminate()
        proc.wait(timeout=10)

    def public_key(self) -> str:
        response = requests.post(f"{self.base}/api/backup/public_key", timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json())

    def init(self, name: str, passwd: str, new: bool, **extra: Any) -> requests.Response:
        body = {"threebot_name": name, "passwd": passwd, "new": new, **extra}
        return requests.post(f"{self.base}/api/backup/init", json=body, timeout=60)

    def entries(self, server: LocalBackupServer) -> dict[str, str]:
        from services.backup import htpasswd

        return htpasswd.parse(server.htpasswd.read_text())


def _wait_port(port: int, proc: Any, timeout: float = 15) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"process exited with {proc.returncode}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"port {port} did not open")


class ThreeBot:
    """Plays a hosted 3Bot (LOGIN_PROTOCOL §9.2): its identity is registered in the phonebook."""

    def __init__(self, explorer: str, name: str) -> None:
        self.name = name
        self.identity = Identity(os.urandom(32))
        body = {"name": name, "email": f"{name}@example.org", "pubkey": self.identity.verify_key_hex,
                "host": "", "description": ""}  # fmt: skip
        response = requests.post(f"{explorer}/users", json=body, timeout=10)
        assert response.status_code == 201, response.text

    def seal(self, password: bytes, marketplace_box_pk_b64: str) -> str:
        from nacl.public import Box, PublicKey

        box = Box(self.identity.box_private_key, PublicKey(base64.b64decode(marketplace_box_pk_b64)))
        return base64.b64encode(bytes(box.encrypt(password))).decode()


@pytest.fixture(scope="module")
def backups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backups]:
    if (reason := _missing()) is not None:
        pytest.fail(f"the backup tests cannot run: {reason} (run make test as root; it installs the packages)")
    tmp = tmp_path_factory.mktemp("backup")
    logs = tmp / "logs"
    logs.mkdir()
    processes = Processes(logs)
    STATE.mkdir(mode=0o755, exist_ok=True)
    base = STATE / uuid.uuid4().hex[:12]
    try:
        servers, backup_env = prepare(base, tmp / "marketplace_ssh_key")
        grid_port = free_port()
        grid = processes.start(
            "grid", [PYTHON, "-m", "emulators.grid", "--port", str(grid_port), "--state", str(tmp / "grid.db")], {}
        )
        wait_http(f"http://127.0.0.1:{grid_port}/_emulator/healthz", proc=grid)
        # DB_POOL_MAX: the app is served here by werkzeug with a thread per request (gunicorn: 4 threads per
        # process), so 20 concurrent inits need more than the default 10 pooled connections.
        env = base_env(tmp, REDIS_URL=REDIS, DB_POOL_MAX="40", EXPLORER_URL=f"http://127.0.0.1:{grid_port}/api/v1",
                       BACKUP_RATE_LIMIT_ADDRESS="10000", BACKUP_RATE_LIMIT_NAME="50", BACKUP_SSH_TIMEOUT="5",
                       BACKUP_RETRY_INTERVAL="2", **backup_env)  # fmt: skip
        settings = load_settings(env)
        migrate(TEST_DATABASE_URL)
        backups = Backups("", servers, env, settings, processes)
        for server in servers:
            backups.start_sshd(server)
            rest = processes.start(f"rest{server.index}", server.rest_command(), {})
            _wait_port(server.rest_port, rest)
        app = create_app(settings)
        port = free_port()
        http: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=http.serve_forever, daemon=True)
        thread.start()
        backups.base = f"http://127.0.0.1:{port}"
        try:
            yield backups
        finally:
            http.shutdown()
            app.extensions["marketplace"].close()
    finally:
        processes.stop_all()
        subprocess.run(["rm", "-rf", "--one-file-system", str(base)], check=False)


@pytest.fixture(scope="module")
def explorer(backups: Backups) -> str:
    return backups.settings.explorer_url


def start_worker(backups: Backups) -> None:
    """A real backup worker and beat (BACKUP_RETRY_INTERVAL=2 s) in this module's Redis db, once per module."""
    if backups.worker_started:
        return
    backups.worker_started = True
    backups.processes.start("backup-worker", [PYTHON, "-m", "deploy.role", "backup-worker"], backups.env)
    backups.processes.start("beat", [PYTHON, "-m", "deploy.role", "beat"], backups.env)
