"""Every wizard walked from its first step to its submission, answering as the browser would.

The other services are replaced by a small fake with the methods of ``Queries`` returning fixed contract objects;
the walk does what ``Engine.answer`` does for each step (validate every field, run the step's check, store secret
answers apart, run ``then``). Each produced spec is validated by the deployer's own spec model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import FLOWS, common, flist, kubernetes, minio, monitoring, network, pools, ubuntu
from services.chatflow.questions import Confirm, Info, Invalid, MultiChoice, Payment, literal
from services.common import contracts
from services.common.errors import ApiError
from services.deployer.solutions import PLANNERS

OWNER = "alice.3bot"
SESSION = "3f2c9a4e-1b7d-4c2e-9f00-5d6e7a8b9c0d"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnV3Zp alice@laptop"
RSA_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 bob@desk"
NODES = [
    "CBDY1Fu4CuxGpdU3zLL9QT5DGaRkxjpuJmzV6V5CBWg3",
    "9KkQ3Y9B6f1qDn6Lh9Wk2mUpJb2vSyHq2GQWtb8Yd6xZ",
    "HJ2s7sPyJ3u2fzV4i9RYcT5wqgKxPmVPAxPcbsqf1Cd5",
    "4sLfmKzqgDw8bBf5GnQ7jfBu5ayQz2EwXH6ntNqLfzmX",
]
FLIST_URL = "https://hub.grid.tf/tf-official-apps/redis_zinit.flist"


class Refused(Exception):
    """A step's ``check`` refused the answers (the engine answers 422 with these messages per field)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(dict(errors))
        self.errors = dict(errors)


@dataclass
class FakeQueries:
    """The answers of the pools service and the deployer, fixed; what was asked is recorded."""

    pools_list: list[contracts.PoolSummary] = field(default_factory=list)
    networks_list: list[contracts.NetworkInfo] = field(default_factory=list)
    # pool id → the nodes of that pool that fit anything; the first node has public IPv4 only, the second IPv6.
    pool_nodes: dict[int, list[str]] = field(default_factory=lambda: {7: NODES[:2], 8: NODES[2:]})
    public_ipv4: set[str] = field(default_factory=lambda: {NODES[0], NODES[2]})
    public_ipv6: set[str] = field(default_factory=lambda: {NODES[1]})
    taken: set[tuple[str, str]] = field(default_factory=set)
    buy_reason: str = ""
    capable_queries: list[tuple[float, float, float, float]] = field(default_factory=list)
    name_queries: list[tuple[str, str]] = field(default_factory=list)
    orders: list[contracts.BuyCapacity] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)

    def capable_pools(
        self, owner: str, cru: float, mru: float, sru: float, hru: float, seconds: int
    ) -> list[contracts.CapablePool]:
        self.capable_queries.append((cru, mru, sru, hru))
        return [
            contracts.CapablePool(
                pool_id=pid,
                grid_pool_id=100 + pid,
                farm="freefarm",
                cus=3600.0,
                sus=3600.0,
                node_ids=nodes,
                label=f"Pool {pid} — CU 1.0 h, SU 1.0 h left (freefarm)",
            )
            for pid, nodes in self.pool_nodes.items()
        ]

    def forget(self, task: str, payload: Any) -> None:
        self.forgotten.append(task)

    def pools(self, owner: str) -> list[contracts.PoolSummary]:
        return list(self.pools_list)

    def farms(self, currency: str) -> list[contracts.FarmOffer]:
        return [contracts.FarmOffer(farm_id=1, label=f"freefarm location: EU-BE-Ghent accepts {currency}")]

    def buy(self, order: contracts.BuyCapacity) -> contracts.Purchase:
        self.orders.append(order)
        if self.buy_reason:
            return contracts.Purchase(ok=False, reason=self.buy_reason)
        pool_id = order.pool_id or 15
        payment = {
            "reservation_id": 15 + len({o.key for o in self.orders}) - 1,
            "address": "GAESCROW",
            "currency": order.currency,
            "amount": "0.66708",
            "memo": "p-15",
            "qr_text": f"{order.currency}:GAESCROW?amount=0.66708&message=p-15&sender=me",
            "state": "awaiting_payment",
        }
        if order.pool_id is None and not any(p.pool_id == pool_id for p in self.pools_list):
            self.pools_list.append(
                contracts.PoolSummary(
                    pool_id=pool_id,
                    grid_pool_id=None,
                    farm="freefarm",
                    state="awaiting_payment",
                    label="Pool 15 — awaiting payment",
                    currencies=[order.currency],
                )
            )
        return contracts.Purchase(ok=True, pool_id=pool_id, payment=payment)

    def networks(self, owner: str) -> list[contracts.NetworkInfo]:
        return list(self.networks_list)

    def name_free(self, owner: str, type: str, name: str) -> contracts.Answer:
        self.name_queries.append((type, name))
        taken = (type, name) in self.taken
        return contracts.Answer(ok=not taken, reason="you already have one with this name" if taken else "")

    def node_choices(self, query: contracts.NodeChoicesQuery) -> list[str]:
        nodes = list(query.node_ids)
        if query.public_ipv4:
            nodes = [n for n in nodes if n in self.public_ipv4]
        if query.public_ipv6:
            nodes = [n for n in nodes if n in self.public_ipv6]
        return nodes

    def free_ips(self, owner: str, network: str, node_id: str) -> list[str]:
        return ["10.20.2.2", "10.20.2.3"]


