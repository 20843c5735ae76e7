"""The chatflow against real parts: the deployer world (emulator, pools and deployer workers, PostgreSQL, Redis)
plus the chatflow web app, in process for API tests or as a gunicorn process where restarts matter."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask

from services.common.settings import load_settings
from tests.conftest import redis_db_url
from tests.integration.deployer.conftest import DeployerWorld, build_world


@dataclass
class ChatWorld:
    world: DeployerWorld
    app: Flask

    def post(self, path: str, owner: str, body: Any = None, terms: bool = True) -> Any:
        return self.app.test_client().post(path, json=body if body is not None else {},
                                           headers=self.world.headers(owner, terms))  # fmt: skip

    def get(self, path: str, owner: str) -> Any:
        return self.app.test_client().get(path, headers=self.world.headers(owner))

    def delete(self, path: str, owner: str) -> Any:
        return self.app.test_client().delete(path, headers=self.world.headers(owner))

    def start(self, owner: str, flow: str) -> dict[str, Any]:
        response = self.post(f"/api/chatflows/{flow}", owner)
        assert response.status_code == 201, response.json
        return dict(response.json)

    def answer(self, owner: str, session: dict[str, Any], answers: dict[str, Any], status: int = 200) -> Any:
        response = self.post(f"/api/chatflows/sessions/{session['id']}/answer", owner, {"answers": answers})
        assert response.status_code == status, response.json
        return response.json


@pytest.fixture(scope="package")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatWorld]:
    # CHATFLOW_TEST_REDIS_URL lets parallel runs of this package on one machine keep their Celery queues apart.
    redis_url = os.environ.get("CHATFLOW_TEST_REDIS_URL", redis_db_url(12))
    with build_world(tmp_path_factory.mktemp("chatflow"), redis_url) as world:
        from services.chatflow.app import create_app

        app = create_app(world.settings)
        yield ChatWorld(world, app)
        app.extensions["marketplace"].close()


# -- a service that is down ----------------------------------------------------------------------------------------

SILENT_REDIS_URL = redis_db_url(15)


@pytest.fixture
def silent_app(chat: ChatWorld) -> Iterator[Flask]:
    """The chatflow app on a Redis db no worker listens on, with a short timeout: every question goes unanswered."""
    from services.chatflow.app import create_app

    flush(SILENT_REDIS_URL)
    app = create_app(load_settings({**chat.world.env, "QUERY_TIMEOUT": "0.5", "REDIS_URL": SILENT_REDIS_URL}))
    try:
        yield app
    finally:
        forget_unanswered(app.extensions["marketplace"].celery.backend)
        app.extensions["marketplace"].close()
        flush(SILENT_REDIS_URL)  # the unanswered questions


def forget_unanswered(backend: Any) -> None:
    """Stop waiting for the questions nobody answered while the backend is open (the backend keeps every result
    it waits for; collected later, a result would reconnect to Redis to unsubscribe and leak that socket)."""
    for mapping in backend._pending_results:
        for waiters in list(mapping.values()):
            for result in list(waiters.values()):
                backend.remove_pending_result(result)
    gc.collect()


def flush(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
