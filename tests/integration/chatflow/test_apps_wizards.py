"""Every app of the apps family (issue 13, SOLUTIONS §1.10, §4, §6.2) deployed through its wizard over HTTP, against
the real stack: the grid emulator (its DNS, CT log and payments), the pools and deployer workers, PostgreSQL, Redis.

One user deploys all ten apps, the way a person would: the plan (farm, node, domain, CU/SU, price) shown before
paying (issue 13), a new pool per app bought and paid (the emulator's payment API), the ``<owner>_apps`` network
created by the first app and reused by the nine others, the node and automatic domain planned being the ones
deployed. The wizards are walked side by side (each one's payment and deployment overlap the others'), so the whole
module costs about one deployment's time."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import yaml

from emulators.grid.keys import open_sealed
from services.common import contracts, gateway_contracts
from services.common.grid_rules import node_is_up
from services.common.tasks import send
from services.deployer.apps import loader
from services.deployer.grid.kinds import Kind
from tests.integration.chatflow.conftest import ChatWorld
from tests.integration.chatflow.test_gateway_wizards import ENTRY_KEYS
from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld, sql
from tests.integration.deployer.test_gitea import dig, grid_pool

pytestmark = [
    pytest.mark.stack,
    pytest.mark.usefixtures("dig_installed"),
]
OWNER = "appsw.3bot"
SESSIONS = "/api/chatflows/sessions"
SMTP_PASSWORD = "Smtp-Pass-typed-never-shown-1"
MAIL_PASSWORD = "Mail-Pass-typed-never-shown-2"
APP_SECRET = "App-Secret-typed-never-shown-3"
TYPED = (SMTP_PASSWORD, MAIL_PASSWORD, APP_SECRET)
TAIGA = {"email_user": "me@example.com", "email_host": "smtp.example.com", "email_password": MAIL_PASSWORD,
         "app_secret": APP_SECRET}  # fmt: skip
REPO = {"title": "Docs", "url": "https://github.com/example/docs", "branch": "main"}
# type → (short name, the app step's answers); the first creates the apps network, the last keeps it in use.
APPS: dict[str, tuple[str, dict[str, Any]]] = {
    "cryptpad": ("pad", {"size": "5"}),
    "discourse": ("forum", {"smtp_host": "smtp.example.com", "smtp_user": "forum", "smtp_password": SMTP_PASSWORD}),
    "mattermost": ("chat", {"size": "2"}),
    "peertube": ("tube", {"size": "5"}),
    "taiga": ("agile", TAIGA),
    "publisher": ("pub", {"type": "blog", **REPO}),
    "wiki": ("wiki", REPO),
    "blog": ("blog", REPO),
    "website": ("www", REPO),
    "ubuntu_simple": ("box", {"ssh_key": {"filename": "id.pub", "content": SSH_KEY + "\n"}}),
}
GATEWAY_KINDS = ["reverse_proxy", "subdomain"]
APP_KEYS = {"IPv4 Address", "IPv6 Address", "Node", "Pool", "Network", "CPU", "Memory", "RootFS Type", "RootFS Size"}


@dataclass
class Deployed:
    type: str
    name: str
    session_id: str
    pool_id: int
    plan: dict[str, str]  # the plan step's rows, shown before the pool was bought
    overview: dict[str, str]
    view: dict[str, Any]  # the submitted session

    @property
    def solution_id(self) -> str:
        return str(self.view["solution_id"])


def definition(type_: str) -> dict[str, Any]:
    return dict(yaml.safe_load((loader.BUILTIN / f"{type_}.yaml").read_text(encoding="utf-8")))


def answer(chat: ChatWorld, view: dict[str, Any], answers: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return dict(chat.answer(OWNER, view, answers, status))


def walk_to(chat: ChatWorld, view: dict[str, Any], answers: dict[str, dict[str, Any]], stop: str,
            owner: str = OWNER) -> dict[str, Any]:  # fmt: skip
    """Answer step after step (by step name) until the wizard shows ``stop``."""
    for _ in range(12):
        if view["step"]["name"] == stop:
            return view
        view = dict(chat.answer(owner, view, answers[view["step"]["name"]]))
    raise AssertionError(f"the wizard never reached {stop}: {view['step']}")


def pay(world: DeployerWorld, pool_ids: list[int]) -> None:
    """Pay every pool through the emulator's payment API; the real pools worker credits them."""
    for pool_id in pool_ids:
        assert world.admin("pay", {"reservation_id": grid_pool(pool_id)}).status_code == 200
    deadline = time.monotonic() + 30  # the grid credits a payment after its payment delay
    while sql("SELECT count(*) AS n FROM pools.pools WHERE id = ANY(%s) AND state = 'active'", pool_ids)[0]["n"] \
            < len(pool_ids):  # fmt: skip
        assert time.monotonic() < deadline, "a payment was not credited"
        send(world.celery, contracts.POOLS_WATCH_PAYMENTS, contracts.WatchPayments()).get(timeout=60)
        time.sleep(0.3)


