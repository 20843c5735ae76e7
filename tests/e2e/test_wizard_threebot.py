"""A hosted 3Bot from the catalogue, in a phone-width Chromium on the whole stack as `make run` starts it (issue 14):
a pool on a farm with a gateway and a network first, then the 3Bot wizard (backup password, SDK branch, ssh key file,
a managed domain of the user's gateway, IPv6, the confirmation table); the progress page shows it deployed, then
"initialising" until its /admin answers — here a loopback TLS double answering like a 3Bot — and its admin address;
then once with a 3Bot whose /admin never answers: "3Bot did not come up, contact support" after the (short) limit,
the 3Bot still listed; both deleted from My solutions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import free_port
from tests.e2e.test_wizard_ubuntu import (
    DEPLOY_TIMEOUT,
    SSH_KEY,
    Wizard,
    buy_pool,
    create_network,
    running_stack,
    signed_in,
)
from tests.integration.threebot_double import HANG, UP, ThreebotDouble, make_certificate, ready_url

DATABASE = "marketplace_e2e_threebot"
PASSWORD = "Chromium-Backup-Pass1"
READY_WAIT = 20  # seconds before a silent 3Bot is reported (600 in production)


@pytest.fixture(scope="module")
def double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreebotDouble]:
    served = ThreebotDouble(free_port(), tmp_path_factory.mktemp("threebot-double"))
    yield served
    served.stop()


@pytest.fixture(scope="module")
def full_stack(tmp_path_factory: pytest.TempPathFactory, double: ThreebotDouble) -> Iterator[dict[str, str]]:
    cert, _ = make_certificate(Path(double.directory))
    with running_stack(tmp_path_factory.mktemp("threebot-stack"), DATABASE,
                       THREEBOT_READY_URL=ready_url(double.port), THREEBOT_READY_CA=str(cert),
                       THREEBOT_READY_WAIT=str(READY_WAIT), THREEBOT_READY_INTERVAL="1") as stack:  # fmt: skip
        yield stack


def deploy_threebot(page: Page, wizard: Wizard, proxy: str, net: str, name: str) -> None:
    """The 3Bot card of the catalogue → its wizard, answered, deployed (the grid part)."""
    page.goto(f"{proxy}/")
    card = page.get_by_role("region", name="Advanced").get_by_role("listitem").filter(
        has=page.get_by_role("heading", name="3Bot", exact=True))  # fmt: skip
    card.get_by_role("link", name="Deploy 3Bot").click()
    wizard.at("Name")
    wizard.field("Solution name").fill(name)
    wizard.walk({
        "Container resources": lambda: expect(wizard.field("Memory (MiB)")).to_have_value("2048"),
        "Network": lambda: wizard.group("Network").get_by_label(re.compile(rf"^{net} ")).check(),
        "Backup password": lambda: wizard.field("Backup password").fill(PASSWORD),
        "SDK version": lambda: expect(wizard.field("SDK version (branch)")).to_have_value("development"),
        "SSH key": lambda: wizard.field("SSH public key").set_input_files(
            files=[{"name": "id_ed25519.pub", "mimeType": "text/plain", "buffer": SSH_KEY}]),
        "Managed domain": lambda: expect(wizard.field("Managed domain")).to_contain_text(re.compile(r"gw\d")),
    }, until="Confirm")  # fmt: skip
    confirm = page.get_by_role("table")
    expect(confirm.get_by_role("row", name=re.compile("^Domain"))).to_contain_text(f"alice-{name}.")
    expect(confirm.get_by_role("row", name=re.compile("^Root filesystem type"))).to_contain_text("SSD")
    expect(confirm).not_to_contain_text(PASSWORD)
    wizard.shots(f"threebot-confirm-{name}")
    wizard.next("Deploy")
    wizard.deployed()


@pytest.mark.timeout(900)
def test_a_3bot_from_the_catalogue_comes_up_or_is_reported_and_is_deleted(full_stack: dict[str, str], page: Page,
                                                                         double: ThreebotDouble,
                                                                         tmp_path: Path) -> None:  # fmt: skip
    proxy, wizard, suffix = signed_in(full_stack, page, tmp_path)
    shots = wizard.shots
    net, name, silent = f"net{suffix}", f"bot{suffix}", f"mute{suffix}"
    # The 3Bot (2 GiB, 2 GiB root) and its tunnel client, twice, for an hour at least: room to spare.
    buy_pool(page, wizard, shots, cu=40, su=40)
    create_network(page, wizard, shots, proxy, net)

    # ---- a 3Bot whose /admin answers: initialising, then up, its admin address shown ----
    double.default = UP
    deploy_threebot(page, wizard, proxy, net, name)
    outputs = page.locator(".outputs")
    expect(outputs).to_contain_text(re.compile(rf"https://alice-{name}\.gw\d+\.grid\.example/admin"))
    expect(outputs.locator("dd").filter(has_text=re.compile("^up$"))).to_have_count(1, timeout=60_000)
    expect(page.locator(".progress-status")).to_contain_text("3Bot is up")
    expect(page.locator(".progress")).not_to_contain_text(PASSWORD)
    shots("threebot-up")

    # ---- one whose /admin never answers: reported after the limit, its workloads kept ----
    double.default = HANG
    deploy_threebot(page, wizard, proxy, net, silent)
    expect(outputs).to_contain_text("initialising")
    alert = page.get_by_role("alert").filter(has_text="3Bot did not come up, contact support")
    expect(alert).to_be_visible(timeout=(READY_WAIT + 60) * 1000)
    expect(page.locator(".progress-status .badge")).to_have_text("deployed")  # kept for support
    shots("threebot-not-up")

    # ---- My solutions lists both; delete them ----
    page.get_by_role("link", name="See it in My solutions").click()
    expect(page.get_by_role("heading", name="My 3Bot solutions")).to_be_visible()
    for gone in (silent, name):
        chip = page.get_by_role("button", name=re.compile(rf"^{gone}\b"))
        expect(chip).to_contain_text("deployed")
        chip.click()
        dialog = page.get_by_role("dialog", name=gone)
        expect(dialog.locator("#details-keys")).to_contain_text("Domain")
        dialog.get_by_role("button", name=f"Delete {gone}").click()
        page.get_by_role("dialog", name=f"Delete {gone}?").get_by_role("button", name="Delete").click()
        expect(page.get_by_role("status").filter(has_text=f"{gone} was deleted")).to_be_visible(timeout=DEPLOY_TIMEOUT)
        expect(chip).to_have_count(0)
    expect(page.get_by_text("You have no 3Bot solutions.")).to_be_visible()
    shots("threebot-deleted")
