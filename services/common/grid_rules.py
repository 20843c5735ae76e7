"""Rules about the grid that more than one service applies, defined once: when a node counts as up (GRID_API §5.4)
and which address range a user network may have (SOLUTIONS §3.2).
"""

from __future__ import annotations

import ipaddress
import time

# A node is up while its last heartbeat (the explorer's ``updated``) is at most this old (GRID_API §5.4).
NODE_UP_SECONDS = 600
NODE_UP_WORDS = f"no heartbeat in the last {NODE_UP_SECONDS // 60} minutes"

PRIVATE_IPV4 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
NETWORK_RANGE_HELP = "a private (RFC 1918) /16, e.g. 10.20.0.0/16 or 172.16.0.0/16"


def node_is_up(updated: float | int | None, now: float | None = None) -> bool:
    """True when a node whose last heartbeat was at ``updated`` (epoch seconds) is up at ``now``."""
    return int(updated or 0) >= (time.time() if now is None else now) - NODE_UP_SECONDS


def network_range_problem(value: str) -> str | None:
    """Why ``value`` cannot be a user network's range (a network-aligned RFC 1918 IPv4 /16), or None when it can."""
    try:
        net = ipaddress.IPv4Network(value)
    except ValueError:
        return "not an IPv4 network like 10.20.0.0/16"
    if net.prefixlen != 16 or not any(net.subnet_of(block) for block in PRIVATE_IPV4):
        return f"must be {NETWORK_RANGE_HELP}"
    return None
