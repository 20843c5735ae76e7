"""The deployer's metrics, scraped from real processes as Prometheus would: a deployer web process (the gauges read
from PostgreSQL and Redis at scrape time) and a deployer worker (tasks, explorer calls, deployments, the poller),
around the deployer test world (a grid emulator, a pools worker, beat)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from services.common import contracts
from services.common.tasks import send
from tests.conftest import PYTHON, free_port, redis_db_url, wait_http
from tests.integration.deployer.conftest import DeployerWorld, build_world
from tests.integration.metrics.scrape import scrape, until, value

SOLUTIONS = "marketplace_deployer_solutions"
STUCK = "marketplace_deployer_stuck_solutions"
DEPLOYED_SECONDS = "marketplace_deployer_submit_to_deployed_seconds_count"
EXPLORER_CALLS = "marketplace_explorer_calls_total"


@dataclass
class Metered:
    world: DeployerWorld
    web: int  # the deployer web process's metrics port
    worker: int  # the deployer worker's


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Metered]:
    # Workload deadline 5 s: a grid slower than that leaves a deployment past its deadline (the stuck test).
    with build_world(tmp_path_factory.mktemp("metrics"), redis_db_url(13), WORKLOAD_DEADLINE="5") as world:
        ports = {"DEPLOYER_PORT": free_port(), "DEPLOYER_WEB_METRICS_PORT": free_port(),
                 "DEPLOYER_WORKER_METRICS_PORT": free_port()}  # fmt: skip
        world.env.update({name: str(port) for name, port in ports.items()})
        # One deployer worker, serving its pool's metrics (two would want the same port), and the web process.
        for proc in world.workers:
            world.kill(proc)
        world.workers.clear()
        world.start_worker("deployer-worker-metered")
        web = world.processes.start("deployer-web", [PYTHON, "-m", "deploy.role", "deployer-web"], world.env)
        wait_http(f"http://127.0.0.1:{ports['DEPLOYER_PORT']}/healthz", proc=web)
        send(world.celery, contracts.DEPLOYER_PING, contracts.Ping()).get(timeout=60)
        yield Metered(world, ports["DEPLOYER_WEB_METRICS_PORT"], ports["DEPLOYER_WORKER_METRICS_PORT"])


def _owner() -> str:
    return f"m{uuid.uuid4().hex[:8]}.3bot"


def test_a_deployment_moves_the_state_gauges_and_the_histogram(metered: Metered) -> None:
    world = metered.world
    owner = _owner()
    pool = world.pool(owner)
    before_web, before_worker = scrape(metered.web), scrape(metered.worker)

    sol = world.deploy(owner, "network", {"name": "metered", "pool_ids": [pool]})
    assert sol["status"] == "deployed", world.events(str(sol["id"]))

    web = scrape(metered.web)
    assert value(web, SOLUTIONS, state="deployed") == value(before_web, SOLUTIONS, state="deployed") + 1
    assert value(web, STUCK) == 0
    worker = until(metered.worker, lambda s: value(s, DEPLOYED_SECONDS, type="network") >= 1)
    assert value(worker, DEPLOYED_SECONDS, type="network") == value(before_worker, DEPLOYED_SECONDS, type="network") + 1
    took = value(worker, "marketplace_deployer_submit_to_deployed_seconds_sum", type="network")
    assert 0 < took < 60
    # The worker's tasks, its calls to the grid (by endpoint template, never an id) and the poller's ticks.
    assert value(worker, "marketplace_celery_tasks_total", task=contracts.DEPLOYER_SUBMIT, outcome="success") >= 1
    assert value(worker, EXPLORER_CALLS, endpoint="/reservations/workloads", method="POST", outcome="ok") >= 1
    endpoints = {labels["endpoint"] for name, labels, _ in worker if name == EXPLORER_CALLS}
    assert endpoints and not [e for e in endpoints if any(c.isdigit() for c in e)], endpoints
    assert value(worker, "marketplace_deployer_poll_tick_duration_seconds_count") >= 1
    # The deployer's web requests are counted by route template.
    requests.get(f"http://127.0.0.1:{world.env['DEPLOYER_PORT']}/api/solutions/{sol['id']}", timeout=5)
    routes = scrape(metered.web)
    assert value(routes, "marketplace_http_requests_total", route="/api/solutions/<solution_id>", status="4xx") >= 1
    assert not [labels for name, labels, _ in routes if str(sol["id"]) in labels.get("route", "")]


def test_a_stuck_solution_shows_in_the_stuck_gauge_and_leaves_it_when_rolled_back(metered: Metered) -> None:
    world = metered.world
    owner = _owner()
    pool = world.pool(owner)
    rollbacks = value(scrape(metered.worker), "marketplace_deployer_rollbacks_total", reason="deadline")
    # The grid takes 60 s to deploy anything: longer than the 5 s the deployer gives a workload.
    world.admin("config", {"deploy_latency": {"default": 60}})
    try:
        answer = world.submit(owner, "network", {"name": "slow", "pool_ids": [pool]})
        assert answer["ok"], answer
        solution_id = answer["solution_id"]
        world.wait(solution_id, states=("deploying",), timeout=30)
        # No worker acts on its deadline: it stays deploying past it, counted stuck.
        with world.stopped("stuck"):
            until(metered.web, lambda s: value(s, STUCK) == 1, timeout=30)
        # Workers back: the deadline fails it, the rollback removes it, and it leaves the gauge.
        sol = world.wait(solution_id, states=("rolled_back",), timeout=60)
        assert "was not ready within" in " ".join(world.events(solution_id)), world.events(solution_id)
    finally:
        world.healthy()
    assert sol["status"] == "rolled_back"
    until(metered.web, lambda s: value(s, STUCK) == 0, timeout=10)
    worker = until(metered.worker, lambda s: value(s, "marketplace_deployer_rollbacks_total", reason="deadline") > 0)
    assert value(worker, "marketplace_deployer_rollbacks_total", reason="deadline") == rollbacks + 1


def test_queue_depth_rises_while_the_workers_are_stopped_and_falls_after(metered: Metered) -> None:
    world = metered.world
    depth = "marketplace_celery_queue_depth"
    assert value(until(metered.web, lambda s: value(s, depth, queue="deployer") == 0), depth, queue="deployer") == 0
    with world.stopped("queue"):
        for _ in range(20):
            send(world.celery, contracts.DEPLOYER_PING, contracts.Ping())
        waiting = until(metered.web, lambda s: value(s, depth, queue="deployer") >= 20)
        assert value(waiting, depth, queue="deployer") >= 20
    until(metered.web, lambda s: value(s, depth, queue="deployer") == 0, timeout=60)


def test_explorer_errors_injected_at_20_percent_show_in_the_error_ratio(metered: Metered) -> None:
    world = metered.world

    def totals() -> tuple[float, float]:
        samples = scrape(metered.worker)
        failed = value(samples, EXPLORER_CALLS, outcome="error") + value(samples, EXPLORER_CALLS, outcome="unreachable")
        return failed, value(samples, EXPLORER_CALLS)

    failed_before, calls_before = totals()
    world.admin("config", {"error_rate": 0.2})
    try:
        # Each refresh of the node index lists the grid's nodes; a 500 is retried (each attempt counts). One at a
        # time: refreshes that meet share one listing.
        for _ in range(200):
            send(world.celery, contracts.DEPLOYER_REFRESH_NODES, contracts.RefreshNodes()).get(timeout=120)
    finally:
        world.healthy()
    failed_after, calls_after = totals()
    calls = calls_after - calls_before
    ratio = (failed_after - failed_before) / calls
    # 200 listings and their retries: about 250 calls, 20 % ± 2.5 % (one standard deviation) failed.
    assert calls >= 200
    assert 0.12 <= ratio <= 0.28, (ratio, calls)


def test_a_task_retried_on_a_transient_error_is_counted(metered: Metered) -> None:
    world = metered.world
    task = contracts.DEPLOYER_REFRESH_NODES
    retries = value(scrape(metered.worker), "marketplace_celery_task_retries_total", task=task)
    world.admin("config", {"error_rate": 1.0})  # every explorer call fails: the listing's 3 attempts, then a retry
    try:
        result = send(world.celery, task, contracts.RefreshNodes())
        until(metered.worker, lambda s: value(s, "marketplace_celery_task_retries_total", task=task) > retries)
    finally:
        world.healthy()
    assert result.get(timeout=60) > 0  # the retry, on a healthy grid, lists the nodes
    worker = until(metered.worker, lambda s: value(s, "marketplace_celery_tasks_total", task=task, outcome="retry") > 0)
    assert value(worker, "marketplace_celery_task_retries_total", task=task) >= retries + 1
