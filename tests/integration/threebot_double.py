"""A loopback stand-in for hosted 3Bots' ``/admin`` (SOLUTIONS §3.12's "initialising" wait), over real TLS.

The deployer's ``THREEBOT_READY_URL`` points at ``https://127.0.0.1:<port>/{fqdn}/admin`` and its
``THREEBOT_READY_CA`` at this double's self-signed certificate (made with openssl): one server answers for every 3Bot,
telling them apart by the fqdn in the path. A 3Bot marked ``up`` answers ``/admin`` like one (a 302 to its login
page); one marked ``hang`` accepts the connection and never answers (the deployer's read timeout ends each try);
any other is not there yet (503).
"""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

UP, HANG = "up", "hang"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA): (certificate, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists():
        command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                   "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                   "-addext", "subjectAltName=IP:127.0.0.1"]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=30)
    return cert, key


def ready_url(port: int) -> str:
    return f"https://127.0.0.1:{port}/{{fqdn}}/admin"


class ThreebotDouble:
    """Serves on ``port`` until :meth:`stop`; ``behaviour[fqdn]`` is ``UP`` or ``HANG``; ``asked`` counts tries."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.directory = port, directory
        self.behaviour: dict[str, str] = {}
        self.default = ""  # the behaviour of a 3Bot not in ``behaviour``
        self.asked: dict[str, int] = {}
        self._stop = threading.Event()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fqdn, _, rest = self.path.lstrip("/").partition("/")
                double.asked[fqdn] = double.asked.get(fqdn, 0) + 1
                mode = double.behaviour.get(fqdn, double.default)
                if mode == HANG:
                    double._stop.wait(60)  # never answers while the test runs
                    return
                if mode == UP and rest == "admin":
                    self.send_response(302)
                    self.send_header("Location", f"https://{fqdn}/auth/login?next_url=/admin")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        cert, key = make_certificate(directory)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_asked(self, fqdn: str, times: int = 1, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while self.asked.get(fqdn, 0) < times:
            if time.monotonic() > end:
                raise AssertionError(f"{fqdn}/admin was asked {self.asked.get(fqdn, 0)} times, not {times}")
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


def for_env(env: dict[str, str]) -> ThreebotDouble:
    """The double a world's workers ask (its THREEBOT_READY_URL's port, its THREEBOT_READY_CA's certificate)."""
    port = urlsplit(env["THREEBOT_READY_URL"].replace("{fqdn}", "x")).port
    assert port is not None
    return ThreebotDouble(port, Path(env["THREEBOT_READY_CA"]).parent)
