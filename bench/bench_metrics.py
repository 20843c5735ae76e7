"""What the instruments themselves cost (issue 18), in multiprocess mode as the processes run them: each hook timed
in a fresh interpreter whose ``PROMETHEUS_MULTIPROC_DIR`` is set before the client is imported, then priced per
wizard answer and per deployment with the counts of instruments each one passes through. The end-to-end with and
without figures (``bench_wizard``, ``bench_deploy``) move by more than this from one run to the next on a shared
machine; this says how much of a difference the metrics can make at most."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from bench.harness import ROOT

ROUNDS = 20000
# Instruments passed per unit of work. An answer: forward_auth's /auth/verify and the answer itself (two requests
# counted and timed) and, on the steps that ask another service, one Celery query task (prerun + postrun).
PER_ANSWER = {"request": 2, "task": 1}
# A deployment (100 Ubuntu into one network, bench_deploy): the submission and the pass (two tasks; beat's ticks
# and the pools worker's capacity answers are shared by all), two explorer calls, the submit→deployed observation.
PER_DEPLOYMENT = {"task": 2, "explorer": 2, "deployed": 1}

_TIMER = r"""
import json, sys, time
from datetime import UTC, datetime
from services.common import explorer_metrics, task_metrics, web_metrics
from services.deployer import metrics as deployer_metrics
rounds = int(sys.argv[1])

class Task:
    name = "deployer.advance_solution"

def request():
    web_metrics.REQUESTS.labels("chatflow", "POST", "/api/chatflows/sessions/<id>/answer", "2xx").inc()
    web_metrics.LATENCY.labels("chatflow", "/api/chatflows/sessions/<id>/answer").observe(0.012)

def task():
    task_metrics._prerun(task_id="t")
    task_metrics._postrun(task_id="t", task=Task, state="SUCCESS")

def explorer():
    explorer_metrics.record("GET", "/reservations/workloads/123", 200, 0.004)

sol = {"type": "ubuntu", "created_at": datetime.now(UTC)}
def deployed():
    deployer_metrics.deployed(sol)

out = {}
for name, hook in (("request", request), ("task", task), ("explorer", explorer), ("deployed", deployed)):
    hook()
    start = time.perf_counter()
    for _ in range(rounds):
        hook()
    out[name] = (time.perf_counter() - start) / rounds * 1e6
print(json.dumps(out))
"""


def measure() -> dict[str, float]:
    """Microseconds per hook, multiprocess mode."""
    with tempfile.TemporaryDirectory(prefix="mkt-metrics-") as directory:
        result = subprocess.run([sys.executable, "-c", _TIMER, str(ROUNDS)], cwd=ROOT, capture_output=True, text=True,
                                env={"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": directory},
                                check=True, timeout=300)  # fmt: skip
    return dict(json.loads(result.stdout))


def run() -> str:
    cost = measure()
    answer = sum(cost[k] * n for k, n in PER_ANSWER.items())
    deployment = sum(cost[k] * n for k, n in PER_DEPLOYMENT.items())
    return "\n".join([
        "## What the metrics cost (multiprocess mode, µs per hook)",
        "| hook | µs |", "|---|---|",
        *(f"| {name} | {us:.1f} |" for name, us in cost.items()),
        f"per wizard answer ({', '.join(f'{n} {k}' for k, n in PER_ANSWER.items())}): {answer:.0f} µs",
        f"per deployment ({', '.join(f'{n} {k}' for k, n in PER_DEPLOYMENT.items())}): {deployment:.0f} µs",
    ])  # fmt: skip


if __name__ == "__main__":
    print(run())
