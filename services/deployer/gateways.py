"""Gateways and public names at planning (SOLUTIONS §1.9, GRID_API §5.5).

A gateway is usable by a user when it is up, has at least one ``dns_nameserver``, and its node id is in one of
**the user's** pools (the original looked in every pool of the marketplace: another customer's gateway). That pool
is the *gateway pool*: it pays for the gateway workloads (subdomain, reverse proxy, delegation, 4to6), while the
solution's own pool pays for its containers.

Planning resolves each :class:`GatewayRequest` in two halves: :func:`prepare` reads the grid, the CT log and the
name servers' addresses before the planning transaction (network calls, each with a timeout); :func:`place` then
picks the name inside it, under a lock, checking the DNS and the names our live solutions use, so two deployments
never take one name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from services.common import gateway_contracts
from services.common.explorer import Explorer, ExplorerRejected, ExplorerUnavailable
from services.common.grid_rules import node_is_up
from services.deployer import domain_store, domains, pool_capacity
from services.deployer.context import Deployer, PlanningFailed, Transient
from services.deployer.solutions.base import GatewayRequest, Placed, PlacedGateway
from services.deployer.solutions.gateway import SUFFIX_RANGE, advanced_label, app_label

log = structlog.get_logger(__name__)

NO_DOMAIN = "no gateway domain available; try later"
NO_GATEWAY = ("none of your pools contains a gateway that is up and has a name server; buy capacity on a farm "
              "with a gateway (Pools) and try again")  # fmt: skip
TRIES_PER_PARENT = 10
LABEL_MAX = 63


@dataclass(frozen=True)
class Gateway:
    """A usable gateway and the user's pool that contains it (the gateway pool)."""

    node_id: str
    pool_id: int
    grid_pool_id: int
    managed_domains: tuple[str, ...]
    nameservers: tuple[str, ...]
    tcp_router_port: int
    location: tuple[str, str, str] = ("", "", "")  # continent, country, city


def read_pools(explorer: Explorer, grid_ids: dict[int, int], pool_ids: tuple[int, ...]) -> dict[int, list[str]]:
    """Our pool id → node ids, read from the grid, for those of ``pool_ids`` the user owns (``grid_ids``: the pools
    the chatflow verified, our id → grid id). A pool gone from the grid is left out.

    Raises:
        Transient: the explorer cannot be read now.
    """
    out: dict[int, list[str]] = {}
    for pool_id in sorted(set(pool_ids)):
        grid_pool_id = grid_ids.get(pool_id)
        if grid_pool_id is None:
            continue
        try:
            pool = explorer.get_json(f"/reservations/pools/{grid_pool_id}")
        except ExplorerRejected as exc:
            if exc.status == 404:
                continue
            raise Transient(f"the grid explorer refused to show pool {grid_pool_id}: {exc.message}") from None
        except ExplorerUnavailable as exc:
            raise Transient(f"the grid explorer is unavailable ({exc})") from None
        out[pool_id] = [str(n) for n in (pool.get("node_ids") or [])] if isinstance(pool, dict) else []
    return out


def usable(listing: list[dict[str, Any]], pools: dict[int, list[str]], grid_ids: dict[int, int],
           now: float | None = None) -> list[Gateway]:  # fmt: skip
    """The gateways of ``listing`` (``GET /gateways``) that are up, have a name server and are in one of ``pools``
    (the first such pool, by our pool id, is the gateway pool)."""
    out = []
    for gw in listing:
        nameservers = tuple(str(ns) for ns in gw.get("dns_nameserver") or [] if ns)
        if not nameservers or not node_is_up(gw.get("updated"), now):
            continue
        pool_id = next((p for p in sorted(pools) if str(gw.get("node_id")) in pools[p]), None)
        if pool_id is None:
            continue
        where: dict[str, Any] = gw["location"] if isinstance(gw.get("location"), dict) else {}
        continent, country, city = (str(where.get(k) or "") for k in ("continent", "country", "city"))
        out.append(Gateway(node_id=str(gw["node_id"]), pool_id=pool_id, grid_pool_id=grid_ids[pool_id],
                           managed_domains=tuple(str(d).lower().rstrip(".") for d in gw.get("managed_domains") or []),
                           nameservers=nameservers, tcp_router_port=int(gw.get("tcp_router_port") or 0),
                           location=(continent, country, city)))  # fmt: skip
    return out


