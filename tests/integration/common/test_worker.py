"""Real Celery workers (no eager mode) consuming their own queues through the real Redis."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from celery import Celery

from services.common import contracts
from services.common.settings import Settings, load_settings
from services.common.tasks import send
from tests.conftest import PYTHON, Processes, base_env, redis_db_url


def _wait_for_worker(app: Celery, service: str, proc_log: Callable[[], str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "ready" in proc_log():
            return
        time.sleep(0.2)
    raise AssertionError(f"{service} worker did not become ready:\n{proc_log()}")


@pytest.fixture
def queue_env(tmp_path: Path) -> dict[str, str]:
    # A Redis db of its own: leftover messages of other tests (or of a dev stack) can never reach these workers.
    return base_env(tmp_path, REDIS_URL=redis_db_url(4), WORKER_CONCURRENCY="1")


@pytest.mark.parametrize("service", ["deployer", "pools", "backup"])
def test_ping_round_trip_through_each_worker_queue(
    service: str, queue_env: dict[str, str], processes: Processes, celery_clients: Callable[[Settings], Celery]
) -> None:
    processes.start(service, [PYTHON, "-m", "deploy.role", f"{service}-worker"], queue_env)
    client = celery_clients(load_settings(queue_env))
    _wait_for_worker(client, service, lambda: processes.log(service))
    pong = send(client, f"{service}.ping", contracts.Ping(echo="marco")).get(timeout=20)
    assert contracts.Pong.model_validate(pong).service == service
    assert pong["echo"] == "marco"
    # A malformed message is dropped (logged) instead of crashing or retrying forever.
    assert client.send_task(f"{service}.ping", kwargs={"payload_json": {"echo": 5}}).get(timeout=20) is None
    assert "invalid task payload dropped" in processes.log(service)
    # Task logs carry the task id and name.
    assert f"task_name={service}.ping" in processes.log(service) or f'"task_name": "{service}.ping"' in processes.log(
        service
    )


def test_a_queue_is_only_consumed_by_its_own_service(
    queue_env: dict[str, str], processes: Processes, celery_clients: Callable[[Settings], Celery]
) -> None:
    processes.start("pools", [PYTHON, "-m", "deploy.role", "pools-worker"], queue_env)
    client = celery_clients(load_settings(queue_env))
    _wait_for_worker(client, "pools", lambda: processes.log("pools"))
    client.control.purge()
    result = send(client, contracts.BACKUP_PING, contracts.Ping(echo="nobody"), expires=5)
    with pytest.raises(Exception, match="timed out"):
        result.get(timeout=3)
    assert result.state == "PENDING"
    # Stop listening for it now, while the backend is open (otherwise its __del__ reconnects to unsubscribe).
    client.backend.remove_pending_result(result)
