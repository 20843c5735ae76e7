"""Steps shared by the wizards that put something on a gateway (SOLUTIONS §1.9, §3.9-§3.11): the gateway choice
among the gateways in the user's pools, and the checks of domain names, labels and WireGuard keys (the same rules
the deployer applies, ``services.common.grid_rules``: the wizard refuses at the field, not at the confirmation).

The gateways on offer and the "no gateway" message are ``gateways.py``'s (one list for every gateway wizard)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from services.chatflow.flow import Context, Step, always
from services.chatflow.flows.gateways import NO_GATEWAY, offers
from services.chatflow.questions import Dropdown, Question
from services.common import gateway_contracts, grid_rules


def value(gw: gateway_contracts.GatewayOffer) -> str:
    """A gateway as a choice: the pool that pays for its workloads and its node id."""
    return f"{gw.pool_id}:{gw.node_id}"


def label(gw: gateway_contracts.GatewayOffer) -> str:
    """SOLUTIONS §3.9: ``Pool: <id> <nameserver> <continent> <country> <gateway id>``."""
    return " ".join(p for p in (f"Pool: {gw.pool_id}", gw.dns_nameserver[0] if gw.dns_nameserver else "",
                                gw.continent, gw.country, gw.node_id) if p)  # fmt: skip


def gateway_step(name: str = "gateway", when: Callable[[Context], bool] | None = None) -> Step:
    """One of the gateways in the user's pools, labelled ``Pool: <id> <nameserver> <continent> <country> <id>``."""

    def fields(ctx: Context) -> list[Question]:
        choices = [(value(gw), label(gw)) for gw in offers(ctx)]
        return [Dropdown(name, "Gateway", help="" if choices else NO_GATEWAY, choices=choices)]

    return Step(name, "Gateway", fields, when=when or always)


def chosen(ctx: Context, name: str = "gateway") -> gateway_contracts.GatewayOffer | None:
    return next((gw for gw in offers(ctx) if value(gw) == ctx.get(name)), None)


def gateway_spec(answer: str) -> dict[str, Any]:
    """The deployer's ``gateway`` from a (validated) choice."""
    pool_id, _, node_id = answer.partition(":")
    return {"node_id": node_id, "pool_id": int(pool_id)}


def domain_check(field: str) -> Callable[[Context, Mapping[str, Any]], dict[str, str]]:
    """A step check refusing anything but a real domain name in ``field`` (no unicode, no shell characters)."""

    def check(ctx: Context, answers: Mapping[str, Any]) -> dict[str, str]:
        problem = grid_rules.domain_problem(grid_rules.normal_name(answers.get(field) or ""))
        return {field: problem} if problem else {}

    return check


def normal(answer: Any) -> str:
    return grid_rules.normal_name(str(answer or ""))