def discover(explorer: Explorer, grid_ids: dict[int, int], pool_ids: tuple[int, ...]) -> list[Gateway]:
    """The gateways usable in ``pool_ids`` (of those the user owns).

    Raises:
        Transient: the explorer cannot be read now.
    """
    pools = read_pools(explorer, grid_ids, pool_ids)
    return usable(_listing(explorer), pools, grid_ids) if pools else []


def discover_among(explorer: Explorer, node_ids: list[str]) -> list[Gateway]:
    """The usable gateways among ``node_ids`` before any pool holds them (a farm's, for the apps wizard's plan):
    pool 0 stands for the pool not bought yet.

    Raises:
        Transient: the explorer cannot be read now.
    """
    return usable(_listing(explorer), {0: list(node_ids)}, {0: 0}) if node_ids else []


def _listing(explorer: Explorer) -> list[dict[str, Any]]:
    try:
        return explorer.list_all("/gateways")
    except ExplorerRejected as exc:
        raise Transient(f"the grid explorer refused to list gateways: {exc.message}") from None
    except ExplorerUnavailable as exc:
        raise Transient(f"the grid explorer is unavailable ({exc})") from None


@dataclass
class Prepared:
    """What :func:`prepare` read for one request: the candidate (parent, gateway) pairs in the order to try them,
    the name servers' IPv4 addresses per gateway, and why parents were skipped."""

    request: GatewayRequest
    candidates: list[tuple[str, Gateway]]
    ips: dict[str, tuple[str, ...]]
    skipped: dict[str, str] = field(default_factory=dict)


def _parent_of(domain: str, gateways: list[Gateway]) -> tuple[str, Gateway] | None:
    for gw in gateways:
        for parent in gw.managed_domains:
            if domain == parent or domain.endswith("." + parent):
                return parent, gw
    return None


def owner_label(request: GatewayRequest, owner: str) -> GatewayRequest:
    """The request with its label prefixed by the owner as it asks (``owner_prefix``)."""
    if request.label is None or not request.owner_prefix:
        return request
    made = advanced_label if request.owner_prefix == "advanced" else app_label
    return replace(request, label=made(owner, request.label), owner_prefix="")


def prepare(dep: Deployer, solution_id: str, request: GatewayRequest, owner: str = "") -> Prepared:
    """Read what choosing a name for ``request`` needs (before the planning transaction).

    Raises:
        PlanningFailed: no usable gateway (or not the chosen one / none managing the chosen parent).
        Transient: the explorer or the DNS resolver cannot be read now.
    """
    request = owner_label(request, owner)
    with dep.db.transaction() as cur:
        grid_ids = pool_capacity.verified(cur, solution_id)
    gateways = discover(dep.grid.explorer, grid_ids, request.pool_ids)
    if request.gateway_id is not None:
        gateways = [gw for gw in gateways if gw.node_id == request.gateway_id]
        if not gateways:
            raise PlanningFailed(f"gateway {request.gateway_id} is not up or not in one of your pools")
    if not gateways:
        raise PlanningFailed(NO_GATEWAY)
    skipped: dict[str, str] = {}
    if request.domain is None and request.label is None:  # a gateway without a name (4to6)
        candidates = [("", gw) for gw in gateways]
    elif request.domain is not None:
        domain = request.domain.lower().rstrip(".")
        found = _parent_of(domain, gateways)
        candidates = [found] if found else [(domain, gw) for gw in gateways[:1]]  # a delegated or custom domain
    else:
        pairs = [(parent, gw) for gw in gateways for parent in gw.managed_domains]
        if request.parent is not None:
            pairs = [(p, gw) for p, gw in pairs if p == request.parent.lower().rstrip(".")]
            if not pairs:
                raise PlanningFailed(f"no gateway in your pools manages {request.parent}")
        random.shuffle(pairs)
        candidates = []
        timeout = (dep.settings.http_connect_timeout, dep.settings.http_read_timeout)
        verdicts: dict[str, bool | None] = {}
        for parent, gw in pairs:
            if parent not in verdicts:
                verdicts[parent] = domains.budget_left(dep.settings.ct_log_url, parent, timeout)
            if verdicts[parent]:
                candidates.append((parent, gw))
            else:
                skipped[parent] = (gateway_contracts.NO_CERTIFICATES_LEFT if verdicts[parent] is False
                                   else gateway_contracts.CT_LOG_SILENT)  # fmt: skip
    ips = {gw.node_id: _nameserver_ips(dep, gw) for gw in {gw.node_id: gw for _, gw in candidates}.values()}
    candidates = [(parent, gw) for parent, gw in candidates if ips[gw.node_id]]
    return Prepared(request, candidates, ips, skipped)


