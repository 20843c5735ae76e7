"""The shapes of the deployer's HTTP API: the query the listing takes and the answers every view gives."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from services.common.openapi import Media


class ListQuery(BaseModel):
    """Which solutions to list."""

    type: str | None = Field(None, description="only solutions of this type (unknown type: 404)")


class Listed(BaseModel):
    """A solution as listed, with the listing keys of its type (``Name``, ``wids``, addresses…)."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    name: str
    status: str
    error: str | None
    created: str


class Solutions(BaseModel):
    """The caller's solutions (from the deployer's own tables, never the grid)."""

    solutions: list[Listed]


class Counts(RootModel[dict[str, int]]):
    """How many solutions the caller has, per listed type."""


class Event(BaseModel):
    at: str
    level: str
    message: str


class Workload(BaseModel):
    id: int | None
    kind: str
    key: str | None
    node: str | None
    pool: int | None
    state: str
    error: str | None


class Solution(Listed):
    """One solution with its events, outputs and workloads."""

    outputs: dict[str, Any]
    wireguard_config: str | None
    events: list[Event]
    workloads: list[Workload]


WIREGUARD = Media("text/plain", "the WireGuard configuration file (handed out once, then erased)")
