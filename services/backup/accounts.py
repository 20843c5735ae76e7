"""Backup accounts on the two servers: create or replace (`new=true`), verify (`new=false`), complete.

One server down never makes a silent half-success: the account is written where it can be, the record says
which servers hold it, `init` answers so (see views), and the worker copies the entry to the missing server
when it is back (:func:`complete`). Only bcrypt hashes leave this process; the password is never stored or logged.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from services.backup import htpasswd, store
from services.backup.config import BackupConfig, BackupServer
from services.backup.remote import ServerUnavailable, read_htpasswd, replace_htpasswd, sftp_session
from services.common.db import Database

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """Which servers now hold (or verified) the account, and which could not be reached."""

    done: tuple[BackupServer, ...]
    missed: tuple[BackupServer, ...]


def _put_entry(db: Database, config: BackupConfig, server: BackupServer, username: str, hashed: str) -> None:
    """Set ``username``'s entry on ``server`` (read, change, atomic replace) under the server's write lock.

    Raises:
        ServerUnavailable: unreachable, refused, or its file does not parse (left untouched).
    """
    with store.server_lock(db, server.key), sftp_session(config, server) as sftp:
        try:
            entries = htpasswd.parse(read_htpasswd(sftp))
        except (htpasswd.HtpasswdError, UnicodeDecodeError) as exc:
            log.error("backup server .htpasswd malformed: not rewritten", server=server.key, reason=str(exc))
            raise ServerUnavailable(f"{server.key}: its .htpasswd does not parse") from None
        entries[username] = hashed
        replace_htpasswd(sftp, htpasswd.render(entries))


def _get_entry(config: BackupConfig, server: BackupServer, username: str) -> str | None:
    with sftp_session(config, server) as sftp:
        try:
            return htpasswd.parse(read_htpasswd(sftp)).get(username)
        except (htpasswd.HtpasswdError, UnicodeDecodeError):
            raise ServerUnavailable(f"{server.key}: its .htpasswd does not parse") from None


def create(db: Database, config: BackupConfig, threebot_name: str, username: str, password: bytes) -> Outcome:
    """Create or replace the account on both servers; record which hold it (nothing recorded if neither)."""
    hashed = htpasswd.hash_password(password)
    done: list[BackupServer] = []
    missed: list[BackupServer] = []
    for server in config.servers:
        try:
            _put_entry(db, config, server, username, hashed)
            done.append(server)
        except ServerUnavailable as exc:
            log.warning("backup account not written", server=server.key, threebot=threebot_name, reason=str(exc))
            missed.append(server)
    if done:
        names = {server.index for server in done}
        store.record(db, threebot_name, username, 1 in names, 2 in names)
    log.info("backup account created", threebot=threebot_name, servers=[s.key for s in done],
             missing=[s.key for s in missed])  # fmt: skip
    return Outcome(tuple(done), tuple(missed))


def verify(db: Database, config: BackupConfig, threebot_name: str, username: str, password: bytes) -> Outcome | None:
    """Check the password on every server that should hold the account; None on any mismatch or missing entry.

    Servers that cannot be reached are returned as ``missed`` (none reached: the caller answers 503).
    """
    account = store.get(db, threebot_name)
    done: list[BackupServer] = []
    missed: list[BackupServer] = []
    for server in config.servers:
        if account is not None and not account.done(server.index):
            continue  # still being completed by the worker: it has no entry (or an old one) yet
        try:
            hashed = _get_entry(config, server, username)
        except ServerUnavailable as exc:
            log.warning("backup server not reachable for verify", server=server.key, reason=str(exc))
            missed.append(server)
            continue
        if hashed is None or not htpasswd.check_password(password, hashed):
            log.warning("backup password mismatch", server=server.key, threebot=threebot_name)
            return None
        done.append(server)
    if done and account is not None:
        store.mark_verified(db, threebot_name)
    return Outcome(tuple(done), tuple(missed))


def complete(db: Database, config: BackupConfig) -> int:
    """Copy each incomplete account's entry from a server that holds it to the one that missed it.

    Returns the number of entries copied (the rest wait for the next run).
    """
    copied = 0
    for account in store.incomplete(db):
        sources = [s for s in config.servers if account.done(s.index)]
        targets = [s for s in config.servers if not account.done(s.index)]
        if not sources:
            continue
        try:
            hashed = _get_entry(config, sources[0], account.username)
        except ServerUnavailable as exc:
            log.warning("backup completion: source unreachable", server=sources[0].key, reason=str(exc))
            continue
        if hashed is None:
            log.error("backup completion: entry missing on its source", threebot=account.threebot_name)
            continue
        for target in targets:
            try:
                _put_entry(db, config, target, account.username, hashed)
            except ServerUnavailable as exc:
                log.info("backup completion: still unreachable", server=target.key, reason=str(exc))
                continue
            store.mark_done(db, account.threebot_name, target.index)
            copied += 1
            log.info("backup account completed", threebot=account.threebot_name, server=target.key)
    return copied
