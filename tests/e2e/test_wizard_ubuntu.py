"""The whole stack as `make run` starts it, driven in a phone-width Chromium like a person would: sign in with
3Bot Connect, accept the terms, buy and pay a pool (pools wizard; the emulator pays 1 s after the reservation),
create a network and take its WireGuard config (network wizard), deploy an Ubuntu container with an uploaded ssh key
(ubuntu wizard), watch it deploy, find it in My solutions, open it, delete it. Along the way: a refused answer shows
next to its field, and Back works.

The wizards are driven through their labels (services/chatflow/flows/*.py): a step is recognised by its title and
anything not filled keeps the default the flow proposes. A screenshot of every page is written under pytest's
tmp_path (the path is printed).
"""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.conftest import PYTHON, TEST_DATABASE_URL, Processes, redis_db_url, wait_http
from tests.integration.auth.conftest import forget_terms
from tests.integration.stack.test_stack_smoke import _stack_env

USER = "alice.3bot"
DATABASE = "marketplace_e2e_wizard"
SSH_KEY = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQqR8tqEj9m3S4kP9Jc8wS8q6vJ3m3f1rj2mW8bJxH e2e@test\n"
DEPLOY_TIMEOUT = 120_000  # ms: the emulator deploys in well under a second per workload; planning adds a little


@pytest.fixture(scope="module")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with running_stack(tmp_path_factory.mktemp("wizard-stack"), DATABASE) as stack:
        yield stack


@contextmanager
def running_stack(tmp: Path, database_name: str, **overrides: str) -> Iterator[dict[str, str]]:
    """The whole stack (``deploy.run_local``) on free ports, on a database of its own, started from empty tables:
    ``<database_name>_<the test database's name>`` (one per module and per test run: runs of other worktrees on
    the same PostgreSQL server use theirs at the same time — with one shared name their deployers polled each
    other's workloads and rolled deployments back)."""
    (tmp / "logs").mkdir()
    database = _own_database(f"{database_name}_{TEST_DATABASE_URL.rsplit('/', 1)[1]}")
    ports, env, _ = _stack_env(
        tmp, PAYMENT_WATCH_INTERVAL="1", GRID_EMULATOR_AUTO_PAY_AFTER="1", GRID_EMULATOR_DEPLOY_LATENCY="0.2",
        DEPLOY_POLL_INTERVAL="0.5", NODE_INDEX_REFRESH="5", REDIS_URL=redis_db_url(10),
        DATABASE_URL=database, **overrides,
    )  # fmt: skip
    _fresh_state(database, env["REDIS_URL"])
    processes = Processes(tmp / "logs")
    proc = processes.start("stack", [PYTHON, "-m", "deploy.run_local"], env)
    try:
        for prefix in ("/auth", "/api/chatflows", "/api/solutions", "/api/pools"):
            wait_http(f"http://127.0.0.1:{ports['PROXY_PORT']}{prefix}/healthz", timeout=90, proc=proc)
        yield {"database": env["DATABASE_URL"], "proxy": f"http://localhost:{ports['PROXY_PORT']}",
               "logs": str(tmp / "logs"), "connect": env["THREEBOT_LOGIN_URL"]}  # fmt: skip
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        processes.stop_all()


def _own_database(name: str) -> str:
    """A database of this test's own on the test server: other suites running at the same time share the test
    database, and their emulators hand out the same grid ids (1, 2, …) as this one."""
    import psycopg2

    server = TEST_DATABASE_URL.rsplit("/", 1)[0]
    conn = psycopg2.connect(f"{server}/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return f"{server}/{name}"


def _fresh_state(database: str, redis_url: str) -> None:
    """This stack's emulator is new (its ids restart at 1): start from empty pools, solutions and sessions."""
    import psycopg2
    import redis

    from services.common.migrations import migrate

    migrate(database)
    conn = psycopg2.connect(database)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE pools.pools, pools.reservations, deployer.solutions, deployer.networks, "
                        "deployer.workloads, deployer.nodes, deployer.node_index, deployer.node_holds, "
                        "deployer.port_allocations, "
                        "chatflow.sessions CASCADE")  # fmt: skip
    finally:
        conn.close()
    redis.Redis.from_url(redis_url).flushdb()


