"""Monitoring (SOLUTIONS §3.7): Redis (the log sink), Prometheus with a data volume, and Grafana in a user network."""

from __future__ import annotations

from typing import Any

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common
from services.chatflow.questions import Integer

# In the order they are placed and deployed: Prometheus and Grafana send their logs to the Redis.
COMPONENTS = (("redis", "Redis"), ("prometheus", "Prometheus"), ("grafana", "Grafana"))


def _query(prefix: str) -> common.Resources:
    def query(ctx: Context) -> tuple[float, float, float, float]:
        # SOLUTIONS §3.7 note: Prometheus' volume is counted once, as a volume, not again in its root disk.
        volume = int(ctx.get("volume_size", 10)) if prefix == "prometheus_" else 0
        return common.container_query(ctx, prefix, extra_sru=volume)

    return query


def _placement_steps(prefix: str, title: str) -> list[Step]:
    resources = _query(prefix)
    pool = f"{prefix}pool_id"
    return [common.pool_step(resources, pool, f"{title} placement"), *common.node_steps(resources, prefix, pool)]


def _component(ctx: Context, prefix: str) -> dict[str, Any]:
    resources = {name: ctx.get(f"{prefix}{name}") for name in ("cpu", "memory", "disk")}
    return {"resources": resources, "where": common.where(ctx, prefix, f"{prefix}pool_id")}


def _rows(ctx: Context) -> list[tuple[str, str]]:
    rows = [("Name", str(ctx.get("name"))), ("Network", str(ctx.get("network")))]
    for key, title in COMPONENTS:
        p = f"{key}_"
        node = ctx.get(f"{p}node_id") if ctx.get(f"{p}node_auto") == "no" else "chosen automatically"
        ip = "first free" if ctx.get(f"{p}ip") == common.AUTO else str(ctx.get(f"{p}ip"))
        rows += [
            (f"{title} node", str(node)),
            (f"{title} CPU", str(ctx.get(f"{p}cpu"))),
            (f"{title} memory", f"{ctx.get(f'{p}memory')} MiB"),
            (f"{title} disk", f"{ctx.get(f'{p}disk')} MiB"),
            (f"{title} IP", ip),
        ]
        if key == "prometheus":
            rows.append(("Prometheus volume", f"{ctx.get('volume_size')} GiB at /data"))
    return rows


def _submit(ctx: Context) -> Submission:
    spec = {
        "name": ctx.get("name"),
        "ssh_key": common.first_line(ctx.get("ssh_key")),
        **{key: _component(ctx, f"{key}_") for key, _ in COMPONENTS},
        "volume_size": ctx.get("volume_size"),
        "network": ctx.get("network"),
    }
    return Submission("monitoring", spec)


FLOW = Flow(
    type="monitoring",
    title="Monitoring",
    description="Prometheus, Grafana and a Redis log sink in your private network.",
    family="advanced",
    icon="/icons/monitoring.svg",
    steps=[
        common.name_step("monitoring"),
        common.ssh_key_step(),
        Step(
            "prometheus_resources",
            "Prometheus resources",
            [
                *common.resources_fields("prometheus_"),
                Integer("volume_size", "Data volume (GiB), mounted at /data", default=10, min=1, max=10 * 1024),
            ],
        ),
        Step("grafana_resources", "Grafana resources", common.resources_fields("grafana_")),
        Step("redis_resources", "Redis resources", common.resources_fields("redis_")),
        *(step for key, title in COMPONENTS for step in _placement_steps(f"{key}_", title)),
        common.network_step(),
        *(common.ip_step(f"{key}_", f"{title} IP") for key, title in COMPONENTS),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
