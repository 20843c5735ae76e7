"""The generic apps wizard (SOLUTIONS §1.10) built from a catalogue entry and walked as the engine walks it: the plan
(farm, node, domain, CU/SU, price) shown and confirmed before the pool is bought and paid (issue 13), the pool priced
from CU/SU × duration and bought on an ``APP_FARMS`` farm, the plan checked again in the paid pool, the apps
network created once and waited for, the overview, the submitted spec."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.chatflow.flows import apps, apps_infra
from services.chatflow.questions import Confirm, Invalid, Progress
from services.common import app_contracts, contracts, gateway_contracts
from services.common.errors import ApiError
from services.common.grid_price import reservation_price
from tests.unit.chatflow.test_flows import NODES, FakeQueries, Refused, Walk

CRYPTPAD = app_contracts.AppInfo(
    type="cryptpad", title="Cryptpad", description="Documents.", icon="cryptpad.svg",
    questions=[app_contracts.AppQuestion(name="size", kind="choice", label="Storage size (GB)", default=10,
                                     choices=[app_contracts.AppChoice(value=v, label=v) for v in ("5", "10", "15")]),
               app_contracts.AppQuestion(name="admin_password", kind="secret", label="Admin password", required=False)],
    cru=2, mru=2, sru=1.5, hru=0, cpu=1, memory=1024, disk=1024,
    volume=app_contracts.AppVolume(question="size", sizes=[5, 10, 15], default=10, disk="ssd"),
    exposure="C", overview=["name", "domain"],
)  # fmt: skip
GATEWAY = gateway_contracts.GatewayOffer(node_id="GW1", pool_id=15, grid_pool_id=115, managed_domains=["gw1.example"],
                                 dns_nameserver=["ns1.gw1.example"], tcp_router_port=18000)  # fmt: skip


@dataclass
class AppQueries(FakeQueries):
    farm_offers: list[contracts.FarmOffer] = field(
        default_factory=lambda: [
            contracts.FarmOffer(farm_id=1, label="freefarm location: x", name="freefarm", node_ids=[*NODES[:2], "GW1"])
        ]
    )
    farm_asks: list[tuple[str, float, float, float, float]] = field(default_factory=list)
    submitted: list[contracts.SubmitSolution] = field(default_factory=list)
    resolving: set[str] = field(default_factory=set)
    no_certificates: set[str] = field(default_factory=set)  # parents whose weekly budget is used up

    def app_farms(self, currency: str, cru: float, mru: float, sru: float, hru: float) -> list[contracts.FarmOffer]:
        self.farm_asks.append((currency, cru, mru, sru, hru))
        return list(self.farm_offers)

    def pay(self) -> None:
        self.pools_list = [p.model_copy(update={"state": "active", "grid_pool_id": 115}) for p in self.pools_list]
        self.pool_nodes = {15: NODES[:2]}

    def submit(self, payload: contracts.SubmitSolution) -> contracts.SubmitResult:
        self.submitted.append(payload)
        return contracts.SubmitResult(ok=True, solution_id="a" * 32, status="deploying")

    def gateways(self, owner: str, pools: list[contracts.VerifiedPool],
                 node_ids: list[str] | None = None) -> list[gateway_contracts.GatewayOffer]:  # fmt: skip
        if not pools:  # the plan, before the pool exists: the farm's gateways, pool 0
            return [GATEWAY.model_copy(update={"pool_id": 0, "grid_pool_id": 0})] if "GW1" in (node_ids or []) else []
        return [GATEWAY] if [p.pool_id for p in pools] == [15] else []

    def domain_free(self, owner: str, domain: str, parent: str | None = None) -> contracts.Answer:
        if parent in self.no_certificates:
            return contracts.Answer(ok=False, reason=gateway_contracts.NO_CERTIFICATES_LEFT)
        return contracts.Answer(ok=domain not in self.resolving, reason="taken")


ANSWERS: dict[str, dict[str, Any]] = {"name": {"name": "pad"}, "app": {"size": "5", "admin_password": "pw-1234-abcd"}}


def walk(queries: AppQueries | None = None) -> Walk:
    return Walk(apps.build(CRYPTPAD), queries or AppQueries())


def test_the_pool_is_priced_on_cu_su_times_the_duration_and_bought_on_an_app_farm() -> None:
    w = walk().until("currency", ANSWERS)
    end = datetime.fromisoformat(w.ctx.get("end"))
    assert timedelta(minutes=64) < end - datetime.now(UTC) <= timedelta(minutes=65)  # default now + 65 min
    w.answer(currency="TFT")
    queries: AppQueries = w.queries  # type: ignore[assignment]
    # App + helper (2 cores, 2 GiB, 1.5 GiB roots) plus the 5 GiB volume on SSD.
    assert queries.farm_asks[-1] == ("TFT", 2, 2, 6.5, 0)
    assert w.step.name == "plan" and not queries.orders  # the plan is shown before anything is bought
    w.answer()
    (order,) = queries.orders
    seconds = apps_infra.duration(w.ctx)
    assert order.farm_id == 1 and order.currency == "TFT" and order.pool_id is None
    assert (order.cus, order.sus) == (-(-0.5 * seconds // 1), -(-round(6.5 / 300, 3) * seconds // 1))
    assert w.step.name == "payment"


def test_no_farm_for_the_currency_is_a_clear_sentence() -> None:
    w = walk(AppQueries(farm_offers=[])).until("currency", ANSWERS)
    with pytest.raises(Refused) as refused:
        w.answer(currency="FreeTFT")
    assert refused.value.errors == {"currency": apps_infra.NO_CAPACITY}


def test_the_end_date_is_at_least_an_hour_ahead() -> None:
    w = walk().until("end", ANSWERS)
    with pytest.raises(Refused):
        w.answer(end=(datetime.now(UTC) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))
    with pytest.raises(Invalid):
        w.answer(end="2001-01-01T00:00")


def test_the_plan_is_shown_before_paying_and_is_what_is_deployed() -> None:
    """Issue 13: farm, node, domain, CU/SU and the price are confirmed before the pool is bought and the QR shown."""
    queries = AppQueries()
    w = walk(queries).until("plan", ANSWERS)
    assert not queries.orders and not queries.submitted
    (confirm,) = w.step.questions(w.ctx)
    assert isinstance(confirm, Confirm)
    plan = dict(confirm.rows)
    assert plan["Farm"] == "freefarm" and plan["Node"] in NODES[:2]  # among the farm's nodes
    assert plan["Domain"] == "https://alice3bot-pad.gw1.example"  # on the farm's gateway
    cus, sus = w.ctx.get("cus"), w.ctx.get("sus")
    assert plan["Price"] == f"{reservation_price(cus, sus)} FreeTFT" and plan["Compute units (CU)"].startswith("0.5 — ")
    w.answer()
    (order,) = queries.orders
    assert (order.farm_id, order.cus, order.sus) == (1, cus, sus)
    assert w.step.name == "payment"


def test_retrying_the_plan_buys_once() -> None:
    queries = AppQueries()
    w = walk(queries).until("plan", ANSWERS)
    w.answer()
    w.index = w.flow.steps.index(next(s for s in w.flow.steps if s.name == "plan"))
    w.answer()  # the same answer again (a retry, a double click): the same purchase key
    assert len({o.key for o in queries.orders}) == 1 and len(queries.orders) == 2


def test_first_app_creates_the_apps_network_waits_for_it_then_shows_the_plan_and_submits() -> None:
    queries = AppQueries()
    w = walk(queries).until("payment", ANSWERS)
    planned = w.ctx.get("node_id")
    with pytest.raises(Refused) as unpaid:
        w.answer()
    assert "payment not received yet for pool 15" in unpaid.value.errors["payment"]
    assert not queries.submitted  # nothing before the payment
    queries.pay()
    w.answer()
    (network,) = queries.submitted
    assert network.type == "network" and network.spec == {"name": "apps", "pool_ids": [15], "ipv6": False,
                                                           "ip_range": "10.100.0.0/16"}  # fmt: skip
    assert [(p.pool_id, p.grid_pool_id) for p in network.pools] == [(15, 115)]
    assert w.step.name == "network"
    (progress,) = [q.as_json() for q in w.step.questions(w.ctx) if isinstance(q, Progress)]
    assert progress["offers_file"] is False  # apps.conf is offered once, at the end — not here as wg-<id>.conf
    with pytest.raises(Refused):
        w.answer()  # not deployed yet
    queries.networks_list = [contracts.NetworkInfo(name="apps", ip_range="10.100.0.0/16", nodes=[NODES[0]])]
    w.answer()
    (confirm,) = w.step.questions(w.ctx)
    assert isinstance(confirm, Confirm)
    rows = dict(confirm.rows)
    assert rows["Farm"] == "freefarm" and rows["Node"] == planned  # the planned node still fits the paid pool
    assert "no longer has room" not in str(confirm.help)
    assert rows["Domain"] == "https://alice3bot-pad.gw1.example"
    assert rows["Price"] == "0.66708 FreeTFT" and rows["Compute units (CU)"].startswith("0.5 — ")  # the QR's amount
    assert "pw-1234-abcd" not in str(confirm.as_json())
    w.answer()
    submission = w.submit()
    assert submission.type == "cryptpad" and submission.secrets == {"admin_password": "pw-1234-abcd"}
    assert submission.spec == {"name": "pad", "pool_id": 15, "network": "apps", "node_id": planned, "email": "",
                               "ssh_key": "", "answers": {"size": "5"}, "gateway_pool_ids": [15],
                               "parent_domain": "gw1.example"}  # fmt: skip
    handout = apps_infra.network_handout(w.ctx)
    assert [(q.as_json()["filename"], q.as_json()["offers_file"]) for q in handout if isinstance(q, Progress)] == [
        ("apps.conf", True)]  # fmt: skip


def test_a_planned_node_without_room_in_the_paid_pool_is_replaced_and_the_overview_says_so() -> None:
    queries = AppQueries(networks_list=[contracts.NetworkInfo(name="apps", ip_range="10.100.0.0/16", nodes=[])])
    w = walk(queries).until("payment", ANSWERS)
    planned = w.ctx.get("node_id")
    (other,) = set(NODES[:2]) - {planned}
    queries.pay()
    queries.pool_nodes = {15: [other]}  # the planned node filled up while the user paid
    w.answer()
    (confirm,) = w.step.questions(w.ctx)
    assert isinstance(confirm, Confirm)
    assert dict(confirm.rows)["Node"] == other
    assert f"Node {planned} of the plan no longer has room in the paid pool" in str(confirm.help)
    w.answer()
    assert w.submit().spec["node_id"] == other


def test_a_second_app_reuses_the_apps_network_and_a_taken_name_gets_a_suffix() -> None:
    queries = AppQueries(networks_list=[contracts.NetworkInfo(name="apps", ip_range="10.100.0.0/16", nodes=[])],
                         resolving={"alice3bot-pad.gw1.example"})  # fmt: skip
    w = walk(queries).until("payment", ANSWERS)
    planned = w.ctx.get("domain")
    queries.pay()
    w.answer()
    assert not queries.submitted and w.step.name == "overview"  # no network step, nothing submitted
    assert apps_infra.network_handout(w.ctx) == []
    domain = w.ctx.get("domain")
    assert domain == planned and domain.startswith("alice3bot-pad-") and domain.endswith(".gw1.example")
    # The suffix shown goes with the spec: planning tries exactly that name first.
    w.answer()
    suffix = w.submit().spec["domain_suffix"]
    assert domain == f"alice3bot-pad-{suffix}.gw1.example"


def test_no_gateway_on_the_farm_stops_at_the_plan_and_none_in_the_paid_pool_before_the_overview() -> None:
    queries = AppQueries(networks_list=[contracts.NetworkInfo(name="apps", ip_range="10.100.0.0/16", nodes=[])],
                         farm_offers=[contracts.FarmOffer(farm_id=1, label="freefarm", name="freefarm",
                                                          node_ids=NODES[:2])])  # fmt: skip
    w = walk(queries).until("currency", ANSWERS)
    with pytest.raises(ApiError) as refused:
        w.answer()
    assert refused.value.errors[0].description == apps_infra.NO_DOMAIN and not queries.orders
    queries = AppQueries(networks_list=[contracts.NetworkInfo(name="apps", ip_range="10.100.0.0/16", nodes=[])])
    w = walk(queries).until("payment", ANSWERS)
    queries.pay()
    queries.gateways = lambda owner, pools, node_ids=None: []  # type: ignore[method-assign]
    with pytest.raises(ApiError) as refused:
        w.answer()
    assert refused.value.errors[0].description == apps_infra.NO_DOMAIN


def test_an_app_without_a_domain_asks_the_ssh_key_and_submits_no_gateway() -> None:
    ubuntu = CRYPTPAD.model_copy(update={"type": "ubuntu_simple", "questions": [], "volume": None, "exposure": "none",
                                         "ssh_key": "required"})  # fmt: skip
    queries = AppQueries(networks_list=[contracts.NetworkInfo(name="apps", ip_range="10.100.0.0/16", nodes=[])])
    queries.gateways = lambda owner, pools, node_ids=None: []  # type: ignore[method-assign]  # no public name
    w = Walk(apps.build(ubuntu), queries)
    w.answer(name="box")
    with pytest.raises(Invalid):
        w.answer()  # the key is required
    w.answer(ssh_key={"filename": "id.pub", "content": "ssh-ed25519 AAAAC3Nz alice@laptop\n"})
    w.until("plan", {})
    assert "Domain" not in dict(w.step.questions(w.ctx)[0].rows)  # type: ignore[attr-defined]
    w.until("payment", {})
    queries.pay()
    w.answer()
    assert "Domain" not in dict(w.step.questions(w.ctx)[0].rows)  # type: ignore[attr-defined]
    w.answer()
    spec = w.submit().spec
    assert spec["ssh_key"] == "ssh-ed25519 AAAAC3Nz alice@laptop" and spec["answers"] == {}
    assert "gateway_pool_ids" not in spec and "parent_domain" not in spec


@pytest.mark.parametrize("ipv6", [False, True])
def test_an_app_that_needs_public_ipv6_gets_a_node_with_one(ipv6: bool) -> None:
    # NODES[:2] are the farm's and the paid pool's; only NODES[1] has a public IPv6 address (FakeQueries).
    app = CRYPTPAD.model_copy(update={"public_ipv6": ipv6})
    queries = AppQueries(networks_list=[contracts.NetworkInfo(name="apps", ip_range="10.100.0.0/16", nodes=[])])
    w = Walk(apps.build(app), queries).until("currency", ANSWERS)
    queries.public_ipv6 = set() if ipv6 else queries.public_ipv6
    if ipv6:
        with pytest.raises(ApiError) as refused:
            w.answer()  # no node of the farm has one: refused before buying, not a deployment bound to fail
        assert refused.value.errors[0].description == apps_infra.NO_FARM_NODE and not queries.orders
        queries.public_ipv6 = {NODES[1]}
    w.answer()
    assert w.ctx.get("node_id") == NODES[1] if ipv6 else w.ctx.get("node_id") in NODES[:2]
    w.until("payment", {})
    queries.pay()
    w.answer()
    assert w.ctx.get("node_id") == NODES[1] if ipv6 else w.ctx.get("node_id") in NODES[:2]


def test_a_parent_without_certificates_left_this_week_is_passed_over() -> None:
    two = GATEWAY.model_copy(update={"managed_domains": ["gw1.example", "gw2.example"]})
    queries = AppQueries(networks_list=[contracts.NetworkInfo(name="apps", ip_range="10.100.0.0/16", nodes=[])],
                         no_certificates={"gw1.example"})  # fmt: skip
    queries.gateways = lambda owner, pools, node_ids=None: [two]  # type: ignore[method-assign]
    w = walk(queries).until("plan", ANSWERS)
    assert dict(w.step.questions(w.ctx)[0].rows)["Domain"] == "https://alice3bot-pad.gw2.example"  # type: ignore[attr-defined]
    w.until("payment", {})
    queries.pay()
    w.answer()
    assert w.ctx.get("domain") == "alice3bot-pad.gw2.example"
    w.answer()
    spec = w.submit().spec
    assert spec["parent_domain"] == "gw2.example" and "domain_suffix" not in spec


def test_no_parent_with_certificates_left_stops_at_the_currency_or_after_the_payment_saying_why() -> None:
    queries = AppQueries(networks_list=[contracts.NetworkInfo(name="apps", ip_range="10.100.0.0/16", nodes=[])],
                         no_certificates={"gw1.example"})  # fmt: skip
    why = f"{apps_infra.NO_DOMAIN} (gw1.example: {gateway_contracts.NO_CERTIFICATES_LEFT})"
    w = walk(queries).until("currency", ANSWERS)
    with pytest.raises(ApiError) as refused:
        w.answer()
    assert refused.value.errors[0].description == why and not queries.orders
    queries.no_certificates = set()
    w.answer()
    w.until("payment", {})
    queries.pay()
    queries.no_certificates = {"gw1.example"}  # used up while the user paid
    with pytest.raises(ApiError) as refused:
        w.answer()
    assert refused.value.errors[0].description == why
    assert w.step.name == "payment"
