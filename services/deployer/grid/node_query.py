"""What a deployment asks of one node: the query :mod:`node_finder` answers and :mod:`node_explain` words.

Its own module so the finder and the explainer both import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.common.capacity import Resources


@dataclass(frozen=True)
class NodeQuery:
    """What a deployment needs from one node. None / False / () leave a filter off."""

    resources: Resources
    node_ids: Sequence[str] | None = None  # the pool's nodes
    farm_id: int | None = None
    country: str | None = None
    city: str | None = None
    free_to_use: bool = False  # paying with FreeTFT
    public_ipv4: bool = False
    public_ipv6: bool = False
    exclude: Sequence[str] = ()  # nodes already chosen for this deployment (or to avoid)
    pool_label: str | None = None  # how messages name the pool, e.g. "pool 12" (default "your pool")
