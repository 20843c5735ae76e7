"""Deterministic seeding of a new state file: farmer users, farms, nodes and gateways.

Everything is derived from the seed number and the index of the object (never from the wall clock or the total
count), so the same seed gives the same first nodes whatever `--nodes` says, and node keys are stable.
Nodes are public (a dedicated interface), dual-stack, IPv4-only, IPv6-only or hidden. Addresses come from the
ranges the API documentation uses (185.69.166.0/24 ..., 2a02:1802:5e::/48); they are
never contacted.
"""

from __future__ import annotations

import ipaddress
import json
import random
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulators.grid import directory_store
from emulators.grid.keys import derive_seed, node_identity, stellar_address
from emulators.grid.store import get_meta, set_meta

SEEDED_KEY = "seeded"
WORLD_SEED_KEY = "world_seed"

# Seed creation times of farms/nodes: fixed, so a re-seed with the same flags is byte-identical.
_EPOCH_BASE = 1_590_000_000

_LOCATIONS = (
    ("Ghent", "Belgium", "Europe", 51.05, 3.72),
    ("Lochristi", "Belgium", "Europe", 51.1, 3.83),
    ("Vienna", "Austria", "Europe", 48.21, 16.37),
    ("Salzburg", "Austria", "Europe", 47.8, 13.04),
    ("Cairo", "Egypt", "Africa", 30.04, 31.24),
    ("Zanzibar", "Tanzania", "Africa", -6.16, 39.2),
    ("Tokyo", "Japan", "Asia", 35.68, 139.69),
    ("Singapore", "Singapore", "Asia", 1.35, 103.82),
    ("Toronto", "Canada", "North America", 43.65, -79.38),
    ("New York", "United States", "North America", 40.71, -74.0),
    ("Sao Paulo", "Brazil", "South America", -23.55, -46.63),
    ("Sydney", "Australia", "Oceania", -33.87, 151.21),
)
_FARM_NAMES = ("freefarm", "greenedge", "bluebox", "tf-lochristi", "kaasfarm", "nilefarm", "sakura", "mapleleaf")


@dataclass(frozen=True)
class WorldSize:
    farms: int
    nodes: int
    gateways: int


def _location(index: int) -> dict[str, Any]:
    city, country, continent, latitude, longitude = _LOCATIONS[index % len(_LOCATIONS)]
    return {"city": city, "country": country, "continent": continent, "latitude": latitude, "longitude": longitude}


def _farm_name(index: int) -> str:
    return _FARM_NAMES[index] if index < len(_FARM_NAMES) else f"farm{index + 1}"


def _farm_home(index: int) -> int:
    # Spread farms over the location list so each farm has a distinct home country where possible.
    return (index * 5) % len(_LOCATIONS)


def _farm_doc(seed: int, index: int) -> dict[str, Any]:
    name = _farm_name(index)
    # The first farm is the free farm (TFT + FreeTFT, free-to-use and paid nodes); the others TFT and/or TFTA.
    assets = ["TFT", "FreeTFT"] if index == 0 else [["TFT"], ["TFT", "TFTA"], ["TFTA"]][index % 3]
    wallets = [
        {"asset": asset, "address": stellar_address(derive_seed(seed, f"wallet-{asset}", index))} for asset in assets
    ]
    return {
        "iyo_organization": "",
        "wallet_addresses": wallets,
        "location": _location(_farm_home(index)),
        "email": f"farmer{index + 1}@{name}.example",
        "resource_prices": [
            {"currency": asset, "cru": 0.1, "mru": 0.05, "hru": 0.001, "sru": 0.01, "nru": 0.01} for asset in assets
        ],
        "prefix_zero": f"2a02:1802:{0x5E + index:x}::/48",
    }


def _ipv6_prefix(first: int, second: int) -> ipaddress.IPv6Network:
    return ipaddress.IPv6Network(((0x2A02_1802 << 96) | (first << 80) | (second << 64), 64))


