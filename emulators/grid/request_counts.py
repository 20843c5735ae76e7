"""How many requests the emulator answered, per method and route (`GET /_emulator/stats`): what a benchmark reads
to count the explorer calls a deployment costs, without parsing logs."""

from __future__ import annotations

import threading
from collections import Counter

from flask import Flask, current_app, request

_EXTENSION = "grid_request_counts"


class RequestCounts:
    """Counters shared by the server threads of the one worker process (the lock keeps increments whole)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))


def install(app: Flask) -> None:
    app.extensions[_EXTENSION] = RequestCounts()


def count_request() -> None:
    """Count the current request under its route template (``GET /api/v1/reservations/workloads/<raw_id>``), so
    the counters stay few whatever the ids; a path no route matches is counted as ``unrouted``."""
    rule = request.url_rule.rule if request.url_rule is not None else "unrouted"
    current_app.extensions[_EXTENSION].add(f"{request.method} {rule}")


def request_counts() -> dict[str, int]:
    counts: RequestCounts = current_app.extensions[_EXTENSION]
    return counts.snapshot()
