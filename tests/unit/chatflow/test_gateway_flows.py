"""The wizards of solutions on a public name (Gitea, Gollum): the gateways of the user's own pools, secrets never
in the spec or the confirmation, hostile free text refused with the field named."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from services.chatflow.flows import FLOWS, gitea
from services.chatflow.questions import Confirm, Info, Invalid
from services.common import contracts
from tests.unit.chatflow.test_flows import NET, SSH_KEY, FakeQueries, Refused, Walk, active_pool, file, validated

GATEWAY = contracts.GatewayOffer(node_id="GW1", pool_id=7, grid_pool_id=107, managed_domains=["gw1.grid.example"],
                                 dns_nameserver=["ns1.gw1.grid.example"], tcp_router_port=18000)  # fmt: skip


@dataclass
class GatewayQueries(FakeQueries):
    offers: list[contracts.GatewayOffer] = field(default_factory=lambda: [GATEWAY])
    gateway_asks: list[list[int]] = field(default_factory=list)

    def gateways(self, owner: str, pools: list[contracts.VerifiedPool]) -> list[contracts.GatewayOffer]:
        self.gateway_asks.append([p.pool_id for p in pools])
        return [o for o in self.offers if o.pool_id in {p.pool_id for p in pools}]


def walk(offers: list[contracts.GatewayOffer] | None = None) -> Walk:
    queries = GatewayQueries(pools_list=[active_pool(7), active_pool(8)], networks_list=[NET])
    if offers is not None:
        queries.offers = offers
    return Walk(FLOWS["gitea"], queries)


GITEA: dict[str, dict[str, Any]] = {
    "name": {"name": "git"},
    "pool_id": {"pool_id": "7"},
    "network": {"network": "net"},
    "ssh_key": {"ssh_key": file(SSH_KEY)},
    "database": {"db_name": "gitea", "db_user": "git", "db_password": "s3cret-passw0rd", "repository": "code"},
}


def test_gitea_walk_submits_a_valid_spec_with_the_password_only_as_a_secret() -> None:
    w = walk().until("confirm", GITEA)
    (confirm,) = w.step.questions(w.ctx)
    assert isinstance(confirm, Confirm)
    rows = dict(confirm.rows)
    assert list(rows) == ["Name", "Network", "Node", "Pool", "IP", "Domain"]
    assert rows["Domain"].startswith("alice-git.")
    assert "s3cret-passw0rd" not in str(confirm.as_json())
    w.answer()
    submission = w.submit()
    spec = validated(submission)
    assert submission.type == "gitea" and submission.secrets == {"db_password": "s3cret-passw0rd"}
    assert (spec.db_name, spec.db_user, spec.repository) == ("gitea", "git", "code")
    # Every active pool of the user is searched for a gateway (and verified at submission as a pool id).
    assert spec.gateway_pool_ids == [7, 8]
    assert "s3cret-passw0rd" not in str(w.ctx.answers)


def test_the_domain_step_names_the_gateways_domains_and_refuses_without_one() -> None:
    w = walk().until("domain", GITEA)
    (info,) = w.step.questions(w.ctx)
    assert isinstance(info, Info) and "alice-git" in info.markdown and "gw1.grid.example" in info.markdown
    lonely = walk(offers=[]).until("domain", GITEA)
    with pytest.raises(Refused) as refused:
        lonely.answer()
    assert "none of your pools contains a gateway" in refused.value.errors["domain"]


def test_the_database_password_proposal_is_random_and_never_a_plain_answer() -> None:
    w = walk().until("database", GITEA)
    first = {q.name: q for q in w.step.questions(w.ctx)}["db_password"].as_json()["default"]
    second = {q.name: q for q in w.step.questions(w.ctx)}["db_password"].as_json()["default"]
    assert first != second and len(first) >= 16
    w.answer(db_password=first)
    assert "db_password" not in w.ctx.answers and w.ctx.secrets["db_password"] == first


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("db_name", "pg; rm -rf /"),
        ("db_user", "$(reboot)"),
        ("db_user", "`id`"),
        ("repository", "code && curl evil"),
        ("repository", "répo"),
        ("repository", "r" * 300),
        ("db_name", "a.b"),
    ],
)
def test_hostile_gitea_form_values_are_refused_naming_the_field(name: str, value: str) -> None:
    w = walk().until("database", GITEA)
    question = {q.name: q for q in w.step.questions(w.ctx)}[name]  # the engine names the field of a refusal
    with pytest.raises(Invalid):
        question.check(value)
    with pytest.raises(Invalid):
        w.answer(**{name: value})


@pytest.mark.parametrize("value", ["git.example", "gït", "g" * 300, "git;ls", "Git"])
def test_hostile_names_are_refused(value: str) -> None:
    w = walk()
    with pytest.raises(Invalid):
        w.answer(name=value)


def test_gitea_is_in_the_catalogue() -> None:
    assert FLOWS["gitea"] is gitea.FLOW and gitea.FLOW.family == "advanced"
