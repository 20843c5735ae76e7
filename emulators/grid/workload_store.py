"""Queries for workloads: storage, listing, the node-side lookups of §13 and the lifecycle's event queues."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emulators.grid.capacity import Units
from emulators.grid.enums import NextAction, WorkloadType
from emulators.grid.sql_page import select_page


@dataclass
class Workload:
    """One workload as stored. ``body`` holds the client-supplied fields exactly as they are returned on GET."""

    id: int
    customer_tid: int
    pool_id: int
    node_id: str
    workload_type: WorkloadType
    next_action: NextAction
    body: dict[str, Any]
    units: Units
    cu: float
    su: float
    created: float
    signatures_provision: list[dict[str, Any]] = field(default_factory=list)
    signatures_delete: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    active: bool = False
    deploy_at: float | None = None
    delete_at: float | None = None
    fail_message: str | None = None
    network_name: str | None = None
    ip: str | None = None
    domain: str | None = None
    active_from: float | None = None
    active_until: float | None = None

    def start(self, at: float) -> None:
        """The node runs it from ``at`` (its usage reaches the node's report ``report_lag`` later)."""
        self.active = True
        self.active_from = at
        self.active_until = None

    def stop(self, at: float) -> None:
        """The node no longer runs it from ``at``; a no-op for a workload that never ran."""
        if self.active:
            self.active = False
            self.active_until = at


def _workload(row: sqlite3.Row) -> Workload:
    return Workload(
        id=row["id"],
        customer_tid=row["customer_tid"],
        pool_id=row["pool_id"],
        node_id=row["node_id"],
        workload_type=WorkloadType(row["workload_type"]),
        next_action=NextAction(row["next_action"]),
        body=json.loads(row["body"]),
        units=Units(row["cru"], row["mru"], row["sru"], row["hru"]),
        cu=row["cu"],
        su=row["su"],
        created=row["created"],
        signatures_provision=json.loads(row["signatures_provision"]),
        signatures_delete=json.loads(row["signatures_delete"]),
        result=None if row["result"] is None else json.loads(row["result"]),
        active=bool(row["active"]),
        deploy_at=row["deploy_at"],
        delete_at=row["delete_at"],
        fail_message=row["fail_message"],
        network_name=row["network_name"],
        ip=row["ip"],
        domain=row["domain"],
        active_from=row["active_from"],
        active_until=row["active_until"],
    )


def _params(workload: Workload) -> dict[str, Any]:
    return {
        "customer_tid": workload.customer_tid,
        "pool_id": workload.pool_id,
        "node_id": workload.node_id,
        "workload_type": int(workload.workload_type),
        "next_action": int(workload.next_action),
        "body": json.dumps(workload.body),
        "signatures_provision": json.dumps(workload.signatures_provision),
        "signatures_delete": json.dumps(workload.signatures_delete),
        "result": None if workload.result is None else json.dumps(workload.result),
        "active": int(workload.active),
        "deploy_at": workload.deploy_at,
        "delete_at": workload.delete_at,
        "fail_message": workload.fail_message,
        "cru": workload.units.cru,
        "mru": workload.units.mru,
        "sru": workload.units.sru,
        "hru": workload.units.hru,
        "cu": workload.cu,
        "su": workload.su,
        "created": workload.created,
        "network_name": workload.network_name,
        "ip": workload.ip,
        "domain": workload.domain,
        "active_from": workload.active_from,
        "active_until": workload.active_until,
    }


def insert_workload(conn: sqlite3.Connection, workload: Workload) -> int:
    """Store a new workload and return its global id (also set on ``workload``)."""
    params = _params(workload)
    columns = ", ".join(params)
    values = ", ".join(f":{name}" for name in params)
    cursor = conn.execute(f"INSERT INTO workloads ({columns}) VALUES ({values})", params)  # noqa: S608
    workload.id = int(cursor.lastrowid or 0)
    return workload.id


def save_workload(conn: sqlite3.Connection, workload: Workload) -> None:
    """Persist the mutable state of ``workload`` (action, signatures, result, schedule)."""
    conn.execute(
        "UPDATE workloads SET next_action = :next_action, signatures_provision = :signatures_provision,"
        " signatures_delete = :signatures_delete, result = :result, active = :active, deploy_at = :deploy_at,"
        " delete_at = :delete_at, fail_message = :fail_message, active_from = :active_from,"
        " active_until = :active_until WHERE id = :id",
        {**_params(workload), "id": workload.id},
    )


def get_workload(conn: sqlite3.Connection, workload_id: int) -> Workload | None:
    row = conn.execute("SELECT * FROM workloads WHERE id = :id", {"id": workload_id}).fetchone()
    return None if row is None else _workload(row)


def find_workloads(
    conn: sqlite3.Connection, customer_tid: int | None, next_action: int | None, limit: int, offset: int
) -> tuple[list[Workload], int]:
    conditions = {"customer_tid = :tid": customer_tid, "next_action = :na": next_action}
    rows, total = select_page(conn, "workloads", conditions, limit, offset)
    return [_workload(row) for row in rows], total


def active_in_pool(conn: sqlite3.Connection, pool_id: int) -> list[Workload]:
    rows = conn.execute(
        "SELECT * FROM workloads WHERE pool_id = :pool_id AND active = 1 ORDER BY id", {"pool_id": pool_id}
    ).fetchall()
    return [_workload(row) for row in rows]


def active_units_in_pool(conn: sqlite3.Connection, pool_id: int) -> tuple[float, float]:
    """(CU, SU) the pool's deployed workloads burn per second, summed by SQLite: a node reporting one more
    workload must not decode every other workload of a pool of hundreds (that made replays quadratic)."""
    row = conn.execute(
        "SELECT total(cu) AS cu, total(su) AS su FROM workloads WHERE pool_id = :pool_id AND active = 1",
        {"pool_id": pool_id},
    ).fetchone()
    return float(row["cu"]), float(row["su"])


def active_ids_by_pool(conn: sqlite3.Connection, pool_ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {pool_id: [] for pool_id in pool_ids}
    for pool_id in pool_ids:
        rows = conn.execute(
            "SELECT id FROM workloads WHERE pool_id = :pool_id AND active = 1 ORDER BY id", {"pool_id": pool_id}
        ).fetchall()
        found[pool_id] = [int(row["id"]) for row in rows]
    return found


def next_to_deploy(conn: sqlite3.Connection) -> tuple[int, float] | None:
    """The workload whose node reports first; nodes that are down report nothing."""
    row = conn.execute(
        "SELECT w.id, w.deploy_at FROM workloads w JOIN nodes n ON n.node_id = w.node_id"
        " WHERE w.deploy_at IS NOT NULL AND n.last_seen IS NULL ORDER BY w.deploy_at, w.id LIMIT 1"
    ).fetchone()
    return None if row is None else (int(row["id"]), float(row["deploy_at"]))


def next_to_delete(conn: sqlite3.Connection) -> tuple[int, float] | None:
    """The workload whose node confirms its deletion first; nodes that are down confirm nothing."""
    row = conn.execute(
        "SELECT w.id, w.delete_at FROM workloads w JOIN nodes n ON n.node_id = w.node_id"
        " WHERE w.delete_at IS NOT NULL AND n.last_seen IS NULL ORDER BY w.delete_at, w.id LIMIT 1"
    ).fetchone()
    return None if row is None else (int(row["id"]), float(row["delete_at"]))


def reschedule_pending(conn: sqlite3.Connection, node_id: str, not_before: float) -> None:
    """A node back up picks up what it missed: nothing of it is due before ``not_before``."""
    for column in ("deploy_at", "delete_at"):
        conn.execute(
            f"UPDATE workloads SET {column} = max({column}, :t) WHERE node_id = :node_id"  # noqa: S608
            f" AND {column} IS NOT NULL",
            {"t": not_before, "node_id": node_id},
        )


def latest_applied_network(conn: sqlite3.Connection, node_id: str, customer_tid: int, name: str) -> Workload | None:
    """The newest network resource of the customer's network ``name`` that ``node_id`` applied and still runs.

    A network is its owner's (zos derives the network id from the customer and the name). A version sent but not
    yet applied does not count, nor one whose network was torn down since.
    """
    row = conn.execute(
        "SELECT * FROM workloads WHERE node_id = :node_id AND workload_type = :nr AND active = 1"
        " AND network_name = :name AND customer_tid = :tid ORDER BY id DESC LIMIT 1",
        {"node_id": node_id, "nr": int(WorkloadType.NETWORK_RESOURCE), "name": name, "tid": customer_tid},
    ).fetchone()
    return None if row is None else _workload(row)


def running_in_network(conn: sqlite3.Connection, node_id: str, customer_tid: int, name: str) -> list[Workload]:
    """Everything the node runs in (or as part of) the customer's network ``name``: its resources, containers, VMs."""
    rows = conn.execute(
        "SELECT * FROM workloads WHERE node_id = :node_id AND active = 1 AND network_name = :name"
        " AND customer_tid = :tid ORDER BY id",
        {"node_id": node_id, "name": name, "tid": customer_tid},
    ).fetchall()
    return [_workload(row) for row in rows]


def wireguard_ports(conn: sqlite3.Connection, node_id: str) -> list[tuple[int, int, str]]:
    """(port, customer, network name) of every network resource the node runs (each holds its listen port)."""
    rows = conn.execute(
        "SELECT customer_tid, network_name, body FROM workloads WHERE node_id = :node_id AND active = 1"
        " AND workload_type = :nr",
        {"node_id": node_id, "nr": int(WorkloadType.NETWORK_RESOURCE)},
    ).fetchall()
    return [
        (int(json.loads(row["body"])["wireguard_listen_port"]), int(row["customer_tid"]), str(row["network_name"]))
        for row in rows
    ]


def listen_ports(conn: sqlite3.Connection, node_ids: Sequence[str]) -> dict[str, set[int]]:
    """Per node: the listen ports of the network resources it runs (one query per 500 nodes, for listings)."""
    found: dict[str, set[int]] = {}
    for start in range(0, len(node_ids), 500):
        chunk = list(node_ids[start : start + 500])
        marks = ", ".join(f":n{i}" for i in range(len(chunk)))
        # Only placeholders are formatted into the SQL.
        sql = "SELECT node_id, json_extract(body, '$.wireguard_listen_port') AS port FROM workloads"
        sql += f" WHERE active = 1 AND workload_type = :nr AND node_id IN ({marks})"
        rows = conn.execute(
            sql,
            {"nr": int(WorkloadType.NETWORK_RESOURCE), **{f"n{i}": node_id for i, node_id in enumerate(chunk)}},
        ).fetchall()
        for row in rows:
            found.setdefault(row["node_id"], set()).add(int(row["port"]))
    return found


def volume_mounts(conn: sqlite3.Connection, node_id: str, exclude_id: int) -> set[str]:
    """The workload ids (text) of the volumes mounted by the containers the node runs, other than ``exclude_id``."""
    rows = conn.execute(
        "SELECT body FROM workloads WHERE node_id = :node_id AND active = 1 AND workload_type = :container"
        " AND id != :id",
        {"node_id": node_id, "container": int(WorkloadType.CONTAINER), "id": exclude_id},
    ).fetchall()
    return {str(mount["volume_id"]).partition("-")[0] for row in rows for mount in json.loads(row["body"])["volumes"]}


def ip_taken(conn: sqlite3.Connection, node_id: str, network: str, ip: str, exclude_id: int) -> bool:
    """Another deployed container/VM already uses ``ip`` in ``network`` on this node."""
    row = conn.execute(
        "SELECT 1 FROM workloads WHERE node_id = :node_id AND active = 1 AND network_name = :network"
        " AND ip = :ip AND id != :id AND workload_type IN (:container, :k8s) LIMIT 1",
        {
            "node_id": node_id,
            "network": network,
            "ip": ip,
            "id": exclude_id,
            "container": int(WorkloadType.CONTAINER),
            "k8s": int(WorkloadType.KUBERNETES),
        },
    ).fetchone()
    return row is not None


def domain_taken(conn: sqlite3.Connection, node_id: str, domain: str, exclude_id: int) -> bool:
    """Another deployed workload on this gateway already serves ``domain`` with the same type."""
    row = conn.execute(
        "SELECT 1 FROM workloads WHERE node_id = :node_id AND active = 1 AND domain = :domain AND id != :id"
        " AND workload_type = (SELECT workload_type FROM workloads WHERE id = :id) LIMIT 1",
        {"node_id": node_id, "domain": domain, "id": exclude_id},
    ).fetchone()
    return row is not None


def node_usage(
    conn: sqlite3.Connection, node_ids: Sequence[str], at: float | None = None
) -> dict[str, tuple[Units, dict[int, int]]]:
    """Per node: the summed units of its deployed workloads and how many it runs per workload type.

    ``at`` None: what runs now (the node's truth). A time: what ran at that moment (what its last report shows).
    """
    running = "active = 1" if at is None else "active_from <= :at AND (active_until IS NULL OR active_until > :at)"
    usage: dict[str, tuple[Units, dict[int, int]]] = {}
    for start in range(0, len(node_ids), 500):
        chunk = list(node_ids[start : start + 500])
        marks = ", ".join(f":n{i}" for i in range(len(chunk)))
        # Only placeholders are formatted into the SQL.
        sums = "count(*) AS n, sum(cru) AS cru, sum(mru) AS mru, sum(sru) AS sru, sum(hru) AS hru"
        sql = f"SELECT node_id, workload_type, {sums} FROM workloads WHERE {running} AND node_id IN ({marks})"  # noqa: S608
        sql += " GROUP BY node_id, workload_type"
        rows = conn.execute(
            sql,
            {"at": at, **{f"n{i}": node_id for i, node_id in enumerate(chunk)}},
        ).fetchall()
        for row in rows:
            units, counts = usage.get(row["node_id"], (Units(), {}))
            counts[int(row["workload_type"])] = int(row["n"])
            usage[row["node_id"]] = (units + Units(row["cru"], row["mru"], row["sru"], row["hru"]), counts)
    return usage


def pop_node_failure(conn: sqlite3.Connection, node_id: str) -> str | None:
    """Consume the oldest "next workload on this node fails" request, if any."""
    row = conn.execute(
        "SELECT id, message FROM node_failures WHERE node_id = :node_id ORDER BY id LIMIT 1", {"node_id": node_id}
    ).fetchone()
    if row is None:
        return None
    conn.execute("DELETE FROM node_failures WHERE id = :id", {"id": row["id"]})
    return str(row["message"])


def push_node_failure(conn: sqlite3.Connection, node_id: str, message: str) -> None:
    conn.execute(
        "INSERT INTO node_failures (node_id, message) VALUES (:node_id, :message)",
        {"node_id": node_id, "message": message},
    )


def live_named(conn: sqlite3.Connection, workload_type: WorkloadType, domain: str | None = None) -> list[Workload]:
    """The running gateway workloads of ``workload_type`` (only those serving ``domain`` when given), oldest first:
    what a gateway's DNS serves (dns_zones.py)."""
    rows = conn.execute(
        "SELECT * FROM workloads WHERE active = 1 AND workload_type = :type"
        " AND (:domain IS NULL OR domain = :domain) ORDER BY id",
        {"type": int(workload_type), "domain": domain},
    ).fetchall()
    return [_workload(row) for row in rows]
