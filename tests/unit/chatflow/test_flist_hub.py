"""The flist wizard's hub check cannot be pointed elsewhere (services/chatflow/flows/flist.py).

A loopback server records every connection it accepts. The URLs below once passed the check (``urlsplit`` saw
``hub.grid.tf``) while ``requests`` connected to 127.0.0.1; now none of them is ever fetched. The check follows no
redirect and ends within its deadline against a server that dribbles its answer.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from services.chatflow.flows import flist


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0
        self.paths: list[str] = []


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def setup(self) -> None:
        self.server.connections += 1  # any connection counts, TLS or not, before a byte is parsed
        super().setup()

    def do_HEAD(self) -> None:
        self.server.paths.append(self.path)
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "/elsewhere.flist")
        elif self.path.startswith("/slow"):
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for _ in range(40):  # one header line every 0.5 s: each read is quick, the whole answer is not
                self.wfile.write(b"X-Drip: 1\r\n")
                self.wfile.flush()
                time.sleep(0.5)
            return
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.shutdown()
    recorder.server_close()


@pytest.mark.parametrize(
    "template",
    [
        "https://127.0.0.1:{port}\\@hub.grid.tf/x.flist",  # urlsplit: user "127.0.0.1:{port}\\"; urllib3: the host
        "https://127.0.0.1:{port}@hub.grid.tf/x.flist",
        "https://hub.grid.tf:{port}@127.0.0.1:{port}/x.flist",
        "https://127.0.0.1:{port}/.hub.grid.tf/x.flist",
        "https://hub.grid.tf\\@127.0.0.1:{port}/x.flist",
        "https://hub.grid.tf:{port}/x.flist",
        "https://hub.grid.tf/x.flist?@127.0.0.1:{port}",
        "https://hub.grid.tf/x.flist#@127.0.0.1:{port}",
    ],
)
def test_no_url_that_names_another_host_is_fetched(server: Recorder, template: str) -> None:
    url = template.format(port=server.server_address[1])
    assert flist.image_problem(url, deadline=3) is not None
    time.sleep(0.2)
    assert server.connections == 0, url


@pytest.mark.parametrize("url", ["https://127.0.0.1\\.hub.grid.tf/x", "https://127.0.0.1\\.hub.grid.tf/x.flist"])
def test_a_backslash_host_is_never_requested(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # urlsplit's host ends in .hub.grid.tf; urllib3 stops the host at "\" and connects to 127.0.0.1:443, which
    # no test can listen on here: every request the check makes is recorded instead.
    asked: list[str] = []

    def head(target: str, **kwargs: Any) -> Any:
        asked.append(target)
        raise requests.ConnectionError("recorded, not sent")

    monkeypatch.setattr(requests, "head", head)
    assert flist.image_problem(url, deadline=3) is not None
    assert asked == []


def test_a_redirect_is_not_followed(server: Recorder) -> None:
    status = flist.hub_status(f"http://127.0.0.1:{server.server_address[1]}/moved.flist")
    assert status == 302
    assert server.paths == ["/moved.flist"]


def test_the_whole_check_ends_within_its_deadline(server: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same check against a loopback "hub" (only the URL rule is widened; the requests are the real ones).
    monkeypatch.setattr(flist, "HUB_IMAGE", re.compile(r"http://127\.0\.0\.1:\d+/[a-z.]+"))
    started = time.monotonic()
    problem = flist.image_problem(f"http://127.0.0.1:{server.server_address[1]}/slow.flist", deadline=2)
    assert time.monotonic() - started < 3
    assert problem == "the hub did not answer in time; try again"
    assert server.paths == ["/slow.flist"]


def test_a_well_formed_hub_url_passes_the_offline_rule() -> None:
    for url in (
        "https://hub.grid.tf/tf-official-apps/redis_zinit.flist",
        "https://a.hub.grid.tf/u.3bot/x-1.0.flist",
        "https://hub.grid.tf/tf-official-apps/tls-proxy:latest.flist",
    ):
        assert flist.HUB_IMAGE.fullmatch(url)
