"""4to6 Gateway (SOLUTIONS §3.11): IPv6 for an IPv4-only machine through a WireGuard tunnel to a gateway.

One ``GATEWAY4TO6{public_key}`` workload on the gateway, paid by the user's pool that contains the gateway. The
user gets a wg-quick file built from the workload's result (``data_json``: the tunnel addresses and the gateway's
peers). With no public key, the deployer makes the key pair at submit time (:meth:`Gateway4to6Spec.complete`):
the private key lives only in the solution's encrypted secrets until the deployment ends, then only in the
one-time download (its file hooks, :mod:`.handout`; ``wireguard.py``) — never in the spec, a listing, an event or
a log. The user's own public key works too: the file then says where their private key goes (the original crashed
there).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import model_validator

from services.common import grid_rules
from services.deployer.grid.kinds import Kind
from services.deployer.grid.network_plan import wg_keypair
from services.deployer.solutions.base import GatewayRequest, Placement, PlanContext, Spec, WorkloadPlan, WorkloadView
from services.deployer.solutions.fields import GatewayChoice, WireguardKey
from services.deployer.solutions.handout import ResultFile
from services.deployer.solutions.listing import find, wids

PRIVATE_KEY = "wireguard_private_key"  # the solution secret holding a key pair the marketplace made
KEY_PLACEHOLDER = "<put the private key of your public key here>"
_ENDPOINT = re.compile(r"[A-Za-z0-9.-]{1,253}:\d{1,5}|\[[0-9A-Fa-f:.]{2,45}\]:\d{1,5}")


class Gateway4to6Spec(Spec):
    """``public_key`` is the client's WireGuard public key; the solution's name is that key (the listing's
    ``Name``, SOLUTIONS §6.2), so the same key is not tunnelled twice by one user at once."""

    name: WireguardKey  # the public key, not a short name
    public_key: WireguardKey
    gateway: GatewayChoice

    @model_validator(mode="before")
    @classmethod
    def _name_is_the_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "public_key" in data and "name" not in data:
            return {**data, "name": data["public_key"]}
        return data

    @model_validator(mode="after")
    def _same_key(self) -> Self:
        if self.name != self.public_key:
            raise ValueError("name must be the public key")
        return self

    @classmethod
    def complete(cls, spec: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
        """An empty public key: make a key pair (pynacl) — the public key goes in the spec, the private key into
        the solution's secrets. A key the user gave: no private key is kept, whatever the caller sent."""
        secrets.pop(PRIVATE_KEY, None)
        if isinstance(spec.get("public_key"), str) and not spec["public_key"].strip():
            private, public = wg_keypair()
            secrets[PRIVATE_KEY] = private
            return {**spec, "public_key": public}
        return spec


class Gateway4to6(ResultFile):
    spec_model: ClassVar[type[Spec]] = Gateway4to6Spec
    type: ClassVar[str] = "4to6gw"
    file_key: ClassVar[str] = "gateway4to6"  # its file is named after this workload

    def placements(self, spec: Gateway4to6Spec) -> list[Placement]:
        return []

    def gateways(self, spec: Gateway4to6Spec) -> list[GatewayRequest]:
        return [GatewayRequest("gateway", (spec.gateway.pool_id,), gateway_id=spec.gateway.node_id)]  # no name

    def network_of(self, spec: Gateway4to6Spec) -> str | None:
        return None

    def build(self, spec: Gateway4to6Spec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        if stage > 0:
            return None
        return [WorkloadPlan("gateway4to6", Kind.GATEWAY4TO6, "gateway", {"public_key": spec.public_key})]

    def listing(self, spec: Gateway4to6Spec, workloads: list[WorkloadView]) -> dict[str, Any]:
        w = find(workloads, "gateway4to6")
        return {"Name": spec.public_key, "wids": wids(workloads), "Public Key": spec.public_key,
                "Gateway": spec.gateway.node_id, "Pool": w.grid_pool_id if w else None}  # fmt: skip

    def outputs(self, spec: Gateway4to6Spec, workloads: list[WorkloadView]) -> dict[str, Any]:
        w = find(workloads, "gateway4to6")
        ips = tunnel(w.data if w else {})["ips"]
        return {"Public Key": spec.public_key, "IPv6 Address": ips[0] if ips else ""}

    def build_file(self, spec: Gateway4to6Spec, workloads: list[WorkloadView],
                   secrets: Mapping[str, str]) -> tuple[str, int]:  # fmt: skip
        """The wg-quick file (SOLUTIONS §3.11) and the workload id that names it (``wg-<id>.conf``).

        Raises:
            ValueError: the gateway's result is not a usable tunnel (the deployment then fails, saying so).
        """
        w = find(workloads, "gateway4to6")
        if w is None or w.grid_id is None:
            raise ValueError("the gateway4to6 workload has no result")
        return wg_quick(tunnel(w.data), secrets.get(PRIVATE_KEY)), w.grid_id


def tunnel(data: Mapping[str, Any]) -> dict[str, Any]:
    """The gateway's answer (GRID_API §5.10), checked field by field: it is written into a file the user runs
    with root rights, so a value that is not an address, a key or ``host:port`` never gets in.

    Raises:
        ValueError: a field is missing or malformed.
    """
    ips = data.get("ips") or []
    peers = data.get("peers") or []
    if not isinstance(ips, list) or not isinstance(peers, list):
        raise ValueError("the gateway's tunnel answer is malformed")
    clean_ips = [str(ipaddress.ip_interface(str(ip))) for ip in ips]
    clean_peers = []
    for peer in peers:
        key = str(peer.get("public_key", "")) if isinstance(peer, dict) else ""
        if grid_rules.wireguard_key_problem(key) is not None:
            raise ValueError("the gateway's tunnel peer has no valid public key")
        allowed = [str(ipaddress.ip_network(str(n), strict=False)) for n in peer.get("allowed_ips") or []]
        endpoint = str(peer.get("endpoint") or "")
        if endpoint and not _ENDPOINT.fullmatch(endpoint):
            raise ValueError("the gateway's tunnel endpoint is not host:port")
        clean_peers.append({"public_key": key, "allowed_ips": allowed, "endpoint": endpoint})
    return {"ips": clean_ips, "peers": clean_peers}


def wg_quick(tunnel: Mapping[str, Any], private_key: str | None) -> str:
    """The wg-quick file of SOLUTIONS §3.11 (``tunnel`` as :func:`tunnel` returns it)."""
    ips = tunnel["ips"]
    if not ips:
        raise ValueError("the gateway gave the tunnel no address")
    lines = ["[Interface]", f"Address = {ips[0]}", f"PrivateKey = {private_key or KEY_PLACEHOLDER}"]
    for peer in tunnel["peers"]:
        lines += ["", "[Peer]", f"PublicKey = {peer['public_key']}", f"AllowedIPs = {','.join(peer['allowed_ips'])}"]
        if peer["endpoint"]:
            lines.append(f"Endpoint = {peer['endpoint']}")
    return "\n".join(lines) + "\n"


PLANNER = Gateway4to6()
