"""Capacity accounting (GRID_API.md §10): resource units of a workload, CU/SU, pool burn and `empty_at`."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from emulators.grid.enums import MAX_INT64, DiskType, WorkloadType

# The 402 rule of §4.6: a pool that would run empty within this many seconds cannot take a new workload.
MIN_POOL_RUNWAY_SECONDS = 120

_KUBERNETES_SIZES = {1: (1, 2.0, 50.0), 2: (2, 4.0, 100.0)}


@dataclass(frozen=True)
class Units:
    """Resource units: cru in cores, mru/sru/hru in GiB."""

    cru: int = 0
    mru: float = 0.0
    sru: float = 0.0
    hru: float = 0.0

    def __add__(self, other: Units) -> Units:
        return Units(self.cru + other.cru, self.mru + other.mru, self.sru + other.sru, self.hru + other.hru)

    def as_json(self) -> dict[str, int | float]:
        return {"cru": self.cru, "mru": round(self.mru, 4), "hru": round(self.hru, 4), "sru": round(self.sru, 4)}


def _disk(size_gib: float, disk_type: int) -> Units:
    size = round(size_gib, 4)
    return Units(sru=size) if disk_type == DiskType.SSD else Units(hru=size)


def workload_units(workload_type: WorkloadType, body: dict[str, Any]) -> Units:
    """Resource units of a validated workload body (§10.1); zero for networks and gateway workloads."""
    if workload_type == WorkloadType.CONTAINER:
        capacity = body["capacity"]
        disk = _disk(capacity["disk_size"] / 1024, capacity["disk_type"])
        return Units(cru=capacity["cpu"], mru=round(capacity["memory"] / 1024, 4)) + disk
    if workload_type == WorkloadType.VOLUME:
        return _disk(body["size"], body["type"])
    if workload_type == WorkloadType.ZDB:
        return _disk(body["size"], body["disk_type"])
    if workload_type == WorkloadType.KUBERNETES:
        cru, mru, sru = _KUBERNETES_SIZES[body["size"]]
        return Units(cru=cru, mru=mru, sru=sru)
    return Units()


def cloud_units(units: Units) -> tuple[float, float]:
    """(CU, SU) with the corrected formula of §10.2."""
    cu = round(min(units.mru / 4, units.cru / 2), 3)
    su = round(units.hru / 1200 + units.sru / 300, 3)
    return cu, su


@dataclass
class Burn:
    """The burning part of a pool: remaining CU/SU-seconds as of ``last_updated`` and the per-second rates."""

    cus: float
    sus: float
    last_updated: float
    active_cu: float
    active_su: float

    def burn_until(self, now: float) -> None:
        """Consume capacity up to ``now`` (floored at 0); a no-op for times not after ``last_updated``."""
        elapsed = now - self.last_updated
        if elapsed <= 0:
            return
        self.cus = max(0.0, self.cus - self.active_cu * elapsed)
        self.sus = max(0.0, self.sus - self.active_su * elapsed)
        self.last_updated = now

    def empty_at(self) -> float | None:
        """When the first of cus/sus reaches 0 at the current rates; None when nothing burns."""
        horizons = [
            remaining / rate for remaining, rate in ((self.cus, self.active_cu), (self.sus, self.active_su)) if rate > 0
        ]
        return self.last_updated + min(horizons) if horizons else None


def wire_empty_at(empty_at: float | None) -> int:
    """`empty_at` as sent on the wire: integer seconds, max int64 when nothing burns (§5.6)."""
    return MAX_INT64 if empty_at is None else min(MAX_INT64, math.floor(empty_at))


def would_run_dry(burn: Burn, now: float, cu: float, su: float) -> bool:
    """The 402 rule: would the pool, with (cu, su) more per second, be empty within 120 s of ``now``?"""
    trial = Burn(burn.cus, burn.sus, burn.last_updated, burn.active_cu + cu, burn.active_su + su)
    trial.burn_until(now)
    empty_at = trial.empty_at()
    return empty_at is not None and empty_at < now + MIN_POOL_RUNWAY_SECONDS


# Other customers' usage changes course this often: between two such points it moves linearly. Slow, as on the
# real grid: a node's usage moves by a few GiB within a report lag, not by hundreds.
TENANT_DRIFT_SECONDS = 6 * 3600.0
_RESOURCES = ("cru", "mru", "sru", "hru")


def other_tenants(node_id: str, total: dict[str, float], share: float, at: float) -> Units:
    """What other customers use on a node at time ``at``: at most ``share`` of each of its resources.

    Derived from the node id (so from the world seed) and the time only: deterministic, different per node and
    per resource, drifting from one random level to the next every TENANT_DRIFT_SECONDS. Whole cores and GiB.
    """
    if share <= 0:
        return Units()
    step, within = divmod(at / TENANT_DRIFT_SECONDS, 1.0)

    def level(resource: str, index: float) -> float:
        digest = hashlib.sha256(f"{node_id}/{resource}/{int(index)}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    used = {
        resource: share * float(total.get(resource) or 0)
        * ((1 - within) * level(resource, step) + within * level(resource, step + 1))
        for resource in _RESOURCES
    }  # fmt: skip
    whole = {resource: float(math.floor(value)) for resource, value in used.items()}
    return Units(cru=int(whole["cru"]), mru=whole["mru"], sru=whole["sru"], hru=whole["hru"])
