"""Properties every registered planner has: wire shapes, sealed secrets, stage ends, listing basics."""

from __future__ import annotations

from typing import Any

import pytest

from services.deployer.grid.kinds import Kind
from services.deployer.solutions import PLANNERS
from services.deployer.solutions.base import Placement, Planner, Sealed, SealedTemplate, Spec, gateway_requests
from tests.unit.deployer.solutions.conftest import NETWORK, SSH_KEY, run, sealed_values

WHERE = {"pool_id": 7}
SPECS: dict[str, dict[str, Any]] = {
    "network": {"name": "net", "pool_ids": [3]},
    "ubuntu": {"name": "box", "where": WHERE, "network": "net", "ssh_key": SSH_KEY},
    "flist": {
        "name": "web",
        "where": WHERE,
        "network": "net",
        "flist": "https://hub.grid.tf/a/b.flist",
        "volume": {"size": 2},
        "environment": {"A": "1"},
        "secret_environment": ["API_TOKEN"],
    },
    "kubernetes": {"name": "k3s", "pool_ids": [3, 5], "network": "net", "ssh_keys": [SSH_KEY], "workers": 2},
    "minio": {
        "name": "s3",
        "setup": "master_slave",
        "zdb_pool_ids": [3],
        "primary": WHERE,
        "secondary": WHERE,
        "network": "net",
        "access_key": "alice",
        "ssh_key": SSH_KEY,
    },
    "monitoring": {
        "name": "mon",
        "ssh_key": SSH_KEY,
        "redis": {"where": WHERE},
        "prometheus": {"where": WHERE},
        "grafana": {"where": WHERE},
        "network": "net",
    },
    "gitea": {"name": "git", "where": WHERE, "network": "net", "ssh_key": SSH_KEY, "gateway_pool_ids": [3, 7]},
    "gollum": {
        "name": "wiki",
        "where": WHERE,
        "network": "net",
        "ssh_key": SSH_KEY,
        "email": "a@example.com",
        "github_user": "alice",
        "github_email": "a@example.com",
        "github_repo": "wiki",
        "parent_domain": "gw1.grid.example",
        "gateway_pool_ids": [3, 7],
    },
    "threebot": {
        "name": "bot",
        "where": WHERE,
        "network": "net",
        "ssh_key": SSH_KEY,
        "parent_domain": "gw1.grid.example",
        "gateway_pool_ids": [3, 7],
    },
}
CONTAINER_KEYS = {
    "flist",
    "hub_url",
    "storage_url",
    "environment",
    "secret_environment",
    "entrypoint",
    "interactive",
    "volumes",
    "network_connection",
    "logs",
    "stats_aggregator",
    "capacity",
}
KEYS = {
    Kind.VOLUME: {"size", "type"},
    Kind.ZDB: {"size", "mode", "password", "disk_type", "public", "stats_aggregator"},
    Kind.KUBERNETES: {
        "size",
        "network_id",
        "ipaddress",
        "cluster_secret",
        "master_ips",
        "ssh_keys",
        "stats_aggregator",
    },
    Kind.CONTAINER: CONTAINER_KEYS,
    Kind.SUBDOMAIN: {"domain", "ips"},
    Kind.REVERSE_PROXY: {"domain", "secret"},
    Kind.DOMAIN_DELEGATE: {"domain"},
    Kind.GATEWAY4TO6: {"public_key"},
}
# Wire fields that carry secrets: they must never be plain values.
SECRET_FIELDS = {Kind.ZDB: "password", Kind.KUBERNETES: "cluster_secret", Kind.REVERSE_PROXY: "secret"}


def sample(type_: str) -> tuple[Planner, Spec]:
    planner = PLANNERS[type_]
    return planner, planner.spec_model.model_validate(SPECS[type_])


def test_every_solution_without_a_gateway_is_registered() -> None:
    assert set(PLANNERS) >= set(SPECS)
    assert all(planner.type == type_ for type_, planner in PLANNERS.items())


@pytest.mark.parametrize("type_", sorted(SPECS))
def test_placements_have_unique_roles_and_every_workload_runs_on_one(type_: str) -> None:
    planner, spec = sample(type_)
    placements = planner.placements(spec)
    roles = [p.role for p in placements] + [r.role for r in gateway_requests(planner, spec)]
    assert len(set(roles)) == len(roles) and all(isinstance(p, Placement) for p in placements)
    plans = run(planner, spec).plans
    assert {p.role for p in plans.values()} <= set(roles)
    # Gateway kinds run on a gateway placement (paid by the gateway pool), every other kind on a node.
    result = run(planner, spec)
    for plan in plans.values():
        assert (result.ctx.placed[plan.role].gateway is not None) == plan.kind.on_gateway, plan.key
    assert len(plans) == sum(len(stage) for stage in run(planner, spec).stages)


