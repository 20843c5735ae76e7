"""What the gateways' DNS answers, read from the live state: the zones and records of the emulated grid.

A real TF gateway runs CoreDNS fed by its workloads: it is authoritative for its ``managed_domains`` and for every
domain delegated to it, a ``subdomain`` workload adds A/AAAA records and deleting it removes them. The emulator
does the same from its store, so an outside DNS client (the deployer's "does this name already resolve?", `dig`
in a test) sees exactly what the grid would. This module is the protocol-free part; dns_server.py speaks DNS.

A workload counts while it runs on its gateway (``active``: from the node's Ok report until the node confirmed its
deletion). Zones: every gateway's managed domains, every live delegated domain (on the gateway that runs the
``domain_delegate``); the longest zone containing the name answers. A name in no zone is refused.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from dataclasses import dataclass, field
from enum import Enum

from emulators.grid import directory_store, workload_store
from emulators.grid.directory_store import Node, NodeFilter
from emulators.grid.enums import WorkloadType

ADDRESS_TTL = 60
ZONE_TTL = 300
NEGATIVE_TTL = 60
# Far above any seeded world; gateways are few on the real grid too.
_MAX_GATEWAYS = 100_000


class Rcode(Enum):
    NOERROR = "NOERROR"
    NXDOMAIN = "NXDOMAIN"
    REFUSED = "REFUSED"


@dataclass(frozen=True)
class Record:
    """One resource record: ``rtype`` is A, AAAA, NS or SOA; ``value`` an address, a host name or SOA fields."""

    name: str
    rtype: str
    ttl: int
    value: str | tuple[str, str, int, int, int, int, int]


@dataclass
class Answer:
    rcode: Rcode
    answer: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)


@dataclass(frozen=True)
class _Zone:
    name: str
    gateway: Node


def normalise(name: str) -> str:
    return name.lower().rstrip(".")


def _is_under(name: str, parent: str) -> bool:
    return name == parent or name.endswith("." + parent)


def gateway_addresses(gateway: Node) -> dict[str, str]:
    """The gateway's public addresses by record type: its IPv4 and the first address of its /64."""
    sim = gateway.doc.get("_sim", {})
    found: dict[str, str] = {}
    if sim.get("ipv4"):
        found["A"] = str(sim["ipv4"])
    if sim.get("ipv6_prefix"):
        found["AAAA"] = str(ipaddress.IPv6Network(sim["ipv6_prefix"]).network_address + 1)
    return found


def resolve(conn: sqlite3.Connection, qname: str, qtype: str) -> Answer:
    """The authoritative answer to ``qname``/``qtype`` (a record type name such as A, AAAA, NS, SOA, ANY)."""
    name = normalise(qname)
    gateways, _ = directory_store.find_nodes(conn, NodeFilter(is_gateway=True), _MAX_GATEWAYS, 0)
    zone = _zone_of(conn, name, gateways)
    if zone is None:
        return Answer(Rcode.REFUSED)
    records = _records(conn, name, zone, gateways)
    soa = [_soa(zone)]
    if not records:
        return Answer(Rcode.NXDOMAIN, authority=soa)
    matching = [r for r in records if qtype in (r.rtype, "ANY")]
    if not matching:
        return Answer(Rcode.NOERROR, authority=soa)  # the name exists, not with this type
    additional = [glue for r in matching if r.rtype == "NS" for glue in _host_records(str(r.value), gateways)]
    return Answer(Rcode.NOERROR, answer=matching, additional=additional)


def _zone_of(conn: sqlite3.Connection, name: str, gateways: list[Node]) -> _Zone | None:
    zones = [
        _Zone(normalise(domain), gateway) for gateway in gateways for domain in gateway.doc.get("managed_domains", [])
    ]
    by_id = {gateway.node_id: gateway for gateway in gateways}
    for delegation in workload_store.live_named(conn, WorkloadType.DOMAIN_DELEGATE):
        if delegation.node_id in by_id and delegation.domain:
            zones.append(_Zone(delegation.domain, by_id[delegation.node_id]))
    inside = [zone for zone in zones if _is_under(name, zone.name)]
    return max(inside, key=lambda zone: len(zone.name), default=None)


def _records(conn: sqlite3.Connection, name: str, zone: _Zone, gateways: list[Node]) -> list[Record]:
    """Every record the zone has at ``name`` (empty: the name does not exist)."""
    if name == zone.name:
        nameservers = [normalise(ns) for ns in zone.gateway.doc.get("dns_nameserver", [])]
        return [_soa(zone), *(Record(name, "NS", ZONE_TTL, ns) for ns in nameservers)]
    records = _host_records(name, gateways)
    for subdomain in workload_store.live_named(conn, WorkloadType.SUBDOMAIN, name):
        if subdomain.node_id == zone.gateway.node_id:
            records += _subdomain_records(name, subdomain.body.get("ips", []), zone.gateway)
    return list(dict.fromkeys(records))


def _subdomain_records(name: str, ips: list[str], gateway: Node) -> list[Record]:
    """A/AAAA of the workload's ``ips``; a family it names no address of gets the gateway's own address."""
    by_type: dict[str, list[str]] = {"A": [], "AAAA": []}
    for ip in ips:
        try:
            version = ipaddress.ip_address(ip).version
        except ValueError:
            continue
        by_type["A" if version == 4 else "AAAA"].append(ip)
    for rtype, address in gateway_addresses(gateway).items():
        by_type[rtype] = by_type[rtype] or [address]
    return [Record(name, rtype, ADDRESS_TTL, address) for rtype, addresses in by_type.items() for address in addresses]


def _host_records(host: str, gateways: list[Node]) -> list[Record]:
    """The addresses of a gateway nameserver host (``ns1.gwN.grid.example``), so clients can reach the gateway."""
    return [
        Record(host, rtype, ADDRESS_TTL, address)
        for gateway in gateways
        if host in (normalise(ns) for ns in gateway.doc.get("dns_nameserver", []))
        for rtype, address in gateway_addresses(gateway).items()
    ]


def _soa(zone: _Zone) -> Record:
    nameservers = zone.gateway.doc.get("dns_nameserver", []) or [f"ns.{zone.name}"]
    # mname, rname, serial, refresh, retry, expire, minimum (the negative-answer TTL).
    fields = (normalise(nameservers[0]), f"hostmaster.{zone.name}", 1, 3600, 600, 86400, NEGATIVE_TTL)
    return Record(zone.name, "SOA", ZONE_TTL, fields)
