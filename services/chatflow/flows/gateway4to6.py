"""4to6 Gateway (SOLUTIONS §3.11): IPv6 for an IPv4-only machine through a WireGuard tunnel to a gateway.

The public key is optional: left empty, the deployer makes the key pair (the private key reaches the user only in
the WireGuard file, downloaded once). The wizard never sees a private key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common
from services.chatflow.flows import gateway_choice as gateways
from services.chatflow.questions import String
from services.common import grid_rules

TYPE = "4to6gw"
GENERATED = "made by the marketplace (its private key is in the file you download once)"


def _check_key(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
    key = (answers.get("public_key") or "").strip()
    if not key:
        return {}
    if (problem := grid_rules.wireguard_key_problem(key)) is not None:
        return {"public_key": problem}
    verdict = ctx.queries.name_free(ctx.owner, TYPE, key)
    return {} if verdict.ok else {"public_key": "you already have a 4to6 gateway with this public key"}


def _rows(ctx: Context) -> list[tuple[str, str]]:
    gw = gateways.chosen(ctx)
    return [("Gateway", gw.node_id if gw else ""), ("Pool", str(gw.pool_id) if gw else ""),
            ("Public key", (ctx.get("public_key") or "").strip() or GENERATED)]  # fmt: skip


def _submit(ctx: Context) -> Submission:
    return Submission(TYPE, {"public_key": (ctx.get("public_key") or "").strip(),
                             "gateway": gateways.gateway_spec(ctx.get("gateway"))})  # fmt: skip


FLOW = Flow(
    type=TYPE,
    title="4to6 Gateway",
    description="IPv6 for an IPv4-only machine through a WireGuard tunnel to a gateway.",
    family="advanced",
    icon="/icons/4to6gw.svg",
    steps=[
        gateways.gateway_step(),
        Step(
            "public_key",
            "WireGuard key",
            [
                String(
                    "public_key",
                    "WireGuard public key",
                    required=False,
                    max_length=64,
                    help="leave empty to let the marketplace make a key pair",
                )
            ],
            check=_check_key,
        ),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
