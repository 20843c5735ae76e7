"""The address and WireGuard plan of a private network (GRID_API §11) — pure functions, no explorer, no clock.

A network is a private /16; each member node gets a /24 of it (``.1`` is the node's, workloads use ``.2`` up) and
each external access point (a user's laptop) gets a /24 too. Every member's network resource lists all other
members as WireGuard peers; :func:`peers_for` computes that list the way §11 (and the original deployer) does, so
hidden nodes reach the rest through the first IPv4-reachable member (the *relay*).
"""

from __future__ import annotations

import base64
import ipaddress
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nacl.public

from services.common.grid_rules import PRIVATE_IPV4, network_range_problem
from services.deployer.grid.workload_plan import Sealed

WG_PORTS = range(1000, 9000)
# Addresses a peer cannot reach a node on (§11): private, loopback, link-local, ULA and Yggdrasil (200::/7).
_NOT_PUBLIC = (
    *PRIVATE_IPV4,
    *(
        ipaddress.ip_network(n)
        for n in ("127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10", "fc00::/7", "200::/7")
    ),
)


class NetworkFull(Exception):
    """Every /24 of the network's /16 is taken."""


@dataclass(frozen=True)
class Member:
    """A node of the network: its /24, WireGuard key and port, and its public addresses (no prefix length).

    ``ipv4``/``ipv6`` are ``None`` when the node cannot be reached that way; both ``None`` means *hidden*.
    """

    node_id: str
    subnet: str
    public_key: str
    port: int
    ipv4: str | None
    ipv6: str | None

    @property
    def hidden(self) -> bool:
        return self.ipv4 is None and self.ipv6 is None


@dataclass(frozen=True)
class AccessPeer:
    """An external access point (a laptop) with its own /24, attached to the member on ``node_id``."""

    node_id: str
    subnet: str
    public_key: str


def wg_keypair() -> tuple[str, str]:
    """A fresh X25519 key pair as base64 text: ``(private, public)``."""
    private = nacl.public.PrivateKey.generate()
    return base64.b64encode(bytes(private)).decode(), base64.b64encode(bytes(private.public_key)).decode()


def random_network_range(rng: random.Random) -> str:
    """A random private /16 for a new network: ``10.x.0.0/16`` or ``172.16–31.0.0/16``."""
    choices = [f"10.{x}.0.0/16" for x in range(256)] + [f"172.{x}.0.0/16" for x in range(16, 32)]
    return rng.choice(choices)


def random_wg_port(rng: random.Random, used: Iterable[int]) -> int:
    """A random WireGuard listen port in 1000–8999 that is not in the node's ``wg_ports``.

    Raises:
        ValueError: every port of the range is in use.
    """
    free = sorted(set(WG_PORTS) - set(used))
    if not free:
        raise ValueError("no free WireGuard port left on the node")
    return rng.choice(free)


def is_private_slash16(text: str) -> bool:
    """True for a network-aligned RFC 1918 IPv4 /16 such as ``10.100.0.0/16`` (the rule of ``grid_rules``)."""
    return network_range_problem(text) is None


def next_subnet(ip_range: str, used: Iterable[str]) -> str:
    """The first /24 of the /16 ``ip_range`` that is not in ``used`` (node and access-point /24s).

    Raises:
        ValueError: ``ip_range`` or an entry of ``used`` is not a network.
        NetworkFull: all 256 /24s are taken.
    """
    taken = {ipaddress.ip_network(u, strict=False) for u in used}
    for subnet in ipaddress.ip_network(ip_range, strict=False).subnets(new_prefix=24):
        if subnet not in taken:
            return str(subnet)
    raise NetworkFull(f"no free /24 left in {ip_range}")


def routing_ip(subnet: str) -> str:
    """The WireGuard routing IP of a range ``a.b.c.d/n``: ``100.64.b.c/32`` (second and third octets).

    Raises:
        ValueError: not an IPv4 range.
    """
    octets = ipaddress.IPv4Network(subnet, strict=False).network_address.packed
    return f"100.64.{octets[1]}.{octets[2]}/32"