class Shots:
    """A numbered screenshot of each page, kept as test artifacts."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page, self.folder, self.n = page, folder, 0

    def __call__(self, name: str) -> None:
        self.n += 1
        self.page.screenshot(path=self.folder / f"{self.n:02d}-{name}.png", full_page=True)
        # Readable on a phone: nothing makes the page scroll sideways.
        assert self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name


class Wizard:
    """Drives the wizard page: what the current step is, answering it by its labels, Next."""

    def __init__(self, page: Page, shots: Shots) -> None:
        self.page, self.shots = page, shots
        self.title = page.locator("#step-name")
        self.heading = page.get_by_role("heading", level=2)

    def at(self, title: str) -> None:
        expect(self.title).to_have_text(title, timeout=30_000)
        # The heading gets the focus on every step (screen readers announce the new step).
        expect(self.page.locator("#step-title")).to_be_focused()

    def field(self, label: str) -> Locator:
        return self.page.get_by_label(label, exact=True)

    def group(self, legend: str) -> Locator:
        return self.page.get_by_role("group", name=legend)

    def next(self, label: str = "Next") -> None:
        button = self.page.locator("#next")
        expect(button).to_have_text(label)
        expect(button).to_be_enabled(timeout=30_000)
        before = self.heading.text_content()
        button.click()
        if label == "Finish":
            return  # a finished wizard stays on its last step; the caller checks what the page offers next
        # The next step, or a problem shown on this one (then say what it is).
        self.page.wait_for_function(
            """(before) => document.getElementById("step-title").textContent !== before
                || document.querySelector("#wizard-problem:not([hidden]), .field-error:not([hidden])")""",
            arg=before, timeout=30_000)  # fmt: skip
        if self.heading.text_content() == before:
            problems = self.page.locator("#wizard-problem:not([hidden]), .field-error:not([hidden])").all_inner_texts()
            self.shots("problem")
            raise AssertionError(f"{before!r} was not accepted: {problems}")

    def walk(self, answers: dict[str, Callable[[], None]], until: str) -> None:
        """Answer step after step (by step title) until the step titled ``until``; unknown steps keep defaults."""
        for _ in range(20):
            expect(self.title).not_to_have_text("Loading…")
            expect(self.page.locator("#next")).to_be_visible()
            title = self.title.inner_text()
            if title == until:
                return
            answers.get(title, lambda: None)()
            self.next()
        raise AssertionError(f"never reached the step {until!r}")

    def deployed(self) -> Locator:
        """Wait for the progress step to show the deployment deployed."""
        self.at("Deploying")
        status = self.page.locator(".progress-status")
        expect(status.locator(".badge")).to_have_text(re.compile("deployed|rolled back"), timeout=DEPLOY_TIMEOUT)
        expect(status.locator(".badge")).to_have_text("deployed")
        return status


def _sign_in(page: Page, proxy: str) -> None:
    page.goto(f"{proxy}/")
    page.get_by_role("link", name="Sign in").click()  # the catalogue is public: signed out it offers this link
    connect(page)
    expect(page).to_have_url(f"{proxy}/")


def connect(page: Page, shots: Shots | None = None) -> None:
    """From the login page: ``USER`` approves the sign-in on the 3Bot Connect emulator and accepts the terms (the
    page then goes back to where the sign-in started). ``shots``: a screenshot of each of these pages."""
    expect(page).to_have_url(re.compile(r"/auth/login\?"))
    snap = shots or (lambda name: None)
    snap("sign-in")
    page.get_by_role("button", name="Sign in with 3Bot Connect").click()
    page.get_by_label(USER).check()
    snap("connect-approve")
    page.get_by_role("button", name="Approve").click()
    expect(page).to_have_url(re.compile(r"/terms\.html\?next="))
    snap("terms")
    page.get_by_role("button", name="Accept").click()


def signed_in(full_stack: dict[str, str], page: Page, tmp_path: Path) -> tuple[str, Wizard, str]:
    """``USER`` signed in, accepting the terms afresh; where the screenshots and the stack's logs are printed.
    Returns the site's address, the wizard driver (with its screenshots) and a fresh suffix for names."""
    proxy = full_stack["proxy"]
    print(f"\nscreenshots: {tmp_path}\nstack logs: {full_stack['logs']}")
    forget_terms(full_stack["database"], USER)
    _sign_in(page, proxy)
    return proxy, Wizard(page, Shots(page, tmp_path)), uuid.uuid4().hex[:6]