def _nameserver_ips(dep: Deployer, gw: Gateway) -> tuple[str, ...]:
    found: list[str] = []
    for host in gw.nameservers:
        try:
            found += domains.ipv4_of(dep.settings.dns_resolver, host, dep.settings.query_timeout)
        except domains.DnsUnavailable as exc:
            raise Transient(str(exc)) from None
    return tuple(dict.fromkeys(found))


def _taken(dep: Deployer, cur: Any, solution_id: str, fqdn: str) -> bool:
    if domain_store.domain_in_use(cur, fqdn, exclude=solution_id):
        return True
    try:
        return domains.resolves(dep.settings.dns_resolver, fqdn, dep.settings.query_timeout)
    except domains.DnsUnavailable as exc:
        raise Transient(str(exc)) from None


def place(dep: Deployer, cur: Any, solution_id: str, prepared: Prepared) -> Placed:
    """Pick the name (in the planning transaction, under the domain lock) and the gateway placement.

    Raises:
        PlanningFailed: no candidate is left ("no gateway domain available; try later"), or a name the user chose
            exactly is taken.
        Transient: the DNS resolver does not answer.
    """
    request = prepared.request
    domain_store.lock_domains(cur)
    for parent, gw in prepared.candidates:
        if request.domain is None and request.label is None:
            return _placed(request, gw, "", prepared)
        if request.domain is not None:
            fqdn = request.domain.lower().rstrip(".")
            if domain_store.domain_in_use(cur, fqdn, exclude=solution_id):
                raise PlanningFailed(f"{fqdn} is already used by another solution")
            return _placed(request, gw, fqdn, prepared)
        label = request.label or ""
        for attempt in range(TRIES_PER_PARENT if request.suffix else 1):
            number = request.first_suffix if attempt == 0 else random.randint(*SUFFIX_RANGE)  # noqa: S311
            candidate = label if number is None else with_suffix(label, number)
            fqdn = f"{candidate}.{parent}"
            if not _taken(dep, cur, solution_id, fqdn):
                return _placed(request, gw, fqdn, prepared)
        if not request.suffix:
            raise PlanningFailed(f"{label}.{parent} is already taken; choose another name")
    reasons = "; ".join(f"{parent}: {why}" for parent, why in sorted(prepared.skipped.items()))
    raise PlanningFailed(f"{NO_DOMAIN}" + (f" ({reasons})" if reasons else ""))


def name_free(dep: Deployer, fqdn: str, parent: str | None = None) -> tuple[bool, str]:
    """(free, why not) for a name a user typed or a wizard shows: not used by a live solution of ours, not resolving,
    and — with the managed ``parent`` it is under — a certificate may still be issued there this week (what
    planning checks too: a name shown in an overview must be one planning can use).

    Raises:
        Transient: the DNS resolver does not answer.
    """
    fqdn = fqdn.lower().rstrip(".")
    if parent is not None:
        timeout = (dep.settings.http_connect_timeout, dep.settings.http_read_timeout)
        verdict = domains.budget_left(dep.settings.ct_log_url, parent.lower().rstrip("."), timeout)
        if verdict is False:
            return False, gateway_contracts.NO_CERTIFICATES_LEFT
        if verdict is None:
            return False, gateway_contracts.CT_LOG_SILENT
    with dep.db.transaction() as cur:
        if domain_store.domain_in_use(cur, fqdn):
            return False, f"{fqdn} is already used by a solution"
    try:
        if domains.resolves(dep.settings.dns_resolver, fqdn, dep.settings.query_timeout):
            return False, f"{fqdn} already exists in the DNS; choose another name"
    except domains.DnsUnavailable as exc:
        raise Transient(str(exc)) from None
    return True, ""


def with_suffix(label: str, number: int) -> str:
    """``<label>-<number>``, the label shortened so the result stays a valid DNS label (≤ 63 characters)."""
    tail = f"-{number}"
    return label[: LABEL_MAX - len(tail)].rstrip("-") + tail


def _placed(request: GatewayRequest, gw: Gateway, fqdn: str, prepared: Prepared) -> Placed:
    info = PlacedGateway(domain=fqdn, ips=prepared.ips[gw.node_id], nameservers=gw.nameservers,
                         tcp_router_port=gw.tcp_router_port)  # fmt: skip
    return Placed(request.role, gw.node_id, gw.grid_pool_id, None, info)
