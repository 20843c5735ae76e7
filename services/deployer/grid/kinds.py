"""Workload kinds the deployer creates and their wire enumerations (GRID_API §6)."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class WorkloadType(IntEnum):
    """``workload_type`` on the wire (GRID_API §6.1)."""

    ZDB = 0
    CONTAINER = 1
    VOLUME = 2
    KUBERNETES = 4
    PROXY = 5
    REVERSE_PROXY = 6
    SUBDOMAIN = 7
    DOMAIN_DELEGATE = 8
    GATEWAY4TO6 = 9
    NETWORK_RESOURCE = 10


class Kind(StrEnum):
    """The ``kind`` column of ``deployer.workloads``: one per workload type the marketplace deploys."""

    ZDB = "zdb"
    CONTAINER = "container"
    VOLUME = "volume"
    KUBERNETES = "kubernetes"
    NETWORK_RESOURCE = "network_resource"
    # Gateway kinds (GRID_API §5.9): they run on a gateway's node id, paid by the gateway pool (SOLUTIONS §1.9).
    PROXY = "proxy"
    REVERSE_PROXY = "reverse_proxy"
    SUBDOMAIN = "subdomain"
    DOMAIN_DELEGATE = "domain_delegate"
    GATEWAY4TO6 = "gateway4to6"

    @property
    def on_gateway(self) -> bool:
        """Whether workloads of this kind run on a gateway (every other kind runs on a node)."""
        return self in GATEWAY_KINDS

    @property
    def wire_type(self) -> WorkloadType:
        return WorkloadType[self.name]


GATEWAY_KINDS = frozenset({Kind.PROXY, Kind.REVERSE_PROXY, Kind.SUBDOMAIN, Kind.DOMAIN_DELEGATE, Kind.GATEWAY4TO6})


class NextAction(IntEnum):
    """``next_action`` (GRID_API §6.2)."""

    CREATE = 0
    SIGN = 1
    PAY = 2
    DEPLOY = 3
    DELETE = 4
    INVALID = 5
    DELETED = 6
    MIGRATED = 7


class ResultState(IntEnum):
    """``result.state`` (GRID_API §6.3)."""

    ERROR = 0
    OK = 1
    DELETED = 2


class DiskType(IntEnum):
    HDD = 0
    SSD = 1


class ZdbMode(IntEnum):
    SEQ = 0
    USER = 1
