"""Request bodies of the API, validated strictly like the explorer's Go decoder did.

Types are strict (a string is not an int, 1.0 is not an int, true is not an int) and a missing field takes its
zero value, as with Go's encoding/json; the business rules (§4) then reject zero values where they matter.
Unknown fields are ignored. IP addresses are parsed and re-emitted in canonical text form, because that is what
the explorer signed and stored (§7.1).
"""

from __future__ import annotations

import ipaddress
from enum import IntEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from emulators.grid.enums import MAX_INT64, DiskType, NextAction, WorkloadType, ZdbMode

# Pool amounts are bounded so that the escrow amount (741 * cus + 556 * sus stroops) stays inside int64.
MAX_POOL_UNITS = 10**15

UInt = Annotated[int, Field(ge=0, le=MAX_INT64)]
PoolUnits = Annotated[int, Field(ge=0, le=MAX_POOL_UNITS)]


def _canonical_ip(value: str) -> str:
    return str(ipaddress.ip_address(value))


def _ip_range(value: str) -> str:
    ipaddress.ip_network(value, strict=False)
    return value  # signed "exactly as sent" (§7.1), only checked here


def _member_of(enum: type[IntEnum]) -> AfterValidator:
    def check(value: int) -> int:
        if value not in {member.value for member in enum}:
            raise ValueError(f"unknown {enum.__name__} value {value}")
        return value

    return AfterValidator(check)


IP = Annotated[str, AfterValidator(_canonical_ip)]
IPRange = Annotated[str, AfterValidator(_ip_range)]
# Enumerations stay plain ints (their wire form); only membership is checked.
DiskTypeValue = Annotated[int, _member_of(DiskType)]
ZdbModeValue = Annotated[int, _member_of(ZdbMode)]
NextActionValue = Annotated[int, _member_of(NextAction)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class SigningRequest(_Body):
    signers: list[UInt] = []
    quorum_min: UInt = 0


class WorkloadInfo(_Body):
    """The common ("info") fields of §5.7 that a client sends."""

    workload_id: UInt = 0
    node_id: str = ""
    pool_id: UInt = 0
    reference: str = ""
    description: str = ""
    customer_tid: UInt = 0
    customer_signature: str = ""
    next_action: NextActionValue = 0
    epoch: UInt = 0
    metadata: str = ""
    workload_type: int
    signing_request_provision: SigningRequest = SigningRequest()
    signing_request_delete: SigningRequest = SigningRequest()


class Capacity(_Body):
    cpu: UInt = 0
    memory: UInt = 0
    disk_size: UInt = 0
    disk_type: DiskTypeValue = 0


class ContainerVolume(_Body):
    volume_id: str = ""
    mountpoint: str = ""


class NetworkConnection(_Body):
    network_id: str = ""
    ipaddress: IP
    public_ip6: bool = False


class Container(WorkloadInfo):
    flist: str = ""
    hub_url: str = ""
    environment: dict[str, str] = {}
    secret_environment: dict[str, str] = {}
    entrypoint: str = ""
    interactive: bool = False
    volumes: list[ContainerVolume] = []
    network_connection: list[NetworkConnection] = []
    logs: list[Any] = []
    stats_aggregator: list[Any] = []
    capacity: Capacity = Capacity()


class Volume(WorkloadInfo):
    size: UInt = 0
    type: DiskTypeValue = 0


class Zdb(WorkloadInfo):
    size: UInt = 0
    mode: ZdbModeValue = 0
    password: str = ""
    disk_type: DiskTypeValue = 0
    public: bool = False
    stats_aggregator: list[Any] = []


class Kubernetes(WorkloadInfo):
    size: Annotated[int, Field(ge=1, le=2)] = 1
    network_id: str = ""
    ipaddress: IP
    cluster_secret: str = ""
    master_ips: list[IP] = []
    ssh_keys: list[str] = []
    stats_aggregator: list[Any] = []


class Peer(_Body):
    public_key: str = ""
    endpoint: str = ""
    iprange: IPRange
    allowed_iprange: list[IPRange] = []


class NetworkResource(WorkloadInfo):
    name: str = ""
    network_iprange: IPRange
    iprange: IPRange
    wireguard_private_key_encrypted: str = ""
    wireguard_public_key: str = ""
    wireguard_listen_port: Annotated[int, Field(ge=0, le=65535)] = 0
    peers: list[Peer] = []
    stats_aggregator: list[Any] = []


class Proxy(WorkloadInfo):
    domain: str = ""
    addr: str = ""
    port: Annotated[int, Field(ge=0, le=65535)] = 0
    port_tls: Annotated[int, Field(ge=0, le=65535)] = 0


class ReverseProxy(WorkloadInfo):
    domain: str = ""
    secret: str = ""


class Subdomain(WorkloadInfo):
    domain: str = ""
    ips: list[IP] = []


class DomainDelegate(WorkloadInfo):
    domain: str = ""


class Gateway4to6(WorkloadInfo):
    public_key: str = ""


WORKLOAD_MODELS: dict[WorkloadType, type[WorkloadInfo]] = {
    WorkloadType.CONTAINER: Container,
    WorkloadType.VOLUME: Volume,
    WorkloadType.ZDB: Zdb,
    WorkloadType.KUBERNETES: Kubernetes,
    WorkloadType.NETWORK_RESOURCE: NetworkResource,
    WorkloadType.PROXY: Proxy,
    WorkloadType.REVERSE_PROXY: ReverseProxy,
    WorkloadType.SUBDOMAIN: Subdomain,
    WorkloadType.DOMAIN_DELEGATE: DomainDelegate,
    WorkloadType.GATEWAY4TO6: Gateway4to6,
}


class PoolData(_Body):
    pool_id: UInt = 0
    cus: PoolUnits = 0
    sus: PoolUnits = 0
    node_ids: list[str] = []
    currencies: list[str] = []


class PoolCreate(_Body):
    json_text: str = Field("", alias="json")
    data_reservation: PoolData = PoolData()
    customer_tid: UInt = 0
    customer_signature: str = ""


class SignRequest(_Body):
    signature: str = ""
    tid: UInt = 0
    epoch: UInt = 0


class UserCreate(_Body):
    name: str = ""
    email: str = ""
    pubkey: str = ""
    host: str = ""
    description: str = ""


def describe(error: ValidationError) -> str:
    """A one-line message for the first validation error, naming the offending field."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"invalid {where}: {first['msg']}"
