"""The grid rules several services share, defined once: the node-up window and a user network's range."""

from __future__ import annotations

import pytest

from services.common.grid_rules import NODE_UP_SECONDS, NODE_UP_WORDS, network_range_problem, node_is_up


def test_a_node_is_up_within_the_window_and_down_after_it() -> None:
    now = 1_800_000_000.0
    assert node_is_up(now - NODE_UP_SECONDS, now)
    assert not node_is_up(now - NODE_UP_SECONDS - 1, now)
    assert not node_is_up(None, now)  # never seen
    assert NODE_UP_WORDS == "no heartbeat in the last 10 minutes"


@pytest.mark.parametrize("value", ["10.20.0.0/16", "172.31.0.0/16", "192.168.0.0/16"])
def test_private_16s_are_network_ranges(value: str) -> None:
    assert network_range_problem(value) is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("10.20.1.0/16", "not an IPv4 network"),  # host bits set
        ("fd00::/16", "not an IPv4 network"),
        ("banana", "not an IPv4 network"),
        ("10.20.0.0/24", "must be a private (RFC 1918) /16"),
        ("8.8.0.0/16", "must be a private (RFC 1918) /16"),
        ("172.32.0.0/16", "must be a private (RFC 1918) /16"),
    ],
)
def test_other_ranges_are_refused_with_the_reason(value: str, why: str) -> None:
    problem = network_range_problem(value)
    assert problem is not None and problem.startswith(why)
