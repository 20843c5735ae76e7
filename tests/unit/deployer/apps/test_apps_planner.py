"""Every built-in app through the one generic planner: its workloads, pools, nodes, env and listing (SOLUTIONS §4)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest

from services.common import app_sizing
from services.common.capacity import Resources
from services.deployer.apps import catalogue
from services.deployer.solutions import PLANNERS, app_registry
from services.deployer.solutions.base import Sealed, SealedTemplate
from tests.unit.deployer.solutions.conftest import GATEWAY_ID, GATEWAY_POOL, MARKETPLACE, SSH_KEY, context, run

ANSWERS: dict[str, dict[str, Any]] = {
    "cryptpad": {"size": "15"},
    "discourse": {"smtp_host": "smtp.example.com", "smtp_user": "forum"},
    "mattermost": {"size": 5},
    "peertube": {"size": "35"},
    "taiga": {"email_user": "me@example.com", "email_host": "smtp.example.com"},
    "publisher": {"type": "blog", "title": "My blog", "url": "https://github.com/a/b", "branch": "main"},
    "wiki": {"title": "Docs", "url": "https://github.com/a/b", "branch": "main"},
    "blog": {"title": "Blog", "url": "https://github.com/a/b", "branch": "main"},
    "website": {"title": "Site", "url": "https://github.com/a/b", "branch": "main"},
    "ubuntu_simple": {},
}
SECRET_ANSWERS = {"discourse": {"smtp_password": "smtp-PW-typed"},
                  "taiga": {"email_password": "mail-PW-typed", "app_secret": "app-SECRET-typed"}}  # fmt: skip
# SOLUTIONS §4: the workloads of each app, in order (key, role).
ORDER = {
    "cryptpad": ["subdomain", "volume", "container", "reverse_proxy", "tls_proxy"],
    "discourse": ["subdomain", "container", "reverse_proxy", "tls_proxy"],
    "mattermost": ["subdomain", "volume", "container", "reverse_proxy", "tls_proxy"],
    "peertube": ["volume", "subdomain", "container", "reverse_proxy", "tls_proxy"],
    "taiga": ["subdomain", "container", "reverse_proxy", "tls_proxy"],
    **{t: ["subdomain", "reverse_proxy", "container"] for t in ("publisher", "wiki", "blog", "website")},
    "ubuntu_simple": ["container"],
}
APP_POOL = 42


def spec_of(type_: str, **changes: Any) -> Any:
    exposed = type_ != "ubuntu_simple"
    data = {"name": "pad", "pool_id": APP_POOL, "network": "apps", "email": "alice@example.com",
            "answers": ANSWERS[type_], "gateway_pool_ids": [APP_POOL, 7] if exposed else [],
            "ssh_key": "" if exposed else SSH_KEY, **changes}  # fmt: skip
    return PLANNERS[type_].spec_model.model_validate(data)


def test_every_app_of_the_issue_is_a_definition() -> None:
    assert sorted(app_registry.app_types(PLANNERS)) == sorted(ANSWERS)


@pytest.mark.parametrize("type_", sorted(ANSWERS))
def test_workloads_in_order_and_in_the_right_pools_and_nodes(type_: str) -> None:
    planner, spec = PLANNERS[type_], spec_of(type_)
    result = run(planner, spec)
    assert [p.key for stage in result.stages for p in stage] == ORDER[type_]
    assert all(len(stage) == 1 for stage in result.stages)  # each awaited before the next
    placed = result.ctx.placed
    for plan in result.plans.values():
        where = placed[plan.role]
        if plan.kind.on_gateway:  # subdomain and reverse proxy: on the gateway, paid by the gateway pool
            assert (where.node_id, where.grid_pool_id) == (GATEWAY_ID, GATEWAY_POOL), plan.key
        else:  # volume, app, helper: in the pool bought for this deployment, on the app's node
            assert where.grid_pool_id != GATEWAY_POOL and where.node_id == placed["app"].node_id, plan.key
    placements = {p.role: p for p in planner.placements(spec)}
    assert {p.pool_id for p in placements.values()} == {APP_POOL}
    if "tls_proxy" in placements:
        assert placements["tls_proxy"].colocate == "app" and placements["tls_proxy"].resources == Resources()
        assert placed["tls_proxy"].ip != placed["app"].ip  # its own IP in the apps network


@pytest.mark.parametrize("type_", sorted(ANSWERS))
def test_no_secret_reaches_a_plain_field_and_each_is_fresh(type_: str) -> None:
    planner, spec = PLANNERS[type_], spec_of(type_)
    made = spec.fresh_secrets()
    assert set(made) == set(spec.generated_secrets)
    assert all(value != spec.fresh_secrets()[name] for name, value in made.items())  # per deployment
    typed = SECRET_ANSWERS.get(type_, {})
    assert set(typed) == set(spec.secret_names)
    result = run(planner, spec)
    plain = json.dumps([{k: v for k, v in p.fields.items() if k != "secret_environment" and k != "secret"}
                        for p in result.plans.values()])  # fmt: skip
    for value in [*made.values(), *typed.values()]:
        assert value not in plain
    declared = set(spec.secret_names) | set(spec.generated_secrets)
    for plan in result.plans.values():
        for value in plan.fields.get("secret_environment", {}).values():
            assert isinstance(value, Sealed | SealedTemplate)
            names = {value.secret} if isinstance(value, Sealed) else set(value.secrets)
            assert names <= declared


def _env(type_: str, **changes: Any) -> tuple[dict[str, str], dict[str, Any], str]:
    result = run(PLANNERS[type_], spec_of(type_, **changes))
    app = result.plans["container"].fields
    return app["environment"], app["secret_environment"], app["entrypoint"]


def test_discourse_and_taiga_env_as_specified() -> None:
    env, secret, entrypoint = _env("discourse")
    assert env["DISCOURSE_HOSTNAME"] == "alice3bot-pad.gw1.grid.example" and env["DISCOURSE_SMTP_PORT"] == "587"
    assert env["DISCOURSE_DEVELOPER_EMAILS"] == "alice@example.com" and env["pub_key"] == ""
    assert env["THREEBOT_URL"] == MARKETPLACE.threebot_login_url
    assert env["OPEN_KYC_URL"] == f"{MARKETPLACE.openkyc_url}/verification/verify-sei"
    assert secret == {"THREEBOT_PRIVATE_KEY": Sealed("generated:THREEBOT_PRIVATE_KEY"),
                      "FLASK_SECRET_KEY": Sealed("generated:FLASK_SECRET_KEY"),
                      "DISCOURSE_SMTP_PASSWORD": Sealed("smtp_password")}  # fmt: skip
    assert entrypoint == "/.start_discourse.sh"
    made = PLANNERS["discourse"].spec_model.fresh_secrets()
    assert len(base64.b64decode(made["generated:THREEBOT_PRIVATE_KEY"])) == 32
    env, secret, _ = _env("taiga")
    assert "FLASK_SECRET_KEY" not in env and set(secret) == {"EMAIL_HOST_PASSWORD", "PRIVATE_KEY", "SECRET_KEY",
                                                             "FLASK_SECRET_KEY"}  # fmt: skip
    assert len(base64.b64decode(PLANNERS["taiga"].spec_model.fresh_secrets()["generated:PRIVATE_KEY"])) == 32


def test_mattermost_passwords_are_generated_never_plain() -> None:
    env, secret, _ = _env("mattermost")
    assert env == {"MYSQL_USER": "mmuser", "MYSQL_DATABASE": "mattermost_db"}
    assert secret == {"MYSQL_ROOT_PASSWORD": Sealed("generated:MYSQL_ROOT_PASSWORD"),
                      "MYSQL_PASSWORD": Sealed("generated:MYSQL_PASSWORD")}  # fmt: skip


def test_cryptpad_volume_size_and_mount() -> None:
    result = run(PLANNERS["cryptpad"], spec_of("cryptpad"))
    assert result.plans["volume"].fields == {"size": 15, "type": 1}
    app = result.plans["container"].fields
    assert app["environment"] == {"size": str(15 * 1024)}
    assert app["volumes"] == [{"volume_id": f"{result.deployed['volume'].grid_id}-1", "mountpoint": "/persistent-data"}]


@pytest.mark.parametrize("test_cert", [True, False])
def test_test_cert_reaches_the_helper_and_the_in_image_tunnel(test_cert: bool) -> None:
    flag = "true" if test_cert else "false"
    for type_ in ("cryptpad", "publisher"):
        planner, spec = PLANNERS[type_], spec_of(type_)
        ctx = context(planner, spec, marketplace=replace(MARKETPLACE, test_cert=test_cert))
        plans = run(planner, spec, ctx).plans
        if type_ == "cryptpad":
            helper = plans["tls_proxy"].fields["secret_environment"]
            assert helper["TEST_CERT"] == SealedTemplate(flag, ()) and helper["SOLUTION_PORT"].template == "3000"
            assert helper["ENFORCE_HTTPS"] == SealedTemplate("false", ())
        else:
            env = plans["container"].fields["environment"]
            assert env["TEST_CERT"] == flag and env["TYPE"] == "blog"
            assert env["TRC_REMOTE"] == "ns1.gw1.grid.example:18000"
            assert set(plans["container"].fields["secret_environment"]) == {"TRC_SECRET"}


def test_the_variants_fix_the_type() -> None:
    assert [_env(t)[0]["TYPE"] for t in ("wiki", "blog", "website")] == ["wiki", "blog", "www"]


def test_entrypoint_values_are_shell_quoted() -> None:
    _, _, entrypoint = _env("peertube")
    assert entrypoint == "/usr/local/bin/startup.sh alice3bot-pad.gw1.grid.example"
    planner = PLANNERS["peertube"]
    spec = spec_of("peertube")
    evil = replace(context(planner, spec), placed={**context(planner, spec).placed})
    gw = evil.placed["gateway"]
    assert gw.gateway is not None
    evil_gw = replace(gw, gateway=replace(gw.gateway, domain="x; rm -rf /"))
    plans = run(planner, spec, replace(evil, placed={**evil.placed, "gateway": evil_gw})).plans
    assert plans["container"].fields["entrypoint"] == "/usr/local/bin/startup.sh 'x; rm -rf /'"


@pytest.mark.parametrize(
    ("type_", "changes", "field"),
    [
        ("cryptpad", {"answers": {"size": 7}}, "answers.size"),
        ("cryptpad", {"answers": {"size": 5, "extra": 1}}, "answers.extra"),
        ("publisher", {"answers": {**ANSWERS["publisher"], "type": "shop"}}, "answers.type"),
        ("publisher", {"answers": {**ANSWERS["publisher"], "branch": "main; reboot"}}, "answers.branch"),
        ("discourse", {"answers": {"smtp_host": "smtp.example.com"}}, "answers.smtp_user"),
        ("cryptpad", {"email": ""}, "email"),
        ("cryptpad", {"gateway_pool_ids": []}, "gateway_pool_ids"),
        ("ubuntu_simple", {"ssh_key": ""}, "ssh_key"),
        ("ubuntu_simple", {"gateway_pool_ids": [3]}, "gateway_pool_ids"),
    ],
)  # fmt: skip
def test_bad_specs_name_the_field(type_: str, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(Exception) as exc:
        spec_of(type_, **changes)
    locs = {".".join(str(p) for p in e["loc"]) for e in exc.value.errors()}  # type: ignore[attr-defined]
    assert field in locs


@pytest.mark.parametrize("type_", sorted(ANSWERS))
def test_listing_keys_of_section_6_2(type_: str) -> None:
    planner, spec = PLANNERS[type_], spec_of(type_)
    result = run(planner, spec)
    listing = planner.listing(spec, result.views())
    keys = {"Name", "wids", "IPv4 Address", "IPv6 Address", "Node", "Pool", "Network", "CPU", "Memory",
            "RootFS Type", "RootFS Size"}  # fmt: skip
    assert set(listing) == keys | ({"Domain"} if type_ != "ubuntu_simple" else set())
    assert listing["Pool"] == result.ctx.placed["app"].grid_pool_id and listing["Network"] == "apps"
    outputs = planner.outputs(spec, result.views())
    assert outputs["IPv4 Address"] == result.ctx.placed["app"].ip and outputs["Message"]
    if type_ != "ubuntu_simple":
        assert outputs["URL"] == f"https://{listing['Domain']}" == "https://alice3bot-pad.gw1.grid.example"


def test_the_catalogue_and_the_pool_size() -> None:
    info = catalogue.info(PLANNERS["cryptpad"].definition)  # type: ignore[attr-defined]
    assert (info.cru, info.mru, info.sru, info.hru) == (2, 2, 2, 0)  # app 1/1 GiB/1 GiB + TLS proxy 1/1 GiB/512 MiB
    assert info.questions[0].name == "size" and info.questions[0].default == "10" and info.exposure == "C"
    assert app_sizing.app_resources(info, {"size": "15"}) == Resources(cru=2, mru=2, sru=17, hru=0)
    # CU = min(2/4, 2/2) = 0.5, SU = 17/300 = 0.057 per second, for one hour:
    assert app_sizing.pool_units(info, {"size": "15"}, 3600) == (1800, 206)
    assert PLANNERS["cryptpad"].placements(spec_of("cryptpad"))[0].resources == Resources(cru=2, mru=2, sru=17)
