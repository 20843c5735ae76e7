"""The models of the wizards' gateway, domain and Solution Expose queries to the deployer (their task names are in
:mod:`services.common.contracts`, with the rest of the inter-service API)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.common.contracts import OwnerQuery, VerifiedPool
from services.common.payload import Payload


class GatewaysQuery(OwnerQuery):
    """The gateways usable in the owner's ``pools`` (as the chatflow verified them): up, with a name server, in one
    of these pools (SOLUTIONS §1.9)."""

    pools: list[VerifiedPool] = Field(max_length=256)
    # Before a pool exists (the apps wizard's plan): the gateways among a farm's node ids, offered with pool 0.
    node_ids: list[str] = Field(default_factory=list, max_length=10_000)


class GatewayOffer(BaseModel):
    node_id: str
    pool_id: int  # the user's pool that contains it: the gateway pool
    grid_pool_id: int
    managed_domains: list[str]
    dns_nameserver: list[str]
    tcp_router_port: int
    continent: str = ""
    country: str = ""
    city: str = ""


class GatewayList(Payload):
    """Answer of ``deployer.list_gateways``."""

    gateways: list[GatewayOffer]


class DomainQuery(OwnerQuery):
    """Is this fully qualified name free: no live solution of ours uses it and it does not resolve (DNS_RESOLVER)?
    With ``parent`` (the managed domain it is under), also: may Let's Encrypt still issue under it this week (else
    the answer's reason is one of :data:`PARENT_UNUSABLE`, and any other name under that parent is refused too)."""

    domain: str = Field(min_length=1, max_length=253)
    parent: str | None = Field(None, min_length=1, max_length=253)


NO_CERTIFICATES_LEFT = "Let's Encrypt's weekly certificate limit is used up"
CT_LOG_SILENT = "the certificate-transparency log did not answer"
PARENT_UNUSABLE = (NO_CERTIFICATES_LEFT, CT_LOG_SILENT)


class DelegatedDomain(BaseModel):
    """A domain the owner delegated to a gateway (SOLUTIONS §3.10), and the owner's pool that contains it."""

    domain: str
    gateway_id: str
    pool_id: int


class DelegatedDomains(Payload):
    """Answer of ``deployer.delegated_domains``: the owner's deployed delegations."""

    domains: list[DelegatedDomain]


EXPOSABLE_TYPES = ("minio", "kubernetes", "ubuntu", "flist", "gitea")


class TargetsQuery(OwnerQuery):
    type: Literal["minio", "kubernetes", "ubuntu", "flist", "gitea"]


class ExposeTarget(BaseModel):
    """A deployed solution Solution Expose can publish (SOLUTIONS §3.9): the address and network the tunnel client
    forwards to, and the pool it runs in (the Kubernetes master's, MinIO's primary's, else the container's)."""

    solution_id: str
    name: str
    ip: str
    network: str
    grid_pool_id: int
    pool_id: int


class ExposeTargets(Payload):
    """Answer of ``deployer.expose_targets``."""

    targets: list[ExposeTarget]