def buy_pool(page: Page, wizard: Wizard, shots: Shots, cu: int = 1, su: int = 1) -> None:
    """The pools wizard from the catalogue: ``cu`` CU + ``su`` SU for a day on the first farm (farm 1, which has a
    gateway), paid by the emulator at once, done."""
    page.get_by_role("link", name="Deploy Capacity pools").click()
    wizard.at("Capacity")
    expect(page.get_by_role("heading", level=2)).to_contain_text("Step 1 of")
    expect(page.get_by_role("button", name="Back")).to_be_hidden()
    wizard.field("Compute units (CU)").fill(str(cu))
    wizard.field("Storage units (SU)").fill(str(su))
    wizard.field("Duration (days)").fill("1")
    wizard.group("Currency").get_by_label("TFT", exact=True).check()
    shots("pools-capacity")
    wizard.next()
    wizard.at("Farm")
    farms = wizard.field("Farm").locator("option")
    expect(farms).not_to_have_count(0)
    wizard.next()  # the first farm
    wizard.at("Payment")
    expect(page.get_by_alt_text("Payment QR code")).to_be_visible()
    expect(page.locator(".payment dl")).to_contain_text(re.compile(r"Memo\s*p-\d+"))
    expect(page.locator(".payment-status")).to_contain_text(re.compile(r"Pool \d+ is ready"), timeout=60_000)
    shots("pools-payment")
    wizard.next()
    wizard.at("Done")
    expect(page.locator(".markdown")).to_contain_text("is ready")
    wizard.next("Finish")
    expect(page.get_by_role("link", name="See it in My solutions")).to_have_attribute("href", "/pools.html")


def create_network(page: Page, wizard: Wizard, shots: Shots, proxy: str, net: str) -> None:
    """The network wizard: create ``net`` and download its WireGuard config, once only."""
    page.goto(f"{proxy}/")
    page.get_by_role("link", name="Deploy Network").click()
    wizard.at("Name")
    wizard.field("Network name").fill(net)
    wizard.walk({"Access node": lambda: wizard.group("Pools to look for an access node in")
                 .get_by_role("checkbox").first.check()}, until="Confirm")  # fmt: skip
    expect(page.get_by_role("table")).to_contain_text(net)
    shots("network-confirm")
    wizard.next("Deploy")
    wizard.deployed()
    button = page.get_by_role("button", name="Download the WireGuard configuration")
    expect(page.get_by_text("It can be downloaded once only")).to_be_visible()
    with page.expect_download() as download:
        button.click()
    config = Path(download.value.path()).read_text()
    assert "[Interface]" in config and "PrivateKey" in config
    assert re.fullmatch(r"wg-\d+\.conf", download.value.suggested_filename), download.value.suggested_filename
    expect(page.get_by_text("The WireGuard configuration was downloaded")).to_be_visible()
    shots("network-deployed")
    session_id = page.evaluate("new URLSearchParams(location.search).get('session')")
    network_solution = page.request.get(f"{proxy}/api/chatflows/sessions/{session_id}").json()["solution_id"]
    again = page.request.post(f"{proxy}/api/solutions/{network_solution}/wireguard", headers={"Origin": proxy})
    assert again.status == 410  # once only


