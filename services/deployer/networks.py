"""User networks (GRID_API §11): create, attach nodes, add laptop access, rewrite and send network resources.

Every change to a network happens inside a transaction holding that network's advisory lock: the address plan
(subnets, ports, IPs) and the new network-resource version of *every* node are recorded together, so two
concurrent deployments never lose each other's peers. Sending is a separate step (:func:`flush`) serialised by
the same lock: it sends only the newest recorded version per node — a version that a later rewrite replaced
before it was sent is marked ``superseded`` and never reaches the grid.
"""

from __future__ import annotations

import ipaddress
import json
import random
import time
from typing import Any

import structlog

from services.common.explorer import ExplorerRejected
from services.common.identity import seal_to_node
from services.deployer import network_store, store
from services.deployer.context import Deployer, PlanningFailed
from services.deployer.grid import network_plan
from services.deployer.grid.kinds import Kind
from services.deployer.grid.node_finder import Node, get_node
from services.deployer.grid.render import render
from services.deployer.solutions.base import Placed, WorkloadPlan

log = structlog.get_logger(__name__)
_rng = random.SystemRandom()
PORTS = range(1000, 9000)


def grid_name(owner: str, short: str) -> str:
    """SOLUTIONS §0.3: networks are named ``<owner>_<name>`` on the grid."""
    return f"{owner}_{short}"


def create(cur: Any, owner: str, short: str, ip_range: str | None, solution_id: str) -> dict[str, Any]:
    """A new network row with its /16.

    Raises:
        PlanningFailed: the user already has a network of that name.
    """
    chosen = ip_range or network_plan.random_network_range(_rng)
    row = network_store.insert_network(cur, owner, grid_name(owner, short), chosen, solution_id)
    if row is None:
        raise PlanningFailed(f"you already have a network named {short!r}; choose another name")
    network_store.lock_network(cur, row["id"])
    return row


def attach_node(cur: Any, net: dict[str, Any], node: Node, grid_pool_id: int) -> bool:
    """Give ``node`` a /24, a WireGuard key pair and a free listen port in ``net``; False when it has one already.

    Raises:
        PlanningFailed: the network has no free /24 left, or the node no free port.
    """
    subnets = network_store.subnets(cur, net["id"])
    if any(s["node_id"] == node.node_id for s in subnets):
        return False
    try:
        subnet = network_plan.next_subnet(str(net["ip_range"]), [s["cidr"] for s in subnets])
    except network_plan.NetworkFull:
        raise PlanningFailed(f"network {net['name']} has no free /24 left for another node") from None
    private_key, public_key = network_plan.wg_keypair()
    busy = set(node.wg_ports)
    candidates = [p for p in PORTS if p not in busy]
    _rng.shuffle(candidates)
    # The port table's primary key (node, port) makes two networks racing for one port impossible.
    port = next((p for p in candidates[:200] if network_store.take_port(cur, node.node_id, p, net["id"])), None)
    if port is None:
        raise PlanningFailed(f"node {node.node_id} has no free WireGuard port")
    # Sealed to the node at once (GRID_API §8): the private key never sits in our database in clear.
    sealed = seal_to_node(node.node_id, private_key)
    network_store.insert_node_subnet(cur, net["id"], subnet, node.node_id, grid_pool_id, public_key, sealed, port)
    return True


def add_access(cur: Any, net: dict[str, Any], via: str, solution_id: str) -> tuple[network_plan.AccessPeer, str]:
    """A /24 and a key pair for the user's laptop, entering through node ``via``; returns (peer, private key).

    The private key is returned to be put in the user's config once; only the public key is stored.
    """
    subnets = network_store.subnets(cur, net["id"])
    try:
        subnet = network_plan.next_subnet(str(net["ip_range"]), [s["cidr"] for s in subnets])
    except network_plan.NetworkFull:
        raise PlanningFailed(f"network {net['name']} has no free /24 left for another access point") from None
    private_key, public_key = network_plan.wg_keypair()
    network_store.insert_access_subnet(cur, net["id"], subnet, via, public_key, solution_id)
    return network_plan.AccessPeer(node_id=via, subnet=subnet, public_key=public_key), private_key