def active_pool(pool_id: int = 7, currencies: tuple[str, ...] = ("TFT",)) -> contracts.PoolSummary:
    return contracts.PoolSummary(
        pool_id=pool_id,
        grid_pool_id=100 + pool_id,
        farm="freefarm",
        state="active",
        label=f"Pool {pool_id} — CU 10.0 h, SU 5.0 h left (freefarm)",
        currencies=list(currencies),
    )


NET = contracts.NetworkInfo(name="net", ip_range="10.20.0.0/16", nodes=[NODES[0]])


class Walk:
    """One session of ``flow``, stepped through as ``Engine.answer`` does it."""

    def __init__(self, flow: Flow, queries: FakeQueries | None = None) -> None:
        self.flow = flow
        self.queries = queries or FakeQueries(pools_list=[active_pool()], networks_list=[NET])
        self.ctx = Context(OWNER, SESSION, {}, {}, self.queries)  # type: ignore[arg-type]
        self.index = flow.next_index(self.ctx, -1)
        self.visited: list[str] = []

    @property
    def step(self) -> Step:
        assert self.index is not None, "the flow is complete"
        return self.flow.steps[self.index]

    def answer(self, **given: Any) -> None:
        """Answer the current step: given values, the pre-filled defaults for the rest.

        Raises:
            Invalid: a field refused its answer. Refused: the step's probe or check refused. ApiError: from ``then``.
        """
        step = self.step
        questions = step.questions(self.ctx)
        unknown = set(given) - {q.name for q in questions}
        assert not unknown, f"{step.name} has no field {unknown}"
        clean = {q.name: q.check(given.get(q.name, q.default)) for q in questions if not q.display_only}
        if step.probe is not None and (errors := step.probe(clean)):
            raise Refused(errors)
        if step.check is not None and (errors := step.check(self.ctx, clean)):
            raise Refused(errors)
        secret_names = {q.name for q in questions if q.secret}
        for name, value in clean.items():
            (self.ctx.secrets if name in secret_names else self.ctx.answers)[name] = value
        if step.then is not None:
            step.then(self.ctx)
        self.visited.append(step.name)
        assert self.index is not None
        self.index = self.flow.next_index(self.ctx, self.index)

    def to_end(self, answers: Mapping[str, Mapping[str, Any]]) -> Walk:
        """Answer every remaining step (``answers[step name]``, defaults otherwise)."""
        while self.index is not None:
            self.answer(**answers.get(self.step.name, {}))
        return self

    def until(self, name: str, answers: Mapping[str, Mapping[str, Any]]) -> Walk:
        """Answer the steps before the one called ``name``."""
        while self.step.name != name:
            self.answer(**answers.get(self.step.name, {}))
        return self

    def submit(self) -> Submission:
        assert self.index is None and self.flow.submit is not None
        return self.flow.submit(self.ctx)


