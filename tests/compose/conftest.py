"""The compose stack for ``tests/compose`` (``make test-compose`` only: the marker ``compose`` is deselected by
default)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.compose.stack import Compose, start


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
