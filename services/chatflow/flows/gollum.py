"""Gollum (issue 12): a wiki backed by a GitHub repository, on a public HTTPS name under a managed domain of a
gateway in the user's own pools. The GitHub token is a secret answer: stored encrypted, never echoed, never in the
confirmation."""

from __future__ import annotations

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common, gateways
from services.chatflow.questions import Question, Secret, String
from services.common import text_rules


def _email(name: str, label: str) -> String:
    return String(name, label, pattern=text_rules.EMAIL, pattern_help=text_rules.EMAIL_HELP,
                  max_length=text_rules.EMAIL_MAX)  # fmt: skip


def _github(ctx: Context) -> list[Question]:
    user = String("github_user", "GitHub user name", pattern=text_rules.GITHUB_USER,
                  pattern_help=text_rules.GITHUB_USER_HELP, max_length=39)  # fmt: skip
    repo = String("github_repo", "Repository for the wiki (it must exist)", pattern=text_rules.GITHUB_REPO,
                  pattern_help=text_rules.GITHUB_REPO_HELP, max_length=100)  # fmt: skip
    token = Secret("github_token", "GitHub personal access token", pattern=text_rules.GITHUB_TOKEN,
                   pattern_help=text_rules.GITHUB_TOKEN_HELP, max_length=255,
                   help="GitHub → Settings → Developer settings → Personal access tokens (repo scope)")  # fmt: skip
    return [user, _email("github_email", "GitHub e-mail"), repo, token]


def _rows(ctx: Context) -> list[tuple[str, str]]:
    return [
        ("Name", str(ctx.get("name"))),
        ("Network", str(ctx.get("network"))),
        ("Node", ctx.get("node_id") if ctx.get("node_auto") == "no" else "chosen automatically"),
        ("Pool", str(ctx.get("pool_id"))),
        ("IP", "first free" if ctx.get("ip") == common.AUTO else str(ctx.get("ip"))),
        ("CPU", str(ctx.get("cpu"))),
        ("Memory (MiB)", str(ctx.get("memory"))),
        ("Root filesystem (MiB)", str(ctx.get("disk"))),
        ("E-mail for certificate notices", str(ctx.get("email"))),
        ("GitHub user", str(ctx.get("github_user"))),
        ("GitHub e-mail", str(ctx.get("github_email"))),
        ("Repository", str(ctx.get("github_repo"))),
        ("Domain", f"{gateways.short_label(ctx)}.{ctx.get('parent_domain')} (a number is appended if it is taken)"),
    ]


def _submit(ctx: Context) -> Submission:
    spec = {
        "name": ctx.get("name"),
        "resources": {"cpu": ctx.get("cpu"), "memory": ctx.get("memory"), "disk": ctx.get("disk")},
        "where": common.where(ctx),
        "network": ctx.get("network"),
        "ssh_key": common.first_line(ctx.get("ssh_key")),
        "email": ctx.get("email"),
        "github_user": ctx.get("github_user"),
        "github_email": ctx.get("github_email"),
        "github_repo": ctx.get("github_repo"),
        "parent_domain": ctx.get("parent_domain"),
        "gateway_pool_ids": gateways.gateway_pool_ids(ctx),
    }
    return Submission("gollum", spec, {"github_token": ctx.secrets["github_token"]})


FLOW = Flow(
    type="gollum",
    title="Gollum",
    description="A wiki kept in one of your GitHub repositories, on a public HTTPS address.",
    family="advanced",
    icon="/icons/gollum.svg",
    steps=[
        common.name_step("gollum"),
        Step("resources", "Container resources", common.resources_fields()),
        common.pool_step(common.container_query),
        common.network_step(),
        common.ssh_key_step(),
        Step("email", "E-mail", [_email("email", "E-mail for certificate notices (Let's Encrypt)")]),
        Step("github", "GitHub repository", _github),
        *common.node_steps(common.container_query),
        common.ip_step(),
        gateways.managed_domain_step(),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
