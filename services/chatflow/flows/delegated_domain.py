"""Domain Delegation (SOLUTIONS §3.10): a gateway in the user's pools becomes authoritative for the user's domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common
from services.chatflow.flows import gateway_choice as gateways
from services.chatflow.questions import String
from services.common import grid_rules

TYPE = "delegated_domain"


def _check_domain(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
    refused = gateways.domain_check("domain")(ctx, answers)
    if refused:
        return refused
    verdict = ctx.queries.name_free(ctx.owner, TYPE, gateways.normal(answers["domain"]))
    return {} if verdict.ok else {"domain": f"you already delegated {gateways.normal(answers['domain'])}"}


def _rows(ctx: Context) -> list[tuple[str, str]]:
    gw = gateways.chosen(ctx)
    return [("Domain", gateways.normal(ctx.get("domain"))), ("Gateway", gw.node_id if gw else ""),
            ("Pool", str(gw.pool_id) if gw else ""),
            ("Name servers", ", ".join(gw.dns_nameserver) if gw else "")]  # fmt: skip


def _submit(ctx: Context) -> Submission:
    return Submission(TYPE, {"name": gateways.normal(ctx.get("domain")),
                             "gateway": gateways.gateway_spec(ctx.get("gateway"))})  # fmt: skip


FLOW = Flow(
    type=TYPE,
    title="Domain Delegation",
    description="Let a gateway serve the DNS of a domain you own, then expose solutions under it.",
    family="advanced",
    icon="/icons/delegated_domain.svg",
    steps=[
        gateways.gateway_step(),
        Step(
            "domain",
            "Domain",
            [
                String(
                    "domain",
                    "Domain",
                    max_length=253,
                    help="a domain you own, e.g. example.com",
                    pattern_help=grid_rules.DOMAIN_HELP,
                )
            ],
            check=_check_domain,
        ),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
