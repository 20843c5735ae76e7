"""Command-line flags, each also readable from ``CONNECT_EMULATOR_<FLAG>`` (flag wins over environment).

Any bad value ends the process with one line on stderr naming the flag and its variable, and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast

from .emulator import EmulatorConfig
from .faults import MAX_DELAY
from .login_request import CallbackScheme
from .users import DEFAULT_KYC_SEED, UsersFileError, default_users, load_users_file

PROG = "connect-emulator"
ENV_PREFIX = "CONNECT_EMULATOR_"
DEFAULT_PORT = 8202


class UsageError(Exception):
    """One line for stderr; the process exits with status 2."""


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    config: EmulatorConfig


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError("must be a port number 1-65535")
    return int(text)


def _host(text: str) -> str:
    if not text or any(c.isspace() or c in "/@" for c in text):
        raise ValueError("must be a host name or an IP address")
    return text.strip("[]")


def _scheme(text: str) -> str:
    if text not in ("auto", "http", "https"):
        raise ValueError("must be auto, http or https")
    return text


def _delay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number of seconds") from None
    if not 0 <= value <= MAX_DELAY:
        raise ValueError(f"must be between 0 and {MAX_DELAY:g} seconds")
    return value


def _names(text: str) -> list[str]:
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if any(len(name) > 64 for name in names):
        raise ValueError("names must be at most 64 characters")
    return names


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false (1/0, yes/no, on/off)")


# flag -> (converter of the text form, help). Booleans are store_true flags; their env form goes through _bool.
_VALUED: dict[str, tuple[Callable[[str], Any], str]] = {
    "host": (_host, "address to bind (default 127.0.0.1)"),
    "port": (_port, f"port to bind (default {DEFAULT_PORT})"),
    "users-file": (Path, "JSON file of test users (replaces alice/bob/carol)"),
    "callback-scheme": (_scheme, "scheme of the callback: auto (http only for localhost app ids), http or https"),
    "state-dir": (Path, "directory for config.json and attempts.json (default: keep state in memory)"),
    "users-missing": (_names, "comma-separated names that GET /api/users/<name> answers 404 for"),
    "users-delay": (_delay, "seconds GET /api/users/<name> waits before answering"),
    "kyc-delay": (_delay, "seconds the /verification endpoints wait before answering"),
}
_SWITCHES: dict[str, str] = {
    "users-down": "GET /api/users/<name> answers 503",
    "kyc-unverified": "verify-sei answers 500 'Invalid or corrupted signature' for every SEI",
    "kyc-down": "the /verification endpoints answer 503",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _env_name(flag: str) -> str:
    return ENV_PREFIX + flag.upper().replace("-", "_")


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="python -m emulators.connect",
        description="3Bot Connect login provider + KYC emulator. Every flag can also be set with "
        f"{ENV_PREFIX}<FLAG> (e.g. {ENV_PREFIX}PORT); a flag wins over its variable.",
    )
    for flag, (_, text) in _VALUED.items():
        parser.add_argument(f"--{flag}", default=None, help=text)
    for flag, text in _SWITCHES.items():
        parser.add_argument(f"--{flag}", action="store_true", default=None, help=text)
    return parser


def _value(flag: str, given: Any, env: Mapping[str, str]) -> Any:
    """The flag's value, else its environment variable's, converted; None when neither is set."""
    source, text = f"--{flag}", given
    if given is None and _env_name(flag) in env:
        source, text = _env_name(flag), env[_env_name(flag)]
    if text is None or isinstance(text, bool):
        return text
    convert = _VALUED[flag][0] if flag in _VALUED else _bool
    try:
        return convert(text)
    except ValueError as exc:
        raise UsageError(f"{source}={text!r}: {exc}") from None


def parse_options(argv: Sequence[str], env: Mapping[str, str]) -> ServeOptions:
    """Flags plus environment into the serve options. Raises UsageError with a one-line message."""
    args = vars(_build_parser().parse_args(list(argv)))
    values = {flag: _value(flag, args[flag.replace("-", "_")], env) for flag in (*_VALUED, *_SWITCHES)}

    users, kyc_seed = default_users(), DEFAULT_KYC_SEED
    if values["users-file"] is not None:
        try:
            users, kyc_seed = load_users_file(values["users-file"])
        except UsersFileError as exc:
            raise UsageError(f"--users-file: {exc}") from None
    state_dir = values["state-dir"]
    if state_dir is not None:
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--state-dir: cannot create {state_dir}: {exc.strerror}") from None
        if not os.access(state_dir, os.W_OK):
            raise UsageError(f"--state-dir: {state_dir} is not writable")

    overrides: dict[str, dict[str, Any]] = {"users": {}, "kyc": {}}
    for flag, section, key in (
        ("users-missing", "users", "missing"),
        ("users-delay", "users", "delay"),
        ("users-down", "users", "down"),
        ("kyc-unverified", "kyc", "unverified"),
        ("kyc-delay", "kyc", "delay"),
        ("kyc-down", "kyc", "down"),
    ):
        if values[flag] is not None:
            overrides[section][key] = values[flag]

    config = EmulatorConfig(
        users=users,
        kyc_seed=kyc_seed,
        callback_scheme=cast(CallbackScheme, values["callback-scheme"] or "auto"),
        state_dir=state_dir,
        fault_overrides={section: fields for section, fields in overrides.items() if fields},
    )
    return ServeOptions(values["host"] or "127.0.0.1", values["port"] or DEFAULT_PORT, config)


def exit_with_usage_error(error: UsageError) -> NoReturn:
    print(f"{PROG}: error: {error}", file=sys.stderr)
    raise SystemExit(2)
