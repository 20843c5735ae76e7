"""SQL of user networks: the network row, its /24s (per node and per access point), WireGuard ports and IPs.

Allocations are rows with unique constraints (subnet per network, port per node, IP per network): two
deployments into one network can never take the same address, whatever the interleaving; callers additionally
serialise changes to one network with :data:`NETWORK_LOCK` so they never have to retry.
"""

from __future__ import annotations

import ipaddress
import itertools
from typing import Any

NETWORK_LOCK = 0x6E6574  # advisory lock namespace "net": one lock per network id


def lock_network(cur: Any, network_id: int) -> None:
    """Serialise changes to one network until the end of the transaction."""
    cur.execute("SELECT pg_advisory_xact_lock(%(ns)s, %(id)s)", {"ns": NETWORK_LOCK, "id": network_id})


def session_lock(cur: Any, network_id: int) -> None:
    """The same lock as :func:`lock_network`, held by a connection until :func:`session_unlock` (or it closes)."""
    cur.execute("SELECT pg_advisory_lock(%(ns)s, %(id)s)", {"ns": NETWORK_LOCK, "id": network_id})


def session_unlock(cur: Any, network_id: int) -> None:
    cur.execute("SELECT pg_advisory_unlock(%(ns)s, %(id)s)", {"ns": NETWORK_LOCK, "id": network_id})


def insert_network(cur: Any, owner: str, name: str, ip_range: str, solution_id: str) -> dict[str, Any] | None:
    """The new network, or ``None`` when the name is taken."""
    cur.execute(
        """
        INSERT INTO deployer.networks (owner, name, ip_range, solution_id)
        VALUES (%(owner)s, %(name)s, %(range)s, %(sol)s)
        ON CONFLICT (name) DO NOTHING RETURNING *
        """,
        {"owner": owner, "name": name, "range": ip_range, "sol": solution_id},
    )
    row = cur.fetchone()
    return dict(row) if row else None


def network_by_name(cur: Any, name: str) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM deployer.networks WHERE name = %(name)s", {"name": name})
    row = cur.fetchone()
    return dict(row) if row else None


def network(cur: Any, network_id: int) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM deployer.networks WHERE id = %(id)s", {"id": network_id})
    row = cur.fetchone()
    return dict(row) if row else None


def networks_of(cur: Any, owner: str) -> list[dict[str, Any]]:
    cur.execute(
        """
        SELECT n.* FROM deployer.networks n JOIN deployer.solutions s ON s.id = n.solution_id
        WHERE n.owner = %(owner)s AND s.status = 'deployed' ORDER BY n.name
        """,
        {"owner": owner},
    )
    return [dict(r) for r in cur.fetchall()]


def delete_network(cur: Any, network_id: int) -> None:
    """Drop the network and (by cascade) its subnets, ports and IPs."""
    cur.execute("DELETE FROM deployer.networks WHERE id = %(id)s", {"id": network_id})


def subnets(cur: Any, network_id: int) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT *, host(subnet) AS base, subnet::text AS cidr FROM deployer.network_subnets "
        "WHERE network_id = %(id)s ORDER BY subnet",
        {"id": network_id},
    )
    return [dict(r) for r in cur.fetchall()]


def insert_node_subnet(cur: Any, network_id: int, subnet: str, node_id: str, grid_pool_id: int, public_key: str,
                       sealed_private_key: str, port: int) -> None:  # fmt: skip
    cur.execute(
        """
        INSERT INTO deployer.network_subnets
            (network_id, subnet, node_id, grid_pool_id, wg_public_key, wg_private_key_sealed, wg_listen_port)
        VALUES (%(net)s, %(subnet)s, %(node)s, %(pool)s, %(pub)s, %(sealed)s, %(port)s)
        """,
        {"net": network_id, "subnet": subnet, "node": node_id, "pool": grid_pool_id, "pub": public_key,
         "sealed": sealed_private_key, "port": port},
    )  # fmt: skip