@pytest.mark.timeout(900)
def test_pool_network_ubuntu_through_the_wizards(full_stack: dict[str, str], page: Page, tmp_path: Path) -> None:
    proxy, wizard, suffix = signed_in(full_stack, page, tmp_path)
    shots = wizard.shots
    net, box = f"net{suffix}", f"box{suffix}"

    # ---- the catalogue: a card per solution, with counts ----
    advanced = page.get_by_role("region", name="Advanced")
    ubuntu_card = advanced.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Ubuntu"))
    expect(ubuntu_card).to_contain_text("You have none yet.")
    expect(page.get_by_role("link", name="Your capacity pools")).to_be_visible()
    shots("catalogue")

    # ---- pools wizard: buy 1 CU + 1 SU for a day, pay (the emulator pays at once), done ----
    buy_pool(page, wizard, shots)

    # ---- network wizard: create one, download its WireGuard config once ----
    create_network(page, wizard, shots, proxy, net)

    # ---- ubuntu wizard ----
    page.goto(f"{proxy}/")
    page.get_by_role("link", name="Deploy Ubuntu", exact=True).click()  # not "Ubuntu (simple)"
    wizard.at("Name")
    name = wizard.field("Solution name")

    # A refused answer: the error next to the field, tied to it, focused; Enter submits.
    name.fill("Bad Name!")
    name.press("Enter")
    error = page.locator("[data-field='name'] .field-error")
    expect(error).to_contain_text("lower-case letters")
    expect(name).to_have_attribute("aria-invalid", "true")
    error_id = error.get_attribute("id")
    expect(name).to_have_attribute("aria-describedby", re.compile(rf"\b{error_id}\b"))
    expect(name).to_be_focused()
    shots("ubuntu-invalid-name")
    name.fill(box)
    name.press("Enter")
    wizard.at("Version")

    # Back: the previous step again, pre-filled with the earlier answer.
    page.get_by_role("button", name="Back").click()
    wizard.at("Name")
    expect(name).to_have_value(box)
    wizard.next()
    wizard.at("Version")

    wizard.walk({
        "Capacity pool": lambda: expect(wizard.field("Pool").locator("option")).not_to_have_count(0),
        "Network": lambda: wizard.group("Network").get_by_label(re.compile(rf"^{net} ")).check(),
        "SSH key": lambda: wizard.field("SSH public key").set_input_files(
            files=[{"name": "id_ed25519.pub", "mimeType": "text/plain", "buffer": SSH_KEY}]),
    }, until="Confirm")  # fmt: skip
    confirm = page.get_by_role("table")
    expect(confirm.get_by_role("row", name=re.compile("^Name"))).to_contain_text(box)
    expect(confirm.get_by_role("row", name=re.compile("^Network"))).to_contain_text(net)
    shots("ubuntu-confirm")
    wizard.next("Deploy")
    status = wizard.deployed()
    expect(page.locator(".outputs")).to_contain_text("ssh root@")
    expect(status).to_be_visible()
    shots("ubuntu-deployed")

    # ---- My solutions: the chip, its dialog, delete with a confirmation ----
    page.get_by_role("link", name="See it in My solutions").click()
    expect(page.get_by_role("heading", name="My Ubuntu solutions")).to_be_visible()
    chip = page.get_by_role("button", name=re.compile(rf"^{box}\b"))
    expect(chip).to_contain_text("deployed")
    shots("solutions")
    chip.click()
    dialog = page.get_by_role("dialog", name=box)
    expect(dialog).to_be_visible()
    keys = dialog.locator("#details-keys")
    for key in ("IPv4 Address", "Node", "Pool", "Network", "CPU", "Memory"):
        expect(keys.get_by_text(key, exact=True)).to_be_visible()
    expect(keys).to_contain_text(net)
    expect(dialog.locator("#details-events li").first).to_be_visible()
    shots("solution-details")
    dialog.get_by_role("button", name=f"Delete {box}").click()
    ask = page.get_by_role("dialog", name=f"Delete {box}?")
    expect(ask).to_contain_text("removes every workload")
    shots("solution-delete-confirm")
    ask.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").filter(has_text=f"{box} was deleted")).to_be_visible(timeout=DEPLOY_TIMEOUT)
    expect(chip).to_have_count(0)
    expect(page.get_by_text("You have no Ubuntu solutions.")).to_be_visible()
    shots("solutions-after-delete")

    # The catalogue counts what is left: the network.
    page.goto(f"{proxy}/")
    network_card = (
        page.get_by_role("region", name="Advanced")
        .get_by_role("listitem")
        .filter(has=page.get_by_role("heading", name="Network", exact=True))
    )
    expect(network_card).to_contain_text("You have 1.")
    shots("catalogue-after")