def validated(submission: Submission) -> Any:
    """The deployer's spec model of the submission; its secrets are complete and appear nowhere in the spec."""
    model = PLANNERS[submission.type].spec_model
    spec = model.model_validate(submission.spec)
    assert set(spec.required_secrets()) <= set(submission.secrets)
    text = json.dumps(submission.spec)
    assert all(value not in text for value in submission.secrets.values())
    return spec


def file(content: str, filename: str = "id.pub") -> dict[str, str]:
    return {"filename": filename, "content": content}


@pytest.fixture
def hub_answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """The hub answers ``HEAD`` with these statuses (200 for any other URL) instead of over the network."""
    statuses: dict[str, int] = {}

    @dataclass
    class Head:
        status_code: int

    def head(url: str, timeout: float, allow_redirects: bool) -> Head:
        assert timeout == 5
        return Head(statuses.get(url, 200))

    monkeypatch.setattr(requests, "head", head)
    yield statuses


# -- the catalogue ------------------------------------------------------------------------------------------------


def test_every_advanced_wizard_is_offered_in_catalogue_order() -> None:
    assert list(FLOWS)[:7] == ["pools", "network", "ubuntu", "flist", "kubernetes", "minio", "monitoring"]
    icons = {t: f.catalogue_entry()["icon"] for t, f in FLOWS.items()}
    assert all(icon == f"/icons/{t}.svg" for t, icon in icons.items())  # SVG files of the frontend, no emoji
    assert all(f.family == "advanced" for f in FLOWS.values())
    assert FLOWS["pools"].submit is None and all(f.submit for t, f in FLOWS.items() if t != "pools")


# -- pools -----------------------------------------------------------------------------------------------------


def test_a_first_pool_is_bought_once_for_cu_times_days_and_its_payment_shown() -> None:
    queries = FakeQueries()
    walk = Walk(pools.FLOW, queries)
    assert walk.step.name == "amounts"  # no pool yet: nothing to extend, no question
    walk.answer(cu=2, su=1, days=30, currency="TFT")
    farm = walk.step.questions(walk.ctx)[0]
    assert farm.as_json()["choices"] == [{"value": "1", "label": "freefarm location: EU-BE-Ghent accepts TFT"}]
    walk.answer(farm_id="1")

    (order,) = queries.orders
    assert (order.farm_id, order.pool_id, order.currency) == (1, None, "TFT")
    assert (order.cus, order.sus, order.days) == (2 * 30 * 86400, 1 * 30 * 86400, 30)
    assert order.key.startswith(SESSION.replace("-", "")) and order.owner == OWNER
    assert walk.ctx.answers["pool_id"] == 15 and not walk.ctx.secrets

    payment = walk.step.questions(walk.ctx)[0]
    assert isinstance(payment, Payment)
    shown = payment.as_json()
    assert shown["pool_id"] == 15 and shown["image"] == "/api/pools/15/payment.svg"
    assert shown["data"] == "TFT:GAESCROW?amount=0.66708&message=p-15&sender=me"
    assert dict(map(tuple, shown["rows"])) == {
        "Wallet address": "GAESCROW",
        "Currency": "TFT",
        "Amount": "0.66708",
        "Memo": "p-15",
    }
    walk.answer()

    ready = walk.step.questions(walk.ctx)[0]
    assert isinstance(ready, Info) and "payment not seen yet" in ready.markdown.lower()
    queries.pools_list = [active_pool(15)]
    # Named by its grid id (115 in this fake), the number the pools page and the payment memo show.
    assert "Pool 115 is ready" in walk.step.questions(walk.ctx)[0].as_json()["markdown"]
    walk.answer()
    assert walk.index is None and walk.visited == ["amounts", "farm", "payment", "ready"]
    assert len(queries.orders) == 1


def test_a_farm_name_in_the_pool_label_is_text_never_markdown() -> None:
    # The label ends with the explorer's farm name, which anyone registering a farm chooses.
    queries = FakeQueries()
    walk = Walk(pools.FLOW, queries)
    walk.answer(cu=2, su=1, days=30, currency="TFT")
    walk.answer(farm_id="1")
    walk.answer()
    label = "Pool 15 — CU 10.0 h left ([claim your refund](https://evil.example/phish))\n# Urgent"
    queries.pools_list = [contracts.PoolSummary(pool_id=15, grid_pool_id=115, farm="x", state="active", label=label,
                                                currencies=["TFT"])]  # fmt: skip
    markdown = walk.step.questions(walk.ctx)[0].as_json()["markdown"]
    assert "](https://" not in markdown and "\n# " not in markdown
    assert markdown.endswith(literal(label))
    assert literal("a [b](c) *d* `e` #1. - \\") == "a \\[b\\]\\(c\\) \\*d\\* \\`e\\` \\#1\\. \\- \\\\"


