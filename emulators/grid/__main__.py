"""`python -m emulators.grid`: parse flags (or GRID_EMULATOR_* variables), seed the state, serve with gunicorn."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from flask import Flask
from gunicorn.app.base import BaseApplication

from emulators.grid import dns_server
from emulators.grid.app import create_app
from emulators.grid.config import (
    MAX_AUTO_PAY_SECONDS,
    MAX_PAYMENT_DELAY_SECONDS,
    OFFICIAL_FLISTS,
    PROFILES,
    DeployLatency,
    EmulatorConfig,
    Knobs,
    SettingError,
    parse_flag,
    parse_flists,
    parse_lost_mode,
    parse_other_tenants,
    parse_profile,
    parse_rate,
    parse_seconds,
)
from emulators.grid.dns_server import DnsSockets
from emulators.grid.node_agents import NodeAgents
from emulators.grid.world import open_world

ENV_PREFIX = "GRID_EMULATOR_"
PROG = "python -m emulators.grid"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line on stderr, exit code 2: what process supervisors and `make run` show to a person.
        self.exit(2, f"{PROG}: error: {message}\n")


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _setting(parse: Callable[[str, Any], Any], name: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(name, text)
        except SettingError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _deploy_latency(text: str) -> DeployLatency:
    try:
        return DeployLatency.parse(text)
    except SettingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _stellar_network(text: str) -> str:
    if text not in ("testnet", "mainnet"):
        raise argparse.ArgumentTypeError("must be testnet or mainnet")
    return text


_FLAGS: list[tuple[str, Callable[[str], Any], Any, str]] = [
    ("host", str, "127.0.0.1", "interface to listen on"),
    ("port", _bounded_int(1, 65535), 8201, "TCP port"),
    ("dns_port", _bounded_int(0, 65535), 0, "UDP+TCP port of the gateways' authoritative DNS (0: none)"),
    ("state", Path, Path(".local/grid/state.sqlite3"), "SQLite state file (created and seeded if missing)"),
    ("farms", _bounded_int(1, 1000), 3, "farms to seed (new state only)"),
    ("nodes", _bounded_int(0, 100_000), 50, "nodes to seed (new state only)"),
    ("gateways", _bounded_int(0, 1000), 3, "gateways to seed (new state only)"),
    ("seed", _bounded_int(0, 2**31), 1, "seed number of the generated world (new state only)"),
    ("users_file", Path, None, "JSON array of {name, email, pubkey} registered when seeding"),
    ("profile", _setting(parse_profile, "profile"), "fast", "timing profile: fast, or realistic (GRID_API §12)"),
    # None: the profile's value.
    ("deploy_latency", _deploy_latency, None, "seconds to a result: '2' or '2,container=5,kubernetes=10'"),
    ("delete_latency", _setting(parse_seconds, "delete_latency"), None, "seconds until a deletion is confirmed"),
    (
        "auto_pay_after",
        _setting(lambda n, v: parse_seconds(n, v, MAX_AUTO_PAY_SECONDS), "auto_pay_after"),
        0.0,
        "pay every capacity reservation N seconds after creation (0: off; must be < 3600 to beat the expiry)",
    ),
    (
        "payment_delay",
        _setting(lambda n, v: parse_seconds(n, v, MAX_PAYMENT_DELAY_SECONDS), "payment_delay"),
        1.0,
        "seconds from a payment reaching the escrow to the pool's credit (real grid: 60-120)",
    ),
    (
        "extension_error_500",
        _setting(parse_flag, "extension_error_500"),
        True,
        "answer 500 (as the real explorer) to an extension of a missing pool or one losing nodes; false: 400",
    ),
    (
        "wire_variety",
        _setting(parse_flag, "wire_variety"),
        True,
        "data_json as JSON text for odd workload ids, ZDB addresses in varying order (as on the real grid)",
    ),
    (
        "report_lag",
        _setting(parse_seconds, "report_lag"),
        60.0,
        "seconds before a node's reserved_resources show a deployment or deletion (0: at once)",
    ),
    (
        "other_tenants",
        _setting(parse_other_tenants, "other_tenants"),
        0.3,
        "largest share (0-0.5) of each node's resources used by simulated other customers (0: none)",
    ),
    (
        "known_flists",
        _setting(parse_flists, "known_flists"),
        OFFICIAL_FLISTS,
        "flist URLs the hub serves: 'default' (SOLUTIONS §2), '+url,...' (default and more), '*' (any)",
    ),
    ("error_rate", _setting(parse_rate, "error_rate"), 0.0, "fraction of /api/v1 requests answered 500"),
    ("extra_latency", _setting(parse_seconds, "extra_latency"), None, "seconds added to every /api/v1 response"),
    (
        "lost_answer_rate",
        _setting(parse_rate, "lost_answer_rate"),
        0.0,
        "fraction of successful creates/sign requests committed and then answered 500 or dropped",
    ),
    ("lost_answer_mode", _setting(parse_lost_mode, "lost_answer_mode"), "500", "how an answer is lost: 500 or drop"),
    (
        "down_nodes",
        lambda text: tuple(p.strip() for p in text.split(",") if p.strip()),
        (),
        "comma-separated node ids to start down",
    ),
    ("stellar_network", _stellar_network, "testnet", "asset issuers in escrow information: testnet or mainnet"),
    ("threads", _bounded_int(1, 64), 8, "gunicorn threads (one worker process)"),
]


def parse_args(argv: Sequence[str], environ: dict[str, str]) -> EmulatorConfig:
    """Flags win over GRID_EMULATOR_<FLAG> variables, which win over defaults. Exits 2 on a bad value."""
    parser = _Parser(prog=PROG, description="TF Grid v2 explorer emulator")
    for name, convert, default, help_text in _FLAGS:
        env_name = ENV_PREFIX + name.upper()
        if env_name in environ:
            try:
                default = convert(environ[env_name])
            except argparse.ArgumentTypeError as exc:
                parser.error(f"{env_name}: {exc}")
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            type=convert,
            default=default,
            help=f"{help_text} (env {env_name})",
        )
    args = parser.parse_args(argv)
    # A latency given as a flag or variable wins over the profile's.
    timing = {name: getattr(args, name) for name in ("extra_latency", "deploy_latency", "delete_latency")}
    timing = {**PROFILES[args.profile], **{name: value for name, value in timing.items() if value is not None}}
    return EmulatorConfig(
        state_path=args.state,
        host=args.host,
        port=args.port,
        dns_port=args.dns_port,
        farms=args.farms,
        nodes=args.nodes,
        gateways=args.gateways,
        seed=args.seed,
        threads=args.threads,
        stellar_network=args.stellar_network,
        users_file=args.users_file,
        down_nodes=args.down_nodes,
        knobs=Knobs(
            error_rate=args.error_rate,
            profile=args.profile,
            **timing,
            auto_pay_after=args.auto_pay_after,
            payment_delay=args.payment_delay,
            extension_error_500=args.extension_error_500,
            wire_variety=args.wire_variety,
            lost_answer_rate=args.lost_answer_rate,
            lost_answer_mode=args.lost_answer_mode,
            report_lag=args.report_lag,
            other_tenants=args.other_tenants,
            known_flists=args.known_flists,
        ),
    )


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Server(BaseApplication):  # type: ignore[misc]
    """gunicorn embedded: one worker process (the clock offset, runtime knobs and planned lost answers live in its
    memory), several threads serving requests concurrently (store.py: a SQLite connection per thread)."""

    def __init__(self, config: EmulatorConfig, dns: DnsSockets | None) -> None:
        self._config = config
        self._dns = dns
        super().__init__()

    def load_config(self) -> None:
        settings = {
            "bind": _bind_address(self._config.host, self._config.port),
            "workers": 1,
            "worker_class": "gthread",
            "threads": self._config.threads,
            "graceful_timeout": 3,
            "accesslog": None,
            "loglevel": "info",
            "proc_name": "grid-emulator",
            # gunicorn's control socket has one default path per user; a second gunicorn (the connect emulator,
            # a parallel test run) would fight over it, and nothing here uses it.
            "control_socket_disable": True,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Runs in the worker process after the fork, so the SQLite connection is opened there, and the DNS
        # threads (sockets bound in the arbiter) and the node agents' thread run next to the app, sharing its world.
        app = create_app(self._config)
        world = app.extensions["grid_world"]
        if self._dns is not None:
            dns_server.serve(self._dns, world)
        # The nodes act as their workloads come due, whether or not anybody asks (node_agents.py).
        NodeAgents(world).start()
        return app


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(sys.argv[1:] if argv is None else argv, dict(os.environ))
    # Seed (or validate) the state in the arbiter, before any worker starts: seeding 10k nodes takes a while
    # and must not race a worker's boot timeout.
    try:
        open_world(config).store.close()
    except ValueError as exc:
        _fail(str(exc))
    except (OSError, sqlite3.Error) as exc:
        _fail(f"state file {config.state_path}: {exc}")
    dns = None
    if config.dns_port:
        try:
            dns = dns_server.bind(config.host, config.dns_port)
        except OSError as exc:
            _fail(f"DNS port {config.host}:{config.dns_port}: {exc}")
    _Server(config, dns).run()


if __name__ == "__main__":
    main()
