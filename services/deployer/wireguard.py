"""The laptop's WireGuard config of a network or access point (SOLUTIONS §3.2), or the tunnel file of a 4to6
gateway (§3.11): handed out once, never kept.

The config holds the laptop's private key. Planning stores it encrypted to ourselves (``secret_outputs``) until
the owner downloads it with a POST (a state-changing request: the same-origin check of ``services.common.web``
applies, and a GET never erases anything). :func:`take` reads it under the row lock, builds the whole response
body, then erases it in the same transaction, which commits only once the body exists: a failure while building
(an undecryptable value, a bug) erases nothing and the owner can try again. A solution that fails, is rolled
back, is being cancelled or is cancelled never keeps it: a trigger (migration 0006) empties it on every such
status write, whichever code path makes it. A 4to6 gateway's file exists once the gateway answered (it is built
from the workload's result), so it is written with the move to ``deployed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.db import Database
from services.common.identity import Identity
from services.deployer import network_store, store
from services.deployer.grid.kinds import Kind
from services.deployer.solutions import PLANNERS
from services.deployer.solutions.network_use import network_hooks

TUNNEL_TYPE = "4to6gw"  # its file is written when the gateway answered (``lifecycle._finish``)
_ENDED = {"failed": "failed", "rolled_back": "was rolled back", "cancelling": "is being deleted",
          "cancelled": "was deleted"}  # fmt: skip


class NoConfig(Exception):
    """Not a solution of this owner (another user's reads the same), or not one that has a WireGuard config."""


class NotReady(Exception):
    """The config does not exist yet (the network is still being planned); the message says so."""


class Gone(Exception):
    """The config was handed out already, or the solution ended; the message says which."""


@dataclass(frozen=True)
class Download:
    file_name: str
    config: str


def file_name(cur: Any, sol: dict[str, Any]) -> str:
    """``wg-<first NR id>.conf``: the grid id of the first network-resource version on the node the laptop enters
    through that was recorded for this solution (a new network's first NR; an access point's first NR carrying it).

    Falls back to the solution id's first 8 characters while no such version has a grid id yet. A 4to6 gateway's
    file is named after its gateway4to6 workload.
    """
    if sol["type"] == TUNNEL_TYPE:
        tunnel = next((w for w in store.workloads_of(cur, str(sol["id"])) if w["kind"] == Kind.GATEWAY4TO6.value
                       and w["grid_id"] is not None), None)  # fmt: skip
        return f"wg-{tunnel['grid_id'] if tunnel is not None else str(sol['id'])[:8]}.conf"
    via = (sol["placed"] or {}).get("access", {}).get("node_id")
    network_id = sol["network_id"]
    owners = {str(sol["id"])}
    if network_id is not None:
        net = network_store.network(cur, network_id)
        if net is not None and net["solution_id"] is not None:
            owners.add(str(net["solution_id"]))  # network resources are recorded under the network's solution
    versions = [
        w for owner in sorted(owners) for w in store.workloads_of(cur, owner)
        if w["kind"] == Kind.NETWORK_RESOURCE.value and w["network_id"] == network_id and w["node_id"] == via
        and w["grid_id"] is not None and w["created_at"] >= sol["created_at"]
    ]  # fmt: skip
    first = min(versions, key=lambda w: int(w["id"]), default=None)
    return f"wg-{first['grid_id'] if first is not None else str(sol['id'])[:8]}.conf"


def instructions(name: str) -> str:
    """The output line of a deployed network or access point: the file the user downloads once, and its use."""
    return f"{name}: copy it to /etc/wireguard/ and run wg-quick up {name.removesuffix('.conf')}"


def take(db: Database, identity: Identity, owner: str, solution_id: str) -> Download:
    """The owner's WireGuard config and its file name; erased when (and only when) this transaction commits.

    Raises:
        NoConfig: not a solution of ``owner``, or not a network / access point.
        NotReady: the network is still being planned.
        Gone: downloaded already, or the solution failed or was cancelled.
        IdentityError: the stored value cannot be decrypted (nothing is erased).
    """
    with db.transaction() as cur:
        # Locked: two concurrent downloads cannot both read it; the second waits and finds it erased.
        sol = store.solution(cur, solution_id, owner=owner, lock=True)
        wireguard = sol is not None and network_hooks(PLANNERS.get(sol["type"])).hands_out_wireguard
        if sol is None or not (wireguard or sol["type"] == TUNNEL_TYPE):
            raise NoConfig(solution_id)
        if sol["secret_outputs"] is None:
            status = sol["status"]
            if status in ("submitted", "planning"):
                raise NotReady("the WireGuard config is not ready yet: the network is still being planned")
            if status == "deploying" and sol["type"] == TUNNEL_TYPE:
                raise NotReady("the WireGuard config is not ready yet: the gateway has not answered")
            if status in _ENDED:
                raise Gone(f"the WireGuard config is gone: the deployment {_ENDED[status]}")
            raise Gone("the WireGuard config was already downloaded: it is handed out once, and the marketplace "
                       "does not keep its private key")  # fmt: skip
        download = Download(file_name(cur, sol), str(identity.decrypt_secrets(sol["secret_outputs"])["wireguard"]))
        # Erased last, in this transaction: it commits after the body above exists, or not at all.
        store.take_secret_outputs(cur, solution_id, owner)
    return download