def _public_address(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        # ip_address on the part before the prefix: ip_interface would also build the network, 3x slower, and a
        # refresh parses some 25,000 addresses.
        address = ipaddress.ip_address(str(text).strip().split("/", 1)[0])
    except ValueError:
        return None
    if address.is_unspecified or address.is_multicast:
        return None
    if any(address.version == net.version and address in net for net in _NOT_PUBLIC):
        return None
    return address


def public_addresses(node: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(public IPv4, public IPv6) of an explorer node object, without prefix; (None, None) for a hidden node.

    A node with a dedicated public interface (``public_config.master`` set) is reached on that interface's
    addresses only; otherwise on any global-unicast, non-private address of any interface.
    """
    config = node.get("public_config")
    if isinstance(config, dict) and config.get("master"):
        candidates = [config.get("ipv4"), config.get("ipv6")]
    else:
        candidates = [addr for iface in node.get("ifaces") or [] for addr in (iface.get("addrs") or [])]
    found: dict[int, str] = {}
    for text in candidates:
        address = _public_address(text) if text else None
        if address is not None:
            found.setdefault(address.version, str(address))
    return found.get(4), found.get(6)


def _endpoint(member: Member, *, ipv6: bool) -> str:
    return f"[{member.ipv6}]:{member.port}" if ipv6 else f"{member.ipv4}:{member.port}"


def peers_for(member: Member, members: Sequence[Member], access: Sequence[AccessPeer]) -> list[dict[str, Any]]:
    """The ``peers`` of ``member``'s network resource (§11): every other member, then its access points.

    ``members`` is the whole network in a stable order (the relay is the first IPv4-reachable one in it).

    Raises:
        ValueError: an access point is attached to a node that is not a member.
    """
    subnet_of = {m.node_id: m.subnet for m in members}
    if unknown := {a.node_id for a in access} - subnet_of.keys():
        raise ValueError(f"access points attached to nodes outside the network: {sorted(unknown)}")
    # Access /24s enter the network through their access node, so wherever that node's /24 is routed to a
    # peer, the access /24s behind it must be routed there too.
    behind: dict[str, list[str]] = {}
    for point in access:
        behind.setdefault(subnet_of[point.node_id], []).append(point.subnet)
    relay = next((m.node_id for m in members if m.ipv4 is not None), None)
    hidden = [m for m in members if m.hidden]
    ipv6_only = [m for m in members if m.ipv4 is None and m.ipv6 is not None]

    peers: list[dict[str, Any]] = []
    for other in members:
        if other.node_id == member.node_id:
            continue
        extra: list[Member] = []
        if member.hidden:
            # A hidden node can only dial out over IPv4; the relay carries the traffic for everybody it
            # cannot reach itself (the other hidden nodes and the IPv6-only ones).
            if other.ipv4 is None:
                continue
            if other.node_id == relay:
                extra = [m for m in hidden if m.node_id != member.node_id] + ipv6_only
            endpoint = _endpoint(other, ipv6=False)
        elif other.hidden:
            if member.ipv4 is None:
                continue  # neither side can dial the other
            endpoint = ""  # the hidden node dials in; we cannot know where from
        else:
            if other.node_id == relay:
                # Literal §11 (as the original did): this can overlap the direct entry of a hidden node on
                # an IPv4 member; WireGuard then routes through whichever entry it configured last, and both
                # paths work because the relay peers with every hidden node.
                extra = hidden
            endpoint = _endpoint(other, ipv6=other.ipv6 is not None)
        ranges = [other.subnet] + [m.subnet for m in extra]
        peers.append(
            {
                "public_key": other.public_key,
                "endpoint": endpoint,
                "iprange": other.subnet,
                "allowed_iprange": _allowed(ranges, behind),
            }
        )
    for point in access:
        if point.node_id == member.node_id:
            peers.append(
                {
                    "public_key": point.public_key,
                    "endpoint": "",
                    "iprange": point.subnet,
                    "allowed_iprange": [point.subnet, routing_ip(point.subnet)],
                }
            )
    return peers


def _allowed(ranges: list[str], behind: dict[str, list[str]]) -> list[str]:
    """Each range with its routing IP, followed by the access /24s behind it; duplicates dropped, order kept."""
    allowed: list[str] = []
    for subnet in ranges:
        for each in [subnet, *behind.get(subnet, [])]:
            allowed += [each, routing_ip(each)]
    return list(dict.fromkeys(allowed))


def network_resource_fields(
    name: str, ip_range: str, member: Member, sealed_private_key: str | Sealed, peers: list[dict[str, Any]]
) -> dict[str, Any]:
    """The type fields of ``member``'s network resource (§5.9).

    ``sealed_private_key`` is the WireGuard private key already sealed to the node (hex, §8), or a
    :class:`Sealed` naming a secret that :func:`render.render` seals.
    """
    return {
        "name": name,
        "network_iprange": ip_range,
        "iprange": member.subnet,
        "wireguard_private_key_encrypted": sealed_private_key,
        "wireguard_public_key": member.public_key,
        "wireguard_listen_port": member.port,
        "peers": peers,
        "stats_aggregator": [],
    }


def wg_config(*, access: AccessPeer, private_key: str, ip_range: str, node: Member, ipv6: bool) -> str:
    """The wg-quick file handed to the user for an access point (§11). It holds the laptop's private key:
    show or download it once, never store or log it.

    Raises:
        ValueError: ``node`` is not the access point's node, or has no public address of the chosen family.
    """
    if node.node_id != access.node_id:
        raise ValueError(f"access point is attached to {access.node_id}, not {node.node_id}")
    if (node.ipv6 if ipv6 else node.ipv4) is None:
        raise ValueError(f"node {node.node_id} has no public IPv{6 if ipv6 else 4} address")
    return (
        "[Interface]\n"
        f"Address = {routing_ip(access.subnet)}\n"
        f"PrivateKey = {private_key}\n"
        "[Peer]\n"
        f"PublicKey = {node.public_key}\n"
        f"AllowedIPs = {ip_range}, {routing_ip(ip_range)}\n"
        "PersistentKeepalive = 25\n"
        f"Endpoint = {_endpoint(node, ipv6=ipv6)}\n"
    )
