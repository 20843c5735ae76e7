"""The planners' exposure hooks: targets, the exposer, delegations (the deployer's side: test_gateway_solutions.py
in tests/integration/deployer)."""

from __future__ import annotations

from services.deployer.solutions import PLANNERS
from services.deployer.solutions.expose_use import NOT_EXPOSED, expose_hooks
from tests.unit.deployer.solutions.test_planners import SPECS


class Exposures:
    """An :class:`ExposeOps` answering from a fixed table, writing down what it was asked."""

    def __init__(self, under: dict[str, list[str]]) -> None:
        self.under = under
        self.asked: list[str] = []

    def exposed_under(self, domain: str) -> list[str]:
        self.asked.append(domain)
        return self.under.get(domain, [])


def test_the_targets_name_where_a_published_port_lives() -> None:
    roles = {t: expose_hooks(p).exposed_role for t, p in PLANNERS.items() if expose_hooks(p).exposed_role}
    assert roles == {"kubernetes": "master", "minio": "primary", "ubuntu": "container", "flist": "container",
                     "gitea": "container"}  # fmt: skip
    for t, role in roles.items():  # the role is one of the planner's placements
        planner = PLANNERS[t]
        assert role in {p.role for p in planner.placements(planner.spec_model.model_validate(SPECS[t]))}


def test_only_solution_expose_publishes_a_target_and_only_domain_delegation_delegates() -> None:
    assert [t for t, p in PLANNERS.items() if expose_hooks(p).publishes_a_target] == ["exposed"]
    assert [t for t, p in PLANNERS.items() if expose_hooks(p).delegates_domain] == ["delegated_domain"]


def test_a_delegation_refuses_its_cancel_naming_the_exposed_solutions_that_stand_on_it() -> None:
    hooks = expose_hooks(PLANNERS["delegated_domain"])
    ops = Exposures({"example.org": ["a.example.org", "b.example.org"]})
    assert hooks.cancel_refusal("example.org", ops) == (
        "the domain example.org is still used by the exposed solution(s) a.example.org, b.example.org; delete those "
        "first"
    )
    assert hooks.cancel_refusal("other.org", ops) is None and ops.asked == ["example.org", "other.org"]


def test_other_solutions_are_never_refused_for_exposures_and_ask_nothing() -> None:
    ops = Exposures({"x": ["y"]})
    assert all(expose_hooks(p).cancel_refusal("x", ops) is None for t, p in PLANNERS.items() if t != "delegated_domain")
    assert ops.asked == [] and expose_hooks(object()) is NOT_EXPOSED