def _node_networking(index: int, kind: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, str]]:
    """(ifaces, public_config, simulation details) for one node; ``kind`` picks its connectivity."""
    ipv4 = f"185.69.{166 + (index // 250) % 80}.{2 + index % 250}"
    gw4 = ipv4.rsplit(".", 1)[0] + ".1"
    prefix = _ipv6_prefix(0x5E + index // 65536, index % 65536)
    ipv6_host, ipv6_public, gw6 = (str(prefix.network_address + n) for n in (1, 2, 0xFFFF))
    mac = ":".join(f"{b:02x}" for b in (0x0C, 0xC4, 0x7A, (index >> 16) & 0xFF, (index >> 8) & 0xFF, index & 0xFF))
    private = f"10.{(index // 250) % 250}.{index % 250}.{10 + index % 200}"
    link_local = str(ipaddress.IPv6Address("fe80::ec4:7aff:fe00:0") + index)
    addrs = [f"{private}/24", f"{link_local}/64"]
    gateways = [private.rsplit(".", 1)[0] + ".1"]
    public_config = None
    if kind in ("public", "dual"):
        addrs += [f"{ipv4}/24", f"{ipv6_host}/64"]
        gateways += [gw4, gw6]
    elif kind == "ipv4":
        addrs.append(f"{ipv4}/24")
        gateways.append(gw4)
    elif kind == "ipv6":
        addrs.append(f"{ipv6_host}/64")
        gateways.append(gw6)
    if kind == "public":
        public_config = {
            "master": "eth1",
            "type": "macvlan",
            "ipv4": f"{ipv4}/24",
            "ipv6": f"{ipv6_public}/64",
            "gw4": gw4,
            "gw6": gw6,
            "version": 1,
        }
    ifaces = [{"name": "zos", "addrs": addrs, "gateway": gateways, "macaddress": mac}]
    sim = {"connectivity": kind, "ipv4": ipv4 if kind in ("public", "dual", "ipv4") else "", "ipv6_prefix": str(prefix)}
    return ifaces, public_config, sim


def _node_rows(seed: int, size: WorldSize) -> Iterator[dict[str, Any]]:
    for index in range(size.nodes):
        rng = random.Random(f"{seed}/node/{index}")  # noqa: S311 - simulated data, not security
        farm = index % size.farms
        location = _location(_farm_home(farm) if rng.random() < 0.6 else rng.randrange(len(_LOCATIONS)))
        signing_seed = derive_seed(seed, "node", index)
        node_id, public_key_hex = node_identity(signing_seed)
        connectivity = rng.choices(("public", "dual", "ipv6", "hidden"), weights=(45, 20, 20, 15))[0]
        # Half the dual-stack nodes have no IPv6 (drawn apart, so the draws above, and every node's other
        # properties, stay what they were before IPv4-only nodes existed).
        if connectivity == "dual" and random.Random(f"{seed}/node/{index}/ipv4-only").random() < 0.5:  # noqa: S311
            connectivity = "ipv4"
        ifaces, public_config, sim = _node_networking(index, connectivity)
        total = {
            "cru": rng.choice((4, 8, 16, 32, 64)),
            "mru": float(rng.choice((16, 32, 64, 128, 256))),
            "hru": float(rng.choice((0, 4000, 8000, 12000))),
            "sru": float(rng.choice((250, 500, 1000, 2000))),
        }
        doc = {
            "hostname": f"node-{index + 1:05d}",
            "node_id_v1": public_key_hex[:32],
            "farm_id": farm + 1,
            "os_version": rng.choice(("v0.4.8", "v0.4.9")),
            "created": _EPOCH_BASE + index * 60,
            "address": "",
            "location": location,
            "total_resources": total,
            "ifaces": ifaces,
            "public_config": public_config,
            # The first farm mixes free-to-use and paid nodes (every fourth, from its second node): FreeTFT pools
            # there may list only its free nodes (§4.5).
            "free_to_use": farm == 0 and (index // size.farms) % 4 != 1,
            "approved": True,
            "public_key_hex": public_key_hex,
            "wg_ports": sorted(rng.sample(range(1000, 9000), rng.randint(0, 4))),
            "_sim": sim,
        }
        yield _row(index + 1, node_id, False, farm + 1, signing_seed, total, doc)


def _gateway_rows(seed: int, size: WorldSize) -> Iterator[dict[str, Any]]:
    for index in range(size.gateways):
        farm = index % size.farms
        signing_seed = derive_seed(seed, "gateway", index)
        node_id, public_key_hex = node_identity(signing_seed)
        domain = f"gw{index + 1}.grid.example"
        ipv4 = f"185.69.{250 + index // 250}.{2 + index % 250}"
        doc = {
            "farm_id": farm + 1,
            "os_version": "v0.4.9",
            "created": _EPOCH_BASE + index * 60,
            "address": "",
            "location": _location(_farm_home(farm)),
            "public_key_hex": public_key_hex,
            "managed_domains": [domain],
            "dns_nameserver": [f"ns1.{domain}"],
            "tcp_router_port": 18000,
            "free_to_use": farm == 0,
            "_sim": {"ipv4": ipv4, "ipv6_prefix": str(_ipv6_prefix(0xFF, index))},
        }
        total = {"cru": 0, "mru": 0.0, "hru": 0.0, "sru": 0.0}
        yield _row(size.nodes + index + 1, node_id, True, farm + 1, signing_seed, total, doc)


def _row(
    db_id: int,
    node_id: str,
    is_gateway: bool,
    farm_id: int,
    signing_seed: bytes,
    total: dict[str, Any],
    doc: dict[str, Any],
) -> dict[str, Any]:
    location = doc["location"]
    return {
        "id": db_id,
        "node_id": node_id,
        "is_gateway": int(is_gateway),
        "farm_id": farm_id,
        "country": location["country"],
        "city": location["city"],
        **total,
        "free_to_use": int(doc["free_to_use"]),
        "signing_seed": signing_seed.hex(),
        "doc": doc,
    }


def load_users_file(path: Path) -> list[dict[str, str]]:
    """Users to pre-register: a JSON array of {name, email, pubkey[, host, description]} with unique names.

    Raises ValueError with a readable message when the file is not of that shape.
    """
    try:
        users = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read users file {path}: {exc}") from exc
    fields = ("name", "email", "pubkey", "host", "description")
    if not isinstance(users, list) or not all(
        isinstance(u, dict) and all(isinstance(u.get(k, ""), str) for k in fields) and u.get("name") for u in users
    ):
        raise ValueError(f"users file {path}: expected a JSON array of objects with name, email and pubkey strings")
    for user in users:
        pubkey = user.get("pubkey", "")
        if len(pubkey) != 64 or not all(c in "0123456789abcdefABCDEF" for c in pubkey):
            raise ValueError(f"users file {path}: pubkey of {user['name']} must be 64 hex characters")
    names = [user["name"] for user in users]
    if len(set(names)) != len(names):
        raise ValueError(f"users file {path}: user names must be unique")
    return [{k: str(user.get(k, "")) for k in fields} for user in users]


def seed_world(conn: sqlite3.Connection, seed: int, size: WorldSize, users: Sequence[dict[str, str]] = ()) -> bool:
    """Populate an empty state; returns False (and changes nothing) when the state was seeded before."""
    if get_meta(conn, SEEDED_KEY) is not None:
        return False
    for index in range(size.farms):
        verify_hex = node_identity(derive_seed(seed, "farmer", index))[1]
        farmer = directory_store.insert_user(
            conn, f"farmer{index + 1}.3bot", f"farmer{index + 1}@grid.example", verify_hex, "", "farmer"
        )
        directory_store.insert_farm(conn, index + 1, farmer.id, _farm_name(index), _farm_doc(seed, index))
    directory_store.insert_nodes(conn, _node_rows(seed, size))
    directory_store.insert_nodes(conn, _gateway_rows(seed, size))
    for user in users:
        directory_store.insert_user(
            conn, user["name"], user["email"], user["pubkey"].lower(), user["host"], user["description"]
        )
    set_meta(conn, WORLD_SEED_KEY, str(seed))
    set_meta(conn, SEEDED_KEY, json.dumps({"seed": seed, **size.__dict__}))
    return True
