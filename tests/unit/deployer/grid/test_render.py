"""Rendering a planned workload into its signed create body (GRID_API §4.6, §7.1, §8, §9)."""

from __future__ import annotations

import hashlib
from typing import Any

import base58
import nacl.public
import pytest

from services.common.identity import Identity, verify_detached
from services.deployer.grid.challenge import workload_challenge
from services.deployer.grid.kinds import Kind
from services.deployer.grid.network_plan import Member, network_resource_fields
from services.deployer.grid.render import render
from services.deployer.solutions.base import Placed, Sealed, SealedTemplate, WorkloadPlan, container_fields

MARKETPLACE = Identity(bytes(range(32)))
NODE = Identity(bytes(range(32, 64)))  # plays the node: its key is the node id
NODE_ID = base58.b58encode(NODE.verify_key).decode()
PLACED = Placed(role="main", node_id=NODE_ID, grid_pool_id=42, ip="10.20.2.5")
RECORD = {"owner": "alice.3bot", "name": "alice.3bot-pad", "chatflow": "cryptpad", "solution_uuid": "ab" * 16}
SECRETS = {"pad-admin": "hunter2", "zdb": "zdb-password"}


def container_plan() -> WorkloadPlan:
    fields = container_fields(
        flist="https://hub.grid.tf/tf-official-apps/cryptpad.flist",
        cpu=1,
        memory=1024,
        disk=256,
        network="alice.3bot_net",
        ip="10.20.2.5",
        environment={"A": "1"},
        secret_environment={"ADMIN_PASSWORD": Sealed("pad-admin")},
    )
    return WorkloadPlan(key="container", kind=Kind.CONTAINER, role="main", fields=fields, description="")


def render_plan(plan: WorkloadPlan, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "tid": 7, "identity": MARKETPLACE, "metadata": RECORD, "secrets": SECRETS, "epoch": 1598350000,
    }  # fmt: skip
    values.update(overrides)
    return render(plan, PLACED, **values)


def unseal(hex_value: str) -> str:
    box = nacl.public.SealedBox(NODE.signing_key.to_curve25519_private_key())
    return box.decrypt(bytes.fromhex(hex_value)).decode()


def test_envelope_of_a_container() -> None:
    body = render_plan(container_plan())
    assert {k: body[k] for k in ("workload_id", "node_id", "pool_id", "reference", "customer_tid")} == {
        "workload_id": 1, "node_id": NODE_ID, "pool_id": 42, "reference": "", "customer_tid": 7,
    }  # fmt: skip
    assert body["next_action"] == 3 and body["workload_type"] == 1 and body["epoch"] == 1598350000
    assert body["signing_request_provision"] == {"signers": [], "quorum_min": 0}
    assert body["signing_request_delete"] == {"signers": [7], "quorum_min": 1}
    assert body["signatures_provision"] == [] and body["signatures_delete"] == []
    assert body["environment"] == {"A": "1"} and body["capacity"]["memory"] == 1024


def test_metadata_decrypts_to_the_ownership_record() -> None:
    body = render_plan(container_plan())
    assert MARKETPLACE.decrypt_metadata(body["metadata"]) == RECORD
    assert Identity(bytes(32)).decrypt_metadata(body["metadata"]) is None  # nobody else can read it


def test_sealed_values_are_sealed_to_the_node_and_differ_per_call() -> None:
    first, second = render_plan(container_plan()), render_plan(container_plan())
    sealed = first["secret_environment"]["ADMIN_PASSWORD"]
    assert sealed != "hunter2" and unseal(sealed) == "hunter2"
    assert second["secret_environment"]["ADMIN_PASSWORD"] != sealed
    assert first["customer_signature"] != second["customer_signature"]


def test_sealed_values_anywhere_in_the_fields() -> None:
    fields = {"size": 5, "mode": 0, "password": Sealed("zdb"), "disk_type": 1, "public": False, "stats_aggregator": []}
    zdb = WorkloadPlan(key="zdb", kind=Kind.ZDB, role="main", fields=fields)
    assert unseal(render_plan(zdb)["password"]) == "zdb-password"


