"""One planner per solution type (SOLUTIONS §3): spec → placements → staged workload lists → listing keys."""

from __future__ import annotations

from services.deployer.solutions import (
    app_registry,
    delegated_domain,
    exposed,
    flist,
    gateway4to6,
    gitea,
    gollum,
    kubernetes,
    minio,
    monitoring,
    network,
    network_access,
    threebot,
    ubuntu,
)
from services.deployer.solutions.base import Planner

PLANNERS: dict[str, Planner] = {
    planner.type: planner
    for planner in (
        network.PLANNER,
        network_access.PLANNER,
        ubuntu.PLANNER,
        flist.PLANNER,
        kubernetes.PLANNER,
        minio.PLANNER,
        monitoring.PLANNER,
        gitea.PLANNER,
        gollum.PLANNER,
        exposed.PLANNER,
        delegated_domain.PLANNER,
        gateway4to6.PLANNER,
        threebot.PLANNER,
    )
}
# The apps: one planner per file of apps/definitions/ (an operator's join at start-up: app_registry.install).
PLANNERS.update({planner.type: planner for planner in app_registry.builtin()})

# Every type of SOLUTIONS §6.1, the ones the solutions list shows and counts (those without a planner yet count 0;
# an access point is not listed: it shows with its network).
LISTED_TYPES = ("network", "ubuntu", "kubernetes", "minio", "monitoring", "flist", "gitea", "gollum",
                "4to6gw", "delegated_domain", "exposed", "publisher", "peertube", "discourse", "mattermost", "threebot",
                "cryptpad", "pools", "wiki", "blog", "website", "taiga")  # fmt: skip


def listed_types() -> tuple[str, ...]:
    """The listed types and every app an operator added (``app_registry.install``) after them."""
    return LISTED_TYPES + tuple(t for t in app_registry.app_types(PLANNERS) if t not in LISTED_TYPES)
