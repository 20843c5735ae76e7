"""The laptop's WireGuard config of a network or access point (SOLUTIONS §3.2), or the tunnel file of a 4to6
gateway (§3.11): handed out once, never kept.

The config holds the laptop's private key. Planning stores it encrypted to ourselves (``secret_outputs``) until
the owner downloads it with a POST (a state-changing request: the same-origin check of ``services.common.web``
applies, and a GET never erases anything). :func:`take` reads it under the row lock, builds the whole response
body, then erases it in the same transaction, which commits only once the body exists: a failure while building
(an undecryptable value, a bug) erases nothing and the owner can try again. A solution that fails, is rolled
back, is being cancelled or is cancelled never keeps it: a trigger (migration 0006) empties it on every such
status write, whichever code path makes it. A 4to6 gateway's file exists once the gateway answered (it is built
from the workload's result), so it is written with the move to ``deployed``. Which solutions hand out a file, how
it is named and built, and why it is not there yet is declared by their planners (``solutions/handout.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.db import Database
from services.common.identity import Identity
from services.deployer import network_store, store
from services.deployer.grid.kinds import Kind
from services.deployer.solutions import PLANNERS
from services.deployer.solutions.handout import handout

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


class SolutionFiles:
    """:class:`~services.deployer.solutions.handout.FileOps` over the solution ``sol``'s recorded workloads."""

    def __init__(self, cur: Any, sol: dict[str, Any]) -> None:
        self.cur = cur
        self.sol = sol

    def workload_id(self, key: str) -> int | None:
        found = next((w for w in store.workloads_of(self.cur, str(self.sol["id"]))
                      if w["key"] == key and w["grid_id"] is not None), None)  # fmt: skip
        return int(found["grid_id"]) if found is not None else None

    def laptop_resource_id(self) -> int | None:
        """A new network's first NR on the access node; an access point's first NR carrying it."""
        sol = self.sol
        via = (sol["placed"] or {}).get("access", {}).get("node_id")
        network_id = sol["network_id"]
        owners = {str(sol["id"])}
        if network_id is not None:
            net = network_store.network(self.cur, network_id)
            if net is not None and net["solution_id"] is not None:
                owners.add(str(net["solution_id"]))  # network resources are recorded under the network's solution
        versions = [
            w for owner in sorted(owners) for w in store.workloads_of(self.cur, owner)
            if w["kind"] == Kind.NETWORK_RESOURCE.value and w["network_id"] == network_id and w["node_id"] == via
            and w["grid_id"] is not None and w["created_at"] >= sol["created_at"]
        ]  # fmt: skip
        first = min(versions, key=lambda w: int(w["id"]), default=None)
        return int(first["grid_id"]) if first is not None else None


def file_name(cur: Any, sol: dict[str, Any]) -> str:
    """``wg-<id>.conf``, the id its planner names (:meth:`~services.deployer.solutions.handout.Handout.file_id`:
    a network's or access point's first network-resource version on the laptop's access node, a 4to6 gateway's
    workload); the solution id's first 8 characters while that has no grid id yet."""
    named = handout(PLANNERS.get(sol["type"])).file_id(SolutionFiles(cur, sol))
    return f"wg-{named if named is not None else str(sol['id'])[:8]}.conf"


def instructions(name: str) -> str:
    """The output line of a deployed network or access point: the file the user downloads once, and its use."""
    return f"{name}: copy it to /etc/wireguard/ and run wg-quick up {name.removesuffix('.conf')}"


def take(db: Database, identity: Identity, owner: str, solution_id: str) -> Download:
    """The owner's WireGuard config and its file name; erased when (and only when) this transaction commits.

    Raises:
        NoConfig: not a solution of ``owner``, or not one that hands out a file.
        NotReady: the file is not made yet (the network is being planned, the gateway has not answered).
        Gone: downloaded already, or the solution failed or was cancelled.
        IdentityError: the stored value cannot be decrypted (nothing is erased).
    """
    with db.transaction() as cur:
        # Locked: two concurrent downloads cannot both read it; the second waits and finds it erased.
        sol = store.solution(cur, solution_id, owner=owner, lock=True)
        hooks = handout(PLANNERS.get(sol["type"])) if sol is not None else None
        if sol is None or hooks is None or not hooks.hands_out_file:
            raise NoConfig(solution_id)
        if sol["secret_outputs"] is None:
            status = sol["status"]
            if (waiting := hooks.not_ready(status)) is not None:
                raise NotReady(f"the WireGuard config is not ready yet: {waiting}")
            if status in _ENDED:
                raise Gone(f"the WireGuard config is gone: the deployment {_ENDED[status]}")
            raise Gone("the WireGuard config was already downloaded: it is handed out once, and the marketplace "
                       "does not keep its private key")  # fmt: skip
        download = Download(file_name(cur, sol), str(identity.decrypt_secrets(sol["secret_outputs"])["wireguard"]))
        # Erased last, in this transaction: it commits after the body above exists, or not at all.
        store.take_secret_outputs(cur, solution_id, owner)
    return download
