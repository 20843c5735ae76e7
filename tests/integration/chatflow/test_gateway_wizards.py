"""Domain Delegation, Solution Expose and 4to6 Gateway driven through the chatflow's HTTP API (SOLUTIONS §3.9-§3.11)
against the real stack: the emulator's grid and DNS, real workers, PostgreSQL and Redis.

Each wizard deploys, its solution is listed by ``GET /api/solutions`` with the §6.2 keys, and its cancel leaves the
grid without a workload of it (gateway workloads included, each checked on the chosen gateway in the user's pool
that contains it). Hostile names and keys are refused at their field with 422 in the standard error shape."""

from __future__ import annotations

import base64
from typing import Any

import nacl.public
import pytest

from services.deployer.solutions import gateway4to6
from tests.integration.chatflow.conftest import ChatWorld
from tests.integration.deployer.conftest import SSH_KEY, DeployerWorld
from tests.integration.deployer.test_gateway_solutions import (
    assert_on_the_gateway,
    cancelled_and_gone,
    dig,
    gateway_of,
)

pytestmark = pytest.mark.usefixtures("dig_installed")
SESSIONS = "/api/chatflows/sessions"
ENTRY_KEYS = {"id", "type", "name", "status", "error", "created", "wids", "Name"}  # every entry (§6.1, §6.2)
HOSTILE_DOMAINS = ["bücher.example", f"{'a' * 60}.{'b' * 60}.{'c' * 60}.{'d' * 60}.{'e' * 56}.example",
                   "x;rm -rf /.example", "$(reboot).example", "a`id`.example", "a b.example"]  # fmt: skip


def choices(view: dict[str, Any]) -> list[str]:
    return [c["value"] for c in view["step"]["fields"][0].get("choices", [])]


def refused(chat: ChatWorld, owner: str, view: dict[str, Any], answers: dict[str, Any], field: str) -> str:
    """Answers the current step with something it must refuse: 422 in the standard shape naming ``field``, and the
    wizard stays on that step. Returns the description."""
    response = chat.post(f"{SESSIONS}/{view['id']}/answer", owner, {"answers": answers})
    assert response.status_code == 422, (answers, response.json)
    body = response.json
    assert body["message"] and body["request_id"], body
    assert [e["field"] for e in body["errors"]] == [field], (answers, body)
    assert chat.get(f"{SESSIONS}/{view['id']}", owner).json["step"]["name"] == view["step"]["name"]
    return str(body["errors"][0]["description"])


