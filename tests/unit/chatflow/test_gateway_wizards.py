"""The gateway wizards walked step by step (SOLUTIONS §3.9-§3.11): Solution Expose, Domain Delegation, 4to6.

Gateways are offered only from the user's pools (with the §3.9 label), names are checked at their own field (no
dots in a label, a label that resolves is asked again, no unicode, 300 characters or shell characters in a domain),
a WireGuard key must be one, and the specs they produce are the deployer's own models."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.chatflow.flows import FLOWS, gateways
from services.chatflow.questions import Confirm, Info, Invalid
from services.common import contracts, gateway_contracts
from tests.unit.chatflow.test_flows import FakeQueries, Refused, Walk, active_pool, validated

GW = "GW1xGpdU3zLL9QT5DGaRkxjpuJmzV6V5CBWg3CBDY1Fu4"
OTHER_GW = "9KkQ3Y9B6f1qDn6Lh9Wk2mUpJb2vSyHq2GQWtb8Yd6xZ"
UUID = "0123456789abcdef0123456789abcdef"
KEY = base64.b64encode(bytes(range(1, 33))).decode()


def offer(node_id: str = GW, pool_id: int = 7, domain: str = "gw1.grid.example") -> gateway_contracts.GatewayOffer:
    return gateway_contracts.GatewayOffer(node_id=node_id, pool_id=pool_id, grid_pool_id=100 + pool_id,
                                  managed_domains=[domain], dns_nameserver=[f"ns1.{domain}"], tcp_router_port=18000,
                                  continent="Europe", country="Belgium", city="Ghent")  # fmt: skip


@dataclass
class GatewayQueries(FakeQueries):
    offers: list[gateway_contracts.GatewayOffer] = field(default_factory=lambda: [offer()])
    resolving: set[str] = field(default_factory=set)
    delegations: list[gateway_contracts.DelegatedDomain] = field(default_factory=list)
    asked_pools: list[list[int]] = field(default_factory=list)

    def gateways(self, owner: str, pools: list[contracts.VerifiedPool]) -> list[gateway_contracts.GatewayOffer]:
        self.asked_pools.append([p.pool_id for p in pools])
        return [o for o in self.offers if o.pool_id in {p.pool_id for p in pools}]

    def domain_free(self, owner: str, domain: str) -> contracts.Answer:
        taken = domain in self.resolving
        return contracts.Answer(ok=not taken, reason=f"{domain} already resolves" if taken else "")

    def delegated_domains(self, owner: str) -> list[gateway_contracts.DelegatedDomain]:
        return list(self.delegations)

    def expose_targets(self, owner: str, type: str) -> list[gateway_contracts.ExposeTarget]:
        return [gateway_contracts.ExposeTarget(solution_id=UUID, name="box", ip="10.20.2.5", network="net",
                                       grid_pool_id=108, pool_id=8)] if type == "ubuntu" else []  # fmt: skip


def walk(type_: str, **queries: Any) -> Walk:
    return Walk(FLOWS[type_], GatewayQueries(pools_list=[active_pool(7), active_pool(8)], **queries))


def confirmation(w: Walk) -> dict[str, str]:
    (question,) = w.step.questions(w.ctx)
    assert isinstance(question, Confirm)
    return dict(question.rows)


def test_gateways_are_offered_from_the_users_active_pools_with_the_spec_label() -> None:
    w = walk("delegated_domain", offers=[offer(), offer(OTHER_GW, pool_id=99)])
    (question,) = w.step.questions(w.ctx)
    assert question.as_json()["choices"] == [
        {"value": f"7:{GW}", "label": f"Pool: 7 ns1.gw1.grid.example Europe Belgium {GW}"}]  # fmt: skip
    assert w.queries.asked_pools[-1] == [7, 8]  # type: ignore[attr-defined]
    with pytest.raises(Invalid):
        w.answer(gateway=f"99:{OTHER_GW}")


def test_domain_delegation_produces_the_deployers_spec() -> None:
    w = walk("delegated_domain")
    w.answer(gateway=f"7:{GW}")
    w.answer(domain=" Example.COM. ")
    assert confirmation(w)["Name servers"] == "ns1.gw1.grid.example"
    w.answer()
    spec = validated(w.submit())
    assert (spec.name, spec.gateway.node_id, spec.gateway.pool_id) == ("example.com", GW, 7)


@pytest.mark.parametrize("domain", ["bücher.example", "a" * 70 + ".com", "example.com;reboot", "`id`.example.com",
                                    "example", "a..com"])  # fmt: skip
def test_a_delegated_domain_that_is_not_a_domain_name_is_refused_at_its_field(domain: str) -> None:
    w = walk("delegated_domain")
    w.answer(gateway=f"7:{GW}")
    with pytest.raises(Refused) as refused:
        w.answer(domain=domain)
    assert set(refused.value.errors) == {"domain"}


def test_a_domain_of_300_characters_is_refused_at_its_field() -> None:
    w = walk("delegated_domain")
    w.answer(gateway=f"7:{GW}")
    with pytest.raises(Invalid):
        w.answer(domain="a" * 296 + ".com")


def test_expose_on_a_managed_domain_asks_again_for_a_label_that_resolves() -> None:
    w = walk("exposed", resolving={"shop.gw1.grid.example"})
    w.answer(solution_type="ubuntu")
    w.answer(solution_id=UUID)
    assert [q.default for q in w.step.questions(w.ctx)] == [443, 80]
    w.answer()
    (choice,) = w.step.questions(w.ctx)
    assert [c[1] for c in choice.choices] == ["Managed gw1.grid.example", "Custom Domain"]  # type: ignore[attr-defined]
    w.answer(domain="managed:gw1.grid.example")
    for label, why in (("a.b", "no dots"), ("shop", "already resolves"), ("bad_label", "not a domain label")):
        with pytest.raises(Refused) as refused:
            w.answer(label=label)
        assert why in refused.value.errors["label"]
    w.answer(label="Shop2")
    rows = confirmation(w)
    assert rows["Domain"] == "shop2.gw1.grid.example" and rows["Solution IP"] == "10.20.2.5"
    assert not any("secret" in k.lower() or "secret" in v.lower() for k, v in rows.items())
    w.answer()
    spec = validated(w.submit())
    assert (spec.name, spec.domain_type, spec.parent) == ("shop2.gw1.grid.example", "managed", "gw1.grid.example")
    assert (spec.gateway.pool_id, spec.target.pool_id, spec.target.ip) == (7, 8, "10.20.2.5")


def test_expose_offers_the_users_delegated_domains() -> None:
    delegated = gateway_contracts.DelegatedDomain(domain="example.com", gateway_id=GW, pool_id=7)
    w = walk("exposed", delegations=[delegated])
    w.until("domain", {"solution_type": {"solution_type": "ubuntu"}, "solution_id": {"solution_id": UUID}})
    w.answer(domain="delegated:example.com")
    w.answer(label="shop")
    w.answer()
    spec = validated(w.submit())
    assert (spec.name, spec.domain_type, spec.parent, spec.gateway.node_id) == (
        "shop.example.com", "delegated", "example.com", GW)  # fmt: skip


def test_expose_on_a_custom_domain_names_a_gateway_and_the_cname_to_create() -> None:
    w = walk("exposed")
    w.until("domain", {"solution_type": {"solution_type": "ubuntu"}, "solution_id": {"solution_id": UUID}})
    w.answer(domain="custom")
    with pytest.raises(Refused):
        w.answer(custom_domain="shop.bücher.example")
    w.answer(custom_domain="Shop.Example.com")
    w.answer(gateway=f"7:{GW}")
    (info,) = w.step.questions(w.ctx)
    assert isinstance(info, Info) and "**CNAME** record for `shop.example.com` pointing to `ns1.gw1.grid.example`" in \
        info.markdown  # fmt: skip
    w.answer()
    w.answer()
    spec = validated(w.submit())
    assert (spec.name, spec.domain_type, spec.parent) == ("shop.example.com", "custom", None)


def test_no_solution_of_the_type_says_so() -> None:
    w = walk("exposed")
    w.answer(solution_type="minio")
    (question,) = w.step.questions(w.ctx)
    assert question.help == "you have no deployed MinIO solution to expose"


def test_4to6_with_the_users_key_and_without() -> None:
    w = walk("4to6gw")
    w.answer(gateway=f"7:{GW}")
    for bad in ("not a key", base64.b64encode(bytes(16)).decode(), KEY + "\nAllowedIPs = 0.0.0.0/0"):
        with pytest.raises((Refused, Invalid)):
            w.answer(public_key=bad)
    w.answer(public_key=KEY)
    w.answer()
    spec = validated(w.submit())
    assert (spec.public_key, spec.gateway.node_id) == (KEY, GW)

    w = walk("4to6gw")
    w.answer(gateway=f"7:{GW}")
    w.answer(public_key="")
    assert confirmation(w)["Public key"].startswith("made by the marketplace")
    w.answer()
    submission = w.submit()
    assert submission.spec["public_key"] == "" and submission.secrets == {}  # the deployer makes the pair


def test_no_gateway_in_the_users_pools_says_what_to_do() -> None:
    w = walk("4to6gw", offers=[])
    (question,) = w.step.questions(w.ctx)
    assert question.help == gateways.NO_GATEWAY
