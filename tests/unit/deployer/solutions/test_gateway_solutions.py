"""Solution Expose, Domain Delegation and 4to6 Gateway as planners (SOLUTIONS §3.9-§3.11): every gateway workload
on the gateway in the gateway pool, the tunnel client on a node of the target's pool, names validated, the tunnel
secret only sealed, and the wg-quick file built from the gateway's answer."""

from __future__ import annotations

import base64
from typing import Any

import nacl.public
import pytest
from pydantic import ValidationError

from services.deployer.grid.kinds import Kind
from services.deployer.solutions import PLANNERS, gateway4to6
from services.deployer.solutions.base import SealedTemplate, WorkloadView
from tests.unit.deployer.solutions.conftest import GATEWAY_ID, GATEWAY_POOL, NETWORK, run, sealed_values

KEY = base64.b64encode(bytes(nacl.public.PrivateKey.generate().public_key)).decode()
GATEWAY = {"node_id": GATEWAY_ID, "pool_id": 9}
TARGET = {"pool_id": 7, "network": "net", "ip": "10.20.2.5"}
UUID = "0123456789abcdef0123456789abcdef"


def exposed(**over: Any) -> dict[str, Any]:
    spec = {"name": "shop.gw1.grid.example", "solution_type": "ubuntu", "solution_id": UUID, "port": 80,
            "tls_port": 443, "domain_type": "managed", "parent": "gw1.grid.example", "gateway": GATEWAY,
            "target": TARGET}  # fmt: skip
    return {**spec, **over}


def validate(type_: str, spec: dict[str, Any]) -> Any:
    return PLANNERS[type_].spec_model.model_validate(spec)


