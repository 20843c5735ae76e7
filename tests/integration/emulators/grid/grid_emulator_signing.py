"""Client-side signing for the grid emulator tests, written from GRID_API.md alone (raw PyNaCl).

Independent of the emulator's code on purpose: the tests then check the emulator against the contract (§3 HTTP
signatures, §7 workload/delete/provision/pool signatures, §8 sealing) rather than against itself.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

import nacl.public
import nacl.signing

# --------------------------------------------------------------------------------------------- identities


@dataclass
class Identity:
    name: str
    seed: bytes
    tid: int = 0

    @property
    def key(self) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(self.seed)

    @property
    def pubkey(self) -> str:
        return self.key.verify_key.encode().hex()


def identity(name: str) -> Identity:
    return Identity(name, hashlib.sha256(name.encode()).digest())


VECTOR_KEY = nacl.signing.SigningKey(bytes(range(32)))

# --------------------------------------------------------------------------------------------- §3 HTTP signatures


def http_signature(
    key: nacl.signing.SigningKey,
    tid: int,
    created: int | None = None,
    expires: int | None = None,
    date: str | None = None,
    key_id: str | None = None,
    quote_times: bool = True,
) -> dict[str, str]:
    """The three headers of §3.1 for an Ed25519 identity."""
    created = int(time.time()) if created is None else created
    expires = created + 60 if expires is None else expires
    date = formatdate(created, usegmt=True) if date is None else date
    text = f"(created): {created}\ndate: {date}\nthreebot-id: {tid}"
    signature = base64.b64encode(key.sign(text.encode()).signature).decode()
    q = '"' if quote_times else ""
    authorization = (
        f'Signature keyId="{tid if key_id is None else key_id}",algorithm="ed25519",signature="{signature}",'
        f'created={q}{created}{q},expires={q}{expires}{q},headers="(created) date threebot-id"'
    )
    return {"threebot-id": str(tid), "Date": date, "Authorization": authorization}


# --------------------------------------------------------------------------------------------- §7 challenges


def _piece(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pieces(*values: Any) -> str:
    return "".join(_piece(v) for v in values)


_TYPE_NAMES = {
    0: "ZDB",
    1: "CONTAINER",
    2: "VOLUME",
    4: "KUBERNETES",
    5: "PROXY",
    6: "REVERSE_PROXY",
    7: "SUBDOMAIN",
    8: "DOMAIN_DELEGATE",
    9: "GATEWAY4TO6",
    10: "NETWORK_RESOURCE",
}


def workload_challenge(w: Mapping[str, Any]) -> str:
    """§7.1, written from the table in the contract."""
    t = w["workload_type"]
    out = _pieces(
        w["workload_id"],
        w["node_id"],
        w["pool_id"],
        w.get("reference", ""),
        w["customer_tid"],
        _TYPE_NAMES[t],
        w["epoch"],
        w.get("description", ""),
        w.get("metadata", ""),
    )
    if t == 1:
        out += _pieces(w["flist"], w.get("hub_url", ""), w.get("entrypoint", ""), w.get("interactive", False))
        for env in ("environment", "secret_environment"):
            values = w.get(env, {})
            out += "".join(f"{k}={values[k]}" for k in sorted(values, key=str.encode))
        out += "".join(v["volume_id"] + v["mountpoint"] for v in w.get("volumes", []))
        out += "".join(
            _pieces(n["network_id"], n["ipaddress"], n["public_ip6"]) for n in w.get("network_connection", [])
        )
        c = w["capacity"]
        out += _pieces(c["cpu"], c["memory"], c["disk_size"], "ssd" if c["disk_type"] == 1 else "hdd")
    elif t == 2:
        out += _pieces(w["size"], "SSD" if w["type"] == 1 else "HDD")
    elif t == 0:
        out += _pieces(
            w["size"],
            "user" if w["mode"] == 1 else "seq",
            w["password"],
            "ssd" if w["disk_type"] == 1 else "hdd",
            w["public"],
        )
    elif t == 4:
        out += _pieces(
            w["size"], w["cluster_secret"], w["network_id"], w["ipaddress"], *w["master_ips"], *w["ssh_keys"]
        )
    elif t == 10:
        out += _pieces(
            w["name"],
            w["network_iprange"],
            w["wireguard_private_key_encrypted"],
            w["wireguard_public_key"],
            w["wireguard_listen_port"],
            w["iprange"],
        )
        for p in w["peers"]:
            out += _pieces(p["public_key"], p["endpoint"], p["iprange"], *p["allowed_iprange"])
    elif t == 7:
        out += _pieces(w["domain"], *w["ips"])
    elif t == 6:
        out += _pieces(w["domain"], w["secret"])
    elif t == 8:
        out += _pieces(w["domain"])
    elif t == 9:
        out += _pieces(w["public_key"])
    elif t == 5:
        out += _pieces(w["domain"], w["addr"], w["port"], w["port_tls"])
    return out


def sign_digest(key: nacl.signing.SigningKey, challenge: str) -> str:
    return key.sign(hashlib.sha256(challenge.encode()).digest()).signature.hex()


def seal(node_public_key_hex: str, plaintext: str) -> str:
    """§8: seal to a node's Ed25519 key (converted to Curve25519)."""
    curve = nacl.signing.VerifyKey(bytes.fromhex(node_public_key_hex)).to_curve25519_public_key()
    return nacl.public.SealedBox(curve).encrypt(plaintext.encode()).hex()