def test_a_repeated_purchase_answer_carries_the_same_idempotency_key() -> None:
    queries = FakeQueries()
    first, retry = Walk(pools.FLOW, queries), Walk(pools.FLOW, queries)
    for walk in (first, retry):
        walk.answer(cu=1, su=0)
        walk.answer(farm_id="1")
    assert queries.orders[0].key == queries.orders[1].key
    changed = Walk(pools.FLOW, queries)
    changed.answer(cu=3, su=0)
    changed.answer(farm_id="1")
    assert queries.orders[2].key != queries.orders[0].key


def test_buying_nothing_is_refused() -> None:
    walk = Walk(pools.FLOW, FakeQueries())
    with pytest.raises(Refused) as refused:
        walk.answer(cu=0, su=0)
    assert "buy some capacity" in refused.value.errors["cu"]
    with pytest.raises(Invalid):
        walk.answer(cu=-1, su=2)
    with pytest.raises(Invalid):
        walk.answer(cu=1, days=0)


def test_the_pools_service_refusal_is_shown_on_the_farm() -> None:
    walk = Walk(pools.FLOW, FakeQueries(buy_reason="unknown farm, or it has no up node that accepts TFT"))
    walk.answer(cu=1)
    with pytest.raises(ApiError) as refused:
        walk.answer(farm_id="1")
    assert refused.value.status == 422
    (error,) = refused.value.errors
    assert error.field == "farm_id" and "no up node" in error.description
    assert "pool_id" not in walk.ctx.answers


def test_extending_adds_only_the_new_amount_in_a_currency_of_the_pool() -> None:
    queries = FakeQueries(pools_list=[active_pool(7, ("TFTA",)), active_pool(8)])
    walk = Walk(pools.FLOW, queries)
    assert walk.step.name == "mode"
    walk.answer(mode="extend")
    walk.answer(extend_pool_id="7")
    with pytest.raises(Invalid):
        walk.answer(cu=1, currency="TFT")  # the pool's farm takes TFTA
    walk.answer(cu=1, su=2, days=10, currency="TFTA")
    (order,) = queries.orders
    assert (order.pool_id, order.farm_id, order.currency) == (7, None, "TFTA")
    assert (order.cus, order.sus) == (10 * 86400, 2 * 10 * 86400)
    walk.to_end({})
    assert walk.visited == ["mode", "extend_pool", "extend_amounts", "payment", "ready"]


# -- network ---------------------------------------------------------------------------------------------------


def test_a_first_network_with_a_range_of_the_users_choice() -> None:
    walk = Walk(network.FLOW, FakeQueries(pools_list=[active_pool(7), active_pool(8)]))
    with pytest.raises(Invalid):
        walk.answer(name="Bad Name!")
    walk.until(
        "ip_range",
        {"name": {"name": "mynet"}, "pool_ids": {"pool_ids": ["7", "8"]}, "ip_range_mode": {"ip_range_mode": "manual"}},
    )
    with pytest.raises(Refused):
        walk.answer(ip_range="8.8.0.0/16")  # public
    with pytest.raises(Invalid):
        walk.answer(ip_range="10.20.0.0/24")
    walk.to_end({"ip_range": {"ip_range": "172.16.0.0/16"}})
    assert walk.visited == ["name", "connection", "pool_ids", "ip_range_mode", "ip_range", "confirm"]
    submission = walk.submit()
    spec = validated(submission)
    assert submission.type == "network" and spec.ip_range == "172.16.0.0/16" and spec.pool_ids == (7, 8)
    assert spec.ipv6 is False and spec.name == "mynet"


def test_a_network_range_chosen_for_the_user_is_left_to_the_deployer() -> None:
    walk = Walk(network.FLOW, FakeQueries(pools_list=[active_pool(7)], networks_list=[NET]))
    walk.to_end({"name": {"name": "other"}, "pool_ids": {"pool_ids": ["7"]}})
    assert "ip_range" not in walk.visited
    assert validated(walk.submit()).ip_range is None


