"""The explorer client's metrics: every HTTP call to the grid explorer by endpoint (its path with the ids
replaced: ``/reservations/workloads/{id}``), method and outcome, and its latency. "Is the grid healthy?" is the
share of calls whose outcome is ``error`` (a 5xx) or ``unreachable`` (no answer in time)."""

from __future__ import annotations

import re

from prometheus_client import Counter, Histogram

from services.common.metrics import enabled

CALLS = Counter(
    "marketplace_explorer_calls",
    "HTTP calls to the grid explorer (each attempt), by endpoint, method and outcome (ok, rejected = 4xx,"
    " error = 5xx, unreachable = no answer)",
    ["endpoint", "method", "outcome"],
)
LATENCY = Histogram(
    "marketplace_explorer_call_duration_seconds",
    "Time an explorer call took (until its answer or its failure), by endpoint and method",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
_ID = re.compile(r"/\d+(?=/|$)")


def endpoint(path: str) -> str:
    """The path's template: numeric segments become ``{id}`` (a bounded label whatever the ids)."""
    return _ID.sub("/{id}", path.split("?", 1)[0])


def outcome(status: int | None) -> str:
    """The class of an answer's status (None: no answer)."""
    if status is None:
        return "unreachable"
    if status >= 500:
        return "error"
    return "rejected" if status >= 400 else "ok"


def record(method: str, path: str, status: int | None, seconds: float) -> None:
    """One call to the explorer ended with ``status`` (None: no answer) after ``seconds``."""
    if enabled():
        template = endpoint(path)
        CALLS.labels(template, method, outcome(status)).inc()
        LATENCY.labels(template, method).observe(seconds)
