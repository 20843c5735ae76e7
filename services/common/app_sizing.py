"""What an app deployment costs (SOLUTIONS §1.10 step 6): its query and the pool's CU/SU for a duration.

Shared so the apps wizard prices a deployment exactly as the deployer places it: the app container and its helper
(``AppInfo`` resources) plus the chosen volume size on SSD or HDD.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from services.common.app_contracts import AppInfo
from services.common.capacity import Resources, cu_su


def volume_size(app: AppInfo, answers: Mapping[str, Any]) -> int:
    """The chosen volume size in GiB (the default when not answered), 0 without a volume."""
    if app.volume is None:
        return 0
    value = answers.get(app.volume.question, app.volume.default)
    return int(value) if str(value).isdigit() and int(value) in app.volume.sizes else app.volume.default


def app_resources(app: AppInfo, answers: Mapping[str, Any]) -> Resources:
    """The query of everything the app runs in its pool (SOLUTIONS §1.1): app + helper + volume."""
    size = volume_size(app, answers)
    hdd = app.volume is not None and app.volume.disk == "hdd"
    return Resources(cru=app.cru, mru=app.mru, sru=app.sru + (0 if hdd else size), hru=app.hru + (size if hdd else 0))


def pool_units(app: AppInfo, answers: Mapping[str, Any], seconds: int) -> tuple[int, int]:
    """``(cus, sus)`` of the pool to buy: ``ceil(CU × T)``, ``ceil(SU × T)`` (GRID_API §10.2, T in seconds)."""
    cu, su = cu_su(app_resources(app, answers))
    return math.ceil(cu * seconds), math.ceil(su * seconds)
