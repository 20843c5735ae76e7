"""Prometheus metrics of every process (README "Operating"): the official client, in multiprocess mode.

A gunicorn master or a Celery main process forks the processes that do the work. Each child writes its samples to
files under ``PROMETHEUS_MULTIPROC_DIR`` — one directory per process group, chosen and emptied by ``deploy/role.py``
before the program starts (the client reads the variable when it is imported). The parent serves them, summed, on
its own internal port ``METRICS_PORT`` (never routed by Caddy), together with the collectors that read PostgreSQL
or Redis at scrape time (queue depth, solutions by state…): a gauge read from the database is right whichever
process serves it, and stays right while the workers are stopped.

Without the variable (tests that build apps in process) the samples stay in the process's own registry.
``METRICS=off`` leaves every instrument out: the benchmarks measure with and without.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import psycopg2
import psycopg2.extras
import structlog
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

log = structlog.get_logger(__name__)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
HEADER_BYTES = 8  # a sample file starts with its used length and padding (prometheus_client's mmap_dict)
T = TypeVar("T")


_enabled = [True]


def switch(on: bool) -> None:
    """Turn the instruments of this process on or off (``METRICS``; read once at start by the app factories)."""
    _enabled[0] = on


def enabled() -> bool:
    """Whether the instruments record (the per-event helpers of the services check it)."""
    return _enabled[0]


class _ForkedProcesses(multiprocess.MultiProcessCollector):
    """The forked processes' samples, as the client's collector reads them, but for a file still being created.

    A process creates its sample file, then sizes and maps it: for an instant the file is shorter than its 8-byte
    header, and the client's reader fails on it (``struct.error``: the scrape answers 500). Such a file holds no
    sample yet, so it is left out of this scrape; the next one reads it.
    """

    def collect(self) -> Any:
        files = [name for name in glob.glob(os.path.join(self._path, "*.db")) if _has_header(name)]
        return self.merge(files, accumulate=True)  # type: ignore[no-untyped-call]


def _has_header(name: str) -> bool:
    try:
        return os.path.getsize(name) >= HEADER_BYTES
    except FileNotFoundError:  # a live gauge's file removed by mark_process_dead since the listing
        return False


class _ThisProcess(Collector):
    """The samples of this process's default registry (single-process mode)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def multiprocess_dir() -> str | None:
    """The directory the forked processes write their samples to (None: single-process mode)."""
    return os.environ.get(MULTIPROC_DIR) or None


def registry(collectors: Iterable[Collector] = ()) -> CollectorRegistry:
    """A registry with every sample of this process group and ``collectors`` (read at each scrape)."""
    reg = CollectorRegistry(auto_describe=True)
    if multiprocess_dir() is not None:
        _ForkedProcesses(reg)  # type: ignore[no-untyped-call]
    else:
        reg.register(_ThisProcess())
    for collector in collectors:
        reg.register(collector)
    return reg


def render(collectors: Iterable[Collector] = ()) -> str:
    """The text a scrape of this process group would get (tests in process, ``make run``'s check)."""
    return generate_latest(registry(collectors)).decode()


def serve(port: int, host: str, collectors: Iterable[Collector] = ()) -> bool:
    """Serve ``/metrics`` (any path, in fact) on ``host:port`` from a daemon thread; False when the port is taken.

    A taken port is logged, not fatal: a process without its metrics still does its work, and the scrape shows
    the target down (which the operator sees).
    """
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry(collectors))
    except OSError as exc:
        log.error("metrics port unavailable", port=port, reason=str(exc))
        return False
    _servers.append(server)
    log.info("metrics served", url=f"http://{host}:{port}/metrics")
    return True


_servers: list[Any] = []  # kept referenced for the life of the process


def mark_process_dead(pid: int) -> None:
    """A forked process ended: its live gauges no longer count (its counters and histograms keep counting)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def read_database(database_url: str, read: Callable[[Any], T]) -> T | None:
    """``read(cursor)`` on a connection of its own, closed at once; None when PostgreSQL does not answer.

    One connection per scrape (every 15 s or so), never a pool: the serving process forks its workers, and a
    pooled connection inherited by a worker would be closed under the parent when that worker exits.
    """
    try:
        conn = psycopg2.connect(database_url, connect_timeout=3)
    except psycopg2.Error as exc:
        log.warning("metrics cannot read the database", reason=str(exc).splitlines()[0] if str(exc) else "")
        return None
    try:
        with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            return read(cur)
    except psycopg2.Error as exc:
        log.warning("metrics cannot read the database", reason=str(exc).splitlines()[0] if str(exc) else "")
        return None
    finally:
        conn.close()