@pytest.mark.parametrize("type_", sorted(SPECS))
def test_workload_fields_fit_the_wire_types(type_: str) -> None:
    planner, spec = sample(type_)
    result = run(planner, spec)
    for plan in result.plans.values():
        fields = plan.fields
        assert set(fields) == KEYS[plan.kind], plan.key
        placed = result.ctx.placed[plan.role]
        if plan.kind is Kind.CONTAINER:
            assert fields["capacity"]["disk_type"] == 1
            assert all(isinstance(fields["capacity"][k], int) for k in ("cpu", "memory", "disk_size"))
            assert fields["network_connection"] == [
                {
                    "network_id": NETWORK,
                    "ipaddress": placed.ip,
                    "public_ip6": fields["network_connection"][0]["public_ip6"],
                }
            ]
            assert fields["flist"].startswith("https://hub.grid.tf/")
            assert (fields["hub_url"], fields["storage_url"]) == ("", "zdb://hub.grid.tf:9900")
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields["environment"].items())
            assert all(isinstance(v, Sealed | SealedTemplate) for v in fields["secret_environment"].values())
            for mount in fields["volumes"]:
                volume = next(d for d in result.deployed.values() if f"{d.grid_id}-1" == mount["volume_id"])
                assert result.plans[volume.key].kind is Kind.VOLUME
                assert volume.node_id == placed.node_id  # a volume is mounted on its own node only
            assert isinstance(fields["interactive"], bool) and isinstance(fields["entrypoint"], str)
        elif plan.kind.on_gateway:
            plain = {k: v for k, v in fields.items() if k != "ips" and not isinstance(v, SealedTemplate)}
            assert all(isinstance(v, str) for v in plain.values())
        elif plan.kind is Kind.KUBERNETES:
            assert (fields["network_id"], fields["ipaddress"]) == (NETWORK, placed.ip)
            assert all(isinstance(k, str) for k in fields["ssh_keys"])
        else:
            assert isinstance(fields["size"], int) and fields["size"] >= 1
            assert fields.get("type", fields.get("disk_type")) in (0, 1)


@pytest.mark.parametrize("type_", sorted(SPECS))
def test_secrets_are_sealed_and_declared(type_: str) -> None:
    planner, spec = sample(type_)
    declared = set(spec.required_secrets()) | set(spec.generated_secrets)
    for plan in run(planner, spec).plans.values():
        if plan.kind in SECRET_FIELDS:
            assert isinstance(plan.fields[SECRET_FIELDS[plan.kind]], Sealed | SealedTemplate)
        for value in sealed_values(dict(plan.fields)):
            names = {value.secret} if isinstance(value, Sealed) else set(value.secrets)
            assert names <= declared, plan.key


@pytest.mark.parametrize("type_", sorted(SPECS))
def test_build_stays_finished_after_the_last_stage(type_: str) -> None:
    planner, spec = sample(type_)
    result = run(planner, spec)
    last = len(result.stages)
    assert all(planner.build(spec, result.ctx, stage) is None for stage in range(last, last + 3))
    assert all(result.stages), "no empty stage"


@pytest.mark.parametrize("type_", sorted(SPECS))
def test_listing_names_the_solution_and_lists_its_live_workloads(type_: str) -> None:
    planner, spec = sample(type_)
    result = run(planner, spec)
    listing = planner.listing(spec, result.views())
    assert listing["Name"] == spec.name
    assert listing["wids"] == sorted(d.grid_id for d in result.deployed.values())
    assert planner.listing(spec, result.views(state="deleted"))["wids"] == []
    assert isinstance(planner.outputs(spec, result.views()), dict)


@pytest.mark.parametrize("type_", sorted(SPECS))
def test_specs_survive_the_json_round_trip_through_the_database(type_: str) -> None:
    planner, spec = sample(type_)
    assert planner.spec_model.model_validate(spec.model_dump(mode="json")) == spec


def test_a_containers_secret_variables_are_sealed_names_never_values() -> None:
    # The flist wizard sends a possibly secret variable as a name in the spec and its value as the secret
    # env_<NAME> (stored encrypted); the plan carries a Sealed marker, sealed to the node at render time.
    planner, spec = sample("flist")
    (container,) = [p for p in run(planner, spec).plans.values() if p.kind is Kind.CONTAINER]
    assert container.fields["secret_environment"] == {"API_TOKEN": Sealed("env_API_TOKEN")}
    assert container.fields["environment"] == {"A": "1"}
    with pytest.raises(ValueError, match="not both"):
        planner.spec_model.model_validate({**SPECS["flist"], "environment": {"API_TOKEN": "clear"}})
