"""Start-up configuration (frozen) and the runtime knobs that `/_emulator/config` may change while running."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from emulators.grid.enums import WORKLOAD_KINDS

# Upper bounds keep every value a client or operator can set far away from float/int64 edge cases.
MAX_LATENCY_SECONDS = 86_400.0
MAX_AUTO_PAY_SECONDS = 86_400.0
MAX_PAYMENT_DELAY_SECONDS = 3_600.0


class SettingError(ValueError):
    """A setting has a value outside its domain; the message names the setting."""


def parse_seconds(name: str, value: Any, maximum: float = MAX_LATENCY_SECONDS) -> float:
    """A finite number of seconds in [0, maximum]; strings are accepted for CLI/env values.

    Raises SettingError naming ``name`` otherwise.
    """
    return _parse_number(name, value, maximum, "a number of seconds")


def parse_rate(name: str, value: Any) -> float:
    """A fraction in [0, 1]. Raises SettingError naming ``name`` otherwise."""
    return _parse_number(name, value, 1.0, "a fraction between 0 and 1")


LOST_ANSWER_MODES = ("500", "drop")


def parse_lost_mode(name: str, value: Any) -> str:
    """How a lost answer looks: ``500`` (the change is committed, the answer is a 500) or ``drop`` (the
    connection is closed without an answer). Raises SettingError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value not in LOST_ANSWER_MODES:
        raise SettingError(f"{name} must be one of {', '.join(LOST_ANSWER_MODES)}")
    return str(value)


def parse_flag(name: str, value: Any) -> bool:
    """A boolean; ``true``/``false``/``on``/``off``/``1``/``0`` strings are accepted for CLI/env values.

    Raises SettingError naming ``name`` otherwise.
    """
    if isinstance(value, str):
        value = {"true": True, "on": True, "1": True, "false": False, "off": False, "0": False}.get(
            value.strip().lower(), value
        )
    if not isinstance(value, bool):
        raise SettingError(f"{name} must be true or false")
    return value


# The official images of SOLUTIONS §2 (and Grafana, which the monitoring solution deploys): what the hub serves
# by default. A container whose flist is not known fails on its node, as an image the hub does not have does.
OFFICIAL_FLISTS = (
    "https://hub.grid.tf/tf-bootable/3bot-ubuntu-18.04.flist",
    "https://hub.grid.tf/tf-bootable/3bot-ubuntu-19.10.flist",
    "https://hub.grid.tf/tf-bootable/3bot-ubuntu-20.04.flist",
    "https://hub.grid.tf/tf-official-apps/minio:latest.flist",
    "https://hub.grid.tf/tf-official-apps/redis_zinit.flist",
    "https://hub.grid.tf/tf-official-apps/prometheus:latest.flist",
    "https://hub.grid.tf/tf-official-apps/tcprouter:latest.flist",
    "https://hub.grid.tf/tf-official-apps/grafana-grafana-latest.flist",
    # The marketplace's default community images (its FLIST_GITEA, FLIST_GOLLUM, FLIST_TLS_PROXY settings).
    "https://hub.grid.tf/threefolddev/threefolddev-gitea_all_in_one-latest.flist",
    "https://hub.grid.tf/threefolddev/threefolddev-gollum-latest.flist",
    "https://hub.grid.tf/tf-official-apps/tls-proxy:latest.flist",
    "https://hub.grid.tf/threefolddev/threefolddev-js-sdk-latest.flist",  # FLIST_THREEBOT
    # Its apps' images (FLIST_CRYPTPAD, _DISCOURSE, _MATTERMOST, _PEERTUBE, _TAIGA, _PUBLISHER).
    "https://hub.grid.tf/threefolddev/3bot-cryptopad-latest.flist",
    "https://hub.grid.tf/threefolddev/threefolddev-discourse_all_in_one-latest.flist",
    "https://hub.grid.tf/threefolddev/threefolddev-mattermost-latest.flist",
    "https://hub.grid.tf/threefolddev/threefolddev-peertube-latest.flist",
    "https://hub.grid.tf/threefolddev/threefolddev-taiga-latest.flist",
    "https://hub.grid.tf/threefolddev/threefolddev-publisher-latest.flist",
)
MAX_FLISTS = 10_000
# Other customers never take more than this share of a node: every node keeps room for the marketplace.
MAX_OTHER_TENANTS = 0.5


def parse_other_tenants(name: str, value: Any) -> float:
    """The largest share of a node's resources other customers use, in [0, MAX_OTHER_TENANTS]."""
    return _parse_number(name, value, MAX_OTHER_TENANTS, f"a fraction between 0 and {MAX_OTHER_TENANTS:g}")


