"""The instruments' rules (services/common/*metrics.py, the services' metrics.py): bounded labels whatever the
input — route templates, explorer endpoints, failure and refusal classes — and ``METRICS=off`` recording nothing.
A real service app in process (single-process mode: the samples are in this process's registry)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import jsonify
from prometheus_client import REGISTRY

from services.auth.metrics import rejected
from services.common import explorer_metrics, metrics
from services.common.settings import Settings
from services.common.web import create_service_app
from services.deployer.metrics import reason_class

REQUESTS = "marketplace_http_requests_total"


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _app(make_settings: Callable[..., Settings], **env: str) -> Any:
    app = create_service_app("pools", "/api/pools", make_settings(**env), check_schema=False)

    @app.get("/api/pools/things/<int:thing>")
    def thing(thing: int) -> Any:
        return jsonify(thing=thing)

    return app


def test_requests_are_counted_by_route_template_and_status_class(make_settings: Callable[..., Settings]) -> None:
    client = _app(make_settings).test_client()
    route = "/api/pools/things/<int:thing>"
    before = _sample(REQUESTS, service="pools", method="GET", route=route, status="2xx")
    unmatched = _sample(REQUESTS, service="pools", method="GET", route="unmatched", status="4xx")
    latency = _sample("marketplace_http_request_duration_seconds_count", service="pools", route=route)
    for thing in (1, 2, 987654):
        assert client.get(f"/api/pools/things/{thing}").status_code == 200
    assert client.get("/api/pools/nothing/31337").status_code == 404
    assert _sample(REQUESTS, service="pools", method="GET", route=route, status="2xx") == before + 3
    assert _sample(REQUESTS, service="pools", method="GET", route="unmatched", status="4xx") == unmatched + 1
    assert _sample("marketplace_http_request_duration_seconds_count", service="pools", route=route) == latency + 3
    routes = {s.labels.get("route", "") for f in REGISTRY.collect() for s in f.samples if s.name == REQUESTS}
    assert not [r for r in routes if "987654" in r or "31337" in r], routes


def test_metrics_off_records_nothing(make_settings: Callable[..., Settings]) -> None:
    client = _app(make_settings, METRICS="off").test_client()
    route = "/api/pools/things/<int:thing>"
    try:
        before = _sample(REQUESTS, service="pools", method="GET", route=route, status="2xx")
        calls = _sample("marketplace_explorer_calls_total", endpoint="/nodes", method="GET", outcome="ok")
        assert client.get("/api/pools/things/5").status_code == 200
        explorer_metrics.record("GET", "/nodes", 200, 0.01)
        assert _sample(REQUESTS, service="pools", method="GET", route=route, status="2xx") == before
        assert _sample("marketplace_explorer_calls_total", endpoint="/nodes", method="GET", outcome="ok") == calls
    finally:
        metrics.switch(True)


def test_explorer_endpoints_and_outcomes_are_bounded() -> None:
    assert explorer_metrics.endpoint("/reservations/workloads/1234") == "/reservations/workloads/{id}"
    assert explorer_metrics.endpoint("/reservations/pools/7/extend?x=1") == "/reservations/pools/{id}/extend"
    assert explorer_metrics.endpoint("/nodes") == "/nodes"
    assert explorer_metrics.endpoint("/users/42") == "/users/{id}"
    assert [explorer_metrics.outcome(s) for s in (200, 204, 404, 409, 500, 503, None)] == [
        "ok", "ok", "rejected", "rejected", "error", "error", "unreachable"]  # fmt: skip


def test_failure_reasons_fall_into_classes() -> None:
    cases = {
        "container was not ready within 1 minute": "deadline",
        "the deployment was not ready in time (waiting for the grid)": "deadline",
        "the deployment could not be planned in time": "deadline",
        "the deployment could not go on: the pools service did not answer": "dependency",
        "the deployment stopped on an unexpected error (KeyError)": "error",
        "container was removed from the grid before it was deployed": "removed",
        "the grid refused the network update: bad signature": "grid",
        "container failed on the node: out of disk": "grid",
        "no node of pool 1 has 2 free CPU cores": "capacity",
        "something nobody wrote down": "other",
    }
    assert {reason: reason_class(reason) for reason in cases} == cases


def test_sign_in_refusals_are_words_of_their_fixed_sentences() -> None:
    assert rejected("the login was not approved in the app") == "rejected:login_was_not_approved_in_the_app"
    assert rejected("your e-mail address could not be verified") == "rejected:e_mail_address_could_not_be_verified"
    assert rejected("the 3Bot name in the login response is malformed") == (
        "rejected:3bot_name_in_the_login_response_is_malformed"
    )


def test_a_sample_file_a_forked_process_is_creating_does_not_fail_the_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A child creates its file (empty for an instant) before it sizes and maps it: a scrape at that instant read
    # it as a header and failed (struct.error → the metrics server answered 500; seen in CI under load).
    monkeypatch.setenv(metrics.MULTIPROC_DIR, str(tmp_path))
    (tmp_path / "counter_4242.db").write_bytes(b"")
    (tmp_path / "histogram_4243.db").write_bytes(b"\x00\x00")
    child = subprocess.run(
        [sys.executable, "-c", "from prometheus_client import Counter; Counter('seen', 'x').inc(3)"],
        env={**os.environ, metrics.MULTIPROC_DIR: str(tmp_path)},
        check=True,
    )
    assert child.returncode == 0
    text = metrics.render()
    assert "seen_total 3.0" in text
