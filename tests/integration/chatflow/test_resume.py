"""A wizard survives its web process: chatflow-web runs as real gunicorn processes, is stopped and started again
(or several run side by side), and the session goes on where it was, over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.conftest import PYTHON, Processes, free_port, wait_http
from tests.integration.chatflow.conftest import ChatWorld
from tests.integration.chatflow.test_ubuntu_wizard import ubuntu_answers


@dataclass
class Web:
    """One chatflow-web process (gunicorn, one worker) and a browser-like client of it."""

    chat: ChatWorld
    proc: subprocess.Popen[bytes]
    base: str

    def call(self, method: str, path: str, owner: str, body: Any = None, status: int = 200) -> dict[str, Any]:
        response = requests.request(method, f"{self.base}{path}", json=body, headers=self.chat.world.headers(owner),
                                    timeout=30)  # fmt: skip
        assert response.status_code == status, (self.base, path, response.text)
        return dict(response.json())

    def start(self, owner: str, flow: str) -> dict[str, Any]:
        return self.call("POST", f"/api/chatflows/{flow}", owner, {}, status=201)

    def show(self, owner: str, session: dict[str, Any]) -> dict[str, Any]:
        return self.call("GET", f"/api/chatflows/sessions/{session['id']}", owner)

    def answer(self, owner: str, session: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"/api/chatflows/sessions/{session['id']}/answer", owner, {"answers": answers})

    def back(self, owner: str, session: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"/api/chatflows/sessions/{session['id']}/back", owner, {})

    def stop(self) -> None:
        """SIGTERM, as a deploy or a restart would: gunicorn finishes its requests and exits."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0


def start_web(chat: ChatWorld, processes: Processes, name: str, port: int | None = None) -> Web:
    port = port or free_port()
    env = {**chat.world.env, "CHATFLOW_PORT": str(port), "BIND_HOST": "127.0.0.1", "WEB_CONCURRENCY": "1"}
    proc = processes.start(name, [PYTHON, "-m", "deploy.role", "chatflow-web"], env)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthz", proc=proc)
    return Web(chat, proc, base)


def test_a_wizard_resumes_after_its_web_process_restarts(chat: ChatWorld, processes: Processes) -> None:
    owner = "kim.3bot"
    chat.world.network(owner)  # an active pool and a network, as the ubuntu wizard needs
    answers = ubuntu_answers(chat, owner, "resumed")
    web = start_web(chat, processes, "chatflow-web-1")
    view = web.start(owner, "ubuntu")
    for _ in range(4):  # name, version, resources, pool
        view = web.answer(owner, view, answers[view["step"]["name"]])
    assert view["step"]["name"] == "network"
    before = web.show(owner, view)

    web.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{web.base}/healthz", timeout=5)
    web = start_web(chat, processes, "chatflow-web-1-again", port=int(web.base.rsplit(":", 1)[1]))

    after = web.show(owner, view)
    assert after["step"] == before["step"]
    assert after["answers"] == before["answers"] == {"name": "resumed", "version": "ubuntu-20.04", "cpu": 1,
                                                     "memory": 1024, "disk": 256,
                                                     "pool_id": answers["pool_id"]["pool_id"]}  # fmt: skip
    assert [s["id"] for s in web.call("GET", "/api/chatflows/sessions", owner)["sessions"]] == [view["id"]]

    view = after
    while view["status"] == "active":
        view = web.answer(owner, view, answers[view["step"]["name"]])
    assert view["status"] == "submitted" and view["step"]["fields"][0]["kind"] == "progress"
    assert chat.world.wait(view["solution_id"])["status"] == "deployed"


def test_any_web_process_continues_a_wizard(chat: ChatWorld, processes: Processes) -> None:
    owner = "lou.3bot"
    chat.world.network(owner)
    answers = ubuntu_answers(chat, owner, "shared")
    webs = [start_web(chat, processes, "chatflow-web-a"), start_web(chat, processes, "chatflow-web-b")]
    view = webs[0].start(owner, "ubuntu")
    turn = 1
    # Every request goes to the other process: each step is answered where the previous one was not.
    while view["status"] == "active":
        web = webs[turn % 2]
        assert web.show(owner, view)["step"] == view["step"]
        view = web.answer(owner, view, answers[view["step"]["name"]])
        if view["step"]["name"] == "network":  # once, go back on one process and forward on the other
            back = webs[(turn + 1) % 2].back(owner, view)
            assert back["step"]["name"] == "pool_id" and back["answers"]["pool_id"] == answers["pool_id"]["pool_id"]
            view = web.answer(owner, back, answers["pool_id"])
        turn += 1
    assert view["status"] == "submitted"
    assert turn > 10  # every step went through both processes
    assert webs[turn % 2].show(owner, view)["solution_id"] == view["solution_id"]
    assert chat.world.wait(view["solution_id"])["status"] == "deployed"
