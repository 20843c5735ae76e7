"""SQL of the domains our live solutions use (SOLUTIONS §1.9: a candidate name "used by a live subdomain in the DB"
is taken even before the grid or the DNS shows it)."""

from __future__ import annotations

from typing import Any

from services.deployer.states import LIVE_SOLUTION

# Held (per transaction) while a planner picks a domain and records it with its placements: two deployments that
# draw the same label cannot both take it.
_DOMAIN_LOCK = 0x646F6D61  # "doma"


def lock_domains(cur: Any) -> None:
    cur.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": _DOMAIN_LOCK})


def domain_in_use(cur: Any, domain: str, exclude: str | None = None) -> bool:
    """Whether a live solution (other than ``exclude``) placed a gateway on ``domain`` or runs a subdomain,
    proxy or delegation for it (compared without case and trailing dot)."""
    cur.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM deployer.solutions s
            WHERE s.status = ANY(%(live)s) AND s.id IS DISTINCT FROM %(exclude)s::uuid
              AND jsonb_path_exists(s.placed, '$.*.gateway.domain ? (@ == $d)', jsonb_build_object('d', %(d)s::text))
        ) OR EXISTS (
            SELECT 1 FROM deployer.workloads w
            WHERE w.kind IN ('subdomain', 'reverse_proxy', 'proxy', 'domain_delegate')
              AND w.state NOT IN ('failed', 'deleted', 'superseded')
              AND w.solution_id IS DISTINCT FROM %(exclude)s::uuid
              AND lower(rtrim(w.body->>'domain', '.')) = %(d)s
        ) AS used
        """,
        {"live": list(LIVE_SOLUTION), "exclude": exclude, "d": domain.lower().rstrip(".")},
    )
    return bool(cur.fetchone()["used"])