def test_pools_without_a_public_node_of_the_family_are_refused() -> None:
    queries = FakeQueries(pools_list=[active_pool(7), active_pool(8)])
    walk = Walk(network.FLOW, queries).until("pool_ids", {"name": {"name": "v6"}, "connection": {"connection": "ipv6"}})
    with pytest.raises(Refused) as refused:
        walk.answer(pool_ids=["8"])  # pool 8's nodes have no public IPv6
    assert "IPv6" in refused.value.errors["pool_ids"]
    walk.answer(pool_ids=["7"])
    walk.to_end({})
    assert validated(walk.submit()).ipv6 is True


def test_adding_access_to_a_network() -> None:
    queries = FakeQueries(pools_list=[active_pool(7)], networks_list=[NET])
    walk = Walk(network.FLOW, queries)
    assert walk.step.name == "mode"
    walk.to_end(
        {
            "mode": {"mode": "access"},
            "network": {"network": "net"},
            "name": {"name": "laptop"},
            "pool_ids": {"pool_ids": ["7"]},
        }
    )
    assert walk.visited == ["mode", "network", "name", "connection", "pool_ids", "confirm"]
    assert queries.name_queries == [("network_access", "laptop")]
    submission = walk.submit()
    spec = validated(submission)
    assert submission.type == "network_access" and spec.network == "net" and spec.pool_ids == (7,)


def test_a_taken_network_name_is_refused() -> None:
    walk = Walk(network.FLOW, FakeQueries(taken={("network", "mynet")}))
    with pytest.raises(Refused) as refused:
        walk.answer(name="mynet")
    assert refused.value.errors == {"name": "you already have one with this name"}


# -- ubuntu ----------------------------------------------------------------------------------------------------


def test_ubuntu_produces_a_valid_spec() -> None:
    walk = Walk(ubuntu.FLOW).to_end(
        {
            "name": {"name": "box"},
            "network": {"network": "net"},
            "pool_id": {"pool_id": "7"},
            "ssh_key": {"ssh_key": file(SSH_KEY)},
        }
    )
    spec = validated(walk.submit())
    assert spec.where.pool_id == 7 and spec.ssh_key == SSH_KEY


def test_a_malformed_ssh_key_is_refused_at_its_step() -> None:
    walk = Walk(ubuntu.FLOW).until(
        "ssh_key", {"name": {"name": "box"}, "pool_id": {"pool_id": "7"}, "network": {"network": "net"}}
    )
    with pytest.raises(Refused):
        walk.answer(ssh_key=file("garbage\n"))


# -- generic container ------------------------------------------------------------------------------------------

FLIST_ANSWERS: dict[str, dict[str, Any]] = {
    "name": {"name": "web"},
    "pool_id": {"pool_id": "7"},
    "network": {"network": "net"},
    "flist": {"flist": FLIST_URL},
}


def test_a_container_with_defaults(hub_answers: dict[str, int]) -> None:
    walk = Walk(flist.FLOW).to_end(FLIST_ANSWERS)
    assert not {"volume_form", "entrypoint", "node", "logs_target"} & set(walk.visited)
    spec = validated(walk.submit())
    assert spec.corex is True and spec.entrypoint == "" and spec.volume is None and spec.environment == {}
    assert spec.flist == FLIST_URL


