"""3Bot (SOLUTIONS §3.12): a hosted 3Bot on a public HTTPS name under a managed domain of a gateway in the user's
own pools, its configuration backed up with the backup password.

The backup password is a secret answer (stored encrypted, never echoed, never in the confirmation). When the
explorer already holds the identity ``<owner without .3bot>_<name>`` (a re-deployment that restores its backups),
the password must be the one behind that identity's key (LOGIN_PROTOCOL §9.4), else the step is asked again with
"incorrect password for this 3Bot"; the deployer is asked only for the identity's public key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common, gateways
from services.chatflow.questions import Secret, String
from services.common import hosted_3bot

WRONG_PASSWORD = "incorrect password for this 3Bot"  # noqa: S105 — a message, not a password
BRANCH = r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}"
BRANCH_HELP = "a git branch or tag: letters, digits, '.', '_', '-' and '/', at most 100 characters"


def _check_password(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
    password = str(answers.get("backup_password") or "")
    problem = hosted_3bot.password_problem(password)
    if problem:
        return {"backup_password": problem}
    found = ctx.queries.phonebook_key(hosted_3bot.identity_name(ctx.owner, str(ctx.get("name"))))
    if found.found and not hosted_3bot.matches(password, found.pubkey):
        return {"backup_password": WRONG_PASSWORD}
    return {}


def _password_step() -> Step:
    field = Secret("backup_password", "Backup password", min_length=1, max_length=hosted_3bot.PASSWORD_MAX_BYTES,
                   help="your 3Bot's backups are encrypted with it; re-deploying a 3Bot of this name needs the "
                        "same password (at most 32 characters)")  # fmt: skip
    return Step("backup_password", "Backup password", [field], check=_check_password)


def _branch_step() -> Step:
    field = String("sdk_branch", "SDK version (branch)", default="development", pattern=BRANCH,
                   pattern_help=BRANCH_HELP, max_length=100)  # fmt: skip
    return Step("sdk_branch", "SDK version", [field])


def _rows(ctx: Context) -> list[tuple[str, str]]:
    return [
        ("Name", str(ctx.get("name"))),
        ("Version", str(ctx.get("sdk_branch"))),
        ("CPU", str(ctx.get("cpu"))),
        ("Memory (MiB)", str(ctx.get("memory"))),
        ("Root filesystem type", "SSD"),
        ("Root filesystem size (MiB)", str(ctx.get("disk"))),
        ("Domain", f"{gateways.short_label(ctx)}.{ctx.get('parent_domain')}"),
    ]


def _submit(ctx: Context) -> Submission:
    spec = {
        "name": ctx.get("name"),
        "resources": {"cpu": ctx.get("cpu"), "memory": ctx.get("memory"), "disk": ctx.get("disk")},
        "where": common.where(ctx),
        "network": ctx.get("network"),
        "ssh_key": str(ctx.get("ssh_key") or "").strip(),  # the whole file, trimmed (§3.12)
        "sdk_branch": ctx.get("sdk_branch"),
        "public_ipv6": ctx.get("ipv6") == "yes",
        "parent_domain": ctx.get("parent_domain"),
        "gateway_pool_ids": gateways.gateway_pool_ids(ctx),
    }
    return Submission("threebot", spec, {"backup_password": ctx.secrets["backup_password"]})


FLOW = Flow(
    type="threebot",
    title="3Bot",
    description="Your own 3Bot on a public HTTPS address, its configuration backed up.",
    family="advanced",
    icon="/icons/threebot.svg",
    steps=[
        common.name_step("threebot"),
        Step("resources", "Container resources", common.resources_fields(memory_default=2048, disk_default=2048)),
        common.pool_step(common.container_query),
        common.network_step(),
        _password_step(),
        _branch_step(),
        common.ssh_key_step(),
        gateways.managed_domain_step(),
        common.ipv6_step(),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
