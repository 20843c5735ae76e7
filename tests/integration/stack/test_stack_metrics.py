"""Every process of the stack (``make run``'s ``deploy.run_local``) serves its metrics on an internal port of its
own, which the banner names; Caddy answers 404 for any metrics path; sign-ins and Celery tasks move the counters."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from deploy.role import ROLES, metrics_port_variable
from services.common import contracts
from services.common.settings import load_settings
from services.common.tasks import close_celery, make_celery, send
from tests.conftest import base_env, free_port, redis_db_url
from tests.e2e.test_wizard_ubuntu import running_stack
from tests.integration.auth.conftest import Browser
from tests.integration.metrics.scrape import scrape, until, value

METERED = [role for role in ROLES if role.endswith(("-web", "-worker"))]
SERVICES = {"auth-web": "auth", "chatflow-web": "chatflow", "deployer-web": "deployer", "pools-web": "pools",
            "backup-web": "backup"}  # fmt: skip
HTTP_REQUESTS = "marketplace_http_requests_total"
QUEUES = ("chatflow", "deployer", "pools", "backup")
METRICS_PATHS = ("/metrics", "/metrics/", "/auth/metrics", "/api/chatflows/metrics", "/api/solutions/metrics",
                 "/api/pools/metrics", "/api/backup/metrics", "/api/solutions/1/metrics", "/s/metrics")  # fmt: skip


@pytest.mark.stack
def test_every_process_serves_its_metrics_inside_and_caddy_none(tmp_path: Path) -> None:
    ports = {metrics_port_variable(role): free_port() for role in METERED}
    with running_stack(tmp_path, "marketplace_metrics", **{k: str(v) for k, v in ports.items()}) as stack:
        proxy = stack["proxy"]
        banner = (Path(stack["logs"]) / "stack.log").read_text()
        for role in METERED:
            assert f"{role}" in banner and f":{ports[metrics_port_variable(role)]}/metrics" in banner, role

        # Not published: Caddy answers every metrics path 404 in the standard shape, signed in or not.
        browser = Browser(SimpleNamespace(proxy=proxy, connect=stack["connect"]))  # type: ignore[arg-type]
        for client in (requests.Session(), None):
            for path in METRICS_PATHS:
                answer = (client or browser.http).get(f"{proxy}{path}", allow_redirects=False, timeout=5)
                assert answer.status_code == 404, (path, answer.status_code)
                assert answer.json()["errors"][0]["code"] == "not_found" and "marketplace_" not in answer.text
            if client is not None:
                browser.login("alice.3bot")  # the second round is signed in

        # Sign-ins by outcome, sessions alive (auth-web's port).
        refused = browser.callback(browser.attempt(browser.start_login(), "alice.3bot", wrong_app_id=True))
        assert refused.status_code == 400, refused.text
        auth = until(ports["AUTH_WEB_METRICS_PORT"],
                     lambda s: value(s, "marketplace_auth_logins_total", outcome="ok") >= 1)  # fmt: skip
        assert value(auth, "marketplace_auth_login_attempts_total") >= 2
        outcomes = {labels["outcome"] for name, labels, _ in auth if name == "marketplace_auth_logins_total"}
        assert outcomes == {"ok", "rejected:login_attempt_was_made_for_another_site"}, outcomes
        assert value(auth, "marketplace_auth_active_sessions") >= 1

        # Every web process: its requests by route template; the gauges it reads at scrape time.
        requests.get(f"{proxy}/api/backup/healthz", timeout=5)
        for role, service in SERVICES.items():
            samples = until(ports[metrics_port_variable(role)],
                            lambda s, svc=service: value(s, HTTP_REQUESTS, service=svc) >= 1)  # fmt: skip
            if service in QUEUES:
                assert [1 for name, labels, _ in samples
                        if name == "marketplace_celery_queue_depth" and labels == {"queue": service}], role  # fmt: skip
        deployer = scrape(ports["DEPLOYER_WEB_METRICS_PORT"])
        assert value(deployer, "marketplace_deployer_stuck_solutions") == 0
        assert {labels["state"] for name, labels, _ in deployer if name == "marketplace_deployer_solutions"} >= {
            "submitted", "deploying", "deployed", "rolled_back"}  # fmt: skip
        pools = scrape(ports["POOLS_WEB_METRICS_PORT"])
        assert [1 for name, _, _ in pools if name == "marketplace_pools_reservations_awaiting_payment"]

        # Every worker: the tasks it ran, by name and outcome.
        celery = make_celery(load_settings(base_env(tmp_path, REDIS_URL=redis_db_url(10))))
        try:
            for queue in QUEUES:
                pong = send(celery, f"{queue}.ping", contracts.Ping(echo="metrics")).get(timeout=60)
                assert pong["service"] == queue
                until(ports[metrics_port_variable(f"{queue}-worker")],
                      lambda s, q=queue: value(s, "marketplace_celery_tasks_total", task=f"{q}.ping",
                                               outcome="success") >= 1)  # fmt: skip
        finally:
            close_celery(celery)
