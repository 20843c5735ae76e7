"""Gollum (issue 12): a wiki backed by a GitHub repository, on a public HTTPS name through a gateway of the user's
pools (raw tunnel, pattern T: the image obtains its certificate and terminates TLS itself on ports 80/443).

Workloads (the stages of ``tunnelled.py``), each awaited before the next: (0) the subdomain, in the **gateway**
pool (the original paid it from the app pool); (1) the Gollum container in the user's pool; (2) the reverse proxy,
in the gateway pool; (3) the tcprouter client on the app node, forwarding ports 80/443 to Gollum.

The GitHub token is a secret of the solution: only ever a sealed ``GITHUB_TOKEN`` in the container's secret
environment. Every other answer is a closed alphabet (``services.common.text_rules``) and the two entrypoint
arguments are shell-quoted besides: ``/bin/bash /start.sh <fqdn> <email>`` cannot become another command.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any, ClassVar

from pydantic import Field

from services.common import text_rules
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
from services.deployer.solutions.fields import SshKey, matching
from services.deployer.solutions.listing import container_listing, find, public_domain
from services.deployer.solutions.tunnelled import TunnelledContainer, TunnelledSpec

GITHUB_TOKEN = "github_token"  # noqa: S105 — the name of the user's secret, not a secret

Email = Annotated[str, Field(max_length=text_rules.EMAIL_MAX), matching(text_rules.EMAIL, text_rules.EMAIL_HELP)]
GithubUser = Annotated[str, Field(max_length=39), matching(text_rules.GITHUB_USER, text_rules.GITHUB_USER_HELP)]
GithubRepo = Annotated[str, Field(max_length=100), matching(text_rules.GITHUB_REPO, text_rules.GITHUB_REPO_HELP)]


class GollumSpec(TunnelledSpec):
    secret_names: ClassVar[tuple[str, ...]] = (GITHUB_TOKEN,)

    ssh_key: SshKey
    email: Email  # certificate notices (Let's Encrypt account of the image)
    github_user: GithubUser
    github_email: Email
    github_repo: GithubRepo


class Gollum(TunnelledContainer):
    spec_model: ClassVar[type[Spec]] = GollumSpec
    type: ClassVar[str] = "gollum"

    def container(self, spec: GollumSpec, ctx: PlanContext) -> WorkloadPlan:
        app, fqdn = ctx.placed["container"], gateway.gateway_of(ctx.placed["gateway"]).domain
        assert ctx.network is not None and app.ip is not None
        env = {
            "pub_key": spec.ssh_key,
            "GITHUB_USER": spec.github_user,
            "GITHUB_EMAIL": spec.github_email,
            "GITHUB_REPO": spec.github_repo,
        }
        res, command = spec.resources, entrypoint(fqdn, spec.email)
        fields = container_fields(flist=ctx.marketplace.flists["gollum"], cpu=res.cpu, memory=res.memory,
                                  disk=res.disk, network=ctx.network, ip=app.ip, entrypoint=command, environment=env,
                                  secret_environment={"GITHUB_TOKEN": Sealed(GITHUB_TOKEN)})  # fmt: skip
        return WorkloadPlan("container", Kind.CONTAINER, "container", fields)

    def outputs(self, spec: GollumSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        container = find(workloads, "container")
        listing = container_listing(workloads, "container", spec.network)
        return {
            "Workload id": container.grid_id if container else None,
            "ssh": f"ssh root@{listing.get('IPv4 Address', '')}",
            "URL": f"https://{public_domain(workloads)}",
        }


def entrypoint(fqdn: str, email: str) -> str:
    """``/bin/bash /start.sh <fqdn> <email>``, both arguments shell-quoted (one word each, whatever they hold)."""
    return f"/bin/bash /start.sh {shlex.quote(fqdn)} {shlex.quote(email)}"


PLANNER = Gollum()
