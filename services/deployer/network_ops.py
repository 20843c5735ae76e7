"""The deployer's side of the planners' network hooks (``solutions/network_use.py``): one solution's network.

Planning, cancellation and teardown build a :class:`SolutionNetwork` over the cursor of their transaction and hand
it to the hooks of the solution's planner; the hooks decide what happens to the network, this does it with
:mod:`~services.deployer.networks` and the stores. ``net`` is the network the solution's nodes join once a hook
opened it (planning), else the solution's recorded network.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import structlog

from services.common.explorer import ExplorerRejected, ExplorerUnavailable
from services.deployer import network_store, networks, states, store
from services.deployer.context import Deployer, PlanningFailed, Transient

log = structlog.get_logger(__name__)


class SolutionNetwork:
    """:class:`~services.deployer.solutions.network_use.NetworkOps` for the solution ``sol``.

    ``cur`` is the transaction of the calling step (``None`` for :meth:`revoke_laptop`, which has its own);
    ``dep`` is needed to add or revoke a laptop's access (``None`` for the cancel's check); ``net`` is the network
    already at hand (locked) when the caller has it.
    """

    def __init__(self, dep: Deployer | None, sol: dict[str, Any], cur: Any = None,
                 net: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.dep = dep
        self.sol = sol
        self.cur = cur
        self.net = net

    @property
    def _id(self) -> str:
        return str(self.sol["id"])

    def create(self, short: str, ip_range: str | None) -> None:
        self.net = networks.create(self.cur, self.sol["owner"], short, ip_range, self._id)

    def enter(self, short: str) -> None:
        owner = self.sol["owner"]
        net = network_store.network_by_name(self.cur, networks.grid_name(owner, short))
        if net is not None:
            # Lock before checking: a cancel of the network holds the same lock while it looks for users.
            network_store.lock_network(self.cur, net["id"])
        if net is None or net["owner"] != owner or not self._live(net):
            raise PlanningFailed(f"you have no network named {short!r}; create it first")
        self.net = net

    def add_laptop(self, via: str, ipv6: bool) -> str:
        assert self.dep is not None and self.net is not None
        peer, private_key = networks.add_access(self.cur, self.net, via, self._id)
        config = networks.wireguard_config(self.cur, self.net, peer, private_key, ipv6)
        return self.dep.identity.encrypt_secrets({"wireguard": config})

    def record_rewrite(self) -> None:
        """A new network-resource version for every node, recorded under the network's own solution."""
        assert self.dep is not None and self.net is not None
        owner_id = str(self.net["solution_id"]) if self.net["solution_id"] else None
        owner_solution = self.sol if owner_id == self._id else store.solution(self.cur, owner_id) if owner_id else None
        networks.record_rewrite(self.cur, self.dep, self.net, owner_solution or self.sol)

    def other_users(self, ignoring: Collection[str] = ()) -> list[str]:
        network_id = self.sol["network_id"]
        if network_id is None:
            return []
        # Under the network's lock: a deployment planning into this network right now either committed (and is
        # listed) or will find the network gone.
        network_store.lock_network(self.cur, network_id)
        users = store.live_solutions_in_network(self.cur, network_id, exclude=self._id, ignoring=ignoring)
        return [f"{u['type']} {u['name']}" for u in users]

    def revoke_laptop(self) -> None:
        """Take the access point out: its /24 is freed and every node's resource rewritten (and sent) without it."""
        assert self.dep is not None
        if self.sol["network_id"] is None:
            return
        with self.dep.db.transaction() as cur:
            net = network_store.network(cur, self.sol["network_id"])
            if net is None:
                return
            network_store.lock_network(cur, net["id"])
            if network_store.delete_access_subnets(cur, net["id"], self._id) == 0:
                return  # already revoked by an earlier pass
            owner_solution = store.solution(cur, str(net["solution_id"]))
            if owner_solution is not None:
                networks.record_rewrite(cur, self.dep, net, owner_solution)
        try:
            networks.flush(self.dep, net["id"])
        except ExplorerRejected as exc:
            log.warning("network update refused while revoking an access point", reason=exc.message)
        except ExplorerUnavailable as exc:
            raise Transient(str(exc)) from None

    def delete(self, ending: Collection[str] = ()) -> None:
        if self.sol["network_id"] is None:
            return
        net = network_store.network(self.cur, self.sol["network_id"])
        if net is not None and str(net["solution_id"]) == self._id:
            store.end_solutions_in_network(self.cur, net["id"], ending)
            network_store.delete_network(self.cur, net["id"])

    def _live(self, net: dict[str, Any]) -> bool:
        owner_solution = store.solution(self.cur, str(net["solution_id"])) if net["solution_id"] else None
        return owner_solution is not None and owner_solution["status"] == states.DEPLOYED
