"""Signature challenges of workloads (GRID_API §7.1, §7.2): the text the explorer re-builds to check our signatures.

A challenge is an ordered list of *pieces* concatenated with no separator. Each workload type contributes the
common info pieces followed by its own; the per-type tables below are the single place that order is written down,
so a reader can hold them against the table of §7.1 line by line.

The functions take the workload in its wire shape (the body we are about to send, or the stored copy returned by
``GET /reservations/workloads/{id}``), so the same code signs a create and, later, a deletion.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from services.common.identity import Identity
from services.deployer.grid.kinds import DiskType, WorkloadType, ZdbMode

Workload = Mapping[str, Any]


def _piece(value: Any) -> str:
    """One value as it appears in a challenge.

    ``bool`` is tested before ``int`` because Python's ``True`` is also an ``int`` (it would render as ``1``).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"cannot put a {type(value).__name__} into a workload challenge")


def _ip(value: str) -> str:
    # The explorer parses IP fields and signs their canonical text (dotted quad, RFC 5952 for IPv6), so
    # "2A02:1802::0001" must be signed as "2a02:1802::1" or the server's check fails.
    return str(ipaddress.ip_address(value))


def _sorted_env(mapping: Mapping[str, str]) -> list[str]:
    # "Ascending byte order" of the keys: sort on their UTF-8 bytes (Go sorts strings bytewise), which differs
    # from Python's code-point order only for keys outside the BMP, but keep them equal anyway.
    return [f"{key}={mapping[key]}" for key in sorted(mapping, key=lambda k: k.encode())]


def _container(w: Workload) -> list[Any]:
    capacity = w["capacity"]
    pieces: list[Any] = [w["flist"], w["hub_url"], w["entrypoint"], w["interactive"]]
    pieces += _sorted_env(w["environment"])
    pieces += _sorted_env(w["secret_environment"])
    for volume in w["volumes"]:
        pieces += [volume["volume_id"], volume["mountpoint"]]
    for connection in w["network_connection"]:
        pieces += [connection["network_id"], _ip(connection["ipaddress"]), connection["public_ip6"]]
    # logs and stats_aggregator are not signed; storage_url is client-side only.
    pieces += [capacity["cpu"], capacity["memory"], capacity["disk_size"], DiskType(capacity["disk_type"]).name.lower()]
    return pieces


def _volume(w: Workload) -> list[Any]:
    # Quirk: volumes spell the disk type upper-case, containers and ZDBs lower-case (§6.4).
    return [w["size"], DiskType(w["type"]).name.upper()]


def _zdb(w: Workload) -> list[Any]:
    return [
        w["size"],
        ZdbMode(w["mode"]).name.lower(),
        w["password"],
        DiskType(w["disk_type"]).name.lower(),
        w["public"],
    ]


def _kubernetes(w: Workload) -> list[Any]:
    return [
        w["size"],
        w["cluster_secret"],
        w["network_id"],
        _ip(w["ipaddress"]),
        *(_ip(ip) for ip in w["master_ips"]),
        *w["ssh_keys"],
    ]


def _network_resource(w: Workload) -> list[Any]:
    pieces: list[Any] = [
        w["name"],
        w["network_iprange"],
        w["wireguard_private_key_encrypted"],
        w["wireguard_public_key"],
        w["wireguard_listen_port"],
        w["iprange"],
    ]
    for peer in w["peers"]:
        pieces += [peer["public_key"], peer["endpoint"], peer["iprange"], *peer["allowed_iprange"]]
    return pieces


_TYPE_PIECES: dict[WorkloadType, Callable[[Workload], list[Any]]] = {
    WorkloadType.CONTAINER: _container,
    WorkloadType.VOLUME: _volume,
    WorkloadType.ZDB: _zdb,
    WorkloadType.KUBERNETES: _kubernetes,
    WorkloadType.NETWORK_RESOURCE: _network_resource,
    WorkloadType.PROXY: lambda w: [w["domain"], w["addr"], w["port"], w["port_tls"]],
    WorkloadType.REVERSE_PROXY: lambda w: [w["domain"], w["secret"]],
    WorkloadType.SUBDOMAIN: lambda w: [w["domain"], *(_ip(ip) for ip in w["ips"])],
    WorkloadType.DOMAIN_DELEGATE: lambda w: [w["domain"]],
    WorkloadType.GATEWAY4TO6: lambda w: [w["public_key"]],
}


def _info(w: Workload, kind: WorkloadType) -> list[Any]:
    return [
        w["workload_id"],
        w["node_id"],
        w["pool_id"],
        w["reference"],
        w["customer_tid"],
        kind.name,  # the type's name upper-cased (§6.1), e.g. NETWORK_RESOURCE
        w["epoch"],
        w["description"],
        w["metadata"],
    ]


def _concat(pieces: Iterable[Any]) -> str:
    return "".join(_piece(p) for p in pieces)


def workload_challenge(body: Workload) -> str:
    """The challenge of a workload's ``customer_signature`` (§7.1).

    Raises:
        ValueError: unknown or unsupported ``workload_type``, or a field of the wrong type / a malformed IP.
        KeyError: a field the type's challenge needs is missing from ``body``.
    """
    try:
        kind = WorkloadType(body["workload_type"])
    except ValueError:
        raise ValueError(f"no challenge for workload_type {body['workload_type']!r}") from None
    return _concat(_info(body, kind)) + _concat(_TYPE_PIECES[kind](body))


def delete_challenge(stored: Workload, tid: int) -> str:
    """The challenge of a deletion signature by ``tid`` (§7.2).

    ``stored`` must be the workload *as returned by GET* (the explorer replaces our ``epoch`` with its own
    receipt time, so a challenge built from our local copy would not verify).

    Raises:
        ValueError, KeyError: as :func:`workload_challenge`.
    """
    return f"{workload_challenge(stored)}delete{tid}"


def sign_challenge(identity: Identity, challenge: str) -> str:
    """Lower-case hex of the Ed25519 signature over the SHA-256 digest of the challenge.

    Quirk: the explorer signs the 32 raw digest bytes — not the challenge text, and not the digest's hex.
    """
    return identity.sign(hashlib.sha256(challenge.encode()).digest()).hex()
