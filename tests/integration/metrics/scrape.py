"""Reading a process's metrics as Prometheus does: one GET of its internal port, parsed by the client's own
parser."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
from prometheus_client.parser import text_string_to_metric_families

Samples = list[tuple[str, dict[str, str], float]]


def scrape(port: int) -> Samples:
    """Every sample ``127.0.0.1:<port>/metrics`` serves now."""
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(response.text) for s in f.samples]


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 when there is none)."""
    return sum(v for n, got, v in samples if n == name and all(got.get(k) == want for k, want in labels.items()))


def until(port: int, check: Callable[[Samples], bool], timeout: float = 30) -> Samples:
    """Scrape until ``check`` holds (then return that scrape); fail with the last one after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(port)
        if check(samples):
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics on :{port} never satisfied the check: {samples}")
        time.sleep(0.3)
