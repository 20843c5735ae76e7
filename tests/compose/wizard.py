"""A signed-in user of the compose stack, from the host, through Caddy's published port only: the login through
the bundled 3Bot Connect emulator (the tests' own ``Browser``), the terms, a pool, the wizards' HTTP API, the
solutions API."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import requests

from tests.integration.auth.conftest import Browser

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQqR8tqEj9m3S4kP9Jc8wS8q6vJ3m3f1rj2mW8bJxH compose@test\n"


def until(done: Callable[[], Any], timeout: float, what: str, step: float = 0.5) -> Any:
    """``done()``'s first truthy value, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = done()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(step)


class User:
    """``user`` signed in through the login emulator's approve flow, with the terms accepted."""

    def __init__(self, proxy: str, connect: str, user: str = "alice.3bot") -> None:
        browser = Browser(SimpleNamespace(proxy=proxy, connect=connect))  # type: ignore[arg-type]
        browser.login(user)
        self.proxy = proxy
        self.http = browser.http
        self.http.headers["Origin"] = proxy  # what a page of ours sends with every POST and DELETE

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.proxy}{path}", timeout=30)

    def post(self, path: str, body: Any = None) -> requests.Response:
        return self.http.post(f"{self.proxy}{path}", json=body if body is not None else {}, timeout=30)

    def accept_terms(self) -> None:
        accepted = self.post("/auth/terms/accept")
        assert accepted.status_code == 200 and accepted.json()["accepted"], accepted.text

    def buy_pool(self, timeout: float = 120) -> int:
        """A pool bought on farm 1 and paid (the grid emulator pays it by itself): its id, once active."""
        bought = self.post("/api/pools", {"currency": "TFT", "farm_id": 1, "cu": 2, "su": 2, "days": 7})
        assert bought.status_code == 201, bought.text
        pool = int(bought.json()["pool"]["id"])
        until(lambda: self.get(f"/api/pools/{pool}").json()["pool"]["state"] == "active", timeout, "the payment")
        return pool

    def ready(self, timeout: float = 180) -> int:
        """An active pool and a deployed network ``net`` of this user (made once, then found): the pool's id."""
        pools = [p for p in self.get("/api/pools").json()["pools"] if p["state"] == "active"]
        pool = int(pools[0]["id"]) if pools else self.buy_pool()
        if not self.get("/api/solutions?type=network").json()["solutions"]:
            assert self.settled(self.walk("network", network_answers("net", pool)), timeout) == "deployed"
        return pool

    def walk(self, flow: str, answers: dict[str, dict[str, Any]]) -> str:
        """Start the ``flow`` wizard and answer every step — ``answers`` by step name, else each field's default
        (or first choice) — through its confirmation; the id of the solution it submitted."""
        started = self.post(f"/api/chatflows/{flow}")
        assert started.status_code == 201, started.text
        view = started.json()
        for _ in range(30):
            if view.get("solution_id"):
                return str(view["solution_id"])
            assert view["status"] == "active", view
            step = view["step"]
            answer = answers.get(step["name"]) or {f["name"]: _default(f) for f in step["fields"] if _default(f)}
            moved = self.post(f"/api/chatflows/sessions/{view['id']}/answer", {"answers": answer})
            assert moved.status_code == 200, (flow, step["name"], moved.text)
            view = moved.json()
        raise AssertionError(f"the {flow} wizard did not submit: {view}")

    def solution(self, solution_id: str) -> dict[str, Any]:
        response = self.get(f"/api/solutions/{solution_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def settled(self, solution_id: str, timeout: float) -> str:
        """The solution's status once it is deployed, rolled back or cancelled."""
        status: str = until(
            lambda: (s := self.solution(solution_id)["status"]) in ("deployed", "rolled_back", "cancelled") and s,
            timeout, f"solution {solution_id} to settle",
        )  # fmt: skip
        return status


def _default(field: dict[str, Any]) -> Any:
    if field.get("default") is not None:
        return field["default"]
    choices = [c["value"] for c in field.get("choices", [])]
    return choices[0] if choices else None


def network_answers(name: str, pool: int) -> dict[str, dict[str, Any]]:
    return {"name": {"name": name}, "pool_ids": {"pool_ids": [str(pool)]}}


def ubuntu_answers(name: str, pool: int, network: str) -> dict[str, dict[str, Any]]:
    return {
        "name": {"name": name},
        "resources": {"cpu": 1, "memory": 1024, "disk": 256},
        "pool_id": {"pool_id": str(pool)},
        "network": {"network": network},
        "logs": {"logs": "no"},
        "ssh_key": {"ssh_key": {"filename": "id.pub", "content": SSH_KEY}},
        "node_auto": {"node_auto": "yes"},
        "ip": {"ip": "auto"},
        "ipv6": {"ipv6": "no"},
    }
