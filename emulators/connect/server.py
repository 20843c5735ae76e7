"""gunicorn embedded in the process, so ``python -m emulators.connect`` needs no separate server command."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

# Threads, not processes: all state (fault switches, remembered attempts) lives in one worker's memory, and
# a few threads let a request stuck in an injected delay not block the page or the admin endpoints.
THREADS = 8


class EmulatorServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(app: Flask, host: str, port: int) -> None:
    """Run until SIGTERM/SIGINT. gunicorn exits the process itself if it cannot bind."""
    EmulatorServer(
        app,
        {
            "bind": bind_address(host, port),
            "workers": 1,
            "worker_class": "gthread",
            "threads": THREADS,
            # Short, so tests and `make run` stop quickly; nothing here needs a long drain.
            "graceful_timeout": 3,
            # No keep-alive: gunicorn's gthread worker lingers ~2 s on SIGTERM for each kept-alive
            # connection, which made every test restart slow; a local emulator gains nothing from reuse.
            "keepalive": 0,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "connect-emulator",
            # gunicorn's control socket has one default path per user: a second gunicorn (the grid emulator,
            # a parallel test run) would fight over it, and the emulator has no use for it.
            "control_socket_disable": True,
        },
    ).run()
