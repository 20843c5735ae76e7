"""Backup accounts on the two servers: create or replace (`new=true`), verify (`new=false`), complete.

One server down never makes a silent half-success: the account is written where it can be, the record says
which servers hold it, `init` answers so (see views), and the worker copies the entry to the missing server
when it is back (:func:`complete`). Only bcrypt hashes leave this process; the password is never stored or logged.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
import structlog

from services.backup import htpasswd, store
from services.backup.config import BackupConfig, BackupServer
from services.backup.remote import ServerUnavailable, read_htpasswd, replace_htpasswd, sftp_session
from services.common.db import Database
from services.common.errors import ApiError, FieldError

log = structlog.get_logger(__name__)


LOCK_LEASE = 120  # seconds: far above one read-change-replace (each SSH step has BACKUP_SSH_TIMEOUT)


@dataclass(frozen=True)
class Backend:
    """What the account operations use: the account records, the lock server, the two backup servers."""

    db: Database
    redis: redis.Redis
    config: BackupConfig


class ServerLock:
    """Hold the write lock of one backup server for a `with` block: every web and worker process replacing that
    server's `.htpasswd` takes it, so no update is lost. A Redis lock, not a database one: waiting for it holds
    no pooled connection (20 concurrent `init`s exhausted a 10-connection pool with a PostgreSQL advisory lock).
    Entering waits up to the lease, which also bounds how long a crashed holder blocks the server.

    Raises:
        ServerUnavailable: on entry, when the lock was not obtained within the lease (a stuck writer elsewhere).
    """

    def __init__(self, backend: Backend, server: BackupServer) -> None:
        self.server = server
        self.lock = backend.redis.lock(
            f"backup:htpasswd-lock:{server.key}", timeout=LOCK_LEASE, blocking_timeout=LOCK_LEASE
        )

    def __enter__(self) -> None:
        if not self.lock.acquire():
            raise ServerUnavailable(f"{self.server.key}: another update holds its lock")

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.lock.release()
        except redis.exceptions.LockError:  # the lease ran out: nothing left to release
            log.warning("backup server lock expired before release", server=self.server.key)


@dataclass(frozen=True)
class Outcome:
    """Which servers now hold (or verified) the account, and which could not be reached."""

    done: tuple[BackupServer, ...]
    missed: tuple[BackupServer, ...]


def check_owner(db: Database, threebot_name: str, username: str) -> None:
    """Refuse ``threebot_name`` the account ``username`` when another 3Bot name owns it: `alice.a` and `alice.b`
    map to the same account `alice`, and the second `init new=true` would replace the first one's password.

    Raises:
        ApiError: 409 when another 3Bot name holds the account.
    """
    owner = store.owner_of(db, username)
    if owner is not None and owner != threebot_name:
        message = "another 3Bot name already owns this backup account"
        raise ApiError(409, message, (FieldError("conflict", message, "threebot_name"),))


def _write_entry(config: BackupConfig, server: BackupServer, username: str, hashed: str) -> None:
    """Set ``username``'s entry on ``server``: read, change, atomic replace. The caller holds the server's lock.

    Raises:
        ServerUnavailable: unreachable, refused, or its file does not parse (left untouched).
    """
    with sftp_session(config, server) as sftp:
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


def create(backend: Backend, threebot_name: str, username: str, password: bytes) -> Outcome:
    """Create or replace the account on both servers; record which hold it (nothing recorded if neither)."""
    hashed = htpasswd.hash_password(password)
    done: list[BackupServer] = []
    missed: list[BackupServer] = []
    for server in backend.config.servers:
        try:
            with ServerLock(backend, server):
                _write_entry(backend.config, server, username, hashed)
            done.append(server)
        except ServerUnavailable as exc:
            log.warning("backup account not written", server=server.key, threebot=threebot_name, reason=str(exc))
            missed.append(server)
    if done:
        names = {server.index for server in done}
        store.record(backend.db, threebot_name, username, 1 in names, 2 in names)
    log.info("backup account created", threebot=threebot_name, servers=[s.key for s in done],
             missing=[s.key for s in missed])  # fmt: skip
    return Outcome(tuple(done), tuple(missed))


def verify(backend: Backend, threebot_name: str, username: str, password: bytes) -> Outcome | None:
    """Check the password on every server that should hold the account; None on any mismatch or missing entry.

    Servers that cannot be reached are returned as ``missed`` (none reached: the caller answers 503).
    """
    db, config = backend.db, backend.config
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


def complete(backend: Backend) -> int:
    """Copy each incomplete account's entry from a server that holds it to the one that missed it.

    The source entry is read under the target's lock and the copy recorded only if the account did not change
    meanwhile, so a concurrent `init` (new password) is never overwritten by the old entry.
    Returns the number of entries copied (the rest wait for the next run).
    """
    db, config = backend.db, backend.config
    copied = 0
    for account in store.incomplete(db):
        sources = [s for s in config.servers if account.done(s.index)]
        targets = [s for s in config.servers if not account.done(s.index)]
        if not sources:
            continue
        for target in targets:
            try:
                with ServerLock(backend, target):
                    current = store.get(db, account.threebot_name)
                    if current is None or current != account:
                        break  # changed by an `init` since listed: the next pass sees the new state
                    hashed = _get_entry(config, sources[0], account.username)
                    if hashed is None:
                        log.error("backup completion: entry missing on its source", threebot=account.threebot_name)
                        break
                    _write_entry(config, target, account.username, hashed)
            except ServerUnavailable as exc:
                log.info("backup completion: not yet", server=target.key, reason=str(exc))
                continue
            if store.mark_done(db, account, target.index):
                copied += 1
                log.info("backup account completed", threebot=account.threebot_name, server=target.key)
    return copied