def allocate_ip(cur: Any, net: dict[str, Any], node_id: str, solution_id: str, wanted: str | None) -> str:
    """An IP of the node's /24 for a workload: ``wanted`` if free, else the first free from ``.2``.

    Raises:
        PlanningFailed: ``wanted`` is outside the node's /24 or taken, or the /24 is full.
    """
    subnet = next(s["cidr"] for s in network_store.subnets(cur, net["id"]) if s["node_id"] == node_id)
    if wanted is not None:
        hosts = list(ipaddress.ip_network(subnet).hosts())[1:]
        if ipaddress.ip_address(wanted) not in hosts:
            raise PlanningFailed(f"IP {wanted} is not in {subnet}, the range of node {node_id} in this network")
        if not network_store.take_ip(cur, net["id"], wanted, solution_id):
            raise PlanningFailed(f"IP {wanted} is already used in this network; choose another")
        return wanted
    # A few candidates: the unique constraint settles a race, the next candidate is tried.
    for ip in network_store.free_ips(cur, net["id"], subnet, limit=8):
        if network_store.take_ip(cur, net["id"], ip, solution_id):
            return ip
    raise PlanningFailed(f"no free IP left on node {node_id} in network {net['name']}")


def _members(cur: Any, net: dict[str, Any]) -> tuple[list[network_plan.Member], list[network_plan.AccessPeer]]:
    members: list[network_plan.Member] = []
    access: list[network_plan.AccessPeer] = []
    for s in network_store.subnets(cur, net["id"]):
        if s["node_id"] is None:
            access.append(network_plan.AccessPeer(node_id=s["via_node"], subnet=s["cidr"], public_key=s["access_peer"]))
            continue
        node = get_node(cur, s["node_id"])
        members.append(
            network_plan.Member(
                node_id=s["node_id"],
                subnet=s["cidr"],
                public_key=s["wg_public_key"],
                port=s["wg_listen_port"],
                ipv4=node.public_ipv4 if node else None,
                ipv6=node.public_ipv6 if node else None,
            )
        )
    return members, access


def record_rewrite(cur: Any, dep: Deployer, net: dict[str, Any], owner_solution: dict[str, Any]) -> list[int]:
    """Record a new network-resource version for every node of ``net`` (GRID_API §11); returns the row ids.

    Call with the network lock held, in the transaction that changed the address plan.
    """
    members, access = _members(cur, net)
    previous = {r["node_id"]: r for r in network_store.latest_resources(cur, net["id"])}
    sealed_keys = {s["node_id"]: s for s in network_store.subnets(cur, net["id"]) if s["node_id"]}
    ids: list[int] = []
    for member in members:
        subnet = sealed_keys[member.node_id]
        fields = network_plan.network_resource_fields(
            net["name"], str(net["ip_range"]), member, subnet["wg_private_key_sealed"],
            network_plan.peers_for(member, members, access),
        )  # fmt: skip
        parent = previous.get(member.node_id)
        description = json.dumps({"parent_id": parent["grid_id"]}) if parent and parent["grid_id"] else ""
        row_id = store.record_workload(
            cur, solution_id=str(owner_solution["id"]), key=None, kind=Kind.NETWORK_RESOURCE.value, role=None,
            stage=-1, node_id=member.node_id, pool_id=subnet["grid_pool_id"], body={}, network_id=net["id"],
        )  # fmt: skip
        plan = WorkloadPlan(f"nr-{row_id}", Kind.NETWORK_RESOURCE, "network", fields, description)
        placed = Placed("network", member.node_id, int(subnet["grid_pool_id"]))
        body = render(plan, placed, tid=dep.tid, identity=dep.identity,
                      metadata=metadata(owner_solution, row_id, parent_network=net["name"]),
                      secrets={}, epoch=int(time.time()))  # fmt: skip
        store.set_body(cur, row_id, body)
        ids.append(row_id)
    return ids


def metadata(solution: dict[str, Any], row_id: int, parent_network: str | None = None) -> dict[str, Any]:
    """GRID_API §9: the ownership record every workload carries (encrypted), plus our row id for reconciliation."""
    record: dict[str, Any] = {
        "owner": solution["owner"],
        "name": f"{solution['owner']}_{solution['name']}",
        "chatflow": solution["type"],
        "solution_uuid": str(solution["id"]).replace("-", ""),
        "wl": row_id,
    }
    if parent_network:
        record["parent_network"] = parent_network
    return record


