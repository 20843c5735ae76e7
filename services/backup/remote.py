"""SFTP access to a backup server's `.htpasswd`, with strict host-key checking.

The marketplace's account on a backup server can only run SFTP chrooted to the server's data directory
(deploy/backup-server/setup.sh), so nothing here could run a command even by mistake. A host key missing from
`BACKUP_KNOWN_HOSTS_FILE`, or different from it, is refused (paramiko's RejectPolicy): never added automatically.
The file is replaced atomically — written to a temporary name, then `posix-rename@openssh.com` over the old one —
so the REST server never reads half a file. Callers serialise writers per server (see accounts.ServerLock).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import paramiko
import structlog

from services.backup.config import BackupConfig, BackupServer

log = structlog.get_logger(__name__)

HTPASSWD = "/auth/.htpasswd"


class ServerUnavailable(Exception):
    """The server could not be reached or refused us; the message says why (never a secret)."""


class HostKeyRefused(ServerUnavailable):
    """The server's host key is unknown or differs from the known-hosts file."""


@contextmanager
def sftp_session(config: BackupConfig, server: BackupServer) -> Iterator[paramiko.SFTPClient]:
    """An SFTP session on ``server`` as its configured user.

    Raises:
        HostKeyRefused: unknown or changed host key (logged).
        ServerUnavailable: connection refused, timeout, authentication or SFTP failure.
    """
    client = paramiko.SSHClient()
    client.load_host_keys(str(config.known_hosts_file))  # only this file: never ~/.ssh/known_hosts
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        try:
            client.connect(
                server.host,
                port=server.port,
                username=server.user,
                pkey=config.key,
                timeout=config.timeout,
                banner_timeout=config.timeout,
                auth_timeout=config.timeout,
                channel_timeout=config.timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.BadHostKeyException:
            log.error("backup server host key changed: refused", server=server.key, host=server.host, port=server.port)
            raise HostKeyRefused(f"{server.key}: the host key differs from BACKUP_KNOWN_HOSTS_FILE") from None
        except paramiko.SSHException as exc:
            if "not found in known_hosts" in str(exc):
                log.error("backup server host key unknown: refused", server=server.key, host=server.host)
                raise HostKeyRefused(f"{server.key}: the host key is not in BACKUP_KNOWN_HOSTS_FILE") from None
            raise ServerUnavailable(f"{server.key}: SSH failed ({type(exc).__name__})") from None
        except (OSError, EOFError) as exc:
            raise ServerUnavailable(f"{server.key}: cannot connect ({type(exc).__name__})") from None
        try:
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(config.timeout)
        except (paramiko.SSHException, OSError) as exc:
            raise ServerUnavailable(f"{server.key}: SFTP refused ({type(exc).__name__})") from None
        try:
            yield sftp
        except (paramiko.SSHException, OSError, EOFError) as exc:
            if isinstance(exc, ServerUnavailable):
                raise
            raise ServerUnavailable(f"{server.key}: SFTP failed ({type(exc).__name__})") from None
        finally:
            sftp.close()
    finally:
        client.close()


def read_htpasswd(sftp: paramiko.SFTPClient) -> str:
    with sftp.open(HTPASSWD, "r") as handle:
        return bytes(handle.read()).decode("utf-8")


def replace_htpasswd(sftp: paramiko.SFTPClient, text: str) -> None:
    """Write ``text`` under a temporary name, then rename it over the file in one step."""
    temporary = f"{HTPASSWD}.tmp-{secrets.token_hex(8)}"
    try:
        with sftp.open(temporary, "w") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
        sftp.chmod(temporary, 0o640)
        sftp.posix_rename(temporary, HTPASSWD)
    except BaseException:
        with contextlib.suppress(OSError, paramiko.SSHException):  # best effort: the rename did not happen
            sftp.remove(temporary)
        raise
