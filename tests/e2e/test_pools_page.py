"""The whole stack as `make run` starts it, driven in Chromium: sign in, accept terms, buy a pool, pay, see it
become active (the beat-driven watcher notices the payment)."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.conftest import PYTHON, Processes, redis_db_url, wait_http
from tests.integration.auth.conftest import forget_terms
from tests.integration.stack.test_stack_smoke import _stack_env


@pytest.fixture(scope="module")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp: Path = tmp_path_factory.mktemp("full")
    (tmp / "logs").mkdir()
    ports, env, _ = _stack_env(tmp, PAYMENT_WATCH_INTERVAL="1", GRID_EMULATOR_AUTO_PAY_AFTER="0",
                               GRID_EMULATOR_DEPLOY_LATENCY="0.2", REDIS_URL=redis_db_url(9))  # fmt: skip
    processes = Processes(tmp / "logs")
    proc = processes.start("stack", [PYTHON, "-m", "deploy.run_local"], env)
    try:
        for prefix in ("/auth", "/api/pools"):
            wait_http(f"http://127.0.0.1:{ports['PROXY_PORT']}{prefix}/healthz", timeout=90, proc=proc)
        yield {
            "database": env["DATABASE_URL"],
            "proxy": f"http://localhost:{ports['PROXY_PORT']}",
            "grid": f"http://127.0.0.1:{ports['GRID_EMULATOR_PORT']}",
        }
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        processes.stop_all()


def test_buy_a_pool_pay_it_and_watch_it_become_active(full_stack: dict[str, str], page: Page) -> None:
    proxy = full_stack["proxy"]
    forget_terms(full_stack["database"], "alice.3bot")
    _empty_pools(full_stack["database"])
    page.goto(f"{proxy}/pools.html")
    page.get_by_role("button", name="Sign in with 3Bot Connect").click()
    page.get_by_label("alice.3bot").check()
    page.get_by_role("button", name="Approve").click()
    expect(page).to_have_url(re.compile(r"/terms\.html"))
    page.get_by_role("button", name="Accept").click()
    expect(page).to_have_url(f"{proxy}/pools.html")
    expect(page.get_by_text("You have no pools yet.")).to_be_visible()

    page.get_by_label("Currency").select_option("TFT")
    expect(page.get_by_label("Farm").locator("option")).not_to_have_count(0)
    page.get_by_label("CU in use").fill("1")
    page.get_by_label("SU in use").fill("1")
    page.get_by_label("Days").fill("1")
    page.get_by_role("button", name="Reserve and pay").click()

    payment = page.get_by_role("region", name=re.compile("Pay for pool"))
    expect(payment).to_be_visible()
    memo = page.locator("#pay-memo")
    expect(memo).to_have_text(re.compile(r"^p-\d+$"))
    expect(page.locator("#pay-currency")).to_have_text("TFT")
    expect(page.get_by_alt_text("Payment QR code")).to_be_visible()
    reservation = int(memo.inner_text().removeprefix("p-"))

    assert requests.post(f"{full_stack['grid']}/_emulator/pay", json={"reservation_id": reservation}, timeout=5).ok
    expect(page.locator("#pay-status")).to_have_text(re.compile("payment received"), timeout=20000)
    expect(page.locator("#pools tbody tr").first).to_contain_text("active")


def _empty_pools(database: str) -> None:
    # This stack's emulator is new, so its reservation ids restart at 1: start from empty pool tables.
    import psycopg2

    conn = psycopg2.connect(database)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE pools.pools, pools.reservations")
    finally:
        conn.close()