def parse_flists(name: str, value: Any) -> tuple[str, ...] | None:
    """The flist URLs the simulated hub serves: a list or comma-separated text; ``*`` (or null) for any URL;
    ``default`` for OFFICIAL_FLISTS, and ``+url,...`` for those plus more. Raises SettingError otherwise."""
    if value is None or value == "*":
        return None
    if isinstance(value, str):
        extra = value.startswith("+")
        items = [part.strip() for part in value.lstrip("+").split(",") if part.strip()]
        if items == ["default"]:
            return OFFICIAL_FLISTS
        value = [*OFFICIAL_FLISTS, *items] if extra else items
    if not isinstance(value, list) or not all(isinstance(item, str) and 0 < len(item) <= 512 for item in value):
        raise SettingError(f"{name} must be a list of flist URLs (or '*' for any)")
    if len(value) > MAX_FLISTS:
        raise SettingError(f"{name} may list at most {MAX_FLISTS} URLs")
    return tuple(dict.fromkeys(value))


def _parse_number(name: str, value: Any, maximum: float, what: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise SettingError(f"{name} must be {what}, got {value!r}") from None
    # bool is an int subclass; "true" is never a sensible latency.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SettingError(f"{name} must be {what}")
    if not 0 <= value <= maximum:
        raise SettingError(f"{name} must be between 0 and {maximum:g}")
    return float(value)


@dataclass(frozen=True)
class DeployLatency:
    """Seconds between a workload's creation and its result, with optional per-kind overrides."""

    default: float = 2.0
    per_kind: Mapping[str, float] = field(default_factory=dict)

    def for_kind(self, kind: str) -> float:
        return self.per_kind.get(kind, self.default)

    def as_json(self) -> dict[str, float]:
        return {"default": self.default, **dict(sorted(self.per_kind.items()))}

    @classmethod
    def parse(cls, value: Any) -> DeployLatency:
        """Accepts ``2``, ``"2,container=5,kubernetes=10"`` or ``{"default": 2, "container": 5}``.

        Raises SettingError on unknown kinds or bad numbers.
        """
        if isinstance(value, str):
            items: dict[str, Any] = {}
            for part in (p.strip() for p in value.split(",")):
                if not part:
                    continue
                if "=" in part:
                    kind, _, seconds = part.partition("=")
                    items[kind.strip()] = seconds
                else:
                    items["default"] = part
            value = items
        if not isinstance(value, dict):
            return cls(default=parse_seconds("deploy_latency", value))
        default = parse_seconds("deploy_latency.default", value.get("default", cls.default))
        per_kind: dict[str, float] = {}
        for kind, seconds in value.items():
            if kind == "default":
                continue
            if kind not in WORKLOAD_KINDS:
                raise SettingError(
                    f"deploy_latency: unknown workload kind {kind!r} (known: {', '.join(WORKLOAD_KINDS)})"
                )
            per_kind[kind] = parse_seconds(f"deploy_latency.{kind}", seconds)
        return cls(default=default, per_kind=per_kind)


# Named timing profiles (GRID_API §12). "fast" (the default) keeps tests and `make run` quick; "realistic" sits at
# the low end of the real grid's bands — explorer call 0.1 s, gateway kinds, volumes and ZDBs 5 s, network resources
# 10 s, containers 30 s, Kubernetes VMs 60 s, deletions 5 s — so a realistic deployment takes a minute, not an hour.
_GATEWAY_KINDS = ("proxy", "reverse_proxy", "subdomain", "domain_delegate", "gateway4to6")
PROFILES: dict[str, dict[str, Any]] = {
    "fast": {"extra_latency": 0.0, "deploy_latency": DeployLatency(), "delete_latency": 1.0},
    "realistic": {
        "extra_latency": 0.1,
        "deploy_latency": DeployLatency(
            default=30.0,
            per_kind={
                **dict.fromkeys(_GATEWAY_KINDS, 5.0),
                "volume": 5.0,
                "zdb": 5.0,
                "network_resource": 10.0,
                "container": 30.0,
                "kubernetes": 60.0,
            },
        ),
        "delete_latency": 5.0,
    },
}


def parse_profile(name: str, value: Any) -> str:
    """A timing profile name. Raises SettingError otherwise."""
    if value not in PROFILES:
        raise SettingError(f"{name} must be one of {', '.join(PROFILES)}")
    return str(value)


@dataclass(frozen=True)
class Knobs:
    """The runtime settings; one immutable snapshot is swapped in on every change."""

    error_rate: float = 0.0
    extra_latency: float = 0.0
    deploy_latency: DeployLatency = field(default_factory=DeployLatency)
    delete_latency: float = 1.0
    # 0 disables automatic payment; N > 0 pays every capacity reservation N seconds after its creation.
    auto_pay_after: float = 0.0
    # Seconds between a payment reaching the escrow and the pool being credited (real grid: 1-2 minutes).
    payment_delay: float = 1.0
    # The real explorer answered 500 to an extension of a missing pool or one losing nodes (§4.5); off: 400.
    extension_error_500: bool = True
    # Both forms the real explorer sends: data_json as JSON text for odd workload ids, ZDB addresses in varying
    # order (node_agent.py). Off: always an object, public address first.
    wire_variety: bool = True
    # Fraction of committed creates/sign requests whose answer is then lost (faults.py), and how it is lost.
    lost_answer_rate: float = 0.0
    lost_answer_mode: str = "500"
    # The timing profile the latencies above came from (PROFILES); setting it replaces all three.
    profile: str = "fast"
    # Seconds before a node's reserved_resources (and used_resources, workload counters) show a deployment or a
    # deletion: nodes report their usage periodically (nodes.py). 0: at once.
    report_lag: float = 60.0
    # Other customers' workloads: up to this fraction of each resource of every node, seeded per node and
    # drifting over time (capacity.other_tenants). 0: the marketplace is alone on the grid.
    other_tenants: float = 0.3
    # Flists the hub serves (None: any URL); a container with another one fails on its node.
    known_flists: tuple[str, ...] | None = OFFICIAL_FLISTS
    # Injected outages of the gateways' DNS (queries unanswered, dns_server.py) and of the CT log (503, api_ct.py).
    dns_outage: bool = False
    ct_outage: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "extra_latency": self.extra_latency,
            "deploy_latency": self.deploy_latency.as_json(),
            "delete_latency": self.delete_latency,
            "auto_pay_after": self.auto_pay_after,
            "payment_delay": self.payment_delay,
            "extension_error_500": self.extension_error_500,
            "wire_variety": self.wire_variety,
            "lost_answer_rate": self.lost_answer_rate,
            "lost_answer_mode": self.lost_answer_mode,
            "profile": self.profile,
            "report_lag": self.report_lag,
            "other_tenants": self.other_tenants,
            "known_flists": "*" if self.known_flists is None else list(self.known_flists),
            "dns_outage": self.dns_outage,
            "ct_outage": self.ct_outage,
        }

    def updated(self, changes: Mapping[str, Any]) -> Knobs:
        """A copy with ``changes`` applied. Raises SettingError on unknown names or bad values."""
        unknown = set(changes) - set(self.as_json())
        if unknown:
            raise SettingError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        parsers: dict[str, Any] = {
            "error_rate": lambda v: parse_rate("error_rate", v),
            "extra_latency": lambda v: parse_seconds("extra_latency", v),
            "deploy_latency": DeployLatency.parse,
            "delete_latency": lambda v: parse_seconds("delete_latency", v),
            "auto_pay_after": lambda v: parse_seconds("auto_pay_after", v, MAX_AUTO_PAY_SECONDS),
            "payment_delay": lambda v: parse_seconds("payment_delay", v, MAX_PAYMENT_DELAY_SECONDS),
            "extension_error_500": lambda v: parse_flag("extension_error_500", v),
            "wire_variety": lambda v: parse_flag("wire_variety", v),
            "lost_answer_rate": lambda v: parse_rate("lost_answer_rate", v),
            "lost_answer_mode": lambda v: parse_lost_mode("lost_answer_mode", v),
            "report_lag": lambda v: parse_seconds("report_lag", v),
            "other_tenants": lambda v: parse_other_tenants("other_tenants", v),
            "known_flists": lambda v: parse_flists("known_flists", v),
            "dns_outage": lambda v: parse_flag("dns_outage", v),
            "ct_outage": lambda v: parse_flag("ct_outage", v),
        }
        base = self
        if "profile" in changes:  # the profile's latencies first; latencies given with it win
            profile = parse_profile("profile", changes["profile"])
            base = replace(self, profile=profile, **PROFILES[profile])
        return replace(base, **{name: parsers[name](value) for name, value in changes.items() if name != "profile"})


class RuntimeSettings:
    """Thread-safe holder of the current Knobs (request threads read, the admin endpoint swaps)."""

    def __init__(self, knobs: Knobs) -> None:
        self._knobs = knobs
        self._lock = threading.Lock()

    @property
    def current(self) -> Knobs:
        return self._knobs

    def update(self, changes: Mapping[str, Any]) -> Knobs:
        """Apply ``changes`` atomically. Raises SettingError (nothing is changed then)."""
        with self._lock:
            self._knobs = self._knobs.updated(changes)
            return self._knobs


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything fixed at start-up. The world-size fields only matter when the state file is new."""

    state_path: Path
    host: str = "127.0.0.1"
    port: int = 8201
    # UDP+TCP port of the gateways' authoritative DNS (dns_server.py) on ``host``; 0: no DNS server.
    dns_port: int = 0
    farms: int = 3
    nodes: int = 50
    gateways: int = 3
    seed: int = 1
    threads: int = 8
    stellar_network: str = "testnet"
    users_file: Path | None = None
    down_nodes: tuple[str, ...] = ()
    knobs: Knobs = field(default_factory=Knobs)