def insert_access_subnet(cur: Any, network_id: int, subnet: str, via_node: str, public_key: str,
                         solution_id: str) -> None:  # fmt: skip
    cur.execute(
        """
        INSERT INTO deployer.network_subnets (network_id, subnet, via_node, access_peer, solution_id)
        VALUES (%(net)s, %(subnet)s, %(via)s, %(pub)s, %(sol)s)
        """,
        {"net": network_id, "subnet": subnet, "via": via_node, "pub": public_key, "sol": solution_id},
    )


def delete_access_subnets(cur: Any, network_id: int, solution_id: str) -> int:
    """Take the access points a solution added out of the network's address plan; returns how many."""
    cur.execute(
        "DELETE FROM deployer.network_subnets WHERE network_id = %(net)s AND solution_id = %(sol)s AND node_id IS NULL",
        {"net": network_id, "sol": solution_id},
    )
    return int(cur.rowcount)


def take_port(cur: Any, node_id: str, port: int, network_id: int) -> bool:
    """Reserve WireGuard ``port`` on ``node_id``; False when some network of ours already uses it."""
    cur.execute(
        """
        INSERT INTO deployer.port_allocations (node_id, port, network_id) VALUES (%(node)s, %(port)s, %(net)s)
        ON CONFLICT DO NOTHING RETURNING port
        """,
        {"node": node_id, "port": port, "net": network_id},
    )
    return cur.fetchone() is not None


def take_ip(cur: Any, network_id: int, ip: str, solution_id: str) -> bool:
    """Reserve ``ip`` in the network for a solution; False when it is taken."""
    cur.execute(
        """
        INSERT INTO deployer.ip_allocations (network_id, ip, solution_id) VALUES (%(net)s, %(ip)s, %(sol)s)
        ON CONFLICT DO NOTHING RETURNING ip
        """,
        {"net": network_id, "ip": ip, "sol": solution_id},
    )
    return cur.fetchone() is not None


def taken_ips(cur: Any, network_id: int, subnet: str) -> set[str]:
    cur.execute(
        "SELECT host(ip) AS ip FROM deployer.ip_allocations WHERE network_id = %(net)s AND ip << %(subnet)s::cidr",
        {"net": network_id, "subnet": subnet},
    )
    return {r["ip"] for r in cur.fetchall()}


def free_ips(cur: Any, network_id: int, subnet: str, limit: int = 253) -> list[str]:
    """Free host addresses of a node's /24 from ``.2`` up (``.1`` is the node's), at most ``limit``."""
    taken = taken_ips(cur, network_id, subnet)
    base = ipaddress.ip_network(subnet).network_address
    free = (str(base + i) for i in range(2, 255) if str(base + i) not in taken)
    return list(itertools.islice(free, limit))


def latest_resources(cur: Any, network_id: int) -> list[dict[str, Any]]:
    """The newest network-resource row per node (any state but superseded)."""
    cur.execute(
        """
        SELECT DISTINCT ON (node_id) * FROM deployer.workloads
        WHERE network_id = %(net)s AND kind = 'network_resource' AND state <> 'superseded'
        ORDER BY node_id, id DESC
        """,
        {"net": network_id},
    )
    return [dict(r) for r in cur.fetchall()]


def unsent_resources(cur: Any, network_id: int) -> list[dict[str, Any]]:
    cur.execute(
        """
        SELECT * FROM deployer.workloads
        WHERE network_id = %(net)s AND kind = 'network_resource' AND state = 'recorded' ORDER BY id
        """,
        {"net": network_id},
    )
    return [dict(r) for r in cur.fetchall()]


def supersede(cur: Any, workload_ids: list[int]) -> None:
    cur.execute(
        "UPDATE deployer.workloads SET state = 'superseded', updated_at = now() "
        "WHERE id = ANY(%(ids)s) AND state = 'recorded'",  # states.WORKLOAD_EDGES: only an unsent version
        {"ids": workload_ids},
    )
