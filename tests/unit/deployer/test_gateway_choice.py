"""Gateway discovery and the CT-log budget count (SOLUTIONS §1.9), as pure functions of what the grid and the
log answered."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from services.deployer.domains import WEEKLY_CERTIFICATES, weekly_labels
from services.deployer.gateways import usable, with_suffix

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def entry(name: str, days_ago: float) -> dict[str, object]:
    stamp = (NOW - timedelta(days=days_ago)).replace(tzinfo=None).isoformat(timespec="milliseconds")
    return {"name_value": name, "entry_timestamp": stamp, "issuer_name": "C=US, O=Let's Encrypt"}


def test_weekly_labels_counts_distinct_first_labels_of_the_last_seven_days() -> None:
    entries = [
        entry("a.gw1.grid.example", 1),
        entry("a.gw1.grid.example\nwww.a.gw1.grid.example", 2),  # "a" again, and "www" (its first label)
        entry("*.b.gw1.grid.example", 3),
        entry("old.gw1.grid.example", 8),  # outside the window
        entry("c.gw2.grid.example", 1),  # another parent
        {"name_value": "bad-stamp.gw1.grid.example", "entry_timestamp": "yesterday"},
        "not an object",
    ]
    assert weekly_labels(entries, "gw1.grid.example", NOW) == 3


def test_fifty_labels_use_the_budget_up() -> None:
    entries = [entry(f"l{i}.gw1.grid.example", 1) for i in range(WEEKLY_CERTIFICATES)]
    assert weekly_labels(entries, "gw1.grid.example", NOW) == WEEKLY_CERTIFICATES
    assert weekly_labels(entries[:-1], "gw1.grid.example", NOW) == WEEKLY_CERTIFICATES - 1


def gw(node_id: str, *, up: bool = True, nameservers: tuple[str, ...] = ("ns1.gw.example",)) -> dict[str, object]:
    return {"node_id": node_id, "updated": int(time.time()) - (30 if up else 3600), "managed_domains": ["gw.example"],
            "dns_nameserver": list(nameservers), "tcp_router_port": 18000}  # fmt: skip


def test_usable_gateways_are_up_with_a_name_server_and_in_one_of_the_users_pools() -> None:
    listing = [gw("mine"), gw("down", up=False), gw("mute", nameservers=()), gw("theirs"), gw("also-mine")]
    pools = {3: ["node-a", "also-mine"], 1: ["mine", "down", "mute", "also-mine"]}
    found = {g.node_id: (g.pool_id, g.grid_pool_id) for g in usable(listing, pools, {1: 501, 3: 503})}
    # The lowest pool id holding a gateway is its gateway pool; "theirs" is in no pool of the user.
    assert found == {"mine": (1, 501), "also-mine": (1, 501)}


def test_suffix_keeps_a_valid_label() -> None:
    assert with_suffix("alice-git", 4242) == "alice-git-4242"
    long = with_suffix("a" * 62 + "-", 100000)
    assert len(long) == 63 and long.endswith("a-100000")
