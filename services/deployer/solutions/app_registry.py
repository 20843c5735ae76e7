"""The app planners: one per definition file, the built-in ones at import, an operator's at start-up.

``install(settings)`` is called by every deployer process as it starts (worker and web): it reads
``APP_DEFINITIONS_DIR`` and registers those apps beside the built-in ones; a bad file raises
:class:`~services.deployer.apps.loader.DefinitionError`, whose one line the process prints before stopping.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any

from services.common.settings import Settings
from services.deployer.apps import loader
from services.deployer.apps.schema import Definition
from services.deployer.solutions import images
from services.deployer.solutions.app import AppPlanner, planner_for


def builtin() -> list[AppPlanner]:
    return [planner_for(d) for d in loader.load_dir(loader.BUILTIN, images.KEYS)]


def register(planners: MutableMapping[str, Any], definitions: Iterable[Definition]) -> list[str]:
    """Add a planner per definition to ``planners``; the types added.

    Raises:
        DefinitionError: a type is already a solution type (built-in, advanced, or twice in the directory).
    """
    # The same file installed again (a second app built in one process) is no change.
    same = {t for t, p in planners.items() if isinstance(p, AppPlanner)}
    fresh = [d for d in definitions if not (d.type in same and planners[d.type].definition == d)]
    added = [planner_for(d) for d in loader.combine(fresh, taken=set(planners))]
    for planner in added:
        planners[planner.type] = planner
    return [p.type for p in added]


def install(settings: Settings, planners: MutableMapping[str, Any]) -> list[str]:
    """Register the operator's apps of ``APP_DEFINITIONS_DIR`` (nothing when unset); the types added.

    Raises:
        DefinitionError: the directory or one of its files is bad (the message is one line).
    """
    directory: Path | None = settings.app_definitions_dir
    if directory is None:
        return []
    return register(planners, loader.load_dir(directory, images.KEYS))


def app_types(planners: MutableMapping[str, Any]) -> list[str]:
    return [t for t, p in planners.items() if isinstance(p, AppPlanner)]


def definitions(planners: MutableMapping[str, Any]) -> list[Definition]:
    return [p.definition for p in planners.values() if isinstance(p, AppPlanner)]
