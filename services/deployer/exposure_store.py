"""SQL of Solution Expose and Domain Delegation (SOLUTIONS §3.9, §3.10): the user's delegated domains and the
exposed solutions that stand on them."""

from __future__ import annotations

from typing import Any

from services.deployer.states import LIVE_SOLUTION, TEARING_DOWN

# A delegation counts while it may still be (or become) served; an exposure while it holds workloads on the grid.
_HOLDING = [*LIVE_SOLUTION, *TEARING_DOWN]


_DELEGATIONS = """
    SELECT id, name, spec FROM deployer.solutions
    WHERE owner = %(owner)s AND type = ANY(%(types)s) AND status = 'deployed'
      AND (%(domain)s::text IS NULL OR name = %(domain)s)
    ORDER BY created_at
"""
_DELEGATIONS_LOCKED = _DELEGATIONS + " FOR SHARE"


def delegations(cur: Any, owner: str, types: list[str], domain: str | None = None, *,
                share_lock: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """The owner's deployed domain delegations (solutions of ``types``; of ``domain`` when given), oldest first.
    ``share_lock`` holds them until the transaction ends: a cancel (which locks the row for update) waits, and
    then sees what this transaction stood on them."""
    params = {"owner": owner, "types": types, "domain": domain}
    cur.execute(_DELEGATIONS_LOCKED if share_lock else _DELEGATIONS, params)
    return [dict(r) for r in cur.fetchall()]


def exposed_under(cur: Any, owner: str, types: list[str], domain: str) -> list[dict[str, Any]]:
    """The owner's exposed solutions (of ``types``, not yet cancelled) whose name is under the delegated ``domain``."""
    cur.execute(
        """
        SELECT id, name FROM deployer.solutions
        WHERE owner = %(owner)s AND type = ANY(%(types)s) AND status = ANY(%(holding)s)
          AND spec->>'domain_type' = 'delegated' AND spec->>'parent' = %(domain)s
        ORDER BY name
        """,
        {"owner": owner, "types": types, "domain": domain, "holding": _HOLDING},
    )
    return [dict(r) for r in cur.fetchall()]
