"""The chatflow against real parts: the deployer world (emulator, pools and deployer workers, PostgreSQL, Redis)
plus the chatflow web app, in process for API tests or as a gunicorn process where restarts matter."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

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
