"""A certificate-transparency log of the certificates the emulated grid's TLS endpoints obtain (crt.sh's shape).

On the real grid a TLS-proxy container (SOLUTIONS §1.9 (C)) or an application image with its own tunnel client
((P)) asks Let's Encrypt for a certificate of its ``DOMAIN`` when it starts, and the certificate shows up on crt.sh;
the marketplace counts those per parent domain to respect Let's Encrypt's 50-per-week budget. The emulator logs one
entry when such a container reports Ok: its environment (plain, and secret opened with the node's key) has a
non-empty ``DOMAIN`` and a tunnel to a gateway (``TFGATEWAY``: the TLS proxy, ``TRC_REMOTE``: an in-image tunnel).
``TEST_CERT=true`` means Let's Encrypt's staging CA, whose certificates are marked ``(STAGING)`` as its own are.
Times are the emulator clock's. ct_api.py serves the log at ``/_emulator/ct``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from typing import Any

from emulators.grid.directory_store import Node
from emulators.grid.keys import open_sealed
from emulators.grid.workload_store import Workload

PRODUCTION_ISSUER = (183267, "C=US, O=Let's Encrypt, CN=R3")
STAGING_ISSUER = (176, "C=US, O=(STAGING) Let's Encrypt, CN=(STAGING) Artificial Apricot R3")
# Let's Encrypt back-dates not_before by an hour and issues for 90 days.
BACKDATE_SECONDS = 3600
LIFETIME_SECONDS = 90 * 86400
# crt.sh ids are large; ours start here so they look alike and never collide with small test numbers.
ID_BASE = 9_000_000_000
TUNNEL_VARIABLES = ("TFGATEWAY", "TRC_REMOTE")


def certificate_request(workload: Workload, node: Node) -> tuple[str, bool] | None:
    """(domain, staging) when the deployed container obtains a certificate, else None."""
    body = workload.body
    env = {str(k): str(v) for k, v in (body.get("environment") or {}).items()}
    for name, sealed in (body.get("secret_environment") or {}).items():
        opened = open_sealed(node.signing_seed, str(sealed))
        if opened is not None:
            env[str(name)] = opened.decode("utf-8", errors="replace")
    domain = env.get("DOMAIN", "").strip().lower().rstrip(".")
    if not domain or not any(env.get(name, "").strip() for name in TUNNEL_VARIABLES):
        return None
    return domain, env.get("TEST_CERT", "").strip().lower() == "true"


def log_certificate(conn: sqlite3.Connection, domain: str, at: float, staging: bool) -> dict[str, Any]:
    """Append one certificate for ``domain`` logged at ``at``; returns its entry."""
    cursor = conn.execute(
        "INSERT INTO ct_entries (name, staging, logged) VALUES (:name, :staging, :logged)",
        {"name": domain, "staging": int(staging), "logged": at},
    )
    return _entry(int(cursor.lastrowid or 0), domain, bool(staging), at)


def search(conn: sqlite3.Connection, query: str) -> list[dict[str, Any]]:
    """Entries matching ``query`` (see :func:`_matching`), newest first."""
    where, params = _matching(query)
    rows = conn.execute(f"SELECT * FROM ct_entries WHERE {where} ORDER BY id DESC", params).fetchall()  # noqa: S608
    return [_entry(row["id"], row["name"], bool(row["staging"]), row["logged"]) for row in rows]


def seed(conn: sqlite3.Connection, parent: str, count: int, at: float, staging: bool) -> list[dict[str, Any]]:
    """``count`` certificates of distinct names ``ct-seed-<n>.<parent>`` logged at ``at`` (to fill a budget)."""
    start = int(conn.execute("SELECT coalesce(max(id), 0) AS n FROM ct_entries").fetchone()["n"]) + 1
    return [log_certificate(conn, f"ct-seed-{start + i}.{parent}", at, staging) for i in range(count)]


def forget(conn: sqlite3.Connection, query: str | None) -> int:
    """Remove the entries matching ``query`` as :func:`search` does (every entry when None); returns how many."""
    if query is None:
        return conn.execute("DELETE FROM ct_entries").rowcount
    where, params = _matching(query)
    return conn.execute(f"DELETE FROM ct_entries WHERE {where}", params).rowcount  # noqa: S608


def _matching(query: str) -> tuple[str, dict[str, str]]:
    """The SQL condition for crt.sh's ``q``: ``%`` is a wildcard (``%.example.com``: the names under it); a plain
    domain matches itself and every name under it, as crt.sh's identity search does. Case-insensitive."""
    name = query.strip().lower().rstrip(".")
    if "%" in name:
        return "name LIKE :pattern ESCAPE '\\'", {"pattern": _like(name)}
    return "name = :name OR name LIKE :pattern ESCAPE '\\'", {"name": name, "pattern": "%." + _like(name)}


def _like(text: str) -> str:
    """``text`` as a LIKE pattern in which only ``%`` is a wildcard."""
    return text.replace("\\", "\\\\").replace("_", "\\_")


def _entry(row_id: int, name: str, staging: bool, logged: float) -> dict[str, Any]:
    issuer_id, issuer = STAGING_ISSUER if staging else PRODUCTION_ISSUER
    entry_id = ID_BASE + row_id
    not_before = logged - BACKDATE_SECONDS
    return {
        "issuer_ca_id": issuer_id,
        "issuer_name": issuer,
        "common_name": name,
        "name_value": name,
        "id": entry_id,
        "entry_timestamp": _time(logged, fraction=True),
        "not_before": _time(not_before),
        "not_after": _time(not_before + LIFETIME_SECONDS),
        # 18 bytes, as Let's Encrypt's serials.
        "serial_number": hashlib.sha256(f"{entry_id}:{name}".encode()).hexdigest()[:36],
    }


def _time(at: float, fraction: bool = False) -> str:
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] if fraction else moment.strftime("%Y-%m-%dT%H:%M:%S")
