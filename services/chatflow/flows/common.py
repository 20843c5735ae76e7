"""Steps shared by the advanced wizards (SOLUTIONS §1): name, resources, pool, network, logs, ssh key, node, IP.

Each builder returns a :class:`Step`; its choices come from the other services at the moment the step is shown
and again when it is answered (the answer must be one of them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from services.chatflow.flow import Context, Step, always
from services.chatflow.questions import Choice, Confirm, Dropdown, File, Info, Integer, MultiChoice, Question, String
from services.common import contracts

NAME_PATTERN = r"[a-z0-9][a-z0-9-]{0,30}"
NAME_HELP = "lower-case letters, digits and dashes, starting with a letter or digit, at most 31 characters"
YES_NO = [("yes", "Yes"), ("no", "No")]
MIN_POOL_RUNTIME = 3600
AUTO = "auto"
NO_POOL = "no pool with enough capacity; buy or extend one in Pools"

Resources = Callable[[Context], tuple[float, float, float, float]]  # cru, mru, sru, hru (GiB)


def name_step(solution_type: str, label: str = "Solution name") -> Step:
    """SOLUTIONS §0.3: a short name, unique among the user's live solutions of this type."""

    def check(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
        verdict = ctx.queries.name_free(ctx.owner, solution_type, answers["name"])
        return {} if verdict.ok else {"name": verdict.reason}

    field = String("name", label, pattern=NAME_PATTERN, pattern_help=NAME_HELP, max_length=31)
    return Step("name", "Name", [field], check=check)


def resources_fields(prefix: str = "", disk: bool = True, memory_default: int = 1024,
                     disk_default: int = 256) -> list[Question]:  # fmt: skip
    """SOLUTIONS §1.4: CPU ≥ 1, memory ≥ 1024 MiB, root filesystem ≥ 256 MiB."""
    fields: list[Question] = [
        Integer(f"{prefix}cpu", "CPU (vCPU)", default=1, min=1, max=64),
        Integer(f"{prefix}memory", "Memory (MiB)", default=memory_default, min=1024, max=256 * 1024),
    ]
    if disk:
        fields.append(Integer(f"{prefix}disk", "Root filesystem (MiB)", default=disk_default, min=256,
                              max=1024 * 1024))  # fmt: skip
    return fields


def container_query(ctx: Context, prefix: str = "", extra_sru: float = 0) -> tuple[float, float, float, float]:
    """SOLUTIONS §1.1: ``{cru: cpu, mru: ceil(memory/1024), sru: ceil(disk/1024)}`` plus volumes (GiB)."""
    return (
        float(ctx.get(f"{prefix}cpu", 1)),
        float(math.ceil(int(ctx.get(f"{prefix}memory", 1024)) / 1024)),
        float(math.ceil(int(ctx.get(f"{prefix}disk", 256)) / 1024)) + extra_sru,
        0.0,
    )


def _capable(ctx: Context, resources: Resources) -> list[contracts.CapablePool]:
    cru, mru, sru, hru = resources(ctx)
    return ctx.queries.capable_pools(ctx.owner, cru, mru, sru, hru, MIN_POOL_RUNTIME)


def pool_step(resources: Resources, name: str = "pool_id", title: str = "Capacity pool",
              when: Callable[[Context], bool] | None = None) -> Step:  # fmt: skip
    """SOLUTIONS §1.2: the user's active pools that can carry the deployment and have a node that fits."""

    def fields(ctx: Context) -> list[Question]:
        pools = _capable(ctx, resources)
        choices = [(str(p.pool_id), p.label) for p in pools]
        return [Dropdown(name, "Pool", help="" if choices else NO_POOL, choices=choices)]

    return Step(name, title, fields, when=when or always)


def pools_step(resources: Resources, name: str = "pool_ids", title: str = "Capacity pools", label: str = "Pools",
               nodes_needed: Callable[[Context], int] | None = None) -> Step:  # fmt: skip
    """Several of the user's pools able to carry one workload of ``resources`` (the deployer spreads the workloads
    over them). With ``nodes_needed``, the picked pools must hold that many distinct up nodes that fit: the
    deployer never puts two workloads of such a group on one node, so fewer nodes would fail only after paying
    for the first workloads."""

    def fields(ctx: Context) -> list[Question]:
        choices = [(str(p.pool_id), p.label) for p in _capable(ctx, resources)]
        return [MultiChoice(name, label, help="" if choices else NO_POOL, choices=choices, min_items=1)]

    def check(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
        if nodes_needed is None:
            return {}
        picked = set(answers[name])
        nodes = {n for p in _capable(ctx, resources) if str(p.pool_id) in picked for n in p.node_ids}
        needed = nodes_needed(ctx)
        if len(nodes) >= needed:
            return {}
        return {name: f"these pools have {len(nodes)} node(s) that fit, {needed} are needed; choose more pools"}

    return Step(name, title, fields, check=check)


def only_when(condition: Callable[[Context], bool], *steps: Step) -> list[Step]:
    """``steps`` asked only when ``condition`` holds, on top of their own ``when``.

    Conditions must be re-evaluated from the answers, not from which answers exist: after going back and
    changing a choice, the answers of the branch left behind are still stored.
    """

    def both(own: Callable[[Context], bool]) -> Callable[[Context], bool]:
        return lambda ctx: condition(ctx) and own(ctx)

    return [replace(step, when=both(step.when)) for step in steps]


def pool_node_ids(ctx: Context, resources: Resources, name: str = "pool_id") -> list[str]:
    chosen = int(ctx.get(name, 0))
    return next((p.node_ids for p in _capable(ctx, resources) if p.pool_id == chosen), [])


def network_step() -> Step:
    """SOLUTIONS §1.3: one of the user's networks, shown without the owner prefix."""

    def fields(ctx: Context) -> list[Question]:
        networks = ctx.queries.networks(ctx.owner)
        choices = [(n.name, f"{n.name} ({n.ip_range})") for n in networks]
        return [Choice("network", "Network", help="" if choices else "create a network first", choices=choices)]

    return Step("network", "Network", fields)


def logs_steps() -> list[Step]:
    """SOLUTIONS §1.5: optional log forwarding to a redis channel."""
    ask = Step("logs", "Log forwarding", [Choice("logs", "Push container logs to a redis channel?", choices=YES_NO,
                                                 default="no")])  # fmt: skip
    form = Step(
        "logs_target",
        "Log channel",
        lambda ctx: [
            String("logs_channel_type", "Channel type", default="redis", pattern=r"[a-z]{1,16}", max_length=16),
            String("logs_host", "Host", pattern=r"[A-Za-z0-9.:-]+", max_length=253),
            Integer("logs_port", "Port", min=1, max=65535),
            String(
                "logs_channel_name",
                "Channel name",
                default=ctx.get("name", ""),
                pattern=r"[A-Za-z0-9._-]+",
                max_length=64,
            ),
        ],
        when=lambda ctx: ctx.get("logs") == "yes",
    )
    return [ask, form]


def logs_spec(ctx: Context) -> dict[str, Any] | None:
    if ctx.get("logs") != "yes":
        return None
    return {"channel_type": ctx.get("logs_channel_type"), "host": ctx.get("logs_host"), "port": ctx.get("logs_port"),
            "channel_name": ctx.get("logs_channel_name")}  # fmt: skip


def ssh_key_step(name: str = "ssh_key", required: bool = True, label: str = "SSH public key") -> Step:
    """An uploaded public key (first line used)."""
    field = File(name, label, required=required, accept=(".pub", ".txt", ".key"), max_size=16_384,
                 help="your public key file, e.g. ~/.ssh/id_ed25519.pub")  # fmt: skip

    def check(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
        # The deployer refuses a malformed key too, but only once the user has reached the confirmation.
        line = first_line(answers.get(name))
        return {name: SSH_KEY_HELP} if line and not looks_like_ssh_key(line) else {}

    return Step(name, "SSH key", [field], check=check)


SSH_KEY_HELP = "an ssh public key looks like 'ssh-ed25519 AAAA… comment'"


def looks_like_ssh_key(line: str) -> bool:
    """The deployer's own test of a key line: a type and the key material, at least."""
    return len(line.split()) >= 2


def first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""


def node_steps(resources: Resources, prefix: str = "", pool: str = "pool_id") -> list[Step]:
    """SOLUTIONS §1.6: a node chosen automatically, or from the up nodes of the pool that fit."""
    auto = Step(f"{prefix}node_auto", "Node placement", [Choice(f"{prefix}node_auto", "Select a node automatically?",
                                                                 choices=YES_NO, default="yes")])  # fmt: skip

    def fields(ctx: Context) -> list[Question]:
        cru, mru, sru, hru = resources(ctx)
        query = contracts.NodeChoicesQuery(node_ids=pool_node_ids(ctx, resources, pool), cru=cru, mru=mru, sru=sru,
                                           hru=hru)  # fmt: skip
        nodes = ctx.queries.node_choices(query)
        return [Dropdown(f"{prefix}node_id", "Node", help="" if nodes else "no node with enough capacity",
                         choices=[(n, n) for n in nodes])]  # fmt: skip

    pick = Step(f"{prefix}node", "Node", fields, when=lambda ctx: ctx.get(f"{prefix}node_auto") == "no")
    return [auto, pick]


def ip_step(prefix: str = "", label: str = "IP address") -> Step:
    """SOLUTIONS §1.7: a free IP of the node's range, or the first free one (a new node's range is only known
    once the deployer attaches it to the network)."""

    def fields(ctx: Context) -> list[Question]:
        node = ctx.get(f"{prefix}node_id") if ctx.get(f"{prefix}node_auto") == "no" else None
        ips = ctx.queries.free_ips(ctx.owner, ctx.get("network"), node) if node else []
        choices = [(AUTO, "the first free address (chosen when deploying)"), *((ip, ip) for ip in ips)]
        return [Dropdown(f"{prefix}ip", label, choices=choices, default=AUTO)]

    return Step(f"{prefix}ip", label, fields)


def where(ctx: Context, prefix: str = "", pool: str = "pool_id") -> dict[str, Any]:
    """The deployer's ``where`` for one container: pool, and the node and IP the user chose (if any)."""
    out: dict[str, Any] = {"pool_id": int(ctx.get(pool))}
    if ctx.get(f"{prefix}node_auto") == "no" and ctx.get(f"{prefix}node_id"):
        out["node_id"] = ctx.get(f"{prefix}node_id")
    if ctx.get(f"{prefix}ip") not in (None, AUTO):
        out["ip"] = ctx.get(f"{prefix}ip")
    return out


def ipv6_step(prefix: str = "") -> Step:
    return Step(f"{prefix}ipv6", "Public IPv6", [Choice(f"{prefix}ipv6", "Give the workload a public IPv6 address?",
                                                        choices=YES_NO, default="no")])  # fmt: skip


def confirm_step(rows: Callable[[Context], list[tuple[str, str]]]) -> Step:
    return Step("confirm", "Confirm", lambda ctx: [Confirm("confirm", "Deploy this?", rows=rows(ctx))])


def info_step(name: str, title: str, markdown: str) -> Step:
    return Step(name, title, [Info(name, title, markdown=markdown)])