def test_signature_verifies_against_the_challenge_of_the_body() -> None:
    body = render_plan(container_plan())
    digest = hashlib.sha256(workload_challenge(body).encode()).digest()
    assert verify_detached(MARKETPLACE.verify_key, digest, bytes.fromhex(body["customer_signature"]))
    tampered = {**body, "pool_id": 43}
    other = hashlib.sha256(workload_challenge(tampered).encode()).digest()
    assert not verify_detached(MARKETPLACE.verify_key, other, bytes.fromhex(body["customer_signature"]))


def test_missing_secret_is_named() -> None:
    with pytest.raises(ValueError, match="pad-admin"):
        render_plan(container_plan(), secrets={})


def test_too_long_metadata_is_refused() -> None:
    with pytest.raises(ValueError, match="1024"):
        render_plan(container_plan(), metadata={**RECORD, "padding": "x" * 800})


def test_plan_and_placement_must_agree_on_the_role() -> None:
    plan = WorkloadPlan(key="v", kind=Kind.VOLUME, role="worker", fields={"size": 1, "type": 1})
    with pytest.raises(ValueError, match="role"):
        render_plan(plan)


def test_network_resource_with_a_pre_sealed_or_named_key() -> None:
    member = Member(NODE_ID, "10.20.2.0/24", "cHVibGlj", 4321, "185.69.166.2", None)
    named = network_resource_fields("alice.3bot_net", "10.20.0.0/16", member, Sealed("wg"), [])
    body = render(
        WorkloadPlan("nr", Kind.NETWORK_RESOURCE, "net", named, '{"parent_id": 12}'), Placed("net", NODE_ID, 42),
        tid=7, identity=MARKETPLACE, metadata={"network": "alice.3bot_net"}, secrets={"wg": "PRIV="},
        epoch=1598350000,
    )  # fmt: skip
    assert body["workload_type"] == 10 and body["description"] == '{"parent_id": 12}'
    assert unseal(body["wireguard_private_key_encrypted"]) == "PRIV="
    assert workload_challenge(body).startswith(f"1{NODE_ID}427NETWORK_RESOURCE1598350000")


def test_a_type_field_may_not_shadow_an_info_field() -> None:
    plan = WorkloadPlan(key="v", kind=Kind.VOLUME, role="main", fields={"size": 1, "type": 1, "node_id": "other"})
    with pytest.raises(ValueError, match=r"^type fields may not set info fields: \['node_id'\]$"):
        render_plan(plan)


def test_metadata_of_exactly_1024_characters_is_accepted() -> None:
    # 24-byte nonce + 16-byte MAC + 779 bytes of JSON = 819 bytes, which base85 spells in exactly 1024 characters.
    body = render_plan(container_plan(), metadata={"padding": "x" * 764})
    assert len(body["metadata"]) == 1024


def test_a_field_the_challenge_needs_is_named_when_missing() -> None:
    plan = WorkloadPlan(key="v", kind=Kind.VOLUME, role="main", fields={"size": 1})
    with pytest.raises(ValueError, match=r"^volume workload lacks the field 'type'$"):
        render_plan(plan)


def test_sealed_templates_and_sealed_values_in_lists_are_sealed_to_the_node() -> None:
    fields = {
        "size": 5, "mode": 0, "password": SealedTemplate("ns:{zdb}@{pad-admin}", ("zdb", "pad-admin")),
        "disk_type": 1, "public": False, "stats_aggregator": [Sealed("zdb"), "plain"],
    }  # fmt: skip
    body = render_plan(WorkloadPlan(key="zdb", kind=Kind.ZDB, role="main", fields=fields))
    assert unseal(body["password"]) == "ns:zdb-password@hunter2"
    assert unseal(body["stats_aggregator"][0]) == "zdb-password" and body["stats_aggregator"][1] == "plain"


def test_a_node_id_that_is_not_a_node_key_is_refused() -> None:
    plan = container_plan()
    with pytest.raises(ValueError, match=r"^cannot seal to node 'not-a-key': "):
        render(plan, Placed(role="main", node_id="not-a-key", grid_pool_id=42), tid=7, identity=MARKETPLACE,
               metadata=RECORD, secrets=SECRETS, epoch=1)  # fmt: skip
