"""Signature challenges inside request bodies (GRID_API.md §7): workloads, delete/provision requests, pools.

The challenge functions take the workload as a plain dict in its wire shape (the validated create body, or the
stored copy returned by GET), so the same code checks a new workload and builds the delete challenge later.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import nacl.exceptions
import nacl.signing

from emulators.grid.enums import DiskType, WorkloadType, ZdbMode


def _text(value: Any) -> str:
    """One piece of a challenge: booleans as true/false, integers in decimal, strings verbatim."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _join(values: Iterable[Any]) -> str:
    return "".join(_text(value) for value in values)


def _sorted_map(mapping: Mapping[str, str]) -> str:
    # "ascending byte order" of the keys: compare their UTF-8 encodings, not Python's code-point order.
    return "".join(f"{key}={mapping[key]}" for key in sorted(mapping, key=lambda k: k.encode()))


def _container(w: Mapping[str, Any]) -> str:
    capacity = w["capacity"]
    parts = [
        _join((w["flist"], w["hub_url"], w["entrypoint"], w["interactive"])),
        _sorted_map(w["environment"]),
        _sorted_map(w["secret_environment"]),
        "".join(v["volume_id"] + v["mountpoint"] for v in w["volumes"]),
        "".join(_join((n["network_id"], n["ipaddress"], n["public_ip6"])) for n in w["network_connection"]),
        _join((capacity["cpu"], capacity["memory"], capacity["disk_size"])),
        DiskType(capacity["disk_type"]).name.lower(),
    ]
    return "".join(parts)


def _volume(w: Mapping[str, Any]) -> str:
    return _join((w["size"], DiskType(w["type"]).name.upper()))


def _zdb(w: Mapping[str, Any]) -> str:
    return _join(
        (w["size"], ZdbMode(w["mode"]).name.lower(), w["password"], DiskType(w["disk_type"]).name.lower(), w["public"])
    )


def _kubernetes(w: Mapping[str, Any]) -> str:
    return _join((w["size"], w["cluster_secret"], w["network_id"], w["ipaddress"], *w["master_ips"], *w["ssh_keys"]))


def _network_resource(w: Mapping[str, Any]) -> str:
    head = _join(
        (
            w["name"],
            w["network_iprange"],
            w["wireguard_private_key_encrypted"],
            w["wireguard_public_key"],
            w["wireguard_listen_port"],
            w["iprange"],
        )
    )
    peers = "".join(_join((p["public_key"], p["endpoint"], p["iprange"], *p["allowed_iprange"])) for p in w["peers"])
    return head + peers


_TYPE_PARTS: dict[WorkloadType, Callable[[Mapping[str, Any]], str]] = {
    WorkloadType.CONTAINER: _container,
    WorkloadType.VOLUME: _volume,
    WorkloadType.ZDB: _zdb,
    WorkloadType.KUBERNETES: _kubernetes,
    WorkloadType.NETWORK_RESOURCE: _network_resource,
    WorkloadType.PROXY: lambda w: _join((w["domain"], w["addr"], w["port"], w["port_tls"])),
    WorkloadType.REVERSE_PROXY: lambda w: _join((w["domain"], w["secret"])),
    WorkloadType.SUBDOMAIN: lambda w: _join((w["domain"], *w["ips"])),
    WorkloadType.DOMAIN_DELEGATE: lambda w: _join((w["domain"],)),
    WorkloadType.GATEWAY4TO6: lambda w: _join((w["public_key"],)),
}


def workload_challenge(workload: Mapping[str, Any]) -> str:
    """The §7.1 challenge text: info part then type part, no separators."""
    workload_type = WorkloadType(workload["workload_type"])
    info = _join(
        (
            workload["workload_id"],
            workload["node_id"],
            workload["pool_id"],
            workload["reference"],
            workload["customer_tid"],
            workload_type.name,
            workload["epoch"],
            workload["description"],
            workload["metadata"],
        )
    )
    return info + _TYPE_PARTS[workload_type](workload)


def delete_challenge(workload: Mapping[str, Any], signer_tid: int) -> str:
    """§7.2: the stored workload's challenge + "delete" + signer tid."""
    return f"{workload_challenge(workload)}delete{signer_tid}"


def provision_challenge(workload: Mapping[str, Any], signer_tid: int) -> str:
    """§7.2: the stored workload's challenge + "provision" + signer tid."""
    return f"{workload_challenge(workload)}provision{signer_tid}"


def challenge_digest(challenge: str) -> bytes:
    """What workload/delete/provision signatures sign: the SHA-256 bytes of the challenge (not its hex)."""
    return hashlib.sha256(challenge.encode()).digest()


def verify_hex_signature(pubkey_hex: str, message: bytes, signature_hex: str) -> bool:
    """True when ``signature_hex`` is a valid Ed25519 signature of ``message`` by the hex key ``pubkey_hex``."""
    try:
        key = nacl.signing.VerifyKey(binascii.unhexlify(pubkey_hex))
        key.verify(message, binascii.unhexlify(signature_hex))
    except (binascii.Error, ValueError, TypeError, nacl.exceptions.CryptoError):
        return False
    return True


def verify_workload_signature(pubkey_hex: str, workload: Mapping[str, Any], signature_hex: str) -> bool:
    """§7.1 check of ``customer_signature`` against the customer's hex pubkey."""
    return verify_hex_signature(pubkey_hex, challenge_digest(workload_challenge(workload)), signature_hex)


def verify_pool_signature(pubkey_hex: str, json_text: str, signature_hex: str) -> bool:
    """§7.3: the signature covers the UTF-8 bytes of the ``json`` string itself (no hashing)."""
    return verify_hex_signature(pubkey_hex, json_text.encode(), signature_hex)
