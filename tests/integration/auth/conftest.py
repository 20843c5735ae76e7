"""A real login stack for the auth tests: Caddy, auth-web (gunicorn), the 3Bot Connect emulator, PostgreSQL,
Redis — plus a small deploy-capable probe service behind Caddy that uses the common user/terms helpers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

from services.common import assertion
from services.common.migrations import migrate
from services.common.settings import Settings, load_settings
from services.common.web import create_service_app, csrf_exempt, require_accepted_terms, user
from tests.conftest import PYTHON, TEST_DATABASE_URL, Processes, base_env, free_port, redis_db_url, wait_http

REDIS_DB = redis_db_url(7)
ASSERTION_TTL = 10  # short, so that "refused within the assertion TTL" is tested in seconds


@dataclass
class Stack:
    proxy: str  # http://localhost:<port> — the marketplace as browsers see it
    connect: str  # the 3Bot Connect emulator
    probe: str  # the probe service, reached directly (bypassing Caddy)
    env: dict[str, str]
    settings: Settings
    processes: Processes

    def browser(self) -> Browser:
        return Browser(self)

    def connect_config(self, **config: Any) -> None:
        requests.post(f"{self.connect}/_emulator/reset", timeout=5).raise_for_status()
        if config:
            requests.post(f"{self.connect}/_emulator/config", json=config, timeout=5).raise_for_status()


class Browser:
    """A cookie jar that walks the login protocol the way a browser and the phone app do."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = requests.Session()
        self.http.headers["Accept"] = "application/json"

    def start_login(self, next_path: str = "/") -> dict[str, str]:
        """GET /auth/login?provider=3bot; returns the provider query parameters of the redirect."""
        response = self.http.get(
            f"{self.stack.proxy}/auth/login", params={"provider": "3bot", "next": next_path}, allow_redirects=False
        )
        assert response.status_code == 302, response.text
        location = response.headers["Location"]
        assert location.startswith(self.stack.connect + "/?")
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    def attempt(self, params: dict[str, str], user: str = "alice.3bot", **switches: bool) -> str:
        """The callback URL the emulated phone app produces for ``params`` (with negative switches)."""
        body = {
            "user": user,
            "state": params["state"],
            "appid": params["appid"],
            "publickey": params["publickey"],
            "redirecturl": params["redirecturl"],
            **switches,
        }
        response = requests.post(f"{self.stack.connect}/_emulator/attempt", json=body, timeout=5)
        assert response.status_code == 200, response.text
        return str(response.json()["callback_url"])

    def callback(self, url: str) -> requests.Response:
        return self.http.get(url, allow_redirects=False)

    def login(self, user: str = "alice.3bot", next_path: str = "/") -> requests.Response:
        response = self.callback(self.attempt(self.start_login(next_path), user))
        assert response.status_code == 302, response.text
        return response

    def post(self, path: str, body: Any = None, **headers: str) -> requests.Response:
        return self.http.post(
            f"{self.stack.proxy}{path}", json=body or {}, headers={"Origin": self.stack.proxy, **headers}
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(f"{self.stack.proxy}{path}", allow_redirects=False, **kwargs)

    @property
    def session_cookie(self) -> str | None:
        return self.http.cookies.get("mp_session")

    @property
    def session_pass(self) -> str | None:
        return self.http.cookies.get("mp_pass")

    def drop_pass(self) -> None:
        """Forget the session pass, so the next API call goes through forward_auth again."""
        for cookie in [c for c in self.http.cookies if c.name == "mp_pass"]:
            self.http.cookies.clear(cookie.domain, cookie.path, cookie.name)


def _probe_app(settings: Settings) -> Flask:
    """A stand-in for any deploy-capable service: it trusts only the common helpers."""
    app = create_service_app("pools", "/api/pools", settings, check_schema=False)

    @app.get("/api/pools/whoami")
    def whoami() -> Any:
        caller = user()
        return jsonify(username=caller.username, email=caller.email, terms=caller.terms_version)

    @app.get("/api/pools/assertion")
    def the_assertion() -> Any:  # the token this request was let in with: forward_auth's, else the session pass
        user()
        via_auth = request.headers.get(assertion.ASSERTION_HEADER)
        return jsonify(token=via_auth or request.cookies.get("mp_pass"), via_auth=via_auth is not None)

    @app.post("/api/pools/spend")
    def spend() -> Any:
        caller = require_accepted_terms()
        return jsonify(spent_by=caller.username)

    @app.post("/api/pools/server-to-server")
    @csrf_exempt
    def server_to_server() -> Any:
        return jsonify(ok=True)

    return app


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("auth-stack")
    (tmp / "logs").mkdir()
    ports = {name: free_port() for name in ("PROXY_PORT", "AUTH_PORT", "CONNECT_EMULATOR_PORT", "POOLS_PORT")}
    connect = f"http://127.0.0.1:{ports['CONNECT_EMULATOR_PORT']}"
    env = base_env(
        tmp,
        APP_ENV="dev",
        MARKETPLACE_DOMAIN=f"localhost:{ports['PROXY_PORT']}",
        REDIS_URL=REDIS_DB,
        THREEBOT_LOGIN_URL=connect,
        OPENKYC_URL=connect,
        AUTH_SIGNING_SEED_FILE=str(tmp / "auth-signing.seed"),
        HTTP_READ_TIMEOUT="2",
        LOGIN_RATE_LIMIT="10000",
        ASSERTION_TTL=str(ASSERTION_TTL),
        WEB_CONCURRENCY="1",
        CHATFLOW_PORT="9",
        DEPLOYER_PORT="9",
        BACKUP_PORT="9",
        **{k: str(v) for k, v in ports.items()},
    )
    migrate(TEST_DATABASE_URL, ("auth",))
    settings = load_settings(env)
    processes = Processes(tmp / "logs")
    server: BaseWSGIServer | None = None
    try:
        processes.start("connect", [PYTHON, "-m", "deploy.role", "connect-emulator"], env)
        auth = processes.start("auth", [PYTHON, "-m", "deploy.role", "auth-web"], env)
        wait_http(f"{connect}/_emulator/healthz")
        wait_http(f"http://127.0.0.1:{ports['AUTH_PORT']}/healthz", proc=auth)
        server = make_server("127.0.0.1", ports["POOLS_PORT"], _probe_app(settings), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        proxy = processes.start("proxy", [PYTHON, "-m", "deploy.role", "proxy"], env)
        wait_http(f"http://127.0.0.1:{ports['PROXY_PORT']}/auth/healthz", proc=proxy)
        yield Stack(
            proxy=f"http://localhost:{ports['PROXY_PORT']}",
            connect=connect,
            probe=f"http://127.0.0.1:{ports['POOLS_PORT']}",
            env=env,
            settings=settings,
            processes=processes,
        )
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        processes.stop_all()


@pytest.fixture
def browser(stack: Stack) -> Browser:
    stack.connect_config()
    return stack.browser()


def error_message(response: requests.Response) -> str:
    body = response.json()
    assert set(body) == {"message", "errors", "request_id"}, body
    return str(body["message"])


def dumps(value: Any) -> str:
    return json.dumps(value)


def forget_terms(database: str, username: str) -> None:
    """Remove a user's terms acceptances (the suite shares one database across tests)."""
    import psycopg2

    conn = psycopg2.connect(database)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM auth.terms_acceptance WHERE user_id = (SELECT id FROM auth.users WHERE username = %s)",
                (username,),
            )
    finally:
        conn.close()
