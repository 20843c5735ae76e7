"""Minio (SOLUTIONS §3.6): S3 storage erasure-coded over ZDB namespaces, single or master/slave.

Stages: 0 every ZDB; 1 the primary (and secondary) data volume; 2 the MinIO container(s), whose shard list is
built from the namespaces the ZDB nodes reported in stage 0.
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar, Literal

from pydantic import Field, StrictInt, model_validator

from services.common.capacity import Resources
from services.deployer.grid.kinds import DiskType, Kind, ZdbMode
from services.deployer.solutions import images
from services.deployer.solutions.base import (
    Deployed,
    Placement,
    PlanContext,
    Sealed,
    SealedTemplate,
    Spec,
    WorkloadPlan,
    WorkloadView,
    container_fields,
)
from services.deployer.solutions.expose_use import ExposeHooks
from services.deployer.solutions.fields import Logs, MiB_PER_GiB, NetworkName, PoolId, SshKey, Where
from services.deployer.solutions.kubernetes import spread
from services.deployer.solutions.listing import container_listing, wids

ZDB_GIB = 10
VOLUME_GIB = 1
ROOT_DISK_MIB = 256
PORT = 9000
ZDB_SEALED = "zdb_password"  # the generated secret: every ZDB's password, inside every shard URL
DISK_TYPES = {"ssd": DiskType.SSD, "hdd": DiskType.HDD}


class MinioSpec(Spec):
    secret_names: ClassVar[tuple[str, ...]] = ("secret_key",)
    generated_secrets: ClassVar[tuple[str, ...]] = (ZDB_SEALED,)

    setup: Literal["single", "master_slave"] = "single"
    zdb_disk_type: Literal["ssd", "hdd"] = "ssd"
    cpu: StrictInt = Field(default=1, ge=1, le=64)
    memory: StrictInt = Field(default=1024, ge=1024, le=256 * 1024)
    data: StrictInt = Field(default=2, ge=1, le=32)
    parity: StrictInt = Field(default=1, ge=1, le=32)
    zdb_pool_ids: tuple[PoolId, ...] = Field(min_length=1, max_length=64)
    primary: Where
    secondary: Where | None = None
    network: NetworkName
    access_key: str = Field(min_length=3, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
    logs: Logs | None = None
    ssh_key: SshKey | None = None
    public_ipv6: bool = False

    @model_validator(mode="after")
    def _secondary_iff_master_slave(self) -> MinioSpec:
        if (self.setup == "master_slave") != (self.secondary is not None):
            raise ValueError("a secondary placement is required for master/slave, and only then")
        return self

    def zdb_roles(self) -> list[str]:
        """``zdb-1`` … ``zdb-K``: the data and parity shards, then (master/slave) the transaction log."""
        count = self.data + self.parity + (1 if self.setup == "master_slave" else 0)
        return [f"zdb-{i}" for i in range(1, count + 1)]

    def minio_roles(self) -> dict[str, Where]:
        return {"primary": self.primary, **({"secondary": self.secondary} if self.secondary else {})}


class Minio(ExposeHooks):
    spec_model: ClassVar[type[Spec]] = MinioSpec
    type: ClassVar[str] = "minio"
    exposed_role: ClassVar[str | None] = "primary"  # where Solution Expose publishes a port

    def placements(self, spec: MinioSpec) -> list[Placement]:
        gib = {"sru": ZDB_GIB} if spec.zdb_disk_type == "ssd" else {"hru": ZDB_GIB}
        roles = spec.zdb_roles()
        zdbs = [
            Placement(role, pool, Resources(**gib), network=False, group="zdb", alternatives=others)
            for role, (pool, others) in zip(roles, spread(spec.zdb_pool_ids, len(roles)), strict=True)
        ]
        query = Resources(cru=spec.cpu, mru=-(-spec.memory // MiB_PER_GiB), sru=ZDB_GIB)
        # A public IPv6 only exists on nodes that have one: the nodes must be chosen for it.
        minios = [Placement(role, w.pool_id, query, w.node_id, ip=w.ip, public_ipv6=spec.public_ipv6)
                  for role, w in spec.minio_roles().items()]  # fmt: skip
        return zdbs + minios

    def network_of(self, spec: MinioSpec) -> str | None:
        return spec.network

    def build(self, spec: MinioSpec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        if stage == 0:
            return [_zdb(spec, role) for role in spec.zdb_roles()]
        if stage == 1:
            volume = {"size": VOLUME_GIB, "type": int(DiskType.SSD)}
            return [WorkloadPlan(f"{role}-volume", Kind.VOLUME, role, volume) for role in spec.minio_roles()]
        if stage == 2:
            return [_container(spec, ctx, role) for role in spec.minio_roles()]
        return None

    def listing(self, spec: MinioSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": spec.name, "wids": wids(workloads), "Network": spec.network}
        for role in spec.minio_roles():
            prefix = f"{role.capitalize()} "
            keys = container_listing(workloads, role, spec.network, prefix)
            # SOLUTIONS §6.2 lists no node for MinIO containers.
            out |= {k: v for k, v in keys.items() if k != f"{prefix}Node"}
        return out

    def outputs(self, spec: MinioSpec, workloads: list[WorkloadView]) -> dict[str, Any]:
        out = {}
        for role in spec.minio_roles():
            ip = container_listing(workloads, role, spec.network).get("IPv4 Address")
            if ip:
                out[f"{role.capitalize()} URL"] = f"http://{ip}:{PORT}"
        return out


def _zdb(spec: MinioSpec, role: str) -> WorkloadPlan:
    fields = {
        "size": ZDB_GIB,
        "mode": int(ZdbMode.SEQ),
        "password": Sealed(ZDB_SEALED),
        "disk_type": int(DISK_TYPES[spec.zdb_disk_type]),
        "public": False,
        "stats_aggregator": [],
    }
    return WorkloadPlan(role, Kind.ZDB, role, fields)


def _container(spec: MinioSpec, ctx: PlanContext, role: str) -> WorkloadPlan:
    placed = ctx.placed[role]
    assert ctx.network is not None and placed.ip is not None  # the deployer placed it
    shards = [_shard(ctx.deployed[zdb]) for zdb in spec.zdb_roles()]
    tlog = shards.pop() if spec.setup == "master_slave" else None
    environment = {"DATA": str(spec.data), "PARITY": str(spec.parity), "ACCESS_KEY": spec.access_key}
    if spec.ssh_key:
        environment["SSH_KEY"] = spec.ssh_key
    environment["MINIO_PROMETHEUS_AUTH_TYPE"] = "public"
    secrets: dict[str, Sealed | SealedTemplate] = {
        "SHARDS": SealedTemplate(",".join(shards), (ZDB_SEALED,)),
        "SECRET_KEY": Sealed("secret_key"),
    }
    if tlog:
        # The primary writes the transaction log; the secondary replays it as its master.
        secrets["TLOG" if role == "primary" else "MASTER"] = SealedTemplate(tlog, (ZDB_SEALED,))
    fields = container_fields(
        flist=images.MINIO,
        cpu=spec.cpu,
        memory=spec.memory,
        disk=ROOT_DISK_MIB,
        network=ctx.network,
        ip=placed.ip,
        public_ipv6=spec.public_ipv6,
        environment=environment,
        secret_environment=secrets,
        volumes=[{"volume_id": f"{ctx.deployed[f'{role}-volume'].grid_id}-1", "mountpoint": "/data"}],
        logs=spec.logs.wire() if spec.logs else None,
    )
    return WorkloadPlan(role, Kind.CONTAINER, role, fields)


def _shard(zdb: Deployed) -> str:
    """``<Namespace>:{zdb_password}@[<ip>]:<Port>`` from a ZDB's result (a template: the password is a secret).

    Raises:
        ValueError: when the node's result lacks the namespace, an address or the port.
    """
    data = zdb.data
    ips = data.get("IPs") or [data.get("IP")]
    namespace, ip, port = data.get("Namespace"), zdb_address(ips if isinstance(ips, list) else []), data.get("Port")
    if not (namespace and ip and port):
        raise ValueError(f"{zdb.key}: the node reported no namespace, address or port")
    return f"{_literal(namespace)}:{{{ZDB_SEALED}}}@[{_literal(ip)}]:{_literal(port)}"


# Yggdrasil overlay addresses (0200::/7): reachable only from hosts on that overlay.
_YGGDRASIL = ipaddress.ip_network("200::/7")


def zdb_address(ips: list[Any]) -> str | None:
    """The address a MinIO container on another node reaches a ZDB at, whatever order the node listed them in.

    Nodes report several (GRID_API §5.10) and the real grid put the IPv4 or the node's LAN address first as
    often as its public IPv6: the first public IPv6, else a public IPv4, else a yggdrasil address; a private or
    link-local address (another farm cannot reach it) only when the node reported nothing else. None if empty.
    """

    def rank(text: str) -> int:
        address = ipaddress.ip_address(text)
        if address.version == 6 and address in _YGGDRASIL:
            return 2
        if address.is_global:
            return 0 if address.version == 6 else 1
        return 3

    valid = []
    for item in ips:
        if not isinstance(item, str):
            continue  # ip_address(5) would be 0.0.0.5
        try:
            valid.append((rank(item), item))
        except (TypeError, ValueError):
            continue  # not an address: never a shard target
    return min(valid, key=lambda pair: pair[0])[1] if valid else None


def _literal(value: object) -> str:
    """``value`` as literal text inside a ``str.format`` template."""
    return str(value).replace("{", "{{").replace("}", "}}")


PLANNER = Minio()
