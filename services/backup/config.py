"""The backup servers of the settings, checked once at process start (web and worker).

`BACKUP_SERVER1`/`BACKUP_SERVER2` (`user@host:port`), `BACKUP_SSH_KEY_FILE` and `BACKUP_KNOWN_HOSTS_FILE` are
optional for the other services but required here: a backup process without them could only fail every request,
so it stops at start with one line naming the variable, like any malformed setting.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import paramiko

from services.common.settings import Settings


class BackupConfigError(Exception):
    """A backup variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class BackupServer:
    """One backup server: the SSH account the marketplace manages it through and the REST port 3Bots use."""

    index: int
    user: str
    host: str
    port: int
    rest_port: int

    @property
    def key(self) -> str:
        """A stable name for locks, logs and the account record (`server1`, `server2`)."""
        return f"server{self.index}"

    @property
    def rest_address(self) -> str:
        return f"{self.host}:{self.rest_port}"


@dataclass(frozen=True)
class BackupConfig:
    servers: tuple[BackupServer, BackupServer]
    key: paramiko.PKey
    known_hosts_file: Path
    timeout: float


def _server(settings: Settings, index: int) -> BackupServer:
    name = f"BACKUP_SERVER{index}"
    value: str = getattr(settings, f"backup_server{index}")
    if not value:
        raise BackupConfigError(f"{name} is not set")
    user, _, rest = value.partition("@")
    host, _, port = rest.rpartition(":")
    if not 0 < int(port) < 65536:  # the settings already checked the user@host:port shape
        raise BackupConfigError(f"{name} is invalid: the port must be 1 to 65535")
    return BackupServer(index, user, host, int(port), getattr(settings, f"backup_rest_port{index}"))


def backup_config(settings: Settings) -> BackupConfig:
    """The two servers, the marketplace's SSH key (loaded) and the known-hosts file (readable).

    Raises:
        BackupConfigError: the first missing or malformed variable, by name (never its value).
    """
    servers = (_server(settings, 1), _server(settings, 2))
    if servers[0].host == servers[1].host and servers[0].port == servers[1].port:
        raise BackupConfigError("BACKUP_SERVER2 is invalid: must be a different server than BACKUP_SERVER1")
    key_file, known = settings.backup_ssh_key_file, settings.backup_known_hosts_file
    if key_file is None:
        raise BackupConfigError("BACKUP_SSH_KEY_FILE is not set")
    try:
        key = paramiko.PKey.from_path(key_file)
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise BackupConfigError(f"BACKUP_SSH_KEY_FILE is invalid: {type(exc).__name__}") from None
    if known is None:
        raise BackupConfigError("BACKUP_KNOWN_HOSTS_FILE is not set")
    try:
        paramiko.HostKeys(str(known))
    except (OSError, paramiko.SSHException) as exc:
        raise BackupConfigError(f"BACKUP_KNOWN_HOSTS_FILE is invalid: {type(exc).__name__}") from None
    return BackupConfig(servers, key, known, settings.backup_ssh_timeout)


def backup_config_or_exit(settings: Settings) -> BackupConfig:
    """:func:`backup_config`, or the process ends with one line and exit code 2."""
    try:
        return backup_config(settings)
    except BackupConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
