"""Fault injection on the public API (settings in `/_emulator/config`): extra latency, random 500s before the
request is handled, and *lost answers*: a write that is carried out and committed, whose answer then never
arrives in one piece.

A lost answer is what makes a client's "sent, answer lost" path real: the workload, the capacity reservation or
the delete/provision signature exists on the grid, but the client saw a 500 (``lost_answer_mode`` ``500``) or a
connection closed without any answer (``drop``). It hits a fraction ``lost_answer_rate`` of the successful writes
below, or deterministically the next N answers of one kind (`POST /_emulator/lose`), so tests need not be random.
The same control with mode ``refuse`` fails the next N requests of one kind with a 500 *before* they are handled
(nothing is committed): an outage of one endpoint while reads still work, e.g. a POST that never reached the grid.

The other faults live where they act: node down in nodes.py, forced workload failures in workloads.py and
node_agent/lifecycle (the `node_failures` queue).
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from typing import Any

import structlog
from flask import Flask, Response, current_app, request

from emulators.grid.wire import error_response
from emulators.grid.world import current_world

log = structlog.get_logger("grid-emulator")

API_PREFIX = "/api/v1"
INJECTED_FAULT = "injected fault"
LOST_ANSWER = "injected fault: the request was carried out but its answer was lost"

# The writes whose answers can be lost, by Flask endpoint: creates and signatures (what a client must not repeat
# blindly). Reads are retried freely by every client, so losing their answers proves nothing.
LOSABLE = {
    "reservations.create_workload": "workload",
    "reservations.reserve_pool": "pool",
    "reservations.sign_delete": "delete",
    "reservations.sign_provision": "provision",
}
LOSABLE_KINDS = tuple(LOSABLE.values())
REFUSE = "refuse"
_EXTENSION = "grid_lost_answers"


def inject_faults() -> Response | None:
    """before_request hook: delay every API response, and answer a fraction of API requests with a 500."""
    if not request.path.startswith(API_PREFIX):
        return None
    knobs = current_world().settings.current
    if knobs.extra_latency > 0:
        time.sleep(knobs.extra_latency)
    if knobs.error_rate > 0 and random.random() < knobs.error_rate:  # noqa: S311 - not security
        return error_response(500, INJECTED_FAULT)
    kind = LOSABLE.get(request.endpoint or "")
    if kind is not None and lost_answers().take(kind, refusal=True) is not None:
        log.info("request refused before handling", kind=kind, path=request.path)
        return error_response(500, INJECTED_FAULT)
    return None


class LostAnswers:
    """The deterministic "lose the next N answers of this kind" requests (in memory, like the other knobs)."""

    def __init__(self) -> None:
        self._pending: dict[str, list[str]] = {kind: [] for kind in LOSABLE_KINDS}
        self._lock = threading.Lock()

    def add(self, kind: str, count: int, mode: str) -> dict[str, int]:
        with self._lock:
            self._pending[kind].extend([mode] * count)
            return self._counts()

    def clear(self) -> dict[str, int]:
        with self._lock:
            for queue in self._pending.values():
                queue.clear()
            return self._counts()

    def take(self, kind: str, refusal: bool = False) -> str | None:
        """The mode of the next planned fault of ``kind``, consumed when it is a refusal (``refusal``: asked before
        the handler runs) or a lost answer (asked after it); None when the next one is of the other sort."""
        with self._lock:
            queue = self._pending[kind]
            if queue and (queue[0] == REFUSE) == refusal:
                return queue.pop(0)
            return None

    def counts(self) -> dict[str, int]:
        with self._lock:
            return self._counts()

    def _counts(self) -> dict[str, int]:
        return {kind: len(queue) for kind, queue in self._pending.items()}


def install_lost_answers(app: Flask) -> None:
    app.extensions[_EXTENSION] = LostAnswers()
    # after_request hooks run in reverse order of registration: register this one last, so it runs first and
    # the request log shows what the client got.
    app.after_request(lose_answers)


def lost_answers() -> LostAnswers:
    found: LostAnswers = current_app.extensions[_EXTENSION]
    return found


def lose_answers(response: Response) -> Response:
    """after_request hook: the handler has committed; maybe lose its answer (planned first, then by rate)."""
    kind = LOSABLE.get(request.endpoint or "")
    if kind is None or response.status_code not in (200, 201):
        return response
    mode = lost_answers().take(kind)
    knobs = current_world().settings.current
    if mode is None and knobs.lost_answer_rate > 0 and random.random() < knobs.lost_answer_rate:  # noqa: S311
        mode = knobs.lost_answer_mode
    if mode is None:
        return response
    log.info("answer lost after commit", kind=kind, mode=mode, path=request.path)
    if mode == "drop" and _drop_connection(request.environ):
        return response  # gunicorn's write fails on the closed socket (EPIPE, ignored): the client gets nothing
    return error_response(500, LOST_ANSWER)


def _drop_connection(environ: dict[str, Any]) -> bool:
    """Close the client's connection under the server; False when there is no socket (Flask test client)."""
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket):
        return False
    with contextlib.suppress(OSError):  # the client is already gone: lost either way
        sock.shutdown(socket.SHUT_RDWR)
    return True
