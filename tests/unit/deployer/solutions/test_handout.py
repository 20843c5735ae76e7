"""The planners' file hooks: which solutions hand out a one-time WireGuard file, how it is named and built, and why
it is not there yet (the deployer's side: tests/integration/deployer/test_wireguard.py, test_gateway_solutions.py)."""

from __future__ import annotations

import pytest

from services.deployer.solutions import PLANNERS
from services.deployer.solutions.handout import NO_FILE, handout


class Files:
    """A :class:`FileOps` over fixed ids, writing down what it was asked."""

    def __init__(self, workloads: dict[str, int], laptop: int | None) -> None:
        self.workloads = workloads
        self.laptop = laptop
        self.asked: list[str] = []

    def workload_id(self, key: str) -> int | None:
        self.asked.append(key)
        return self.workloads.get(key)

    def laptop_resource_id(self) -> int | None:
        self.asked.append("laptop")
        return self.laptop


def test_the_network_its_access_points_and_the_4to6_gateway_hand_out_a_file() -> None:
    assert {t for t, p in PLANNERS.items() if handout(p).hands_out_file} == {"network", "network_access", "4to6gw"}
    assert handout(PLANNERS["ubuntu"]) is NO_FILE and NO_FILE.file_id(Files({}, 5)) is None


@pytest.mark.parametrize("type_", ["network", "network_access"])
def test_a_laptops_file_is_named_after_its_first_network_resource_and_exists_once_planned(type_: str) -> None:
    hooks, ops = handout(PLANNERS[type_]), Files({"gateway4to6": 9}, 41)
    assert hooks.file_id(ops) == 41 and ops.asked == ["laptop"]
    assert hooks.file_id(Files({}, None)) is None  # the deployer falls back to the solution id
    assert hooks.not_ready("submitted") == hooks.not_ready("planning") == "the network is still being planned"
    assert hooks.not_ready("deploying") is None and hooks.not_ready("deployed") is None
    assert hooks.build_file(None, [], {}) is None  # made while planning, not from the results


def test_a_4to6_file_is_named_after_its_workload_and_exists_once_the_gateway_answered() -> None:
    hooks, ops = handout(PLANNERS["4to6gw"]), Files({"gateway4to6": 1001}, 41)
    assert hooks.file_id(ops) == 1001 and ops.asked == ["gateway4to6"]
    assert hooks.not_ready("planning") == "the network is still being planned"
    assert hooks.not_ready("deploying") == "the gateway has not answered"
    assert hooks.not_ready("deployed") is None
