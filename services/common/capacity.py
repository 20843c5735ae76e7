"""Capacity arithmetic shared by pools and the deployer (GRID_API §10): the corrected CU/SU formula."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resources:
    """A workload query: cores and GiB of memory, SSD and HDD."""

    cru: float = 0
    mru: float = 0
    sru: float = 0
    hru: float = 0


def cu_su(res: Resources) -> tuple[float, float]:
    """(CU, SU) per second for these resources: ``min(mru/4, cru/2)`` and ``hru/1200 + sru/300``, 3 decimals.

    Note: the original used ``(mru - 1)/4``, which gave 0 CU to every 1 GiB container; not reproduced.
    """
    return round(min(res.mru / 4, res.cru / 2), 3), round(res.hru / 1200 + res.sru / 300, 3)


def can_carry(pool_cus: float, pool_sus: float, active_cu: float, active_su: float, cu: float, su: float,
              seconds: float) -> bool:  # fmt: skip
    """True when a pool can run what it already runs plus ``cu``/``su`` for ``seconds`` (GRID_API §10.3)."""
    return pool_cus >= (active_cu + cu) * seconds and pool_sus >= (active_su + su) * seconds
