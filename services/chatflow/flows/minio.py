"""MinIO (SOLUTIONS §3.6): S3 storage erasure-coded over ZDB namespaces on several nodes, single or master/slave."""

from __future__ import annotations

import math
import secrets

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common
from services.chatflow.questions import Choices, Dropdown, Integer, Question, Secret, String

SETUPS: Choices = [("single", "Single"), ("master_slave", "Master/Slave")]
DISK_TYPES: Choices = [("ssd", "SSD"), ("hdd", "HDD")]
ZDB_GIB = 10.0


def _master_slave(ctx: Context) -> bool:
    return bool(ctx.get("setup") == "master_slave")


def _zdb_query(ctx: Context) -> tuple[float, float, float, float]:
    return (0.0, 0.0, ZDB_GIB, 0.0) if ctx.get("zdb_disk_type", "ssd") == "ssd" else (0.0, 0.0, 0.0, ZDB_GIB)


def _minio_query(ctx: Context) -> tuple[float, float, float, float]:
    # The container's root disk and its 1 GiB data volume are both SSD; the deployer asks for 10 GiB per node.
    return float(ctx.get("cpu", 1)), float(math.ceil(int(ctx.get("memory", 1024)) / 1024)), ZDB_GIB, 0.0


def _zdb_count(ctx: Context) -> int:
    # The data and parity shards, plus the transaction log in master/slave; one ZDB per node.
    return int(ctx.get("data", 2)) + int(ctx.get("parity", 1)) + (1 if _master_slave(ctx) else 0)


def _keys_fields(ctx: Context) -> list[Question]:
    return [
        String(
            "access_key",
            "Access key",
            min_length=3,
            max_length=128,
            default=ctx.short_owner,
            pattern=r"[A-Za-z0-9._-]+",
            pattern_help="letters, digits, '.', '_' and '-'",
        ),
        # A fresh random proposal each time the step is shown; the answer is stored encrypted, never echoed.
        Secret("secret_key", "Secret key", min_length=8, max_length=128, default=secrets.token_hex(16)),
    ]


def _ip(ctx: Context, prefix: str) -> str:
    return "first free" if ctx.get(f"{prefix}ip") == common.AUTO else str(ctx.get(f"{prefix}ip"))


def _rows(ctx: Context) -> list[tuple[str, str]]:
    rows = [
        ("Name", str(ctx.get("name"))),
        ("Network", str(ctx.get("network"))),
        ("Setup", dict(SETUPS)[ctx.get("setup", "single")]),
        ("ZDB disk type", dict(DISK_TYPES)[ctx.get("zdb_disk_type", "ssd")]),
        ("CPU", str(ctx.get("cpu"))),
        ("Memory", f"{ctx.get('memory')} MiB"),
        ("Data / parity", f"{ctx.get('data')} / {ctx.get('parity')}"),
        ("ZDB pools", ", ".join(ctx.get("zdb_pool_ids", []))),
        ("Access key", str(ctx.get("access_key"))),
        ("Primary IP", _ip(ctx, "primary_")),
    ]
    if _master_slave(ctx):
        rows.append(("Secondary IP", _ip(ctx, "secondary_")))
    return rows


def _submit(ctx: Context) -> Submission:
    master_slave = _master_slave(ctx)
    spec = {
        "name": ctx.get("name"),
        "setup": ctx.get("setup"),
        "zdb_disk_type": ctx.get("zdb_disk_type"),
        "cpu": ctx.get("cpu"),
        "memory": ctx.get("memory"),
        "data": ctx.get("data"),
        "parity": ctx.get("parity"),
        "zdb_pool_ids": [int(p) for p in ctx.get("zdb_pool_ids")],
        "primary": common.where(ctx, "primary_", "primary_pool_id"),
        # Decided by the setup, not by stored answers: a secondary chosen before switching to Single may remain.
        "secondary": common.where(ctx, "secondary_", "secondary_pool_id") if master_slave else None,
        "network": ctx.get("network"),
        "access_key": ctx.get("access_key"),
        "logs": common.logs_spec(ctx),
        "ssh_key": common.first_line(ctx.get("ssh_key")) or None,
        "public_ipv6": ctx.get("ipv6") == "yes",
    }
    return Submission("minio", spec, {"secret_key": ctx.secrets["secret_key"]})


FLOW = Flow(
    type="minio",
    title="MinIO",
    description="S3-compatible object storage, erasure-coded over storage namespaces on several nodes.",
    family="advanced",
    icon="/icons/minio.svg",
    steps=[
        common.name_step("minio"),
        Step("setup", "Setup", [Dropdown("setup", "Setup type", choices=SETUPS, default="single")]),
        Step(
            "zdb_disk_type",
            "Storage disks",
            [Dropdown("zdb_disk_type", "Disk type of the storage namespaces", choices=DISK_TYPES, default="ssd")],
        ),
        Step("resources", "Container resources", common.resources_fields(disk=False)),
        Step(
            "shards",
            "Erasure coding",
            [
                Integer("data", "Data locations", default=2, min=1, max=32),
                Integer("parity", "Tolerated failures (parity)", default=1, min=1, max=32),
            ],
        ),
        common.pools_step(
            _zdb_query, "zdb_pool_ids", "Storage placement", "Pools for the storage namespaces", nodes_needed=_zdb_count
        ),
        common.pool_step(_minio_query, "primary_pool_id", "Primary placement"),
        *common.node_steps(_minio_query, "primary_", "primary_pool_id"),
        *common.only_when(
            _master_slave,
            common.pool_step(_minio_query, "secondary_pool_id", "Secondary placement"),
            *common.node_steps(_minio_query, "secondary_", "secondary_pool_id"),
        ),
        common.network_step(),
        Step("keys", "Access keys", _keys_fields),
        *common.logs_steps(),
        common.ssh_key_step(required=False, label="SSH public key (optional)"),
        common.ip_step("primary_", "Primary IP"),
        *common.only_when(_master_slave, common.ip_step("secondary_", "Secondary IP")),
        common.ipv6_step(),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
