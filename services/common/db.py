"""PostgreSQL access: one connection pool per process, ``transaction()`` and after-commit hooks.

Every service's ``store.py`` runs its SQL inside ``transaction()``. Work that must only happen once the data is
durable — above all sending a Celery task that will re-read the row — is registered with :func:`after_commit`;
it runs after COMMIT and is dropped on ROLLBACK, so a worker can never look for a row that does not exist yet.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import psycopg2.pool
import structlog

log = structlog.get_logger(__name__)

Cursor = psycopg2.extras.RealDictCursor
AfterCommit = Callable[[], None]

# The callbacks of the transaction running in this thread/context, innermost last.
_pending: contextvars.ContextVar[list[AfterCommit] | None] = contextvars.ContextVar("pending", default=None)


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached (or a connection broke) — callers answer 503."""


class Database:
    """A thread-safe pool of connections to one database."""

    def __init__(self, dsn: str, *, minconn: int = 1, maxconn: int = 10, connect_timeout: int = 5) -> None:
        self._dsn = dsn
        self._minconn = minconn
        self._maxconn = maxconn
        self._connect_timeout = connect_timeout
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        # Opened lazily so that creating an app does not need PostgreSQL (healthz must answer without it),
        # and so that a pool is never shared across a fork (gunicorn/celery fork after create_app).
        with self._lock:
            if self._pool is None:
                try:
                    self._pool = psycopg2.pool.ThreadedConnectionPool(
                        self._minconn,
                        self._maxconn,
                        self._dsn,
                        connect_timeout=self._connect_timeout,
                        application_name="marketplace",
                    )
                except psycopg2.OperationalError as exc:
                    raise DatabaseUnavailable(str(exc).splitlines()[0]) from None
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """Borrow a connection; a broken one is discarded instead of returned to the pool.

        Raises:
            DatabaseUnavailable: no connection could be made.
        """
        pool = self._get_pool()
        try:
            conn = pool.getconn()
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailable(str(exc).splitlines()[0]) from None
        except psycopg2.pool.PoolError:
            raise DatabaseUnavailable("all database connections are busy") from None
        try:
            yield conn
        finally:
            pool.putconn(conn, close=bool(conn.closed))

    @contextmanager
    def transaction(self) -> Iterator[psycopg2.extras.RealDictCursor]:
        """Run the block in one transaction; COMMIT on success, ROLLBACK on any exception.

        Callbacks registered with :func:`after_commit` inside the block run after the COMMIT.

        Raises:
            DatabaseUnavailable: the connection could not be made or broke during the block.
        """
        callbacks: list[AfterCommit] = []
        token = _pending.set(callbacks)
        try:
            with self.connection() as conn:
                try:
                    with conn.cursor(cursor_factory=Cursor) as cur:
                        yield cur
                    conn.commit()
                except psycopg2.OperationalError as exc:
                    _safe_rollback(conn)
                    raise DatabaseUnavailable(str(exc).splitlines()[0]) from None
                except BaseException:
                    _safe_rollback(conn)
                    raise
        finally:
            _pending.reset(token)
        for callback in callbacks:
            callback()

    def ping(self) -> None:
        """Round trip ``SELECT 1``.

        Raises:
            DatabaseUnavailable: PostgreSQL is not reachable.
        """
        with self.transaction() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None


def _safe_rollback(conn: psycopg2.extensions.connection) -> None:
    if not conn.closed:
        try:
            conn.rollback()
        except psycopg2.Error:
            log.warning("rollback failed; the connection is discarded")


def after_commit(callback: AfterCommit) -> None:
    """Run ``callback`` once the current transaction commits; outside a transaction, run it now."""
    pending = _pending.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)


def json_param(value: Any) -> psycopg2.extras.Json:
    """Wrap a value for a ``jsonb`` parameter."""
    return psycopg2.extras.Json(value)
