"""`make run` as root with no backup servers configured: two local ones through the setup script, a 3Bot gets its
account through Caddy, and Ctrl-C stops the servers too."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import PYTHON, Processes, wait_http
from tests.integration.backup.conftest import STATE, ThreeBot
from tests.integration.stack.test_stack_smoke import _port_open, _stack_env, _stack_pids


@pytest.mark.stack
def test_make_run_starts_two_local_backup_servers(tmp_path: Path, processes: Processes) -> None:
    if os.geteuid() != 0:
        pytest.fail("the local backup servers need root: run make test as root")
    state = STATE / f"stack-{uuid.uuid4().hex[:12]}"
    ports, env, stack_id = _stack_env(tmp_path, BACKUP_SERVER1="", BACKUP_SERVER2="", LOCAL_BACKUP_DIR=str(state))
    for name in ("BACKUP_SSH_KEY_FILE", "BACKUP_KNOWN_HOSTS_FILE"):
        env.pop(name)
    proxy = f"http://127.0.0.1:{ports['PROXY_PORT']}"
    proc = processes.start("stack", [PYTHON, "-m", "deploy.run_local"], env)
    servers: list[int] = []
    try:
        wait_http(f"{proxy}/api/backup/readyz", timeout=120, proc=proc)
        assert "Backup servers: marketplace-backup@127.0.0.1:" in processes.log("stack")
        bot = ThreeBot(env["EXPLORER_URL"], "stack_bot")
        key = requests.post(f"{proxy}/api/backup/public_key", timeout=10).json()
        body = {"threebot_name": bot.name, "passwd": bot.seal(b"stack password", key), "new": True}
        response = requests.post(f"{proxy}/api/backup/init", json=body, timeout=60)
        assert response.status_code == 200, response.text
        assert len(response.json()) == 2
        servers = [int(host.rsplit(":", 1)[1]) for host in response.json()]
        assert all(_port_open(port) for port in servers)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
        subprocess.run(["rm", "-rf", "--one-file-system", str(state)], check=False)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (_stack_pids(stack_id) or any(_port_open(p) for p in servers)):
        time.sleep(0.2)
    assert _stack_pids(stack_id) == []
    assert not any(_port_open(port) for port in servers)