@pytest.fixture(scope="module")
def deployed(chat: ChatWorld) -> dict[str, Deployed]:
    """The ten apps walked through their wizards, submitted, and waited for."""
    world = chat.world
    end = (datetime.now(UTC) + timedelta(minutes=70)).strftime("%Y-%m-%dT%H:%M")
    views: dict[str, dict[str, Any]] = {}
    plans: dict[str, dict[str, str]] = {}
    bought = sql("SELECT count(*) AS n FROM pools.pools WHERE owner = %s", OWNER)[0]["n"]
    for type_, (name, app) in APPS.items():
        steps = {"name": {"name": name}, "app": app, "end": {"end": end}, "currency": {"currency": "TFT"}}
        view = walk_to(chat, chat.start(OWNER, type_), steps, "plan")
        # The plan comes before the payment: farm, node, domain, CU/SU and price shown, nothing bought yet.
        (confirm,) = view["step"]["fields"]
        assert confirm["kind"] == "confirm", confirm
        plans[type_] = dict(confirm["rows"])
        assert sql("SELECT count(*) AS n FROM pools.pools WHERE owner = %s", OWNER)[0]["n"] == bought
        views[type_] = answer(chat, view, {})
        assert views[type_]["step"]["name"] == "payment", views[type_]["step"]
        bought += 1
    first = next(iter(APPS))
    # Nothing goes on before the payment.
    unpaid = chat.post(f"{SESSIONS}/{views[first]['id']}/answer", OWNER, {"answers": {}})
    assert unpaid.status_code == 422 and unpaid.json["errors"][0]["field"] == "payment", unpaid.json
    pools = {t: int(v["step"]["fields"][0]["pool_id"]) for t, v in views.items()}
    assert len(set(pools.values())) == len(APPS)  # a new pool per deployment
    pay(world, list(pools.values()))

    # The first app creates the apps network and waits for it; the others find it and go straight to the overview.
    view = answer(chat, views[first], {})
    assert view["step"]["name"] == "network", view["step"]
    network_field = next(f for f in view["step"]["fields"] if f["kind"] == "progress")
    assert world.wait(network_field["solution_id"], timeout=60)["status"] == "deployed"
    views[first] = answer(chat, view, {})
    for type_ in list(APPS)[1:]:
        views[type_] = answer(chat, views[type_], {})
    found: dict[str, Deployed] = {}
    for type_, view in views.items():
        assert view["step"]["name"] == "overview", (type_, view["step"])
        (confirm,) = view["step"]["fields"]
        overview = dict(confirm["rows"])
        submitted = answer(chat, view, {})
        assert submitted["status"] == "submitted", submitted
        found[type_] = Deployed(type_, APPS[type_][0], view["id"], pools[type_], plans[type_], overview, submitted)
    for app in found.values():
        sol = world.wait(app.solution_id, timeout=180)
        # The nodes every app went on, to tell a full node shared by two of them from another failure.
        nodes = {a.type: a.overview["Node"] for a in found.values()}
        assert sol["status"] == "deployed", (app.type, world.events(app.solution_id), nodes)
    return found


