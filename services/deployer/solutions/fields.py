"""Spec building blocks shared by several solutions (SOLUTIONS §1): resources, log forwarding, ssh keys, IPs."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from services.common import grid_rules
from services.common.capacity import Resources

MiB_PER_GiB = 1024


def _ssh_key(value: str) -> str:
    # SOLUTIONS §3.3: the first line of the uploaded file is the key.
    line = value.strip().splitlines()[0].strip() if value.strip() else ""
    if not line or len(line.split()) < 2:
        raise ValueError("an ssh public key looks like 'ssh-ed25519 AAAA… comment'")
    return line


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError("not an IPv4 address") from None


def _valid(problem: Callable[[str], str | None], normal: Callable[[str], str]) -> Callable[[str], str]:
    """A pydantic validator from one of the shared rules: the normal form of the value, or its problem."""

    def check(value: str) -> str:
        value = normal(value)
        if (reason := problem(value)) is not None:
            raise ValueError(reason)
        return value

    return check


def matching(pattern: str, help_text: str) -> AfterValidator:
    """A validator of the whole value against ``pattern`` (Python ``re``: the shared rules use look-aheads, which
    pydantic's own ``pattern`` engine does not know), failing with ``help_text``."""

    def check(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise ValueError(help_text)
        return value

    return AfterValidator(check)


SshKey = Annotated[str, Field(max_length=8192), AfterValidator(_ssh_key)]
IPv4 = Annotated[str, Field(max_length=15), AfterValidator(_ipv4)]
PoolId = Annotated[StrictInt, Field(gt=0, le=2**53)]
NodeId = Annotated[str, Field(min_length=32, max_length=64, pattern=r"^[1-9A-HJ-NP-Za-km-z]+$")]
NetworkName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")]
_name = grid_rules.normal_name
Domain = Annotated[str, Field(max_length=512), AfterValidator(_valid(grid_rules.domain_problem, _name))]
Label = Annotated[str, Field(max_length=128), AfterValidator(_valid(grid_rules.label_problem, _name))]
WireguardKey = Annotated[
    str, Field(max_length=128), AfterValidator(_valid(grid_rules.wireguard_key_problem, str.strip))
]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContainerResources(Frozen):
    """SOLUTIONS §1.4: CPU ≥ 1, memory ≥ 1024 MiB, root filesystem ≥ 256 MiB."""

    cpu: StrictInt = Field(default=1, ge=1, le=64)
    memory: StrictInt = Field(default=1024, ge=1024, le=256 * 1024)
    disk: StrictInt = Field(default=256, ge=256, le=1024 * 1024)

    def query(self, extra_sru: float = 0, extra_hru: float = 0) -> Resources:
        """SOLUTIONS §1.1: ``{cru: cpu, mru: ceil(memory/1024), sru: ceil(disk/1024)}`` plus volumes."""
        return Resources(
            cru=self.cpu,
            mru=-(-self.memory // MiB_PER_GiB),
            sru=-(-self.disk // MiB_PER_GiB) + extra_sru,
            hru=extra_hru,
        )


class Logs(Frozen):
    """SOLUTIONS §1.5: push container logs to a redis channel."""

    channel_type: str = Field(default="redis", pattern=r"^[a-z]{1,16}$")
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:-]+$")
    port: StrictInt = Field(ge=1, le=65535)
    channel_name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")

    def wire(self) -> list[dict[str, Any]]:
        base = f"redis://{self.host}:{self.port}/{self.channel_name}"
        return [{"type": self.channel_type, "data": {"stdout": f"{base}-stdout", "stderr": f"{base}-stderr"}}]


class Where(Frozen):
    """Where one container goes: the user's pool, optionally a node and an IP they picked."""

    pool_id: PoolId
    node_id: NodeId | None = None
    ip: IPv4 | None = None


class GatewayChoice(Frozen):
    """A gateway (its node id) and the user's pool that contains it: that pool pays for the gateway workloads
    (SOLUTIONS §1.9), never the pool of the solution behind it."""

    node_id: NodeId
    pool_id: PoolId
