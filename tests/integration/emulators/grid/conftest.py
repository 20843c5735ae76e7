"""Fixtures for the grid emulator tests: a fresh emulator per test (Flask test client) or real processes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The shared client lives next to this file; with --import-mode=importlib it is not importable by default.
sys.path.insert(0, str(Path(__file__).parent))

from grid_emulator_client import (
    REPO_ROOT,
    TEST_LATENCY,
    EmulatorProcess,
    FlaskTransport,
    Grid,
)
from grid_emulator_signing import Identity

from emulators.grid.app import create_app
from emulators.grid.config import DeployLatency, EmulatorConfig, Knobs


def emulator_config(tmp_path: Path, **overrides: Any) -> EmulatorConfig:
    # Payments are credited at once here; test_payments.py exercises the delay.
    # Node reports are immediate and exact (no other tenants) here; test_node_truth.py exercises both.
    knobs = Knobs(
        deploy_latency=DeployLatency(TEST_LATENCY),
        delete_latency=TEST_LATENCY,
        payment_delay=0.0,
        report_lag=0.0,
        other_tenants=0.0,
    )
    values: dict[str, Any] = {"state_path": tmp_path / "state.sqlite3", "knobs": knobs}
    values.update(overrides)
    return EmulatorConfig(**values)


@pytest.fixture
def make_grid(tmp_path: Path) -> Callable[..., Grid]:
    """A Grid over the Flask test client with a fresh state file (config overrides as keyword arguments)."""

    def make(**overrides: Any) -> Grid:
        app = create_app(emulator_config(tmp_path, **overrides))
        return Grid(FlaskTransport(app.test_client()))

    return make


@pytest.fixture
def grid(make_grid: Callable[..., Grid]) -> Grid:
    return make_grid()


@pytest.fixture
def alice(grid: Grid) -> Identity:
    return grid.register("alice.3bot")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., EmulatorProcess]]:
    """Start real emulator processes (all stopped at teardown). Extra CLI args as positional strings."""
    started: list[EmulatorProcess] = []
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith("GRID_EMULATOR_")}

    def start(*args: str, state: Path | None = None, extra_env: dict[str, str] | None = None) -> EmulatorProcess:
        state_args = ["--state", str(state or tmp_path / "state.sqlite3")]
        latency = ["--deploy-latency", str(TEST_LATENCY), "--delete-latency", str(TEST_LATENCY), "--payment-delay", "0",
                   "--report-lag", "0", "--other-tenants", "0"]  # fmt: skip
        log_path = tmp_path / f"emulator-{len(started)}.log"
        emulator = EmulatorProcess([*state_args, *latency, *args], {**env, **(extra_env or {})}, log_path)
        started.append(emulator)
        return emulator.start()

    yield start
    for emulator in started:
        emulator.stop()
