"""The emulator clock: real time plus an offset that `/_emulator/clock` advances (persisted in the state file).

Every simulated behaviour (pool burn, empty_at, reservation expiry, node heartbeats, deploy/delete latencies)
reads this clock, so tests can jump hours ahead instead of sleeping.
"""

from __future__ import annotations

import sqlite3
import threading
import time

from emulators.grid.store import get_meta, set_meta

_OFFSET_KEY = "clock_offset"


class Clock:
    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> Clock:
        """The clock with the offset saved in the state file (0 for a new one)."""
        return cls(float(get_meta(conn, _OFFSET_KEY) or 0.0))

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, conn: sqlite3.Connection, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (never backwards: burn and expiry only go one way)."""
        with self._lock:
            self._offset += seconds
            set_meta(conn, _OFFSET_KEY, repr(self._offset))
            return self._offset