def test_a_container_with_volume_entrypoint_node_logs_and_environment(hub_answers: dict[str, int]) -> None:
    walk = Walk(flist.FLOW)
    walk.to_end(
        {
            **FLIST_ANSWERS,
            "volume": {"volume": "yes"},
            "volume_form": {"volume_size": 20, "volume_mountpoint": "/srv"},
            "corex": {"corex": "no"},
            "entrypoint": {"entrypoint": "/bin/app --serve"},
            "node_auto": {"node_auto": "no"},
            "node": {"node_id": NODES[1]},
            "logs": {"logs": "yes"},
            "logs_target": {"logs_host": "10.20.3.4", "logs_port": 6379},
            "ip": {"ip": "10.20.2.3"},
            "environment": {"environment": "MODE=prod\n\nTOKEN=a=b\n"},
            "ipv6": {"ipv6": "yes"},
        }
    )
    assert {"volume_form", "entrypoint", "node", "logs_target"} <= set(walk.visited)
    # SOLUTIONS §3.4: the pool must hold the root disk (1 GiB) plus the volume's 20 GiB of SSD.
    assert (1.0, 1.0, 21.0, 0.0) in walk.queries.capable_queries
    spec = validated(walk.submit())
    assert spec.volume.size == 20 and spec.volume.mountpoint == "/srv"
    assert spec.corex is False and spec.entrypoint == "/bin/app --serve"
    assert spec.where.node_id == NODES[1] and spec.where.ip == "10.20.2.3" and spec.public_ipv6
    assert spec.logs.channel_name == "web"
    rows = dict(walk.flow.steps[-1].questions(walk.ctx)[0].as_json()["rows"])
    assert rows["Environment"] == "MODE, TOKEN (secret)"  # values (tokens) are not displayed
    # A value whose name says it may be a credential is a secret: encrypted in the session and to the deployer,
    # sealed to the node; only its name is in the spec (validated() also checks no secret value is in it).
    submission = walk.submit()
    assert spec.environment == {"MODE": "prod"} and spec.secret_environment == ["TOKEN"]
    assert submission.secrets == {"env_TOKEN": "a=b"}
    assert "environment" in walk.ctx.secrets and "environment" not in walk.ctx.answers


def test_coreX_drops_an_entrypoint_typed_before_switching_back(hub_answers: dict[str, int]) -> None:
    walk = Walk(flist.FLOW).to_end({**FLIST_ANSWERS, "corex": {"corex": "no"}, "entrypoint": {"entrypoint": "/x"}})
    walk.ctx.answers["corex"] = "yes"  # went back and chose coreX
    assert validated(walk.submit()).entrypoint == ""


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://example.com/app.flist", "hub.grid.tf"),
        ("http://hub.grid.tf/a/app.flist", "hub.grid.tf"),
        ("https://hub.grid.tf/a/app.flist.md", ".md"),
    ],
)
def test_an_image_not_on_the_hub_is_refused_without_asking_it(url: str, why: str, hub_answers: dict[str, int]) -> None:
    walk = Walk(flist.FLOW).until("flist", FLIST_ANSWERS)
    with pytest.raises(Refused) as refused:
        walk.answer(flist=url)
    assert why in refused.value.errors["flist"]


def test_an_image_without_its_md5_is_refused(hub_answers: dict[str, int]) -> None:
    hub_answers[f"{FLIST_URL}.md5"] = 404
    walk = Walk(flist.FLOW).until("flist", FLIST_ANSWERS)
    with pytest.raises(Refused) as refused:
        walk.answer(flist=FLIST_URL)
    assert "no such image" in refused.value.errors["flist"]


def test_an_image_the_hub_does_not_confirm_is_refused() -> None:
    # Offline (the tests' case), the HEAD fails to connect; online, the hub has no such image: both refuse.
    walk = Walk(flist.FLOW).until("flist", FLIST_ANSWERS)
    with pytest.raises(Refused) as refused:
        walk.answer(flist="https://hub.grid.tf/nobody/no-such-image-4e1f.flist")
    message = refused.value.errors["flist"]
    assert "could not reach the hub" in message or "no such image" in message


def test_a_hub_that_does_not_answer_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def head(url: str, timeout: float, allow_redirects: bool) -> Any:
        raise requests.ConnectTimeout("timed out")

    monkeypatch.setattr(requests, "head", head)
    assert flist.image_problem(FLIST_URL) == "could not reach the hub; check the URL or try again"


@pytest.mark.parametrize("text", ["1ABC=x", "NO_EQUALS", "A-B=1", "A=1\nA=2"])
def test_bad_environment_variables_are_refused(text: str, hub_answers: dict[str, int]) -> None:
    walk = Walk(flist.FLOW).until("environment", FLIST_ANSWERS)
    with pytest.raises(Refused):
        walk.answer(environment=text)


def test_container_resources_below_the_minimum_are_refused() -> None:
    walk = Walk(flist.FLOW)
    walk.answer(name="web")
    with pytest.raises(Invalid):
        walk.answer(memory=512)
    with pytest.raises(Invalid):
        walk.answer(disk=100)


