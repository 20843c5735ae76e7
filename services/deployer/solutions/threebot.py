"""Hosted 3Bot (SOLUTIONS §3.12): a personal 3Bot at ``https://<owner>-<name>.<managed domain>`` whose
configuration is backed up to the marketplace's backup servers (LOGIN_PROTOCOL §9).

Workloads, each stage awaited before the next: (0) the subdomain, in the **gateway** pool; (1) the 3Bot container
(``FLIST_THREEBOT``, ``/bin/bash <THREEBOT_ENTRYPOINT>``) in the user's pool; (2) the reverse proxy, in the gateway
pool; (3) the tcprouter client on the 3Bot's node, forwarding ports 80/443 (the 3Bot obtains its own certificate).

The backup password is a secret of the solution: only ever a sealed ``BACKUP_PASSWORD`` in the container's secret
environment. The image derives the 3Bot's identity seed from it (§9.4), so it is at most 32 bytes of printable
text. Once deployed, the deployer waits for ``/admin`` to answer (``deployer/readiness.py``; :meth:`ready_fqdn`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, StrictBool

from services.common.hosted_3bot import password_problem
from services.deployer.grid.kinds import Kind
from services.deployer.solutions import gateway
from services.deployer.solutions.base import (
    PlanContext,
    Sealed,
    Spec,
    WorkloadPlan,
    WorkloadView,
    container_fields,
)
from services.deployer.solutions.fields import ContainerResources, matching
from services.deployer.solutions.listing import container_listing, find, public_domain
from services.deployer.solutions.tunnelled import TunnelledContainer, TunnelledSpec

BACKUP_PASSWORD = "backup_password"  # noqa: S105 — the name of the user's secret, not a secret
SDK_BRANCH = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$"
SDK_BRANCH_HELP = "a git branch or tag: letters, digits, '.', '_', '-' and '/', at most 100 characters"


def _ssh_keys(value: str) -> str:
    """SOLUTIONS §3.12: the whole uploaded file, trimmed — one or more key lines, each a type and key material."""
    text = value.strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or any(len(line.split()) < 2 or not line.isprintable() for line in lines):
        raise ValueError("an ssh public key file holds lines like 'ssh-ed25519 AAAA… comment'")
    return "\n".join(lines)


SshKeys = Annotated[str, Field(max_length=16_384), AfterValidator(_ssh_keys)]
SdkBranch = Annotated[str, Field(max_length=100), matching(SDK_BRANCH, SDK_BRANCH_HELP)]


def _default_resources() -> ContainerResources:
    return ContainerResources(cpu=1, memory=2048, disk=2048)  # SOLUTIONS §3.12: memory and root 2048 MiB


class ThreebotSpec(TunnelledSpec):
    secret_names: ClassVar[tuple[str, ...]] = (BACKUP_PASSWORD,)

    resources: ContainerResources = Field(default_factory=_default_resources)
    ssh_key: SshKeys
    sdk_branch: SdkBranch = "development"
    public_ipv6: StrictBool = False

    @classmethod
    def secret_problems(cls, secrets: Mapping[str, str]) -> dict[str, str]:
        problem = password_problem(secrets.get(BACKUP_PASSWORD, ""))
        return {BACKUP_PASSWORD: problem} if problem else {}


class Threebot(TunnelledContainer):
    spec_model: ClassVar[type[Spec]] = ThreebotSpec
    type: ClassVar[str] = "threebot"
    suffix: ClassVar[bool] = False  # the 3Bot's identity is its name: a taken name fails planning

    def public_ipv6(self, spec: ThreebotSpec) -> bool:
        return spec.public_ipv6

    def container(self, spec: ThreebotSpec, ctx: PlanContext) -> WorkloadPlan:
        app, fqdn = ctx.placed["container"], gateway.gateway_of(ctx.placed["gateway"]).domain
        assert ctx.network is not None and app.ip is not None
        env = {
            "SDK_VERSION": spec.sdk_branch,
            "INSTANCE_NAME": spec.name,
            "THREEBOT_NAME": ctx.owner.removesuffix(".3bot"),
            "DOMAIN": fqdn,
            "SSHKEY": spec.ssh_key,
        }
        res = spec.resources
        fields = container_fields(flist=ctx.marketplace.flists["FLIST_THREEBOT"], cpu=res.cpu, memory=res.memory,
                                  disk=res.disk, network=ctx.network, ip=app.ip, public_ipv6=spec.public_ipv6,
                                  entrypoint=entrypoint(ctx.marketplace.threebot_entrypoint), environment=env,
                                  secret_environment={"BACKUP_PASSWORD": Sealed(BACKUP_PASSWORD)})  # fmt: skip
        return WorkloadPlan("container", Kind.CONTAINER, "container", fields)

    def ready_fqdn(self, spec: ThreebotSpec, workloads: list[WorkloadView]) -> str:
        """The name whose ``/admin`` must answer before the 3Bot is up ("initialising", §3.12)."""
        return public_domain(workloads)

    def outputs(self, spec: ThreebotSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        container = find(workloads, "container")
        listing = container_listing(workloads, "container", spec.network)
        return {
            "Workload id": container.grid_id if container else None,
            "Admin URL": f"https://{public_domain(workloads)}/admin",
            "IP": listing.get("IPv4 Address", ""),
        }


def entrypoint(script: str) -> str:
    """``/bin/bash <THREEBOT_ENTRYPOINT>`` (SOLUTIONS §2), the path shell-quoted (a setting, but one word)."""
    return f"/bin/bash {shlex.quote(script)}"


PLANNER = Threebot()
