"""The metrics every web service gets from ``create_service_app``: requests by route template and status class,
and their latency.

The route is Flask's URL rule (``/api/solutions/<solution_id>``), never the raw path: one series per route, however
many ids the callers send; a path no route matches is ``unmatched``.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "marketplace_http_requests",
    "HTTP requests answered, by service, method, route template and status class (2xx, 4xx, 5xx…)",
    ["service", "method", "route", "status"],
)
LATENCY = Histogram(
    "marketplace_http_request_duration_seconds",
    "Time from the request's arrival in the service to its answer, by route template",
    ["service", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def install(app: Flask, service: str) -> None:
    """Count and time every answer of ``app`` (after the request ids: ``g.started`` is set by then)."""

    def record(response: Response) -> Response:
        rule = request.url_rule
        route = rule.rule if rule is not None else "unmatched"
        started = g.get("started")
        REQUESTS.labels(service, request.method, route, f"{response.status_code // 100}xx").inc()
        if started is not None:
            LATENCY.labels(service, route).observe(time.monotonic() - started)
        return response

    app.after_request(record)