def flush(dep: Deployer, network_id: int) -> None:
    """Send the newest unsent network-resource version of each node, in order, under the network lock.

    The lock is a session lock on its own connection, held across the HTTP calls; each row's state changes
    commit on their own so that a crash leaves an honest record (``attempted_at`` set before the POST).

    Raises:
        ExplorerUnavailable: the grid did not answer (what was not sent stays recorded for the next try).
        ExplorerRejected: the grid refused a version (the row is marked failed first).
    """
    with dep.db.connection() as conn:
        conn.autocommit = True
        with conn.cursor() as lock_cur:
            network_store.session_lock(lock_cur, network_id)
            try:
                with dep.db.transaction() as cur:
                    pending = network_store.unsent_resources(cur, network_id)
                newest: dict[str, dict[str, Any]] = {}
                for row in pending:
                    newest[row["node_id"]] = row  # ordered by id: the last one wins
                stale = [r for r in pending if newest[r["node_id"]]["id"] != r["id"]]
                # A replaced version whose POST went unanswered may be on the grid all the same (the explorer
                # carried it out and lost the answer): it is adopted and tracked like any older version, never
                # forgotten there. Only what never reached the grid is superseded.
                attempted = [r["id"] for r in stale if r["attempted_at"] is not None]
                adopted = find_rows_on_grid(dep, set(attempted)) if attempted else {}
                with dep.db.transaction() as cur:
                    for row_id, grid_id in adopted.items():
                        store.mark_sent(cur, row_id, grid_id, dep.settings.workload_deadline)
                    never_sent = [r["id"] for r in stale if r["id"] not in adopted]
                    if never_sent:
                        network_store.supersede(cur, never_sent)
                for row in newest.values():
                    send_row(dep, row)
            finally:
                network_store.session_unlock(lock_cur, network_id)
                conn.autocommit = False


def send_row(dep: Deployer, row: dict[str, Any], event: str | None = None) -> int:
    """Send one recorded workload and remember its grid id.

    A row whose earlier attempt may have reached the grid (the worker died before it saved the answer) is first
    looked up on the grid by the row id in its metadata, and adopted instead of sent twice.

    ``event`` (with a ``{grid_id}`` field) is written to the solution's events with the grid id.

    Raises:
        ExplorerUnavailable: no answer (the row stays recorded, marked as attempted).
        ExplorerRejected: the grid refused it (the row is marked failed with the grid's message).
    """
    try:
        grid_id = post_row(dep, row)
    except ExplorerRejected as exc:
        with dep.db.transaction() as cur:
            store.set_workload_state(cur, row["id"], "failed", expected="recorded", error=exc.message)
        raise
    with dep.db.transaction() as cur:
        store.mark_sent(cur, row["id"], grid_id, dep.settings.workload_deadline)
        if event is not None and row["solution_id"] is not None:
            store.add_event(cur, str(row["solution_id"]), event.format(grid_id=grid_id))
    return grid_id


def post_row(dep: Deployer, row: dict[str, Any], *, fresh: bool = False) -> int:
    """POST one recorded workload; its grid id. Writes only the attempt mark (before the POST), never the answer.

    ``fresh``: the caller recorded the row, marked attempted, in this very pass and has not sent it — no lookup.
    Otherwise a row already attempted (the worker may have died after the POST) is first looked up on the grid
    by the row id in its metadata, and adopted instead of sent twice.

    Raises:
        ExplorerUnavailable: no answer (the row stays recorded, marked as attempted).
        ExplorerRejected: the grid refused it.
    """
    if not fresh:
        if row["attempted_at"] is not None:
            found = find_on_grid(dep, row["id"])
            if found is not None:
                log.info("adopting a workload sent before a crash", workload=row["id"], grid_id=found)
                return found
        with dep.db.transaction() as cur:
            store.mark_attempt(cur, row["id"])
    return dep.grid.create_workload(row["body"])


def find_on_grid(dep: Deployer, row_id: int) -> int | None:
    """The grid id of a live workload of ours whose metadata names our row ``row_id`` (a rare, crash-only scan)."""
    return find_rows_on_grid(dep, {row_id}).get(row_id)


def find_rows_on_grid(dep: Deployer, row_ids: set[int]) -> dict[int, int]:
    """Row id → grid id of the live workloads of ours whose metadata names one of ``row_ids`` (one scan)."""
    found: dict[int, int] = {}
    for workload in dep.grid.live_workloads():
        record = dep.identity.decrypt_metadata(workload.get("metadata") or "")
        row_id = record.get("wl") if record else None
        if isinstance(row_id, int) and row_id in row_ids and row_id not in found:
            found[row_id] = int(workload["id"])
    return found


def wireguard_config(cur: Any, net: dict[str, Any], peer: network_plan.AccessPeer, private_key: str,
                     ipv6: bool) -> str:  # fmt: skip
    members, _ = _members(cur, net)
    node = next(m for m in members if m.node_id == peer.node_id)
    return network_plan.wg_config(access=peer, private_key=private_key, ip_range=str(net["ip_range"]), node=node,
                                  ipv6=ipv6)  # fmt: skip
