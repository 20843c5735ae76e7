"""The "initialising" wait of a hosted 3Bot (SOLUTIONS §3.12): once its workloads are deployed, its
``https://<fqdn>/admin`` must answer before it is up.

A solution whose planner declares ``ready_fqdn`` ends its deployment ``deployed`` with ``Status: initialising`` in
its outputs (its workloads are on the grid and stay there whatever follows). Beat runs :func:`sweep` every
``THREEBOT_READY_INTERVAL``: one GET of each waiting 3Bot's ``THREEBOT_READY_URL`` (``https://{fqdn}/admin``;
tests point it at a loopback double), with the outbound timeouts and ``THREEBOT_READY_CA`` when set. A success
(any status below 400: the admin page or its redirect to the login) → ``Status: up``; no success within
``THREEBOT_READY_WAIT`` of the deployment's end (decided at the first tick after it, so up to one try's
timeout — at most the interval — later) → ``Status`` and ``error`` say :data:`FAILURE`, an event says so,
and the workloads stay for support to inspect (the user cancels as for any solution). Nothing of this waits in a
web process, and a restarted worker simply continues with the next tick.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import structlog

from services.common.settings import Settings
from services.deployer import finishing, store
from services.deployer.context import Deployer
from services.deployer.solutions import PLANNERS

INITIALISING, UP = finishing.INITIALISING, "up"
FAILURE = "3Bot did not come up, contact support"
MAX_PARALLEL = 8
log = structlog.get_logger(__name__)


def url_of(settings: Settings, fqdn: str) -> str:
    return settings.threebot_ready_url.replace("{fqdn}", fqdn)


def answers(settings: Settings, url: str) -> bool:
    """True when ``url`` answers with a status below 400 (connection errors and timeouts are "not yet")."""
    verify: bool | str = str(settings.threebot_ready_ca) if settings.threebot_ready_ca else True
    # One try never outlasts the interval: a 3Bot that accepts and never answers holds a worker slot one tick.
    read = min(settings.http_read_timeout, settings.threebot_ready_interval)
    try:
        response = requests.get(url, timeout=(min(settings.http_connect_timeout, read), read), verify=verify,
                                allow_redirects=False)  # fmt: skip
    except requests.RequestException:
        return False
    response.close()
    return response.status_code < 400


def _fqdn(dep: Deployer, sol: dict[str, Any]) -> str:
    planner = PLANNERS.get(sol["type"])
    ready = getattr(planner, "ready_fqdn", None)
    if planner is None or ready is None:
        return ""
    with dep.db.transaction() as cur:
        rows = store.workloads_of(cur, str(sol["id"]))
    return str(ready(planner.spec_model.model_validate(sol["spec"]), finishing.views(sol, rows)))


def sweep(dep: Deployer) -> dict[str, int]:
    """One look at every initialising 3Bot; returns how many came up, failed, and still wait."""
    with dep.db.transaction() as cur:
        waiting = store.awaiting_readiness(cur)
    if not waiting:
        return {"up": 0, "failed": 0, "waiting": 0}
    targets = {str(sol["id"]): _fqdn(dep, sol) for sol in waiting}
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(waiting))) as pool:
        results = dict(zip(targets, pool.map(lambda fqdn: bool(fqdn) and answers(dep.settings, url_of(
            dep.settings, fqdn)), targets.values()), strict=True))  # fmt: skip
    counts = {"up": 0, "failed": 0, "waiting": 0}
    now = datetime.now(UTC)
    limit = timedelta(seconds=dep.settings.threebot_ready_wait)
    for sol in waiting:
        sid = str(sol["id"])
        if results[sid]:
            counts["up"] += _end(dep, sid, UP, None, f"3Bot is up: {url_of(dep.settings, targets[sid])} answered")
        elif sol["finished_at"] is None or now - sol["finished_at"] >= limit:
            counts["failed"] += _end(dep, sid, FAILURE, FAILURE, f"{FAILURE} (its /admin did not answer within "
                                     f"{dep.settings.threebot_ready_wait:g} s; its workloads are kept)")  # fmt: skip
        else:
            counts["waiting"] += 1
    return counts


def _end(dep: Deployer, solution_id: str, status: str, error: str | None, event: str) -> int:
    with dep.db.transaction() as cur:
        if not store.end_readiness(cur, solution_id, status, error):
            return 0  # another sweep, or a cancel, was first
        store.add_event(cur, solution_id, event, "info" if error is None else "error")
    log.info("3Bot readiness decided", solution=solution_id, status=status)
    return 1