def steps(chat: ChatWorld, owner: str, view: dict[str, Any], *answers: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """Answers the named steps in this order (each must be the step the wizard is on)."""
    for name, answer in answers:
        assert view["status"] == "active" and view["step"]["name"] == name, (name, view.get("step"))
        view = chat.answer(owner, view, answer)
    return view


def deployed(chat: ChatWorld, view: dict[str, Any]) -> dict[str, Any]:
    assert view["status"] == "submitted", view
    sol = chat.world.wait(view["solution_id"])
    assert sol["status"] == "deployed", chat.world.events(view["solution_id"])
    return sol


def listed(world: DeployerWorld, owner: str, type: str, solution_id: str) -> dict[str, Any]:
    """The solution as ``GET /api/solutions?type=`` lists it (the user's own listing)."""
    response = world.client().get(f"/api/solutions?type={type}", headers=world.headers(owner))
    assert response.status_code == 200, response.json
    found = [s for s in response.json["solutions"] if s["id"] == solution_id]
    assert len(found) == 1, response.json
    return dict(found[0])


def not_listed(world: DeployerWorld, owner: str, type: str, solution_id: str) -> None:
    response = world.client().get(f"/api/solutions?type={type}", headers=world.headers(owner))
    assert solution_id not in {s["id"] for s in response.json["solutions"]}


def ubuntu_box(world: DeployerWorld, owner: str) -> str:
    """A deployed Ubuntu container in the owner's network ``net`` (what Solution Expose publishes), in the app pool;
    the gateway pool, of the same farm, is bought first (the gateway is in both: a gateway workload paid by the app
    pool would be accepted by the grid, and only the assertions on pools would see it)."""
    world.pool(owner, key="gateways")
    pool = world.pool(owner)
    world.network(owner)
    box = world.deploy(owner, "ubuntu", {"name": "box", "where": {"pool_id": pool}, "network": "net",
                                         "ssh_key": SSH_KEY})  # fmt: skip
    assert box["status"] == "deployed", world.events(str(box["id"]))
    return str(box["id"])


def expose_start(chat: ChatWorld, owner: str, box_id: str, domain: str) -> dict[str, Any]:
    """Solution Expose up to (and including) the domain choice, with the Ubuntu box on ports 80/443."""
    view = chat.start(owner, "exposed")
    view = steps(chat, owner, view, ("solution_type", {"solution_type": "ubuntu"}))
    assert box_id in choices(view)
    view = steps(chat, owner, view, ("solution_id", {"solution_id": box_id}), ("ports", {"tls_port": 443, "port": 80}))
    assert domain in choices(view), choices(view)
    return steps(chat, owner, view, ("domain", {"domain": domain}))


def test_delegation_and_the_three_expose_domains_through_the_wizards(chat: ChatWorld) -> None:
    world, owner = chat.world, "wanda.3bot"
    box_id = ubuntu_box(world, owner)
    gw = gateway_of(world, owner)
    gateway_choice = f"{gw.pool_id}:{gw.node_id}"
    parent = gw.managed_domains[0]
    assert gw.pool_id == world.pool(owner, key="gateways") != world.pool(owner)

    # Domain Delegation: hostile domains refused at the field, then a real one deployed on the chosen gateway.
    view = chat.start(owner, "delegated_domain")
    assert choices(view) == [gateway_choice]
    view = steps(chat, owner, view, ("gateway", {"gateway": gateway_choice}))
    for bad in HOSTILE_DOMAINS:
        refused(chat, owner, view, {"domain": bad}, "domain")
    view = steps(chat, owner, view, ("domain", {"domain": "Wanda-Shop.example"}), ("confirm", {}))
    delegation = deployed(chat, view)
    delegation_id = str(delegation["id"])
    (delegate,) = assert_on_the_gateway(world, delegation_id, gw)
    assert delegate["kind"] == "domain_delegate"
    entry = listed(world, owner, "delegated_domain", delegation_id)
    assert set(entry) == ENTRY_KEYS | {"Gateway", "Pool"}
    assert (entry["Name"], entry["Gateway"], entry["Pool"]) == ("wanda-shop.example", gw.node_id, gw.grid_pool_id)
    assert entry["wids"] == [int(delegate["grid_id"])]

    # Expose under the delegated domain: a label with dots is refused, then the exposure deploys.
    view = expose_start(chat, owner, box_id, "delegated:wanda-shop.example")
    for bad in ("a.b", "shop.wanda-shop.example", "ünï", "x;id", "a" * 64):
        refused(chat, owner, view, {"label": bad}, "label")
    view = steps(chat, owner, view, ("label", {"label": "shop"}), ("confirm", {}))
    on_delegated = deployed(chat, view)
    assert on_delegated["name"] == "shop.wanda-shop.example"

    # Expose under a managed domain: a label that already resolves is asked again, another one deploys.
    view = expose_start(chat, owner, box_id, f"managed:{parent}")
    ns_label = gw.dns_nameserver[0].removesuffix(f".{parent}")  # ns1.<parent> resolves: the gateway's own A
    assert "already exists in the DNS" in refused(chat, owner, view, {"label": ns_label}, "label")
    view = steps(chat, owner, view, ("label", {"label": "wanda"}), ("confirm", {}))
    on_managed = deployed(chat, view)
    assert dig(world, f"wanda.{parent}")[0] == "NOERROR"
    # Now that name is taken too: a second wizard asks for another label.
    again = expose_start(chat, owner, box_id, f"managed:{parent}")
    assert "already" in refused(chat, owner, again, {"label": "wanda"}, "label")
    assert chat.delete(f"{SESSIONS}/{again['id']}", owner).status_code == 204

    # Expose on a custom domain: hostile names refused, a gateway chosen, the CNAME instruction shown.
    view = expose_start(chat, owner, box_id, "custom")
    for bad in HOSTILE_DOMAINS:
        refused(chat, owner, view, {"custom_domain": bad}, "custom_domain")
    view = steps(chat, owner, view, ("custom_domain", {"custom_domain": "app.wanda.example"}))
    view = steps(chat, owner, view, ("gateway", {"gateway": gateway_choice}))
    assert view["step"]["name"] == "cname"
    instruction = view["step"]["fields"][0]["markdown"]
    assert "CNAME" in instruction and "app.wanda.example" in instruction and gw.dns_nameserver[0] in instruction
    view = steps(chat, owner, view, ("cname", {}), ("confirm", {}))
    on_custom = deployed(chat, view)
    assert on_custom["outputs"]["Next step"] == (f"create a CNAME record for app.wanda.example pointing to "
                                                 f"{', '.join(gw.dns_nameserver)}")  # fmt: skip

    exposures = {"shop.wanda-shop.example": on_delegated, f"wanda.{parent}": on_managed,
                 "app.wanda.example": on_custom}  # fmt: skip
    for fqdn, sol in exposures.items():
        kinds = [w["kind"] for w in assert_on_the_gateway(world, str(sol["id"]), gw)]
        assert kinds == (["reverse_proxy", "container"] if fqdn == "app.wanda.example"
                         else ["subdomain", "reverse_proxy", "container"])  # fmt: skip
        entry = listed(world, owner, "exposed", str(sol["id"]))
        assert set(entry) == ENTRY_KEYS | {"Domain", "Gateway", "Pool"}
        assert (entry["Name"], entry["Domain"], entry["Gateway"], entry["Pool"]) == (fqdn, fqdn, gw.node_id,
                                                                                     gw.grid_pool_id)  # fmt: skip
        assert sorted(entry["wids"]) == sorted(int(w["grid_id"]) for w in world.workloads(str(sol["id"])))

    # The delegation cannot be cancelled while an exposure stands on it: 409 in the standard shape, naming it.
    response = world.cancel(owner, delegation_id)
    assert response.status_code == 409, response.json
    assert response.json["request_id"] and isinstance(response.json["errors"], list)
    assert "shop.wanda-shop.example" in response.json["message"]
    assert f"wanda.{parent}" not in response.json["message"]  # only what stands on the delegated domain
    assert world.solution(delegation_id)["status"] == "deployed"

    for sol in exposures.values():
        cancelled_and_gone(world, owner, str(sol["id"]))
        not_listed(world, owner, "exposed", str(sol["id"]))
    cancelled_and_gone(world, owner, delegation_id)
    not_listed(world, owner, "delegated_domain", delegation_id)
    assert dig(world, "shop.wanda-shop.example")[0] == "REFUSED"  # no zone any more
    assert dig(world, f"wanda.{parent}")[0] == "NXDOMAIN"


def _download(world: DeployerWorld, owner: str, solution_id: str) -> Any:
    return world.client().post(f"/api/solutions/{solution_id}/wireguard", headers=world.headers(owner))


def test_4to6_through_the_wizard_with_a_generated_key_and_with_the_users_own(chat: ChatWorld) -> None:
    world, owner = chat.world, "sixto.3bot"
    world.pool(owner)
    gw = gateway_of(world, owner)
    gateway_choice = f"{gw.pool_id}:{gw.node_id}"
    own_key = base64.b64encode(bytes(nacl.public.PrivateKey.generate().public_key)).decode()

    for public_key in ("", own_key):
        view = chat.start(owner, "4to6gw")
        view = steps(chat, owner, view, ("gateway", {"gateway": gateway_choice}))
        for bad in ("not-a-key", "A" * 43 + "=" + ";id", own_key[:-2], "x" * 300):
            refused(chat, owner, view, {"public_key": bad}, "public_key")
        view = steps(chat, owner, view, ("public_key", {"public_key": public_key}), ("confirm", {}))
        sol = deployed(chat, view)
        solution_id = str(sol["id"])
        (tunnel,) = assert_on_the_gateway(world, solution_id, gw)
        assert tunnel["kind"] == "gateway4to6"
        assert sol["name"] == (public_key or tunnel["body"]["public_key"]) == tunnel["body"]["public_key"]
        entry = listed(world, owner, "4to6gw", solution_id)
        assert set(entry) == ENTRY_KEYS | {"Public Key", "Gateway", "Pool"}
        assert (entry["Name"], entry["Public Key"], entry["Gateway"], entry["Pool"]) == (
            sol["name"], sol["name"], gw.node_id, gw.grid_pool_id)  # fmt: skip

        download = _download(world, owner, solution_id)
        assert download.status_code == 200
        assert download.headers["Content-Disposition"] == f'attachment; filename="wg-{tunnel["grid_id"]}.conf"'
        config = download.get_data(as_text=True)
        assert config.startswith("[Interface]\nAddress = ") and "\n[Peer]\nPublicKey = " in config
        assert (f"PrivateKey = {gateway4to6.KEY_PLACEHOLDER}" in config) == bool(public_key)
        gone = _download(world, owner, solution_id)
        assert gone.status_code == 410 and gone.json["message"]
        cancelled_and_gone(world, owner, solution_id)
        not_listed(world, owner, "4to6gw", solution_id)