# -- kubernetes --------------------------------------------------------------------------------------------------

K8S_ANSWERS: dict[str, dict[str, Any]] = {
    "name": {"name": "k3s"},
    "pool_ids": {"pool_ids": ["7", "8"]},
    "network": {"network": "net"},
    "access": {"ssh_keys": file(f"{SSH_KEY}\n\n{RSA_KEY}\n"), "cluster_secret": "s3cr3t-cluster"},
}


def test_a_cluster_spec_keeps_its_secret_apart() -> None:
    walk = Walk(kubernetes.FLOW).to_end({**K8S_ANSWERS, "cluster": {"size": "2", "workers": 3}})
    assert walk.ctx.secrets == {"cluster_secret": "s3cr3t-cluster"}
    assert "cluster_secret" not in walk.ctx.answers
    submission = walk.submit()
    spec = validated(submission)
    assert submission.secrets == {"cluster_secret": "s3cr3t-cluster"}
    assert spec.size == 2 and spec.workers == 3 and spec.pool_ids == (7, 8)
    assert spec.ssh_keys == (SSH_KEY, RSA_KEY)
    assert (2.0, 4.0, 100.0, 0.0) in walk.queries.capable_queries


def test_the_cluster_secret_is_proposed_at_random() -> None:
    walk = Walk(kubernetes.FLOW).until("access", K8S_ANSWERS)
    proposals = {q.default for _ in range(2) for q in walk.step.questions(walk.ctx) if q.secret}
    assert len(proposals) == 2 and all(len(p) == 32 for p in proposals)


def test_a_cluster_needs_a_node_per_vm_in_its_pools() -> None:
    walk = Walk(kubernetes.FLOW)
    walk.answer(name="k3s")
    walk.answer(workers=3)
    with pytest.raises(Refused) as refused:
        walk.answer(pool_ids=["7"])  # two nodes for four VMs
    assert "2 node(s)" in refused.value.errors["pool_ids"]
    with pytest.raises(Invalid):
        walk.answer(pool_ids=[])


def test_a_file_with_a_bad_key_line_is_refused() -> None:
    walk = Walk(kubernetes.FLOW).until("access", K8S_ANSWERS)
    with pytest.raises(Refused) as refused:
        walk.answer(ssh_keys=file(f"{SSH_KEY}\ngarbage\n"), cluster_secret="s3cr3t-cluster")
    assert refused.value.errors["ssh_keys"].startswith("key 2")


# -- minio -----------------------------------------------------------------------------------------------------

MINIO_ANSWERS: dict[str, dict[str, Any]] = {
    "name": {"name": "s3"},
    "zdb_pool_ids": {"zdb_pool_ids": ["7", "8"]},
    "primary_pool_id": {"primary_pool_id": "7"},
    "secondary_pool_id": {"secondary_pool_id": "8"},
    "network": {"network": "net"},
    "keys": {"secret_key": "very-secret-key"},
}


def test_a_single_minio() -> None:
    walk = Walk(minio.FLOW).to_end(MINIO_ANSWERS)
    assert not any(name.startswith("secondary_") for name in walk.visited)
    submission = walk.submit()
    spec = validated(submission)
    assert submission.secrets == {"secret_key": "very-secret-key"}
    assert spec.setup == "single" and spec.secondary is None and spec.primary.pool_id == 7
    assert spec.access_key == "alice" and spec.ssh_key is None and spec.zdb_pool_ids == (7, 8)
    assert (0.0, 0.0, 10.0, 0.0) in walk.queries.capable_queries  # SSD namespaces


