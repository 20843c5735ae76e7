"""A small explorer client for the grid emulator tests, over the Flask test client or real HTTP, and a handle on
real `python -m emulators.grid` processes.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import nacl.public
import requests
from flask.testing import FlaskClient
from grid_emulator_signing import Identity, http_signature, identity, seal, sign_digest, workload_challenge

REPO_ROOT = Path(__file__).resolve().parents[4]
TEST_LATENCY = 0.3


def has_public_ipv6(node: dict[str, Any]) -> bool:
    """Whether a node (wire object) has a public IPv6 (GRID_API §11): its public_config's, else a global one."""
    public_config = node.get("public_config") or {}
    addresses = (
        [public_config.get("ipv6") or ""]
        if public_config.get("master")
        else [a for iface in node.get("ifaces") or [] for a in iface.get("addrs") or []]
    )
    ips = [ipaddress.ip_interface(a).ip for a in addresses if a]
    return any(ip.version == 6 and ip.is_global for ip in ips)


def data_json(workload: dict[str, Any]) -> Any:
    """``result.data_json`` in either wire form (an object, or JSON text as the real explorer also sends)."""
    data = workload["result"]["data_json"]
    return json.loads(data) if isinstance(data, str) else data


# --------------------------------------------------------------------------------------------- transport


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any  # case-insensitive (werkzeug Headers or requests' CaseInsensitiveDict)


class Transport(Protocol):
    """How a test reaches the emulator: the Flask test client or real HTTP."""

    def send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> Reply: ...


class FlaskTransport(Transport):
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> Reply:
        response = self.client.open(path, method=method, data=data, headers=headers)
        body = json.loads(response.data) if response.data else None
        return Reply(response.status_code, body, response.headers)


class HttpTransport(Transport):
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> Reply:
        response = self.session.request(method, self.base_url + path, data=data, headers=headers, timeout=30)
        body = response.json() if response.content else None
        return Reply(response.status_code, body, response.headers)


