"""Network (SOLUTIONS §3.2): create a WireGuard network, or add another access point to an existing one.

The deployer picks the access node (an up node with a public address of the chosen family) among the pools the
user selects; the progress step offers the WireGuard config once it is ready.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common
from services.chatflow.questions import Choice, Choices, MultiChoice, Question, String
from services.common import contracts
from services.common.grid_rules import NETWORK_RANGE_HELP, network_range_problem

MODES: Choices = [("create", "Create a network"), ("access", "Add access to one of my networks")]
CONNECTIONS: Choices = [("ipv4", "IPv4"), ("ipv6", "IPv6")]
RANGES: Choices = [("auto", "Choose the IP range for me"), ("manual", "Configure it myself")]
RANGE_HELP = NETWORK_RANGE_HELP


def _adding(ctx: Context) -> bool:
    return bool(ctx.get("mode") == "access")


def _creating(ctx: Context) -> bool:
    # Without a network the mode question is skipped: creating is the only possibility.
    return not _adding(ctx)


def _ipv6(ctx: Context) -> bool:
    return bool(ctx.get("connection") == "ipv6")


def _pool_fields(ctx: Context) -> list[Question]:
    pools = [p for p in ctx.queries.pools(ctx.owner) if p.state == "active"]
    return [
        MultiChoice(
            "pool_ids",
            "Pools to look for an access node in",
            choices=[(str(p.pool_id), p.label) for p in pools],
            help="" if pools else "buy a pool first (Capacity pools)",
            min_items=1,
        )
    ]


def _access_node(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
    """Refuse pools without an up node with a public address of the family (SOLUTIONS §3.2 "no access node").

    A network resource uses no CU/SU, so any active pool with time left qualifies (``seconds=1``).
    """
    picked = {int(p) for p in answers["pool_ids"]}
    capable = ctx.queries.capable_pools(ctx.owner, 0, 0, 0, 0, 1)
    node_ids = [n for p in capable if p.pool_id in picked for n in p.node_ids]
    query = contracts.NodeChoicesQuery(
        node_ids=node_ids, cru=0, mru=0, sru=0, hru=0, public_ipv4=not _ipv6(ctx), public_ipv6=_ipv6(ctx)
    )
    if node_ids and ctx.queries.node_choices(query):
        return {}
    family = "IPv6" if _ipv6(ctx) else "IPv4"
    return {"pool_ids": f"no up node with a public {family} address in these pools; choose other pools"}


def private_16(value: str) -> str | None:
    """Why ``value`` is not a private /16 (the rule the deployer's NetworkSpec applies too), or ``None``."""
    return network_range_problem(value)


def _check_range(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
    problem = private_16(answers["ip_range"])
    return {"ip_range": problem} if problem else {}


def _rows(ctx: Context) -> list[tuple[str, str]]:
    rows = [("Access point" if _adding(ctx) else "Network", str(ctx.get("name")))]
    if _adding(ctx):
        rows.append(("Network", str(ctx.get("network"))))
    rows += [("Connection", "IPv6" if _ipv6(ctx) else "IPv4"), ("Pools", ", ".join(ctx.get("pool_ids", [])))]
    if _creating(ctx):
        manual = ctx.get("ip_range_mode") == "manual"
        rows.append(("IP range", str(ctx.get("ip_range")) if manual else "chosen for you"))
    return rows


def _submit(ctx: Context) -> Submission:
    common_spec = {"name": ctx.get("name"), "pool_ids": [int(p) for p in ctx.get("pool_ids")], "ipv6": _ipv6(ctx)}
    if _adding(ctx):
        return Submission("network_access", {**common_spec, "network": ctx.get("network")})
    # Decided by the choice, not by a stored range: one typed earlier may remain after going back.
    ip_range = ctx.get("ip_range") if ctx.get("ip_range_mode") == "manual" else None
    return Submission("network", {**common_spec, "ip_range": ip_range})


FLOW = Flow(
    type="network",
    title="Network",
    description="A private WireGuard network across your nodes, reachable from your laptop.",
    family="advanced",
    icon="/icons/network.svg",
    steps=[
        Step(
            "mode",
            "Network",
            [Choice("mode", "What do you want to do?", choices=MODES, default="create")],
            when=lambda ctx: bool(ctx.queries.networks(ctx.owner)),
        ),
        *common.only_when(_creating, common.name_step("network", "Network name")),
        *common.only_when(_adding, common.network_step(), common.name_step("network_access", "Access point name")),
        Step(
            "connection",
            "Connection type",
            [Choice("connection", "How will you connect to the network?", choices=CONNECTIONS, default="ipv4")],
        ),
        Step("pool_ids", "Access node", _pool_fields, check=_access_node),
        Step(
            "ip_range_mode",
            "IP range",
            [Choice("ip_range_mode", "IP range", choices=RANGES, default="auto")],
            when=_creating,
        ),
        Step(
            "ip_range",
            "IP range",
            [
                String(
                    "ip_range",
                    "IP range",
                    pattern=r"\d{1,3}(\.\d{1,3}){3}/16",
                    pattern_help=RANGE_HELP,
                    max_length=18,
                    default="10.20.0.0/16",
                )
            ],
            when=lambda ctx: _creating(ctx) and ctx.get("ip_range_mode") == "manual",
            check=_check_range,
        ),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
