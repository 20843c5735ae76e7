"""Fixtures for the connect emulator tests; the helpers they hand out live in connect_emulator_support.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from nacl.signing import SigningKey

# The helpers live next to this file; with --import-mode=importlib they are not importable by default.
sys.path.insert(0, str(Path(__file__).parent))

from connect_emulator_support import (
    Browser,
    EmulatorProcess,
    Marketplace,
    StartEmulator,
    start_emulator_process,
)

from emulators.connect import EmulatorConfig, create_app


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The whole directory runs in seconds; a hang (a server that never answers) should fail fast, not in 300 s.
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.timeout(60))


@pytest.fixture(scope="session")
def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    tmp = tmp_path_factory.mktemp("connect-emulator")
    emulator = start_emulator_process(tmp, ["--state-dir", str(tmp / "state")])
    yield emulator
    emulator.stop()


@pytest.fixture
def live(shared_emulator: EmulatorProcess) -> str:
    """Base URL of the shared emulator process, reset to no faults and no remembered attempts."""
    assert shared_emulator.proc.poll() is None, shared_emulator.log()
    response = requests.post(f"{shared_emulator.base_url}/_emulator/reset", timeout=5)
    assert response.status_code == 200
    return shared_emulator.base_url


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[StartEmulator]:
    """Start extra emulator processes with their own flags; all are stopped after the test."""
    started: list[EmulatorProcess] = []

    def start(*args: str, env: Mapping[str, str] | None = None) -> EmulatorProcess:
        emulator = start_emulator_process(tmp_path, list(args), env)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    """The real app in-process (no server), for the many quick input-validation checks."""
    return create_app(EmulatorConfig(state_dir=tmp_path / "state")).test_client()


@pytest.fixture
def browser() -> Browser:
    return Browser()


@pytest.fixture
def marketplace(live: str) -> Marketplace:
    """A marketplace with a freshly generated identity, talking to the shared emulator."""
    return Marketplace(live, seed=bytes(SigningKey.generate()))
