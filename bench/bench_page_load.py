"""A page load of the catalogue by a signed-in browser: headless Chromium, cold cache then warm.

The stack of ``bench_wizard`` (Caddy, auth-web, chatflow-web, deployer-web, pools-web and their workers, the
emulators) with one signed-in user who has a pool and a network. Chromium (Debian's, driven by Playwright, as the
e2e tests) gets that user's session cookie and loads ``/`` until the catalogue's cards are visible.
Cold: a new browser context each time (empty cache). Warm: the same context loading the page again. For each load:
the requests that reached the network (not served from the browser's cache), the bytes transferred (headers and
bodies, as received) and the time from navigation to the first card visible; the median of ``LOADS`` loads.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import BrowserContext, sync_playwright

from bench.wizard_world import wizard_stack

LOADS = 7
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
CARD = "#catalogue li.card"
NOT_MODIFIED = 304


@dataclass
class Load:
    requests: int  # that reached the network
    revalidated: int  # of which answered 304 Not Modified
    cached: int  # served from the browser's cache
    bytes: int  # transferred (encoded, with headers)
    ms: float  # navigation → first card visible


def _load(context: BrowserContext, url: str) -> Load:
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    sent: set[str] = set()
    cached: set[str] = set()
    revalidated: set[str] = set()
    transferred: list[int] = []

    def on_response(event: dict[str, Any]) -> None:
        response = event["response"]
        if response.get("fromDiskCache") or response.get("fromPrefetchCache"):
            cached.add(event["requestId"])
        elif response.get("status") == NOT_MODIFIED:
            revalidated.add(event["requestId"])

    cdp.on("Network.requestWillBeSent", lambda event: sent.add(event["requestId"]))
    cdp.on("Network.requestServedFromCache", lambda event: cached.add(event["requestId"]))
    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.loadingFinished", lambda event: transferred.append(int(event.get("encodedDataLength", 0))))
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(CARD, state="visible", timeout=30_000)
    ms = (time.perf_counter() - t0) * 1000
    page.wait_for_load_state("networkidle")  # the page's remaining requests (its other lists, the icons)
    page.close()
    return Load(len(sent - cached), len(revalidated), len(cached), sum(transferred), ms)


def _row(name: str, loads: list[Load]) -> str:
    def median(values: list[float]) -> float:
        return float(statistics.median(values))

    return (f"| {name} | {median([x.requests for x in loads]):.0f} | {median([x.revalidated for x in loads]):.0f} | "
            f"{median([x.cached for x in loads]):.0f} | "
            f"{median([x.bytes for x in loads]) / 1024:.1f} | {median([x.ms for x in loads]):.0f} |")  # fmt: skip


def run() -> str:
    web = ("auth", "chatflow", "deployer", "pools")
    with wizard_stack(1, database="bench_page_load", web=web) as running, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        (session,) = running.sessions.values()
        cookie = {"name": "mp_session", "value": session.cookies["mp_session"], "url": running.proxy}
        url = f"{running.proxy}/"
        cold: list[Load] = []
        warm: list[Load] = []
        try:
            for _ in range(LOADS):
                context = browser.new_context()
                context.add_cookies([cookie])  # type: ignore[list-item]
                cold.append(_load(context, url))
                warm.append(_load(context, url))
                context.close()
        finally:
            browser.close()
    return "\n".join([
        f"## Catalogue page load, signed-in headless Chromium (median of {LOADS})",
        "| load | requests to the network | of which 304 | served from cache | KiB transferred "
        "| ms to catalogue visible |",
        "|---|---|---|---|---|---|",
        _row("cold cache (new browser context)", cold),
        _row("warm cache (same context, again)", warm),
    ])  # fmt: skip


if __name__ == "__main__":
    print(run())
