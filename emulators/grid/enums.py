"""Enumerations of the explorer wire format (GRID_API.md §6) and the names used in signature challenges."""

from __future__ import annotations

from enum import IntEnum


class WorkloadType(IntEnum):
    ZDB = 0
    CONTAINER = 1
    VOLUME = 2
    NETWORK = 3
    KUBERNETES = 4
    PROXY = 5
    REVERSE_PROXY = 6
    SUBDOMAIN = 7
    DOMAIN_DELEGATE = 8
    GATEWAY4TO6 = 9
    NETWORK_RESOURCE = 10

    @property
    def kind(self) -> str:
        """Lower-case name used for per-kind settings (e.g. ``deploy_latency.container``)."""
        return self.name.lower()


# Types that run on a gateway; every other creatable type must target a plain node (§13).
GATEWAY_TYPES = frozenset(
    {
        WorkloadType.PROXY,
        WorkloadType.REVERSE_PROXY,
        WorkloadType.SUBDOMAIN,
        WorkloadType.DOMAIN_DELEGATE,
        WorkloadType.GATEWAY4TO6,
    }
)

# NETWORK is legacy: the explorer of the contract never accepted new ones.
CREATABLE_TYPES = frozenset(WorkloadType) - {WorkloadType.NETWORK}

WORKLOAD_KINDS = tuple(t.kind for t in WorkloadType if t in CREATABLE_TYPES)


class NextAction(IntEnum):
    CREATE = 0
    SIGN = 1
    PAY = 2
    DEPLOY = 3
    DELETE = 4
    INVALID = 5
    DELETED = 6
    MIGRATED = 7


class ResultState(IntEnum):
    ERROR = 0
    OK = 1
    DELETED = 2


class DiskType(IntEnum):
    HDD = 0
    SSD = 1


class ZdbMode(IntEnum):
    SEQ = 0
    USER = 1


CURRENCIES = ("TFT", "TFTA", "FreeTFT")

MAX_INT64 = 9_223_372_036_854_775_807
