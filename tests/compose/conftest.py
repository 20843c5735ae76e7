"""The compose stack for ``tests/compose``: run by ``make test-compose`` (``-m compose``) only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.compose.stack import Compose, start


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the ``compose`` tests unless the marker expression names them: ``make test`` (and any other
    ``-m``, such as ``-m "not slow"``) never starts containers."""
    if "compose" in (config.getoption("markexpr") or ""):
        return
    deselected = [item for item in items if item.get_closest_marker("compose")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("compose")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compose]:
    """The dev profile up and healthy; its containers' logs are saved before it goes down (path printed)."""
    compose = start(tmp_path_factory.mktemp("compose") / "logs")
    compose.down()  # what an interrupted run left behind
    try:
        compose.up()
        yield compose
    finally:
        compose.save_logs()
        print(f"\ncontainer logs: {compose.logs}")
        compose.down()
