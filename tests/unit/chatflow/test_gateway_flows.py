"""The wizards of solutions on a public name (Gitea, Gollum): the gateways of the user's own pools, secrets never
in the spec or the confirmation, hostile free text refused with the field named."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from services.chatflow.flows import FLOWS, gitea
from services.chatflow.questions import Confirm, Info, Invalid
from services.common import contracts, gateway_contracts
from tests.unit.chatflow.test_flows import NET, SSH_KEY, FakeQueries, Refused, Walk, active_pool, file, validated

GATEWAY = gateway_contracts.GatewayOffer(node_id="GW1", pool_id=7, grid_pool_id=107,
                                         managed_domains=["gw1.grid.example"], dns_nameserver=["ns1.gw1.grid.example"],
                                         tcp_router_port=18000)  # fmt: skip


@dataclass
class GatewayQueries(FakeQueries):
    offers: list[gateway_contracts.GatewayOffer] = field(default_factory=lambda: [GATEWAY])
    gateway_asks: list[list[int]] = field(default_factory=list)

    def gateways(self, owner: str, pools: list[contracts.VerifiedPool]) -> list[gateway_contracts.GatewayOffer]:
        self.gateway_asks.append([p.pool_id for p in pools])
        return [o for o in self.offers if o.pool_id in {p.pool_id for p in pools}]


def walk(offers: list[gateway_contracts.GatewayOffer] | None = None) -> Walk:
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


# -- Gollum --------------------------------------------------------------------------------------------------------

TOKEN = "ghp_" + "T0ken" * 8
GOLLUM: dict[str, dict[str, Any]] = {
    "name": {"name": "wiki"},
    "resources": {"cpu": 2, "memory": 2048, "disk": 512},
    "pool_id": {"pool_id": "7"},
    "network": {"network": "net"},
    "ssh_key": {"ssh_key": file(SSH_KEY)},
    "email": {"email": "ops@example.com"},
    "github": {"github_user": "alice-w", "github_email": "alice@example.org", "github_repo": "my.wiki",
               "github_token": TOKEN},
    "parent_domain": {"parent_domain": "gw1.grid.example"},
}  # fmt: skip


def gollum_walk(offers: list[gateway_contracts.GatewayOffer] | None = None) -> Walk:
    queries = GatewayQueries(pools_list=[active_pool(7), active_pool(8)], networks_list=[NET])
    if offers is not None:
        queries.offers = offers
    return Walk(FLOWS["gollum"], queries)


def test_gollum_asks_in_the_order_of_the_issue_and_submits_the_token_only_as_a_secret() -> None:
    w = gollum_walk().until("confirm", GOLLUM)
    assert w.visited == ["name", "resources", "pool_id", "network", "ssh_key", "email", "github", "node_auto", "ip",
                         "parent_domain"]  # fmt: skip
    (confirm,) = w.step.questions(w.ctx)
    assert isinstance(confirm, Confirm)
    rows = dict(confirm.rows)
    assert rows["Domain"].startswith("alice-wiki.gw1.grid.example")
    assert rows["GitHub user"] == "alice-w" and rows["Repository"] == "my.wiki"
    assert TOKEN not in str(confirm.as_json()) and TOKEN not in str(w.ctx.answers)
    w.answer()
    submission = w.submit()
    spec = validated(submission)
    assert submission.type == "gollum" and submission.secrets == {"github_token": TOKEN}
    assert (spec.email, spec.github_user, spec.github_email, spec.github_repo, spec.parent_domain) == (
        "ops@example.com", "alice-w", "alice@example.org", "my.wiki", "gw1.grid.example")  # fmt: skip
    assert (spec.resources.cpu, spec.resources.memory, spec.resources.disk) == (2, 2048, 512)
    assert spec.gateway_pool_ids == [7, 8]


def test_gollum_offers_only_the_managed_domains_of_gateways_in_the_users_pools() -> None:
    other = gateway_contracts.GatewayOffer(node_id="GW9", pool_id=99, grid_pool_id=199, managed_domains=["gw9.example"],
                                   dns_nameserver=["ns1.gw9.example"], tcp_router_port=18000)  # fmt: skip
    w = gollum_walk(offers=[GATEWAY, other]).until("parent_domain", GOLLUM)
    (question,) = w.step.questions(w.ctx)
    assert [v for v, _ in question.choices] == ["gw1.grid.example"]  # type: ignore[attr-defined]
    with pytest.raises(Invalid):
        w.answer(parent_domain="gw9.example")
    lonely = gollum_walk(offers=[]).until("parent_domain", GOLLUM)
    with pytest.raises(Refused) as refused:
        lonely.answer()
    assert "none of your pools contains a gateway" in refused.value.errors["parent_domain"]


SHELL = ["a;reboot", "$(id)", "`id`", "a b", "a|b", "a&&b", "a'b", 'a"b', "a\nb", "a>b"]


@pytest.mark.parametrize(
    ("step", "name", "value"),
    [
        *(("email", "email", f"x{bad}@example.com") for bad in SHELL),
        *(("github", "github_email", f"x{bad}@example.com") for bad in SHELL),
        *(("github", "github_user", f"al{bad}ice") for bad in SHELL),
        *(("github", "github_repo", f"wi{bad}ki") for bad in SHELL),
        ("email", "email", "é@example.com"),
        ("email", "email", "a" * 300 + "@example.com"),
        ("github", "github_repo", "https://github.com/alice/wiki"),
        ("github", "github_repo", ".."),
        ("github", "github_user", "u" * 300),
        ("github", "github_token", "short"),
        ("github", "github_token", "ghp_abc def ghi jkl mno pqr"),
    ],
)
def test_hostile_gollum_values_are_refused_naming_the_field(step: str, name: str, value: str) -> None:
    w = gollum_walk().until(step, GOLLUM)
    question = {q.name: q for q in w.step.questions(w.ctx)}[name]  # the engine names the field of a refusal
    with pytest.raises(Invalid):
        question.check(value)
    given = {**GOLLUM[step], name: value}
    with pytest.raises(Invalid):
        w.answer(**given)


def test_gollum_is_in_the_catalogue_after_gitea() -> None:
    assert list(FLOWS).index("gollum") == list(FLOWS).index("gitea") + 1
    assert FLOWS["gollum"].family == "advanced" and FLOWS["gollum"].title == "Gollum"
