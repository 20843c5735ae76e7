"""The marketplace's own certificate, obtained by the real Caddy from ``proxy/Caddyfile`` from a real ACME server.

Pebble (Debian ``pebble``) is the CA; ``pebble-challtestsrv`` is only its DNS, answering 127.0.0.1 for every name,
so Pebble validates the HTTP-01/TLS-ALPN-01 challenge against Caddy on loopback (Caddy's HTTP/HTTPS on high ports,
and Pebble told those ports). Everything is started as ``python -m deploy.role proxy`` would be in production
with ``ACME_CA`` at Pebble and ``ACME_CA_ROOT`` its listener's certificate.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from deploy.run_local import load_env_file
from tests.conftest import PYTHON, ROOT, Processes, free_port

DOMAIN = "marketplace.pebble.test"


@dataclass
class Acme:
    https_port: int
    root_pem: str  # Pebble's issuing root, fetched from its management endpoint
    processes: Processes


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """The certificate of Pebble's own HTTPS listener (Caddy trusts it through ACME_CA_ROOT)."""
    cert, key = tmp / "pebble.pem", tmp / "pebble.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=pebble",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args!r} exited with {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {timeout}s")


@pytest.fixture
def acme(tmp_path: Path, processes: Processes) -> Acme:
    cert, key = _self_signed(tmp_path)
    dns, dns_admin, directory, admin = free_port(), free_port(), free_port(), free_port()
    http_port, https_port = free_port(), free_port()
    processes.start("dns", [
        "pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
        "-dns01", f"127.0.0.1:{dns}", "-management", f"127.0.0.1:{dns_admin}",
        "-http01", "", "-https01", "", "-tlsalpn01", "",
    ], {})  # fmt: skip
    config = tmp_path / "pebble.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{directory}", "managementListenAddress": f"127.0.0.1:{admin}",
        "certificate": str(cert), "privateKey": str(key),
        "httpPort": http_port, "tlsPort": https_port, "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
    }}))  # fmt: skip
    pebble = processes.start(
        "pebble",
        ["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{dns}"],
        {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
    )
    _wait_port(admin, pebble)
    env: dict[str, str] = {}
    load_env_file(ROOT / "dev.env", env)
    env.update({
        "MARKETPLACE_DOMAIN": DOMAIN, "ACME_EMAIL": "ops@example.org", "TEST_CERT": "true",
        "ACME_CA": f"https://127.0.0.1:{directory}/dir", "ACME_CA_ROOT": str(cert),
        "PROXY_HTTP_PORT": str(http_port), "PROXY_HTTPS_PORT": str(https_port),
        "CADDY_DATA_DIR": str(tmp_path / "caddy"),
    })  # fmt: skip
    caddy = processes.start("caddy", [PYTHON, "-m", "deploy.role", "proxy"], env)
    _wait_port(https_port, caddy)
    root = requests.get(f"https://127.0.0.1:{admin}/roots/0", verify=str(cert), timeout=10)
    root.raise_for_status()
    return Acme(https_port, root.text, processes)


def _get_verified(acme: Acme, path: str, timeout: float = 60) -> tuple[dict[str, Any], bytes]:
    """GET ``path`` on the marketplace over TLS verified against Pebble's root only (SNI and name: the domain),
    retrying until Caddy has its certificate. Returns the served certificate (as parsed by ssl) and the response."""
    context = ssl.create_default_context(cadata=acme.root_pem)  # trusts nothing but Pebble
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            with (
                socket.create_connection(("127.0.0.1", acme.https_port), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname=DOMAIN) as tls,
            ):
                tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n".encode())
                chunks = []
                while chunk := tls.recv(65536):
                    chunks.append(chunk)
                return tls.getpeercert() or {}, b"".join(chunks)
        except (OSError, ssl.SSLError) as exc:
            last = repr(exc)
            time.sleep(0.5)
    raise AssertionError(
        f"no verified HTTPS within {timeout}s ({last})\n{acme.processes.log('caddy')[-3000:]}"
        f"\n{acme.processes.log('pebble')[-2000:]}"
    )


def _headers(response: bytes) -> dict[str, str]:
    head = response.split(b"\r\n\r\n", 1)[0].decode()
    lines = head.split("\r\n")
    return {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}


def test_caddy_obtains_the_domain_certificate_from_the_acme_ca(acme: Acme) -> None:
    cert, response = _get_verified(acme, "/")
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    issuer = dict(pair for rdn in cert["issuer"] for pair in rdn)
    assert issuer["commonName"].startswith("Pebble Intermediate CA"), issuer
    assert ("DNS", DOMAIN) in cert["subjectAltName"]
    log = acme.processes.log("caddy")
    assert "certificate obtained successfully" in log and DOMAIN in log


def test_public_site_sends_hsts_csp_and_the_other_security_headers(acme: Acme) -> None:
    _, response = _get_verified(acme, "/")
    headers = _headers(response)
    assert headers["strict-transport-security"] == "max-age=31536000"
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
