"""Ubuntu (SOLUTIONS §3.3): a container reachable over ssh inside one of the user's networks."""

from __future__ import annotations

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common
from services.chatflow.questions import Choice

VERSIONS = [("ubuntu-18.04", "Ubuntu 18.04"), ("ubuntu-19.10", "Ubuntu 19.10"), ("ubuntu-20.04", "Ubuntu 20.04")]


def _query(ctx: Context) -> tuple[float, float, float, float]:
    return common.container_query(ctx)


def _rows(ctx: Context) -> list[tuple[str, str]]:
    logs = common.logs_spec(ctx)
    return [
        ("Name", ctx.get("name")),
        ("Version", ctx.get("version")),
        ("Network", ctx.get("network")),
        ("Node", ctx.get("node_id") if ctx.get("node_auto") == "no" else "chosen automatically"),
        ("Pool", ctx.get("pool_id")),
        ("CPU", str(ctx.get("cpu"))),
        ("Memory", f"{ctx.get('memory')} MiB"),
        ("Disk", f"{ctx.get('disk')} MiB"),
        ("IP", "first free" if ctx.get("ip") == common.AUTO else ctx.get("ip")),
        ("Public IPv6", ctx.get("ipv6")),
        ("Logs", f"{logs['host']}:{logs['port']}/{logs['channel_name']}" if logs else "no"),
    ]


def _submit(ctx: Context) -> Submission:
    spec = {
        "name": ctx.get("name"),
        "version": ctx.get("version"),
        "resources": {"cpu": ctx.get("cpu"), "memory": ctx.get("memory"), "disk": ctx.get("disk")},
        "where": common.where(ctx),
        "network": ctx.get("network"),
        "logs": common.logs_spec(ctx),
        "ssh_key": common.first_line(ctx.get("ssh_key")),
        "public_ipv6": ctx.get("ipv6") == "yes",
    }
    return Submission("ubuntu", spec)


FLOW = Flow(
    type="ubuntu",
    title="Ubuntu",
    description="An Ubuntu container you reach over ssh inside your private network.",
    family="advanced",
    icon="/icons/ubuntu.svg",
    steps=[
        common.name_step("ubuntu"),
        Step("version", "Version", [Choice("version", "Ubuntu version", choices=VERSIONS, default="ubuntu-20.04")]),
        Step("resources", "Container resources", common.resources_fields()),
        common.pool_step(_query),
        common.network_step(),
        *common.logs_steps(),
        common.ssh_key_step(),
        *common.node_steps(_query),
        common.ip_step(),
        common.ipv6_step(),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
