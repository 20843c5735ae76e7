"""The nodes' own time: a background thread of the server that applies lifecycle events as they come due.

Real nodes deploy a workload (and confirm a deletion, and the explorer notices a pool running dry or a payment
arriving) when it comes due, not when somebody asks. Without this thread the first request after a burst of due
deployments replayed all of them inside its own answer: a listing after 386 deployments came due took 8.5 s. The
thread looks every `INTERVAL` seconds (a read: no write lock) and applies what is due in short write transactions
(`World.catch_up`), so readers never wait (WAL) and a writer waits for one small batch at most. Requests keep
replaying what is due and not applied yet (lifecycle.py), so a read still sees everything due by its time.
Started by the server (`__main__`), not by `create_app`: the in-process test client keeps the lazy replay alone.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:  # world.py holds an EventCounts
    from emulators.grid.world import World

log = structlog.get_logger("grid-emulator")

INTERVAL = 0.05
# After a failed catch-up (a logic error in a handler), wait this long before trying again: no tight error loop.
RETRY_AFTER = 1.0


class NodeAgents:
    def __init__(self, world: World, interval: float = INTERVAL) -> None:
        self._world = world
        self._interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="node-agents", daemon=True)

    def start(self) -> NodeAgents:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._world.catch_up("background")
            except Exception:  # the thread must outlive a bad event; each failure is logged
                log.exception("node agents: applying due events failed")
                self._stopping.wait(RETRY_AFTER)


class EventCounts:
    """Lifecycle events applied since the server started, by who applied them (`GET /_emulator/stats`):
    ``background`` (the node agents, as they came due) or ``requests`` (replayed by a request that found them
    due and not applied yet)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter({"background": 0, "requests": 0})

    def add(self, source: str, applied: int) -> None:
        with self._lock:
            self._counts[source] += applied

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