def sealed_values(world: DeployerWorld, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Every ``secret_environment`` value of the solution's containers, opened with its node's key as the node
    does (the emulator's seeded keys)."""
    with sqlite3.connect(f"file:{world.tmp / 'grid.sqlite3'}?mode=ro", uri=True) as conn:
        seeds = {node: bytes.fromhex(seed) for node, seed in conn.execute("SELECT node_id, signing_seed FROM nodes")}
    opened = {}
    for w in rows:
        for key, value in (w["body"].get("secret_environment") or {}).items():
            plain = open_sealed(seeds[w["node_id"]], value)
            assert plain is not None, (w["key"], key)
            opened[f"{w['key']}.{key}"] = plain.decode()
    return opened


def real_secrets(world: DeployerWorld, rows: list[dict[str, Any]], d: dict[str, Any]) -> dict[str, str]:
    """The secrets among the sealed values: the app's secret env and the tunnel secrets (a TLS proxy seals all of
    its env, its domain and e-mail included, which are not secrets)."""
    secret_names = {f"container.{k}" for k in d.get("secret_env") or {}}
    return {k: v for k, v in sealed_values(world, rows).items() if k in secret_names or k.endswith(".TRC_SECRET")}


def shown_text(chat: ChatWorld, app: Deployed) -> str:
    """Everything the user, the logs and the grid's plain fields can show of the deployment."""
    world, sid = chat.world, app.solution_id
    listed = world.client().get(f"/api/solutions?type={app.type}", headers=world.headers(OWNER)).get_data(as_text=True)
    detail = world.client().get(f"/api/solutions/{sid}", headers=world.headers(OWNER)).get_data(as_text=True)
    session = chat.get(f"{SESSIONS}/{app.session_id}", OWNER).get_data(as_text=True)
    plain = [{k: v for k, v in w["body"].items() if k != "secret_environment"} for w in world.workloads(sid)]
    return listed + detail + session + json.dumps(world.events(sid)) + json.dumps(plain, default=str)


def app_farms(world: DeployerWorld, currency: str, cru: float) -> list[tuple[int, str]]:
    query = contracts.AppFarmsQuery(currency=currency, cru=cru, mru=1, sru=1, hru=0)  # type: ignore[arg-type]
    answer = contracts.FarmList.model_validate(send(world.celery, contracts.POOLS_LIST_APP_FARMS, query).get(60))
    return [(f.farm_id, f.name) for f in answer.farms]


def test_the_real_pools_worker_offers_the_app_farms_that_accept_the_currency_and_have_room(chat: ChatWorld) -> None:
    """``pools.list_app_farms`` (SOLUTIONS §1.10 6.1): only ``APP_FARMS`` (freefarm here, among eight farms), only
    for a currency it has a wallet for, and only when its up nodes' free capacity fits — for FreeTFT, only its
    ``free_to_use`` nodes count. The expected numbers are read from the emulator's explorer."""
    world = chat.world
    farm = requests.get(f"{world.grid}/api/v1/farms/1", timeout=10).json()
    assert farm["name"] == "freefarm" and len(requests.get(f"{world.grid}/api/v1/farms", timeout=10).json()) > 1
    assert "TFTA" not in {w["asset"] for w in farm["wallet_addresses"]}
    nodes = requests.get(f"{world.grid}/api/v1/nodes", params={"farm": 1, "size": 500}, timeout=10).json()
    free = {n["node_id"]: n["total_resources"]["cru"] - max(0, n["reserved_resources"]["cru"])
            for n in nodes if node_is_up(n["updated"])}  # fmt: skip
    all_free = sum(free.values())
    free_to_use = sum(v for n in nodes if n["free_to_use"] and (v := free.get(n["node_id"])) is not None)
    assert 1 <= free_to_use < all_free - 1
    assert app_farms(world, "TFT", 1) == [(1, "freefarm")]
    assert app_farms(world, "TFTA", 1) == []  # no wallet for it: the wizard says "no capacity … this currency"
    assert app_farms(world, "TFT", all_free + 1) == []
    assert app_farms(world, "FreeTFT", free_to_use) == [(1, "freefarm")]
    assert app_farms(world, "FreeTFT", free_to_use + 0.5) == []
    assert app_farms(world, "TFT", free_to_use + 0.5) == [(1, "freefarm")]


@pytest.mark.parametrize("type_", list(APPS))
def test_the_app_deployed_through_its_wizard(chat: ChatWorld, deployed: dict[str, Deployed], type_: str) -> None:
    world, app, d = chat.world, deployed[type_], definition(type_)
    sol = world.solution(app.solution_id)
    rows = world.workloads(app.solution_id)
    pattern = (d.get("exposure") or {}).get("pattern", "none")
    kinds = sorted(w["kind"] for w in rows)
    expected = {"C": ["container", "container", *GATEWAY_KINDS], "P": ["container", *GATEWAY_KINDS],
                "none": ["container"]}[pattern] + (["volume"] if d.get("volume") else [])  # fmt: skip
    assert kinds == sorted(expected)
    # Every workload paid by this app's own new pool (a gateway one too: the new pool is its gateway pool), the
    # gateway ones on a gateway, the rest on the node the overview showed.
    gateways = {g["node_id"] for g in requests.get(f"{world.grid}/api/v1/gateways", timeout=10).json()}
    # Ten apps planned side by side may fill a planned node before the last of them is placed: that app then goes
    # on another node of its pool, and an event says so (test_apps.py in the deployer tests covers the move).
    moved = any(f"node {app.plan['Node']} planned for" in e for e in world.events(app.solution_id))
    app_nodes = {w["node_id"] for w in rows if not Kind(w["kind"]).on_gateway}
    for w in rows:
        on_gateway = Kind(w["kind"]).on_gateway
        assert w["pool_id"] == grid_pool(app.pool_id) == world.grid_workload(int(w["grid_id"]))["pool_id"], w["key"]
        assert (w["node_id"] in gateways) is on_gateway, w["key"]
    assert app.overview["Node"] == app.plan["Node"]  # the node planned before paying
    assert app_nodes == ({app.plan["Node"]} if not moved else app_nodes - {app.plan["Node"]}), (app_nodes, moved)
    assert len(app_nodes) == 1  # the helper and the volume beside the app
    container = next(w for w in rows if w["key"] == "container")
    assert container["body"]["network_connection"][0]["network_id"] == f"{OWNER}_apps"
    assert app.overview["Farm"] == app.plan["Farm"] == "freefarm" and app.overview["Price"].endswith(" TFT")
    # The price planned before paying is the amount the QR code asked (the grid's price, GRID_API §4.5).
    assert app.plan["Price"] == app.overview["Price"], (app.plan, app.overview)
    assert "Domain" not in app.plan if pattern == "none" else app.plan["Domain"] == app.overview["Domain"]

    (entry,) = world.client().get(f"/api/solutions?type={type_}", headers=world.headers(OWNER)).json["solutions"]
    assert entry["Name"] == app.name and entry["Network"] == "apps" and entry["Pool"] == grid_pool(app.pool_id)
    assert set(entry["wids"]) == {int(w["grid_id"]) for w in rows}
    if pattern == "none":
        assert set(entry) == ENTRY_KEYS | APP_KEYS and "URL" not in sol["outputs"]
        assert "Domain" not in app.overview
    else:
        (fqdn,) = {w["body"]["domain"] for w in rows if w["kind"] in GATEWAY_KINDS}
        assert fqdn == f"appsw3bot-{app.name}.gw1.grid.example"
        assert app.overview["Domain"] == f"https://{fqdn}"  # the overview showed the name deployed
        assert set(entry) == ENTRY_KEYS | APP_KEYS | {"Domain"} and entry["Domain"] == fqdn
        assert sol["outputs"]["URL"] == f"https://{fqdn}" and fqdn in sol["outputs"]["Message"]
        status, addresses = dig(world, fqdn)
        assert status == "NOERROR" and addresses, (fqdn, status)

    # Secrets: typed or generated, they are only in the sealed secret env — in no plain env, entrypoint, listing,
    # detail, event or session view.
    secrets = real_secrets(world, rows, d)
    assert set(secrets) >= {f"container.{k}" for k in d.get("secret_env") or {}}
    text = shown_text(chat, app)
    assert all(value not in text for value in [*secrets.values(), *TYPED]), type_


def test_one_apps_network_shared_by_every_app_its_file_offered_once(deployed: dict[str, Deployed]) -> None:
    nets = sql("SELECT id, name, status FROM deployer.solutions WHERE owner = %s AND type = 'network'", OWNER)
    assert [(n["name"], n["status"]) for n in nets] == [("apps", "deployed")]
    offered = {t: [f for f in a.view["step"]["fields"] if f.get("filename") == "apps.conf"]
               for t, a in deployed.items()}  # fmt: skip
    assert [t for t, fields in offered.items() if fields] == ["cryptpad"]
    assert offered["cryptpad"][0]["solution_id"] == str(nets[0]["id"])


def test_generated_secrets_are_fresh_per_deployment(chat: ChatWorld, deployed: dict[str, Deployed]) -> None:
    generated = {}
    for app in deployed.values():
        d = definition(app.type)
        names = {f"container.{k}" for k, how in (d.get("secret_env") or {}).items() if "generate" in how}
        found = real_secrets(chat.world, chat.world.workloads(app.solution_id), d)
        assert set(found) >= names
        generated |= {f"{app.type}.{k}": v for k, v in found.items() if k in names}
    # Discourse's and Taiga's FLASK_SECRET_KEY, Mattermost's two passwords, …: never the same value twice.
    assert len(generated) >= 6 and len(set(generated.values())) == len(generated), generated.keys()


def test_the_overview_domain_is_the_one_deployed_when_the_name_is_taken_or_the_parent_out_of_certificates(
    chat: ChatWorld, deployed: dict[str, Deployed]
) -> None:
    """A Blog named like the deployed Cryptpad: its name is taken, so the plan and overview show ``-<n>`` and planning
    deploys exactly that (it drew another number before). While Let's Encrypt's weekly budget of the only parent is
    used up, the wizard refuses before the overview (planning would refuse it after)."""
    world = chat.world
    end = (datetime.now(UTC) + timedelta(minutes=70)).strftime("%Y-%m-%dT%H:%M")
    steps = {"name": {"name": "pad"}, "app": REPO, "end": {"end": end}, "currency": {"currency": "TFT"}}
    view = walk_to(chat, chat.start(OWNER, "blog"), steps, "plan")
    planned = dict(view["step"]["fields"][0]["rows"])["Domain"]
    view = answer(chat, view, {})
    pool_id = int(view["step"]["fields"][0]["pool_id"])
    pay(world, [pool_id])
    assert world.admin("ct", {"domain": "gw1.grid.example", "count": 50}).status_code == 201
    try:
        refused = chat.post(f"{SESSIONS}/{view['id']}/answer", OWNER, {"answers": {}})
        assert refused.status_code == 422, refused.json
        (error,) = refused.json["errors"]
        assert error["field"] == "payment" and gateway_contracts.NO_CERTIFICATES_LEFT in error["description"], error
    finally:
        requests.delete(f"{world.grid}/_emulator/ct", json={"domain": "ct-seed-%.gw1.grid.example"}, timeout=10)
    view = answer(chat, view, {})
    assert view["step"]["name"] == "overview"
    shown = dict(view["step"]["fields"][0]["rows"])["Domain"]
    assert re.fullmatch(r"https://appsw3bot-pad-\d{4,6}\.gw1\.grid\.example", shown), shown
    assert shown == planned  # the name planned before paying, found again after it
    submitted = answer(chat, view, {})
    sid = str(submitted["solution_id"])
    assert world.wait(sid, timeout=120)["status"] == "deployed", world.events(sid)
    (fqdn,) = {w["body"]["domain"] for w in world.workloads(sid) if w["kind"] in GATEWAY_KINDS}
    assert f"https://{fqdn}" == shown
    assert world.cancel(OWNER, sid).status_code == 202
    assert world.wait(sid, ("cancelled",), timeout=90)["status"] == "cancelled"
    world.assert_gone_from_grid(sid)


def test_two_first_apps_at_once_create_one_apps_network(chat: ChatWorld) -> None:
    """A user with no apps network paying two apps at the same moment (two tabs): one network is created, the
    other wizard waits for it; both apps deploy in it and only the creating session offers ``apps.conf``."""
    world, owner = chat.world, "appsrace.3bot"
    end = (datetime.now(UTC) + timedelta(minutes=70)).strftime("%Y-%m-%dT%H:%M")
    views = []
    for name in ("one", "two"):
        steps = {"name": {"name": name}, "app": APPS["ubuntu_simple"][1], "end": {"end": end},
                 "currency": {"currency": "TFT"}, "plan": {}}  # fmt: skip
        views.append(walk_to(chat, chat.start(owner, "ubuntu_simple"), steps, "payment", owner))
    pay(world, [int(v["step"]["fields"][0]["pool_id"]) for v in views])
    views = [dict(chat.answer(owner, v, {})) for v in views]
    assert [v["step"]["name"] for v in views] == ["network", "network"]
    (net,) = sql("SELECT id FROM deployer.solutions WHERE owner = %s AND type = 'network'", owner)
    progress = [[f["solution_id"] for f in v["step"]["fields"] if f["kind"] == "progress"] for v in views]
    assert progress == [[str(net["id"])], []]
    assert world.wait(str(net["id"]), timeout=60)["status"] == "deployed"
    submitted = [dict(chat.answer(owner, dict(chat.answer(owner, v, {})), {})) for v in views]
    for view in submitted:
        assert world.wait(view["solution_id"], timeout=120)["status"] == "deployed", world.events(view["solution_id"])
    offered = [[f for f in v["step"]["fields"] if f.get("filename") == "apps.conf"] for v in submitted]
    assert [len(fields) for fields in offered] == [1, 0]
    for view in submitted:
        assert world.cancel(owner, view["solution_id"]).status_code == 202
        assert world.wait(view["solution_id"], ("cancelled",), timeout=90)["status"] == "cancelled"
    assert world.cancel(owner, str(net["id"])).status_code == 202


@pytest.mark.parametrize(
    ("type_", "field", "value"),
    [
        ("cryptpad", "size", "7"),
        ("discourse", "smtp_host", "smtp.example.com; reboot"),
        ("discourse", "smtp_user", "a'b"),
        ("taiga", "email_user", "not-an-address"),
        ("publisher", "type", "admin"),
        ("publisher", "url", "https://example.com/x' && id '"),
        ("wiki", "branch", "$(id)"),
        ("website", "title", "t" * 201),
    ],
)
def test_hostile_app_answers_get_422_naming_the_field(chat: ChatWorld, type_: str, field: str, value: str) -> None:
    owner = "appsbad.3bot"
    view = dict(chat.answer(owner, chat.start(owner, type_), {"name": "bad"}))
    assert view["step"]["name"] == "app"
    bad = chat.post(f"{SESSIONS}/{view['id']}/answer", owner, {"answers": {**APPS[type_][1], field: value}})
    assert bad.status_code == 422 and [e["field"] for e in bad.json["errors"]] == [field], bad.json
    assert chat.get(f"{SESSIONS}/{view['id']}", owner).json["step"]["name"] == "app"
    assert chat.delete(f"{SESSIONS}/{view['id']}", owner).status_code in (200, 204)


def test_cancel_leaves_the_grid_clean_and_the_apps_network_while_an_app_uses_it(
    chat: ChatWorld, deployed: dict[str, Deployed]
) -> None:
    world = chat.world
    keep = deployed["ubuntu_simple"]
    gone = [app for app in deployed.values() if app is not keep]
    fqdns = {app.type: f"appsw3bot-{app.name}.gw1.grid.example" for app in gone}
    for app in gone:
        assert world.cancel(OWNER, app.solution_id).status_code == 202
    for app in gone:
        assert world.wait(app.solution_id, ("cancelled",), timeout=90)["status"] == "cancelled"
        world.assert_gone_from_grid(app.solution_id)  # gateway workloads included
        assert dig(world, fqdns[app.type])[0] == "NXDOMAIN", app.type
    (net,) = sql("SELECT id, status FROM deployer.solutions WHERE owner = %s AND type = 'network'", OWNER)
    assert net["status"] == "deployed"
    refused = world.cancel(OWNER, str(net["id"]))
    assert refused.status_code == 409 and "ubuntu_simple box" in refused.get_data(as_text=True)
    assert world.cancel(OWNER, keep.solution_id).status_code == 202
    assert world.wait(keep.solution_id, ("cancelled",), timeout=90)["status"] == "cancelled"
    world.assert_gone_from_grid(keep.solution_id)
    # Pools are never cancelled.
    states = sql("SELECT state FROM pools.pools WHERE id = ANY(%s)", [a.pool_id for a in deployed.values()])
    assert [s["state"] for s in states] == ["active"] * len(deployed)
    assert world.cancel(OWNER, str(net["id"])).status_code == 202
    assert world.wait(str(net["id"]), ("cancelled",), timeout=60)["status"] == "cancelled"
