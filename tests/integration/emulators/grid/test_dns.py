"""The gateways' authoritative DNS (dns_zones.py, dns_server.py), asked with `dig` as an outside client would.

Real emulator processes with ``--dns-port``; workloads are created, signed and deleted through the explorer API.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.resolver
import pytest
from grid_emulator_client import REPO_ROOT, TEST_LATENCY, EmulatorProcess, Grid, free_port
from grid_emulator_signing import Identity

pytestmark = [
    pytest.mark.stack,
    pytest.mark.usefixtures("dig_installed"),
]


@dataclass
class Dig:
    port: int

    def run(self, name: str, rtype: str = "A", *options: str) -> str:
        command = ["dig", "@127.0.0.1", "-p", str(self.port), name, rtype, "+time=2", "+tries=1", *options]
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False).stdout

    def short(self, name: str, rtype: str = "A", *options: str) -> list[str]:
        return sorted(self.run(name, rtype, "+short", *options).split())

    def status(self, name: str, rtype: str = "A", *options: str) -> str:
        found = re.search(r"status: (\w+)", self.run(name, rtype, *options))
        assert found, f"no answer for {name}"
        return found.group(1)


@dataclass
class World:
    emulator: EmulatorProcess
    grid: Grid
    dig: Dig
    alice: Identity
    pool_id: int
    gateway: dict[str, Any]


@pytest.fixture
def world(spawn: Callable[..., EmulatorProcess]) -> World:
    port = free_port()
    emulator = spawn("--dns-port", str(port))
    grid = emulator.grid()
    alice = grid.register("alice.3bot")
    _, gateways = grid.farm_nodes(1)
    pool_id = grid.paid_pool(alice, [g["node_id"] for g in gateways], cus=1000, sus=1000)
    return World(emulator, grid, Dig(port), alice, pool_id, gateways[0])


def _gateway_workload(w: World, workload_type: int, **fields: Any) -> int:
    workload_id = w.grid.deploy(w.alice, w.grid.workload_body(w.alice, w.gateway["node_id"], w.pool_id,
                                                              workload_type, **fields))  # fmt: skip
    assert w.grid.wait_result(workload_id)["result"]["state"] == 1
    return workload_id


def _delete(w: World, workload_id: int) -> None:
    assert w.grid.sign_delete(w.alice, workload_id).status == 201
    w.grid.advance(TEST_LATENCY + 0.1)
    assert w.grid.workload(workload_id)["next_action"] == 6


def test_subdomain_answers_its_ips_over_udp_and_tcp_then_nxdomain_once_deleted(world: World) -> None:
    w = world
    parent = w.gateway["managed_domains"][0]
    nameserver = w.gateway["dns_nameserver"][0]
    # The deployer resolves the gateway's nameserver hosts to fill Subdomain.ips (SOLUTIONS §1.9).
    [gateway_ip] = w.dig.short(nameserver)
    assert gateway_ip.startswith("185.69.")
    fqdn = f"alice3bot-pad.{parent}"
    assert w.dig.status(fqdn) == "NXDOMAIN"

    subdomain = _gateway_workload(w, 7, domain=fqdn, ips=[gateway_ip])
    assert w.dig.short(fqdn) == [gateway_ip]
    assert w.dig.short(fqdn, "A", "+tcp") == [gateway_ip]
    assert w.dig.short(fqdn.upper() + ".") == [gateway_ip]  # names are case-insensitive
    # No IPv6 among its ips: the gateway's own IPv6 answers AAAA.
    assert w.dig.short(fqdn, "AAAA") == w.dig.short(nameserver, "AAAA") != []
    assert "flags: qr aa" in w.dig.run(fqdn)

    unknown = w.dig.run(f"nobody.{parent}")
    assert "status: NXDOMAIN" in unknown and f"{parent}.\t300\tIN\tSOA\t{nameserver}." in unknown
    assert w.dig.short(parent, "NS") == [nameserver + "."]
    assert w.dig.status("example.com") == "REFUSED"

    _delete(w, subdomain)
    assert w.dig.status(fqdn) == "NXDOMAIN"
    assert w.dig.status(fqdn, "A", "+tcp") == "NXDOMAIN"


def test_a_delegated_domain_answers_ns_and_its_subdomains_until_deleted(world: World) -> None:
    w = world
    nameserver = w.gateway["dns_nameserver"][0]
    assert w.dig.status("alice-example.org", "NS") == "REFUSED"

    delegation = _gateway_workload(w, 8, domain="Alice-Example.org")
    assert w.dig.short("alice-example.org", "NS") == [nameserver + "."]
    assert w.dig.short("alice-example.org", "NS", "+tcp") == [nameserver + "."]
    assert w.dig.status("alice-example.org", "SOA") == "NOERROR"
    assert w.dig.status("www.alice-example.org") == "NXDOMAIN"
    # Solution Expose "Delegated <domain>": a subdomain under it on the same gateway resolves.
    _gateway_workload(w, 7, domain="www.alice-example.org", ips=["198.51.100.7", "2001:db8::7"])
    assert w.dig.short("www.alice-example.org") == ["198.51.100.7"]
    assert w.dig.short("www.alice-example.org", "AAAA") == ["2001:db8::7"]

    _delete(w, delegation)
    assert w.dig.status("alice-example.org", "NS") == "REFUSED"
    assert w.dig.status("www.alice-example.org") == "REFUSED"


def test_answers_survive_a_restart(world: World, spawn: Callable[..., EmulatorProcess]) -> None:
    w = world
    fqdn = "kept." + w.gateway["managed_domains"][0]
    _gateway_workload(w, 7, domain=fqdn, ips=["198.51.100.9"])
    w.emulator.stop()
    # Same state file (the spawn default), the port from the environment this time.
    restarted = spawn(extra_env={"GRID_EMULATOR_DNS_PORT": str(w.dig.port)})
    assert restarted.grid().admin("GET", "/info").body["dns_port"] == w.dig.port
    assert w.dig.short(fqdn) == ["198.51.100.9"]
    assert w.dig.status("gone." + w.gateway["managed_domains"][0]) == "NXDOMAIN"


def test_outage_switch_leaves_queries_unanswered(world: World) -> None:
    w = world
    nameserver = w.gateway["dns_nameserver"][0]
    assert w.grid.admin("POST", "/config", {"dns_outage": True}).body["dns_outage"] is True
    silent = w.dig.run(nameserver, "A", "+time=1")
    assert "timed out" in silent and "status:" not in silent
    assert "status:" not in w.dig.run(nameserver, "A", "+time=1", "+tcp")
    assert w.grid.admin("POST", "/config", {"dns_outage": False}).status == 200
    assert w.dig.status(nameserver) == "NOERROR"


def test_a_dns_port_in_use_is_a_start_up_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "emulators.grid", "--port", str(free_port()), "--dns-port", str(port),
                   "--state", str(tmp_path / "state.sqlite3")]  # fmt: skip
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert f"DNS port 127.0.0.1:{port}" in done.stderr


def test_the_gateway_checks_delegations_and_subdomains_under_them(grid: Grid, alice: Identity) -> None:
    bob = grid.register("bob.3bot")
    _, gateways = grid.farm_nodes(1)
    gateway = gateways[0]
    pools = {who.name: grid.paid_pool(who, [gateway["node_id"]], cus=1000, sus=1000) for who in (alice, bob)}

    def result(who: Identity, workload_type: int, **fields: Any) -> dict[str, Any]:
        body = grid.workload_body(who, gateway["node_id"], pools[who.name], workload_type, **fields)
        return dict(grid.wait_result(grid.deploy(who, body))["result"])

    managed = gateway["managed_domains"][0]
    assert "managed by this gateway" in result(alice, 8, domain=f"x.{managed}")["message"]
    assert result(alice, 8, domain="alice-example.org")["state"] == 1
    assert "already delegated" in result(bob, 8, domain="alice-example.org")["message"]
    # Only the customer who delegated the domain may put subdomains under it.
    assert "not a subdomain" in result(bob, 7, domain="www.alice-example.org", ips=[])["message"]
    assert result(alice, 7, domain="www.alice-example.org", ips=[])["state"] == 1


def test_dnspython_sees_the_same_answers_as_the_deployer_would(world: World) -> None:
    """The deployer's client (services/deployer/domains.py uses dnspython with DNS_RESOLVER as its only server)."""
    w = world
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = ["127.0.0.1"], w.dig.port
    resolver.timeout = resolver.lifetime = 1.0
    fqdn = "alice3bot-wiki." + w.gateway["managed_domains"][0]
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve(fqdn, "A")
    _gateway_workload(w, 7, domain=fqdn, ips=["198.51.100.20"])
    assert [r.address for r in resolver.resolve(fqdn, "A")] == ["198.51.100.20"]
    assert [r.address for r in resolver.resolve(fqdn, "A", tcp=True)] == ["198.51.100.20"]
    w.grid.admin("POST", "/config", {"dns_outage": True})
    with pytest.raises(dns.exception.Timeout):
        resolver.resolve(fqdn, "A")
