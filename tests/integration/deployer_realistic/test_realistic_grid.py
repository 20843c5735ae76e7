"""The deployer path on a grid with realistic latencies (`--profile realistic`, GRID_API §12): slow by nature.

One Ubuntu solution, through the deployer workers, on an emulator whose explorer calls take 0.1 s, network
resources 10 s, containers 30 s and deletions 5 s: it must reach ``deployed`` and, cancelled, ``cancelled``,
with nothing left on the grid. The deadlines are the production-like ones, far above those latencies.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.conftest import redis_db_url
from tests.integration.deployer.conftest import DeployerWorld, build_world
from tests.integration.deployer.test_lifecycle import ubuntu_spec
from tests.integration.deployer.test_reliability import assert_grid_matches_index

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployerWorld]:
    redis_url = os.environ.get("DEPLOYER_TEST_REDIS_URL", redis_db_url(14))
    # Poll every 2 s as §12 suggests; a workload may take minutes.
    with build_world(tmp_path_factory.mktemp("realistic"), redis_url, WORKLOAD_DEADLINE="600",
                     DEPLOY_POLL_INTERVAL="2", HTTP_READ_TIMEOUT="10") as built:  # fmt: skip
        config = built.admin("config", {"profile": "realistic"}).json()
        assert config["deploy_latency"]["container"] == 30.0 and config["extra_latency"] == 0.1
        yield built


@pytest.mark.timeout(600)
def test_ubuntu_deploys_and_cancels_on_a_realistic_grid(world: DeployerWorld) -> None:
    owner = "rita.3bot"
    started = time.monotonic()
    network = world.network(owner)
    assert time.monotonic() - started >= 10  # a network resource takes 10 s: the profile is in force
    sol = world.deploy(owner, "ubuntu", ubuntu_spec(world, owner, "slowbox"), timeout=300)
    assert sol["status"] == "deployed", world.events(str(sol["id"]))
    deployed_after = time.monotonic() - started
    assert deployed_after >= 40, deployed_after  # network 10 s + container 30 s at least
    assert world.cancel(owner, str(sol["id"])).status_code == 202
    assert world.wait(str(sol["id"]), ("cancelled",), timeout=120)["status"] == "cancelled"
    world.assert_gone_from_grid(str(sol["id"]), timeout=60)
    assert world.cancel(owner, network).status_code == 202
    assert world.wait(network, ("cancelled",), timeout=120)["status"] == "cancelled"
    assert_grid_matches_index(world)
