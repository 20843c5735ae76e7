"""The one planner of every app (SOLUTIONS §1.10, §4): what an app definition file says, as workloads.

Placements: the app's node in the pool bought for this deployment, chosen to fit the app, its volume and its helper
(the TLS proxy of pattern C, which runs colocated on the same node with its own IP in the apps network); the
gateway — subdomain and reverse proxy — in a gateway pool of the user (§1.9, automatic domain, ``<owner>-<name>``).

Stages follow the definition's ``order`` (one workload each, each awaited): ``subdomain``, ``reverse_proxy`` on the
gateway; ``volume``, ``container``, ``tls_proxy`` in the app pool. Plain env comes from the definition's templates,
whose context holds no secret; every ``secret_env`` value — a generated secret (fresh per deployment) or a secret
answer — is :class:`Sealed` to the node; pattern P adds the tunnel's env and ``TRC_SECRET``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from services.common import app_sizing
from services.common.capacity import Resources
from services.deployer.apps import catalogue, generators, templates
from services.deployer.apps.schema import VOLUME_QUESTION, Definition
from services.deployer.apps.spec import AppSpec, spec_model
from services.deployer.grid.kinds import DiskType, Kind
from services.deployer.solutions import gateway
from services.deployer.solutions.base import (
    GatewayRequest,
    Placement,
    PlanContext,
    Sealed,
    SealedTemplate,
    Spec,
    WorkloadPlan,
    WorkloadView,
    container_fields,
)
from services.deployer.solutions.listing import container_listing, find, public_domain, wids

APP, HELPER, GATEWAY = "app", "tls_proxy", "gateway"  # placement roles


class AppPlanner:
    """Subclassed once per definition by :func:`planner_for` (``type`` and ``spec_model`` are class facts)."""

    definition: ClassVar[Definition]
    spec_model: ClassVar[type[Spec]]
    type: ClassVar[str]

    def _d(self) -> Definition:
        return self.definition

    def gateways(self, spec: AppSpec) -> list[GatewayRequest]:
        if self._d().exposure is None:
            return []
        return [GatewayRequest(GATEWAY, tuple(spec.gateway_pool_ids), label=spec.name, parent=spec.parent_domain,
                               owner_prefix="app", first_suffix=spec.domain_suffix)]  # fmt: skip

    def placements(self, spec: AppSpec) -> list[Placement]:
        d = self._d()
        # The app's placement carries the helper's share too, so its node fits both (§1.10 step 5); the helper is
        # then put on that node and charges nothing more.
        needs = app_sizing.app_resources(catalogue.info(d), {VOLUME_QUESTION: _volume_size(spec)})
        app = Placement(APP, spec.pool_id, needs, spec.node_id, public_ipv6=d.public_ipv6, node_planned=True)
        if d.exposure is not None and d.exposure.pattern == "C":
            return [app, Placement(HELPER, spec.pool_id, Resources(), colocate=APP)]
        return [app]

    def network_of(self, spec: AppSpec) -> str | None:
        return spec.network

    def build(self, spec: AppSpec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        steps = self._d().steps()
        if not 0 <= stage < len(steps):
            return None
        step = steps[stage]
        if step == "subdomain":
            return [gateway.subdomain(ctx.placed[GATEWAY])]
        if step == "reverse_proxy":
            return [gateway.reverse_proxy(ctx.placed[GATEWAY], ctx.marketplace)]
        if step == "volume":
            volume = self._d().volume
            disk = DiskType.HDD if volume is not None and volume.disk == "hdd" else DiskType.SSD
            return [WorkloadPlan("volume", Kind.VOLUME, APP, {"size": _volume_size(spec), "type": int(disk)})]
        if step == "container":
            return [self._container(spec, ctx)]
        return [self._tls_proxy(spec, ctx)]

    def _context(self, spec: AppSpec, ctx: PlanContext) -> dict[str, Any]:
        domain = gateway.gateway_of(ctx.placed[GATEWAY]).domain if self._d().exposure is not None else ""
        return template_context(spec, ctx.owner, domain, ctx.marketplace.test_cert,
                                ctx.marketplace.threebot_login_url, ctx.marketplace.openkyc_url)  # fmt: skip

    def _container(self, spec: AppSpec, ctx: PlanContext) -> WorkloadPlan:
        d, placed = self._d(), ctx.placed[APP]
        assert ctx.network is not None and placed.ip is not None  # the deployer placed it in the apps network
        values = self._context(spec, ctx)
        env = {key: templates.render(text, values) for key, text in d.env.items()}
        secret_env: dict[str, Sealed | SealedTemplate] = {
            var: Sealed(source.answer if source.answer is not None else generators.secret_name(var))
            for var, source in d.secret_env.items()
        }
        if d.exposure is not None and d.exposure.pattern == "P":
            tunnel, tunnel_secret = gateway.tunnel_env(ctx.placed[GATEWAY], ctx.marketplace)
            env |= tunnel
            secret_env |= tunnel_secret
        mounts = []
        if d.volume is not None:  # by the volume's grid id, known once its stage is deployed
            mounts = [{"volume_id": f"{ctx.deployed['volume'].grid_id}-1", "mountpoint": d.volume.mount}]
        fields = container_fields(flist=ctx.marketplace.flists[d.image], cpu=d.resources.cpu,
                                  memory=d.resources.memory, disk=d.resources.disk, network=ctx.network, ip=placed.ip,
                                  public_ipv6=d.public_ipv6, entrypoint=templates.render_command(d.entrypoint, values),
                                  environment=env, secret_environment=secret_env, volumes=mounts)  # fmt: skip
        return WorkloadPlan("container", Kind.CONTAINER, APP, fields)

    def _tls_proxy(self, spec: AppSpec, ctx: PlanContext) -> WorkloadPlan:
        exposure, app = self._d().exposure, ctx.placed[APP]
        assert exposure is not None and exposure.port is not None and ctx.network is not None and app.ip is not None
        return gateway.tls_proxy(ctx.placed[GATEWAY], ctx.placed[HELPER], ctx.marketplace, network=ctx.network,
                                 target_ip=app.ip, port=exposure.port, email=spec.email,
                                 enforce_https=exposure.enforce_https, pubkey=spec.ssh_key)  # fmt: skip

    def listing(self, spec: AppSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        keys = {"Name": spec.name, "wids": wids(workloads), **container_listing(workloads, "container", spec.network)}
        if self._d().exposure is not None:
            keys["Domain"] = public_domain(workloads)
        return keys

    def outputs(self, spec: AppSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        container = find(workloads, "container")
        ip = container_listing(workloads, "container", spec.network).get("IPv4 Address", "")
        domain = public_domain(workloads) if self._d().exposure is not None else ""
        # The end message is rendered from facts the listing shows anyway (no secret is in its context).
        values = {**template_context(spec, "", domain, False, "", ""), "ip": ip,
                  "workload_id": container.grid_id if container else None}  # fmt: skip
        out: dict[str, Any] = {"Workload id": values["workload_id"], "IPv4 Address": ip}
        if domain:
            out["URL"] = f"https://{domain}"
        out["Message"] = templates.render(self._d().end, values)
        return out


def _volume_size(spec: AppSpec) -> int:
    return int(getattr(spec.answers, "size", 0) or 0) if spec.definition.volume is not None else 0


def template_context(spec: AppSpec, owner: str, domain: str, test_cert: bool, login: str,
                     kyc: str) -> dict[str, Any]:  # fmt: skip
    """What the definition's templates may use (``templates.CONTEXT``): never a secret."""
    return {"name": spec.name, "owner": owner, "email": spec.email, "ssh_key": spec.ssh_key,
            "answers": spec.answers.model_dump(), "volume_size": _volume_size(spec), "domain": domain,
            "url": f"https://{domain}" if domain else "", "threebot_login_url": login, "openkyc_url": kyc,
            "test_cert": gateway.flag(test_cert)}  # fmt: skip


def planner_for(d: Definition) -> AppPlanner:
    """The planner of one definition: a subclass whose class facts are the definition's."""
    cls: type[AppPlanner] = type(
        f"{d.type.title()}App", (AppPlanner,), {"definition": d, "spec_model": spec_model(d), "type": d.type}
    )
    return cls()
