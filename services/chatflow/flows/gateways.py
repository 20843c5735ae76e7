"""Wizard steps for solutions on a public name (SOLUTIONS §1.9): the gateways of the user's own pools.

The chatflow knows the user's pools (pools service) and hands them to the deployer's gateway query as verified
pools; a spec names them in ``gateway_pool_ids`` so the submission verifies them again like every pool id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.chatflow.flow import Context, Step
from services.chatflow.questions import Dropdown, Info, Question
from services.common import contracts, gateway_contracts

NO_GATEWAY = ("none of your pools contains a gateway that is up and has a name server; buy capacity on a farm with "
              "a gateway (Pools) and come back")  # fmt: skip


def user_pools(ctx: Context) -> list[contracts.VerifiedPool]:
    """The user's active pools (those with a grid pool)."""
    return [contracts.VerifiedPool(pool_id=p.pool_id, grid_pool_id=p.grid_pool_id) for p in ctx.queries.pools(ctx.owner)
            if p.state == "active" and p.grid_pool_id]  # fmt: skip


def gateway_pool_ids(ctx: Context) -> list[int]:
    return [p.pool_id for p in user_pools(ctx)]


def offers(ctx: Context) -> list[gateway_contracts.GatewayOffer]:
    pools = user_pools(ctx)
    return ctx.queries.gateways(ctx.owner, pools) if pools else []


def short_label(ctx: Context) -> str:
    """``<owner without .3bot>-<name>`` (the deployer makes it a valid DNS label and may add a suffix)."""
    return f"{ctx.short_owner}-{ctx.get('name', '')}".replace(".", "").replace("_", "-").lower()


def automatic_domain_step(name: str = "domain") -> Step:
    """The automatic domain (§1.9): shown, not asked; refused when no gateway of the user's pools can serve one."""

    def parents(ctx: Context) -> list[str]:
        return sorted({d for offer in offers(ctx) for d in offer.managed_domains})

    def fields(ctx: Context) -> list[Question]:
        found = parents(ctx)
        text = (f"Your solution gets the public name **{short_label(ctx)}.&lt;one of: {', '.join(found)}&gt;**, chosen "
                "when deploying (a number is appended when the name is taken)." if found else NO_GATEWAY)  # fmt: skip
        return [Info(name, "Public domain", markdown=text)]

    def check(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
        return {} if parents(ctx) else {name: NO_GATEWAY}

    return Step(name, "Public domain", fields, check=check)


def managed_domain_step(name: str = "parent_domain") -> Step:
    """A managed domain of a gateway in the user's pools (Gollum): the name is ``<label>.<chosen domain>``."""

    def choices(ctx: Context) -> list[tuple[str, str]]:
        return sorted({(d, d) for offer in offers(ctx) for d in offer.managed_domains})

    def fields(ctx: Context) -> list[Question]:
        found = choices(ctx)
        # Without a gateway the step is refused with the reason (not a bare "required").
        return [Dropdown(name, "Managed domain", help="" if found else NO_GATEWAY, choices=found, required=bool(found))]

    def check(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
        return {} if choices(ctx) else {name: NO_GATEWAY}

    return Step(name, "Managed domain", fields, check=check)