def test_a_master_slave_minio_on_hdd() -> None:
    walk = Walk(minio.FLOW).to_end(
        {
            **MINIO_ANSWERS,
            "setup": {"setup": "master_slave"},
            "zdb_disk_type": {"zdb_disk_type": "hdd"},
            "shards": {"data": 2, "parity": 1},
            "secondary_node_auto": {"secondary_node_auto": "no"},
            "secondary_node": {"secondary_node_id": NODES[3]},
            "secondary_ip": {"secondary_ip": "10.20.2.2"},
            "ssh_key": {"ssh_key": file(SSH_KEY)},
        }
    )
    assert {"secondary_pool_id", "secondary_node_auto", "secondary_node", "secondary_ip"} <= set(walk.visited)
    assert (0.0, 0.0, 0.0, 10.0) in walk.queries.capable_queries  # HDD namespaces
    spec = validated(walk.submit())
    assert spec.secondary.pool_id == 8 and spec.secondary.node_id == NODES[3] and spec.secondary.ip == "10.20.2.2"
    assert spec.zdb_disk_type == "hdd" and spec.ssh_key == SSH_KEY
    assert ("Secondary IP", "10.20.2.2") in walk.flow.steps[-1].questions(walk.ctx)[0].rows  # type: ignore[attr-defined]

    walk.ctx.answers["setup"] = "single"  # went back and chose Single: the secondary answers are stale
    assert validated(walk.submit()).secondary is None


def test_minio_needs_a_node_per_namespace() -> None:
    walk = Walk(minio.FLOW).until("zdb_pool_ids", {**MINIO_ANSWERS, "setup": {"setup": "master_slave"}})
    with pytest.raises(Refused):
        walk.answer(zdb_pool_ids=["7"])  # 2 data + 1 parity + 1 log need 4 nodes; pool 7 has 2


def test_minio_keys_are_checked() -> None:
    walk = Walk(minio.FLOW).until("keys", MINIO_ANSWERS)
    with pytest.raises(Invalid):
        walk.answer(access_key="ab", secret_key="very-secret-key")
    with pytest.raises(Invalid):
        walk.answer(secret_key="short")


# -- monitoring --------------------------------------------------------------------------------------------------


def test_monitoring_places_three_components() -> None:
    walk = Walk(monitoring.FLOW).to_end(
        {
            "name": {"name": "mon"},
            "ssh_key": {"ssh_key": file(SSH_KEY)},
            "prometheus_resources": {"prometheus_cpu": 2, "prometheus_memory": 2048, "volume_size": 30},
            "redis_pool_id": {"redis_pool_id": "7"},
            "prometheus_pool_id": {"prometheus_pool_id": "8"},
            "prometheus_node_auto": {"prometheus_node_auto": "no"},
            "prometheus_node": {"prometheus_node_id": NODES[2]},
            "grafana_pool_id": {"grafana_pool_id": "7"},
            "network": {"network": "net"},
            "prometheus_ip": {"prometheus_ip": "10.20.2.3"},
        }
    )
    assert [n for n in walk.visited if n.endswith("_ip")] == ["redis_ip", "prometheus_ip", "grafana_ip"]
    assert "prometheus_node" in walk.visited and "redis_node" not in walk.visited
    # Prometheus' pool must hold its root disk (1 GiB) and its 30 GiB volume.
    assert (2.0, 2.0, 31.0, 0.0) in walk.queries.capable_queries
    spec = validated(walk.submit())
    assert spec.volume_size == 30 and spec.prometheus.resources.cpu == 2 and spec.prometheus.resources.disk == 256
    assert spec.prometheus.where.pool_id == 8 and spec.prometheus.where.node_id == NODES[2]
    assert spec.redis.where.pool_id == 7 and spec.redis.where.node_id is None
    assert spec.prometheus.where.ip == "10.20.2.3" and spec.grafana.where.ip is None
    rows = dict(walk.flow.steps[-1].questions(walk.ctx)[0].rows)  # type: ignore[attr-defined]
    assert rows["Prometheus node"] == NODES[2] and rows["Prometheus IP"] == "10.20.2.3"


# -- every flow ----------------------------------------------------------------------------------------------------


def test_the_last_step_of_every_deploying_flow_is_a_confirmation() -> None:
    for flow in FLOWS.values():
        if flow.submit is None:
            continue
        last = flow.steps[-1].questions(Context(OWNER, SESSION, {"name": "x"}, {}, FakeQueries()))  # type: ignore[arg-type]
        assert isinstance(last[0], Confirm), flow.type


def test_no_multi_choice_offers_pools_the_user_cannot_use() -> None:
    walk = Walk(kubernetes.FLOW, FakeQueries(pool_nodes={}))
    walk.answer(name="k3s")
    walk.answer()
    (question,) = walk.step.questions(walk.ctx)
    assert isinstance(question, MultiChoice) and question.choices == [] and question.help == common.NO_POOL
