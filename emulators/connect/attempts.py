"""The last signed attempt per login state, for the "re-send the last attempt" (replay) switch of §8.3.

A replay sends the marketplace the very same callback URL a second time; a correct marketplace has consumed the
state on first use and must reject it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .persistence import read_json, write_json

# Enough for any test session; the oldest entries go first so the file stays small.
MAX_REMEMBERED = 200


@dataclass(frozen=True)
class StoredAttempt:
    state: str
    double_name: str
    callback_url: str
    relayed: dict[str, str]
    attempt: dict[str, Any]
    switches: list[str]
    created: float

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "callback_url": self.callback_url,
            "signedAttempt": self.relayed,
            "attempt": self.attempt,
            "switches": self.switches,
        }


class AttemptStore:
    """Thread-safe (gunicorn runs several threads); persisted to ``attempts.json`` when a state dir is set."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._by_state: OrderedDict[str, StoredAttempt] = OrderedDict()
        for raw in read_json(path) or []:
            try:
                item = StoredAttempt(**raw)
            except TypeError:
                continue  # written by another version of the emulator: skip, never fail start-up
            self._by_state[item.state] = item

    def remember(
        self,
        state: str,
        double_name: str,
        callback_url: str,
        relayed: dict[str, str],
        attempt: dict[str, Any],
        switches: list[str],
    ) -> StoredAttempt:
        item = StoredAttempt(state, double_name, callback_url, relayed, attempt, switches, time.time())
        with self._lock:
            self._by_state.pop(state, None)
            self._by_state[state] = item
            while len(self._by_state) > MAX_REMEMBERED:
                self._by_state.popitem(last=False)
            self._save()
        return item

    def last_for(self, state: str) -> StoredAttempt | None:
        with self._lock:
            return self._by_state.get(state)

    def latest(self) -> StoredAttempt | None:
        with self._lock:
            return next(reversed(self._by_state.values()), None)

    def clear(self) -> None:
        with self._lock:
            self._by_state.clear()
            self._save()

    def _save(self) -> None:
        write_json(self._path, [asdict(item) for item in self._by_state.values()])
