"""Gitea (SOLUTIONS §3.8): a Git service with a public HTTPS name on a gateway of the user's pools."""

from __future__ import annotations

import secrets

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common, gateways
from services.chatflow.questions import Question, Secret, String

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]{0,62}"
IDENTIFIER_HELP = "letters, digits and '_', not starting with a digit, at most 63 characters"


def _query(ctx: Context) -> tuple[float, float, float, float]:
    return 2.0, 1.0, 6.0, 0.0  # SOLUTIONS §3.8: {cru: 2, mru: 1, sru: 6}


def _form(ctx: Context) -> list[Question]:
    return [
        String(
            "db_name",
            "Database name",
            default="postgres",
            pattern=IDENTIFIER,
            pattern_help=IDENTIFIER_HELP,
            max_length=63,
        ),
        String(
            "db_user",
            "Database user",
            default="postgres",
            pattern=IDENTIFIER,
            pattern_help=IDENTIFIER_HELP,
            max_length=63,
        ),
        # A fresh random proposal each time the step is shown; the answer is stored encrypted, never echoed.
        Secret("db_password", "Database password", min_length=8, max_length=128, default=secrets.token_hex(12)),
        String(
            "repository",
            "Repository (app) name",
            default="myrepo",
            pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
            pattern_help="letters, digits, '.', '_' and '-', at most 64 characters",
            max_length=64,
        ),
    ]


def _rows(ctx: Context) -> list[tuple[str, str]]:
    return [
        ("Name", str(ctx.get("name"))),
        ("Network", str(ctx.get("network"))),
        ("Node", ctx.get("node_id") if ctx.get("node_auto") == "no" else "chosen automatically"),
        ("Pool", str(ctx.get("pool_id"))),
        ("IP", "first free" if ctx.get("ip") == common.AUTO else str(ctx.get("ip"))),
        ("Domain", f"{gateways.short_label(ctx)}.<a domain of your gateways> (chosen when deploying)"),
    ]


def _submit(ctx: Context) -> Submission:
    spec = {
        "name": ctx.get("name"),
        "where": common.where(ctx),
        "network": ctx.get("network"),
        "ssh_key": common.first_line(ctx.get("ssh_key")),
        "db_name": ctx.get("db_name"),
        "db_user": ctx.get("db_user"),
        "repository": ctx.get("repository"),
        "logs": common.logs_spec(ctx),
        "gateway_pool_ids": gateways.gateway_pool_ids(ctx),
    }
    return Submission("gitea", spec, {"db_password": ctx.secrets["db_password"]})


FLOW = Flow(
    type="gitea",
    title="Gitea",
    description="A Git service (Gitea with PostgreSQL) on a public HTTPS address.",
    family="advanced",
    icon="/icons/gitea.svg",
    steps=[
        common.name_step("gitea"),
        common.pool_step(_query),
        common.network_step(),
        common.ssh_key_step(),
        Step("database", "Gitea settings", _form),
        *common.logs_steps(),
        *common.node_steps(_query),
        common.ip_step(),
        gateways.automatic_domain_step(),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
