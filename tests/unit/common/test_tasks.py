from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.common import contracts
from services.common.settings import Settings
from services.common.tasks import define_task, make_celery


def test_celery_factory_applies_the_house_conventions(settings: Settings) -> None:
    conf = make_celery(settings, "deployer").conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit == settings.task_time_limit
    assert conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_default_queue == "deployer"
    assert conf.broker_transport_options["visibility_timeout"] == settings.broker_visibility_timeout


def test_tasks_are_routed_to_their_service_queue(settings: Settings) -> None:
    app = make_celery(settings)
    router = app.amqp.router
    assert router.route({}, "pools.ping")["queue"].name == "pools"
    assert router.route({}, "deployer.submit_solution")["queue"].name == "deployer"


def test_task_wrapper_refuses_unknown_options(settings: Settings) -> None:
    app = make_celery(settings, "pools")
    with pytest.raises(TypeError, match="retries"):
        define_task(app, "pools.do_thing", contracts.Ping, retries=3)


def test_task_wrapper_refuses_a_name_without_service(settings: Settings) -> None:
    app = make_celery(settings, "pools")
    with pytest.raises(ValueError, match="service"):
        define_task(app, "do_thing", contracts.Ping)


def test_task_wrapper_sets_reliability_options(settings: Settings) -> None:
    app = make_celery(settings, "pools")

    @define_task(app, "pools.check_thing", contracts.Ping, time_limit=30, retry_on=(ConnectionError,), max_retries=7)
    def check(payload: contracts.Ping) -> contracts.Pong:
        return contracts.Pong(service="pools", echo=payload.echo, worker="w")

    assert check.name == "pools.check_thing"
    assert check.acks_late is True
    assert check.reject_on_worker_lost is True
    assert check.time_limit == 30
    assert check.soft_time_limit == 25
    assert check.autoretry_for == (ConnectionError,)
    assert check.max_retries == 7
    assert check.retry_backoff is True
    assert check.retry_jitter is True
    # Run in-process (not eager Celery: the function itself) to prove payload parsing and JSON results.
    assert check.run(payload_json={"echo": "x"}) == {"version": 1, "service": "pools", "echo": "x", "worker": "w"}
    assert check.run(payload_json={"echo": "x", "unknown": 1}) is None


def test_payloads_are_versioned_and_strict() -> None:
    assert contracts.Ping().version == 1
    with pytest.raises(ValidationError):
        contracts.Ping.model_validate({"echo": "x", "owner": "mallory.3bot"})
    with pytest.raises(ValidationError):
        contracts.Ping.model_validate({"version": 2})
    assert contracts.queue_of("backup.ping") == "backup"
    for bad in ("ping", ".ping", "backup."):
        with pytest.raises(ValueError):
            contracts.queue_of(bad)