@dataclass
class Grid:
    """A small explorer client for the tests: signs requests, workloads, deletions and pools."""

    transport: Transport
    users: dict[str, Identity] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        signer: Identity | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        all_headers = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        if signer is not None:
            all_headers.update(http_signature(signer.key, signer.tid))
        return self.transport.send(method, path, data, all_headers)

    def api(self, method: str, path: str, body: Any = None, signer: Identity | None = None, **kw: Any) -> Reply:
        return self.call(method, "/api/v1" + path, body, signer, **kw)

    def admin(self, method: str, path: str, body: Any = None) -> Reply:
        return self.call(method, "/_emulator" + path, body)

    # --- phonebook
    def register(self, name: str) -> Identity:
        who = identity(name)
        reply = self.api("POST", "/users", {"name": name, "email": f"{name}@example.org", "pubkey": who.pubkey})
        assert reply.status == 201, reply.body
        who.tid = reply.body["id"]
        self.users[name] = who
        return who

    # --- directory
    def nodes(self, query: str = "") -> list[dict[str, Any]]:
        reply = self.api("GET", f"/nodes?size=1000&{query}")
        assert reply.status == 200, reply.body
        return list(reply.body)

    def node(self, node_id: str) -> dict[str, Any]:
        reply = self.api("GET", f"/nodes/{node_id}")
        assert reply.status == 200, reply.body
        return dict(reply.body)

    def farm_nodes(self, farm_id: int = 1) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        gateways = self.api("GET", f"/gateways?farm_id={farm_id}").body
        return self.nodes(f"farm={farm_id}"), gateways

    # --- pools
    def pool_request(
        self,
        who: Identity,
        node_ids: list[str],
        cus: int,
        sus: int,
        pool_id: int = 0,
        currencies: list[str] | None = None,
    ) -> Reply:
        data = {"pool_id": pool_id, "cus": cus, "sus": sus, "node_ids": node_ids, "currencies": currencies or ["TFT"]}
        text = json.dumps(data)
        body = {
            "json": text,
            "data_reservation": data,
            "customer_tid": who.tid,
            "customer_signature": who.key.sign(text.encode()).signature.hex(),
        }
        return self.api("POST", "/reservations/pools", body, signer=who)

    def paid_pool(self, who: Identity, node_ids: list[str], cus: int, sus: int) -> int:
        reply = self.pool_request(who, node_ids, cus, sus)
        assert reply.status == 201, reply.body
        paid = self.admin("POST", "/pay", {"reservation_id": reply.body["reservation_id"]})
        assert paid.status == 200, paid.body
        return int(reply.body["reservation_id"])

    def pool(self, pool_id: int) -> dict[str, Any]:
        reply = self.api("GET", f"/reservations/pools/{pool_id}")
        assert reply.status == 200, reply.body
        return dict(reply.body)

    # --- workloads
    def workload_body(
        self, who: Identity, node_id: str, pool_id: int, workload_type: int, **fields: Any
    ) -> dict[str, Any]:
        body = {
            "workload_id": 1,
            "node_id": node_id,
            "pool_id": pool_id,
            "reference": "",
            "description": "",
            "customer_tid": who.tid,
            "next_action": 3,
            "epoch": int(time.time()),
            "metadata": "",
            "workload_type": workload_type,
            "signing_request_provision": {"signers": [], "quorum_min": 0},
            "signing_request_delete": {"signers": [who.tid], "quorum_min": 1},
            **fields,
        }
        body["customer_signature"] = sign_digest(who.key, workload_challenge(body))
        return body

    def create(self, who: Identity, body: dict[str, Any]) -> Reply:
        return self.api("POST", "/reservations/workloads", body, signer=who)

    def deploy(self, who: Identity, body: dict[str, Any]) -> int:
        reply = self.create(who, body)
        assert reply.status == 201, reply.body
        return int(reply.body["reservation_id"])

    def workload(self, workload_id: int) -> dict[str, Any]:
        reply = self.api("GET", f"/reservations/workloads/{workload_id}")
        assert reply.status == 200, reply.body
        return dict(reply.body)

    def sign_delete(self, who: Identity, workload_id: int, signer_tid: int | None = None) -> Reply:
        stored = self.workload(workload_id)
        tid = who.tid if signer_tid is None else signer_tid
        signature = sign_digest(who.key, workload_challenge(stored) + f"delete{tid}")
        body = {"signature": signature, "tid": tid, "epoch": int(time.time())}
        return self.api("POST", f"/reservations/workloads/{workload_id}/sign/delete", body, signer=who)

    def advance(self, seconds: float) -> None:
        reply = self.admin("POST", "/clock", {"advance_seconds": seconds})
        assert reply.status == 200, reply.body

    # --- building blocks for workload tests
    def network(self, who: Identity, node: dict[str, Any], pool_id: int, name: str, subnet: str) -> int:
        """A valid network resource of ``name`` on ``node`` with the /24 ``subnet``."""
        wg_private = nacl.public.PrivateKey.generate()
        body = self.workload_body(
            who,
            node["node_id"],
            pool_id,
            10,
            name=name,
            network_iprange=subnet.rsplit(".", 2)[0] + ".0.0/16",
            iprange=subnet,
            wireguard_private_key_encrypted=seal(
                node["public_key_hex"], base64.b64encode(wg_private.encode()).decode()
            ),
            wireguard_public_key=base64.b64encode(wg_private.public_key.encode()).decode(),
            wireguard_listen_port=next(p for p in range(1000, 9000) if p not in node["wg_ports"]),
            peers=[],
            stats_aggregator=[],
        )
        return self.deploy(who, body)

    def container(
        self,
        who: Identity,
        node: dict[str, Any],
        pool_id: int,
        network: str,
        ip: str,
        public_ip6: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        fields = {
            "flist": "https://hub.grid.tf/tf-official-apps/redis_zinit.flist",
            "hub_url": "",
            "environment": {"A": "1"},
            "secret_environment": {"PASS": seal(node["public_key_hex"], "secret")},
            "entrypoint": "",
            "interactive": False,
            "volumes": [],
            "network_connection": [{"network_id": network, "ipaddress": ip, "public_ip6": public_ip6}],
            "logs": [],
            "stats_aggregator": [],
            "capacity": {"cpu": 1, "memory": 1024, "disk_size": 256, "disk_type": 1},
        }
        fields.update(extra)
        return self.workload_body(who, node["node_id"], pool_id, 1, **fields)

    def wait_result(self, workload_id: int, step: float = TEST_LATENCY) -> dict[str, Any]:
        """Advance the emulator clock until the node reported (no sleeping)."""
        for _ in range(20):
            workload = self.workload(workload_id)
            if workload["result"]["workload_id"]:
                return workload
            self.advance(step)
        raise AssertionError(f"workload {workload_id} never got a result")


# --------------------------------------------------------------------------------------------- real processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmulatorProcess:
    """A real `python -m emulators.grid` process."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    clients: list[HttpTransport] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> EmulatorProcess:
        self.port = free_port()
        command = [sys.executable, "-m", "emulators.grid", "--port", str(self.port), *self.args]
        # Output goes to a file, never a pipe: an unread pipe would block the server once it fills up.
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.log_path.read_text(errors="replace")[-3000:]
                raise AssertionError(f"emulator exited with {self.process.returncode}: {output}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(self.base_url + "/_emulator/healthz", timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        raise AssertionError("emulator did not become healthy")

    def stop(self) -> None:
        # Idle keep-alive connections would make gunicorn wait for them on a graceful stop.
        for client in self.clients:
            client.session.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def grid(self) -> Grid:
        transport = HttpTransport(self.base_url)
        self.clients.append(transport)
        return Grid(transport)
