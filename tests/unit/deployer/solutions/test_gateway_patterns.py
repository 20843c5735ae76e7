"""The four exposure patterns (SOLUTIONS §1.9) rendered as the grid receives them: the tunnel secret sealed to the
gateway and to the client's node and nowhere in clear, TEST_CERT true and false in every TLS proxy and tunnel."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import base58
import nacl.public
import pytest

from services.common.identity import Identity
from services.deployer.grid.challenge import workload_challenge
from services.deployer.grid.kinds import Kind
from services.deployer.grid.render import render
from services.deployer.solutions import gateway
from services.deployer.solutions.base import Placed, PlacedGateway, WorkloadPlan
from tests.unit.deployer.solutions.conftest import MARKETPLACE

MARKETPLACE_ID = Identity(bytes(range(32)))
GATEWAY_KEY = Identity(bytes(range(1, 33)))
NODE_KEY = Identity(bytes(range(2, 34)))
GATEWAY_ID = base58.b58encode(GATEWAY_KEY.verify_key).decode()
NODE_ID = base58.b58encode(NODE_KEY.verify_key).decode()
HEX = "0123456789abcdef" * 2
SECRETS = {gateway.TUNNEL_SECRET: HEX}
INFO = PlacedGateway("alice-git.gw1.grid.example", ("185.69.250.2",), ("ns1.gw1.grid.example",), 18000)
GW = Placed("gateway", GATEWAY_ID, 900, None, INFO)
APP = Placed("app", NODE_ID, 100, "10.1.2.2")
CLIENT = Placed("tcprouter", NODE_ID, 100, "10.1.2.3")


def rendered(plan: WorkloadPlan, placed: Placed) -> dict[str, Any]:
    return render(plan, placed, tid=7, identity=MARKETPLACE_ID, metadata={"owner": "alice.3bot"}, secrets=SECRETS,
                  epoch=1598350000)  # fmt: skip


def unseal(key: Identity, hex_value: str) -> str:
    return nacl.public.SealedBox(key.signing_key.to_curve25519_private_key()).decrypt(bytes.fromhex(hex_value)).decode()


def secret_env(body: dict[str, Any], key: Identity = NODE_KEY) -> dict[str, str]:
    return {name: unseal(key, value) for name, value in body["secret_environment"].items()}


def test_subdomain_points_the_name_at_the_gateways_name_servers() -> None:
    plan = gateway.subdomain(GW)
    assert (plan.kind, plan.role) == (Kind.SUBDOMAIN, "gateway")
    body = rendered(plan, GW)
    assert (body["workload_type"], body["node_id"], body["pool_id"]) == (7, GATEWAY_ID, 900)
    assert (body["domain"], body["ips"]) == ("alice-git.gw1.grid.example", ["185.69.250.2"])


def test_reverse_proxy_secret_is_sealed_to_the_gateway_and_is_tid_colon_hex() -> None:
    plan = gateway.reverse_proxy(GW, MARKETPLACE)
    body = rendered(plan, GW)
    assert body["workload_type"] == 6 and body["node_id"] == GATEWAY_ID and body["domain"] == INFO.domain
    assert unseal(GATEWAY_KEY, body["secret"]) == f"7:{HEX}"
    with pytest.raises(nacl.exceptions.CryptoError):  # sealed to the gateway, not to a node
        unseal(NODE_KEY, body["secret"])
    assert workload_challenge(body).endswith(INFO.domain + body["secret"])


def test_tcprouter_client_carries_the_same_secret_only_as_secret_env() -> None:
    plan = gateway.tcprouter_client(GW, CLIENT, MARKETPLACE, network="alice.3bot_net", target_ip="10.1.2.2",
                                    port=3000, tls_port=3000)  # fmt: skip
    body = rendered(plan, CLIENT)
    assert body["flist"] == "https://hub.grid.tf/tf-official-apps/tcprouter:latest.flist"
    assert body["entrypoint"] == ("/bin/trc -local 10.1.2.2:3000 -local-tls 10.1.2.2:3000 "
                                  "-remote ns1.gw1.grid.example:18000")  # fmt: skip
    assert body["capacity"] == {"cpu": 1, "memory": 1024, "disk_size": 256, "disk_type": 1}
    assert body["network_connection"][0]["ipaddress"] == "10.1.2.3"
    assert body["environment"] == {}
    assert secret_env(body) == {"TRC_SECRET": f"7:{HEX}"}


@pytest.mark.parametrize("test_cert", [True, False])
def test_tls_proxy_gets_every_value_sealed_and_test_cert_as_set(test_cert: bool) -> None:
    marketplace = replace(MARKETPLACE, test_cert=test_cert)
    plan = gateway.tls_proxy(GW, CLIENT, marketplace, network="alice.3bot_net", target_ip="10.1.2.2", port=80,
                             email="alice@example.org", pubkey="ssh-ed25519 AAAA alice")  # fmt: skip
    body = rendered(plan, CLIENT)
    assert body["flist"] == MARKETPLACE.flists["tls_proxy"] and body["entrypoint"] == "bash /usr/local/bin/startup.sh"
    assert body["capacity"] == {"cpu": 1, "memory": 1024, "disk_size": 512, "disk_type": 1}
    assert body["environment"] == {}
    assert secret_env(body) == {
        "TRC_SECRET": f"7:{HEX}", "TFGATEWAY": "ns1.gw1.grid.example:18000", "EMAIL": "alice@example.org",
        "SOLUTION_IP": "10.1.2.2", "SOLUTION_PORT": "80", "DOMAIN": INFO.domain, "ENFORCE_HTTPS": "true",
        "PUBKEY": "ssh-ed25519 AAAA alice", "TEST_CERT": "true" if test_cert else "false",
    }  # fmt: skip


@pytest.mark.parametrize("test_cert", [True, False])
def test_in_image_tunnel_env_has_test_cert_as_set_and_the_secret_sealed(test_cert: bool) -> None:
    env, secret = gateway.tunnel_env(GW, replace(MARKETPLACE, test_cert=test_cert))
    assert env == {"TRC_REMOTE": "ns1.gw1.grid.example:18000", "DOMAIN": INFO.domain,
                   "TEST_CERT": "true" if test_cert else "false"}  # fmt: skip
    from services.deployer.solutions.base import container_fields

    fields = container_fields(flist="https://hub.grid.tf/x/app.flist", cpu=1, memory=1024, disk=256,
                              network="n", ip="10.1.2.2", environment=env, secret_environment=secret)  # fmt: skip
    body = rendered(WorkloadPlan("app", Kind.CONTAINER, "app", fields), APP)
    assert body["environment"]["TEST_CERT"] == ("true" if test_cert else "false")
    assert secret_env(body) == {"TRC_SECRET": f"7:{HEX}"}


def test_the_plain_tunnel_secret_is_in_no_plan_and_no_rendered_body() -> None:
    plans = [
        (gateway.subdomain(GW), GW),
        (gateway.reverse_proxy(GW, MARKETPLACE), GW),
        (gateway.tcprouter_client(GW, CLIENT, MARKETPLACE, network="n", target_ip="10.1.2.2", port=1, tls_port=2),
         CLIENT),
        (gateway.tls_proxy(GW, CLIENT, MARKETPLACE, network="n", target_ip="10.1.2.2", port=1, email="a@b.c"), CLIENT),
    ]  # fmt: skip
    for plan, placed in plans:
        assert HEX not in repr(plan)
        assert HEX not in json.dumps(rendered(plan, placed))


@pytest.mark.parametrize(
    ("owner", "name", "app", "advanced"),
    [
        ("alice.3bot", "pad", "alice3bot-pad", "alice-pad"),
        ("bob_smith.3bot", "my-git", "bob-smith3bot-my-git", "bob-smith-my-git"),
        ("Ünïcode.3bot", "x", "n-code3bot-x", "n-code-x"),
    ],
)
def test_labels_are_valid_dns_labels(owner: str, name: str, app: str, advanced: str) -> None:
    assert gateway.app_label(owner, name) == app
    assert gateway.advanced_label(owner, name) == advanced
    long = gateway.advanced_label("a" * 64, "b" * 31)
    assert len(long) <= 56 and re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", long)
