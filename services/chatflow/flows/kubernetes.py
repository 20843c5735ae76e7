"""Kubernetes (SOLUTIONS §3.5): a k3s master and N worker VMs on distinct nodes spread over the chosen pools.

The deployer picks the nodes (and attaches them to the network), so the VMs' IPs are the first free ones of each
node: the wizard cannot offer per-VM addresses before the nodes are known.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common
from services.chatflow.questions import Choices, Dropdown, File, Integer, Question, Secret

SIZES: Choices = [("1", "1 vCPU 2 GiB RAM 50 GiB disk"), ("2", "2 vCPU 4 GiB RAM 100 GiB disk")]
# GRID_API §10.1: what one VM of each size uses (cru, mru GiB, sru GiB, hru GiB).
QUERIES = {"1": (1.0, 2.0, 50.0, 0.0), "2": (2.0, 4.0, 100.0, 0.0)}
MAX_KEYS = 32


def _query(ctx: Context) -> tuple[float, float, float, float]:
    return QUERIES[str(ctx.get("size", "1"))]


def _vms(ctx: Context) -> int:
    return 1 + int(ctx.get("workers", 1))


def ssh_keys(text: str | None) -> list[str]:
    """Every non-empty line of the uploaded file is one key."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _access_fields(ctx: Context) -> list[Question]:
    return [
        File(
            "ssh_keys",
            "SSH public keys",
            accept=(".pub", ".txt", ".key"),
            max_size=65_536,
            help="one key per line; use RSA keys: the VMs run Dropbear",
        ),
        # A fresh random proposal each time the step is shown; the answer is stored encrypted, never echoed.
        Secret(
            "cluster_secret",
            "Cluster secret",
            min_length=8,
            default=secrets.token_hex(16),
            help="the k3s token the workers use to join the master",
        ),
    ]


def _check_keys(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
    keys = ssh_keys(answers.get("ssh_keys"))
    if len(keys) > MAX_KEYS:
        return {"ssh_keys": f"at most {MAX_KEYS} keys"}
    bad = next((n for n, key in enumerate(keys, start=1) if not common.looks_like_ssh_key(key)), None)
    return {"ssh_keys": f"key {bad}: {common.SSH_KEY_HELP}"} if bad else {}


def _rows(ctx: Context) -> list[tuple[str, str]]:
    return [
        ("Name", str(ctx.get("name"))),
        ("Network", str(ctx.get("network"))),
        ("Node size", dict(SIZES)[str(ctx.get("size", "1"))]),
        ("Workers", str(ctx.get("workers"))),
        ("Pools", ", ".join(ctx.get("pool_ids", []))),
        ("SSH keys", str(len(ssh_keys(ctx.get("ssh_keys"))))),
        ("IPs", "the first free address of each node (chosen when deploying)"),
    ]


def _submit(ctx: Context) -> Submission:
    spec = {
        "name": ctx.get("name"),
        "size": int(ctx.get("size", "1")),
        "workers": ctx.get("workers"),
        "pool_ids": [int(p) for p in ctx.get("pool_ids")],
        "network": ctx.get("network"),
        "ssh_keys": ssh_keys(ctx.get("ssh_keys")),
    }
    return Submission("kubernetes", spec, {"cluster_secret": ctx.secrets["cluster_secret"]})


FLOW = Flow(
    type="kubernetes",
    title="Kubernetes",
    description="A k3s cluster of one master and several workers (virtual machines) in your private network.",
    family="advanced",
    icon="/icons/kubernetes.svg",
    steps=[
        common.name_step("kubernetes"),
        Step(
            "cluster",
            "Cluster size",
            [
                Dropdown("size", "Node size", choices=SIZES, default="1"),
                Integer("workers", "Number of workers", default=1, min=1, max=20),
            ],
        ),
        common.pools_step(_query, title="Pools", label="Pools to spread the VMs over", nodes_needed=_vms),
        common.network_step(),
        Step("access", "Access", _access_fields, check=_check_keys),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
