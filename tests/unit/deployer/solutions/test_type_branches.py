"""No deployer module outside the planners branches on a solution type: behaviour that depends on it is a planner
hook (network_use.py, expose_use.py, handout.py). Every type of the PLANNERS registry is checked."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from services.deployer.solutions import PLANNERS

SERVICES = Path(__file__).resolve().parents[4] / "services"
TYPES = set(PLANNERS)


def _type_branches(path: Path, types: set[str]) -> list[str]:
    """The types named in comparisons, tuple/list/set literals or SQL, and a module constant that holds one
    (``TUNNEL_TYPE``, a table keyed by type) compared with, or looked up by, ``x["type"]``. A string that is only a
    key looked up (``w["flist"]``) is not a type, nor a dict's key on its own (the marketplace's images are named
    like some types)."""
    tree = ast.parse(path.read_text())
    holders = {target.id for node in tree.body if isinstance(node, ast.Assign) for target in node.targets
               if isinstance(target, ast.Name)
               and any(isinstance(c, ast.Constant) and c.value in types for c in ast.walk(node.value))}  # fmt: skip
    keys = {id(node.slice) for node in ast.walk(tree) if isinstance(node, ast.Subscript)}

    def typed(node: ast.expr) -> bool:
        return isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "type"

    def held(node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id in holders

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(map(typed, [node.left, *node.comparators])) \
                and any(map(held, [node.left, *node.comparators])):  # fmt: skip
            found.append(f"{path.name}:{node.lineno} compares a solution's type with a constant naming a type")
        if isinstance(node, ast.Subscript) and held(node.value) and typed(node.slice):
            found.append(f"{path.name}:{node.lineno} looks a solution's type up in a table of types")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and held(node.func.value) \
                and any(map(typed, node.args)):  # fmt: skip
            found.append(f"{path.name}:{node.lineno} looks a solution's type up in a table of types")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [f"{path.name}:{node.lineno} names the type {t!r} in SQL" for t in types if f"'{t}'" in node.value]
        if isinstance(node, ast.Compare | ast.Tuple | ast.List | ast.Set):
            for leaf in ast.walk(node):
                if isinstance(leaf, ast.Constant) and leaf.value in types and id(leaf) not in keys:
                    found.append(f"{path.name}:{leaf.lineno} names the type {leaf.value!r}")
    return found


def _core(service: str, skip: tuple[str, ...]) -> list[Path]:
    return [p for p in (SERVICES / service).rglob("*.py") if not any(part in p.parts for part in skip)]


def test_the_check_covers_every_planner_type() -> None:
    assert {"network", "network_access", "4to6gw", "delegated_domain", "exposed", "gitea", "minio"} <= TYPES


def test_no_deployer_module_outside_the_planners_branches_on_a_solution_type() -> None:
    # apps/ is the apps' planner half (definition schema, templates): its overview keys name rows, not types.
    modules = _core("deployer", ("solutions", "migrations", "apps"))
    assert len(modules) > 20
    found = [f for path in modules for f in _type_branches(path, TYPES)]
    assert found == [], "behaviour that depends on the solution type belongs to its planner's hooks"


def test_no_chatflow_module_outside_the_wizards_branches_on_a_solution_type() -> None:
    modules = _core("chatflow", ("flows", "migrations"))
    assert len(modules) > 5
    assert [f for path in modules for f in _type_branches(path, TYPES)] == []


@pytest.mark.parametrize(
    "source",
    [
        'if sol["type"] == "network_access":\n    pass',
        'A = ("network", "network_access")',
        'ok = t in ["network"]',
        'KIND = "network"\nok = sol["type"] != KIND',
        'ok = "network_access" != kind',
        "SQL = \"UPDATE s SET status = 1 WHERE type = 'network_access'\"",
        'TUNNEL_TYPE = "4to6gw"\nif sol["type"] == TUNNEL_TYPE:\n    pass',
        'if type != "exposed":\n    pass',
        'ROLES = {"kubernetes": "master"}\nrole = ROLES.get(sol["type"])',
        'ROLES = {"minio": "primary", "gitea": "container"}\nrole = ROLES[sol["type"]]',
        "SQL = \"SELECT 1 WHERE type = 'delegated_domain'\"",
    ],
)
def test_the_type_branch_check_sees_the_old_forms(tmp_path: Path, source: str) -> None:
    path = tmp_path / "m.py"
    path.write_text(source)
    assert _type_branches(path, TYPES)


@pytest.mark.parametrize(
    "source",
    [
        'pieces = [w["flist"], w["hub_url"]]',  # keys looked up, not types
        'planner = PLANNERS.get(sol["type"])',
        'plan = make("nr-1", "network", fields)',  # a workload's role, not a comparison
        'flists = {"gitea": settings.flist_gitea}',  # images named like a type
    ],
)
def test_the_type_branch_check_leaves_what_is_not_a_branch(tmp_path: Path, source: str) -> None:
    path = tmp_path / "m.py"
    path.write_text(source)
    assert _type_branches(path, TYPES) == []