def refused_field(type_: str, spec: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        validate(type_, spec)
    return ".".join(str(p) for p in info.value.errors()[0]["loc"])


# -- Domain Delegation --------------------------------------------------------------------------------------------


def test_delegation_is_one_domain_delegate_on_the_gateway_in_the_gateway_pool() -> None:
    planner = PLANNERS["delegated_domain"]
    spec = validate("delegated_domain", {"name": "Example.COM.", "gateway": GATEWAY})
    assert spec.name == "example.com" and planner.placements(spec) == []
    (request,) = planner.gateways(spec)
    assert (request.pool_ids, request.domain, request.gateway_id) == ((9,), "example.com", GATEWAY_ID)
    result = run(planner, spec)
    (plan,) = result.plans.values()
    assert (plan.kind, dict(plan.fields)) == (Kind.DOMAIN_DELEGATE, {"domain": "example.com"})
    assert (result.ctx.placed[plan.role].node_id, result.ctx.placed[plan.role].grid_pool_id) == (
        GATEWAY_ID,
        GATEWAY_POOL,
    )
    views = [_with_gateway(v, result) for v in result.views()]
    assert planner.listing(spec, views) == {"Name": "example.com", "wids": [1001], "Gateway": GATEWAY_ID,
                                            "Pool": GATEWAY_POOL}  # fmt: skip
    outputs = planner.outputs(spec, views)
    assert outputs["Next step"] == "create NS records for example.com pointing to: ns1.gw1.grid.example"


@pytest.mark.parametrize("domain", ["bücher.example", "a" * 300 + ".com", "example.com; rm -rf /", "$(id).com",
                                    "example", "-bad.com", "exa mple.com", "example.com\nx.org", ""])  # fmt: skip
def test_a_delegated_domain_must_be_a_real_domain_name(domain: str) -> None:
    assert refused_field("delegated_domain", {"name": domain, "gateway": GATEWAY}) == "name"


# -- Solution Expose ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("domain_type", ["managed", "delegated", "custom"])
def test_expose_workloads_go_to_the_gateway_pool_and_the_client_to_the_target_pool(domain_type: str) -> None:
    planner = PLANNERS["exposed"]
    parent = {"managed": "gw1.grid.example", "delegated": "example.com", "custom": None}[domain_type]
    name = "shop.example.com" if domain_type != "managed" else "shop.gw1.grid.example"
    spec = validate("exposed", exposed(name=name, domain_type=domain_type, parent=parent))
    (request,) = planner.gateways(spec)
    assert (request.pool_ids, request.gateway_id, request.domain, request.label) == ((9,), GATEWAY_ID, name, None)
    (client,) = planner.placements(spec)
    assert (client.role, client.pool_id, client.network) == ("tcprouter", 7, True)
    assert (client.resources.cru, client.resources.mru, client.resources.sru) == (1, 1, 1)
    result = run(planner, spec)
    kinds = [[p.kind for p in stage] for stage in result.stages if stage]
    expected = [[Kind.REVERSE_PROXY], [Kind.CONTAINER]]
    assert kinds == ([[Kind.SUBDOMAIN], *expected] if domain_type != "custom" else expected)
    for plan in result.plans.values():
        placed = result.ctx.placed[plan.role]
        if plan.kind is Kind.CONTAINER:
            assert (placed.node_id, placed.grid_pool_id) != (GATEWAY_ID, GATEWAY_POOL)
            assert plan.fields["network_connection"][0]["network_id"] == NETWORK
            assert "-local 10.20.2.5:80 -local-tls 10.20.2.5:443" in plan.fields["entrypoint"]
        else:
            assert (placed.node_id, placed.grid_pool_id) == (GATEWAY_ID, GATEWAY_POOL)
            assert plan.fields["domain"] == name
    # The tunnel secret is only ever sealed (in the proxy and the client's secret env), never a plain field.
    secrets = [v for p in result.plans.values() for v in sealed_values(dict(p.fields))]
    assert len(secrets) == 2 and all(isinstance(s, SealedTemplate) for s in secrets)
    assert set(spec.generated_secrets) == {"tunnel_secret"}
    listing = planner.listing(spec, result.views())
    assert {k: listing[k] for k in ("Name", "Domain", "Gateway", "Pool")} == {"Name": name, "Domain": name,
                                                                               "Gateway": GATEWAY_ID,
                                                                               "Pool": GATEWAY_POOL}  # fmt: skip
    outputs = planner.outputs(spec, [_with_gateway(v, result) for v in result.views()])
    assert outputs["Reachable"] == f"your solution is reachable through the gateway at {name}"
    assert ("Next step" in outputs) == (domain_type == "custom")


@pytest.mark.parametrize(("over", "field"), [
    ({"name": "a.b.gw1.grid.example"}, ""),  # a label with a dot
    ({"name": "shop.other.example"}, ""),  # not under its parent
    ({"domain_type": "custom"}, ""),  # a custom domain with a parent
    ({"parent": None}, ""),
    ({"name": "bücher.gw1.grid.example"}, "name"),
    ({"name": "x" * 300}, "name"),
    ({"name": "$(reboot).gw1.grid.example"}, "name"),
    ({"port": 0}, "port"),
    ({"tls_port": 70000}, "tls_port"),
    ({"solution_type": "network"}, "solution_type"),
    ({"solution_id": "../../etc"}, "solution_id"),
    ({"target": {**TARGET, "ip": "10.20.2.5; ls"}}, "target.ip"),
])  # fmt: skip
def test_expose_refuses_bad_names_and_fields(over: dict[str, Any], field: str) -> None:
    assert refused_field("exposed", exposed(**over)) == field


# -- 4to6 Gateway -------------------------------------------------------------------------------------------------


def test_4to6_with_the_users_key_keeps_no_private_key_and_puts_a_placeholder() -> None:
    planner = PLANNERS["4to6gw"]
    secrets = {gateway4to6.PRIVATE_KEY: "smuggled"}
    spec = validate("4to6gw", planner.spec_model.complete({"public_key": KEY, "gateway": GATEWAY}, secrets))
    assert secrets == {} and spec.name == spec.public_key == KEY
    (request,) = planner.gateways(spec)
    assert (request.domain, request.label, request.gateway_id) == (None, None, GATEWAY_ID)
    result = run(planner, spec)
    (plan,) = result.plans.values()
    assert (plan.kind, dict(plan.fields), result.ctx.placed[plan.role].grid_pool_id) == (
        Kind.GATEWAY4TO6, {"public_key": KEY}, GATEWAY_POOL)  # fmt: skip
    views = [_answered(v) for v in result.views()]
    config, workload_id = planner.build_file(spec, views, {})
    assert workload_id == 1001
    assert config == (
        "[Interface]\nAddress = 2a02:1802:5e::1:0/64\nPrivateKey = <put the private key of your public key here>\n"
        f"\n[Peer]\nPublicKey = {PEER}\nAllowedIPs = ::/0\nEndpoint = 185.69.250.2:51820\n"
    )
    assert planner.listing(spec, views) == {"Name": KEY, "wids": [1001], "Public Key": KEY, "Gateway": GATEWAY_ID,
                                            "Pool": GATEWAY_POOL}  # fmt: skip


def test_4to6_without_a_key_makes_a_key_pair_whose_private_half_only_goes_to_the_file() -> None:
    planner = PLANNERS["4to6gw"]
    secrets: dict[str, str] = {}
    spec = validate("4to6gw", planner.spec_model.complete({"public_key": " ", "gateway": GATEWAY}, secrets))
    private = secrets[gateway4to6.PRIVATE_KEY]
    derived = nacl.public.PrivateKey(base64.b64decode(private)).public_key
    assert base64.b64encode(bytes(derived)).decode() == spec.public_key
    assert private not in spec.model_dump_json()
    config, _ = planner.build_file(spec, [_answered(v) for v in run(planner, spec).views()], secrets)
    assert f"PrivateKey = {private}\n" in config


@pytest.mark.parametrize("key", ["abc", base64.b64encode(bytes(31)).decode(), base64.b64encode(bytes(32)).decode(),
                                 KEY[:-1] + "\n", "a" * 44, KEY + "; ls"])  # fmt: skip
def test_4to6_refuses_what_is_not_a_wireguard_public_key(key: str) -> None:
    assert refused_field("4to6gw", {"public_key": key, "gateway": GATEWAY}) == "name"


@pytest.mark.parametrize("data", [
    {"ips": ["2a02::1/64\nPostUp = rm -rf /"], "peers": []},
    {"ips": ["2a02::1/64"], "peers": [{"public_key": "x\n[Peer]", "allowed_ips": ["::/0"], "endpoint": ""}]},
    {"ips": ["2a02::1/64"], "peers": [{"public_key": KEY, "allowed_ips": ["::/0"], "endpoint": "h:1\nPostUp=x"}]},
    {"ips": [], "peers": []},
])  # fmt: skip
def test_a_malformed_gateway_answer_never_reaches_the_file(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        gateway4to6.wg_quick(gateway4to6.tunnel(data), None)


PEER = base64.b64encode(bytes(range(32))).decode()
ANSWER = {"ips": ["2a02:1802:5e::1:0/64"], "peers": [{"public_key": PEER, "allowed_ips": ["::/0"],
                                                       "endpoint": "185.69.250.2:51820"}]}  # fmt: skip


def _answered(view: WorkloadView) -> WorkloadView:
    return WorkloadView(**{**view.__dict__, "data": ANSWER})


def _with_gateway(view: WorkloadView, result: Any) -> WorkloadView:
    return WorkloadView(**{**view.__dict__, "gateway": result.ctx.placed[view.role].gateway})
