"""Fault injection on the public API: extra latency and random 500s (settings in `/_emulator/config`).

The other faults live where they act: node down in nodes.py, forced workload failures in workloads.py and
node_agent/lifecycle (the `node_failures` queue).
"""

from __future__ import annotations

import random
import time

from flask import Response, request

from emulators.grid.wire import error_response
from emulators.grid.world import current_world

API_PREFIX = "/api/v1"
INJECTED_FAULT = "injected fault"


def inject_faults() -> Response | None:
    """before_request hook: delay every API response, and answer a fraction of API requests with a 500."""
    if not request.path.startswith(API_PREFIX):
        return None
    knobs = current_world().settings.current
    if knobs.extra_latency > 0:
        time.sleep(knobs.extra_latency)
    if knobs.error_rate > 0 and random.random() < knobs.error_rate:  # noqa: S311 - not security
        return error_response(500, INJECTED_FAULT)
    return None
