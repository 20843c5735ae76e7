"""Cryptpad from the public catalogue, in a phone-width Chromium on the whole stack as `make run` starts it (issue
13): a new user with nothing browses the catalogue signed out (the apps first), picks Cryptpad, is asked to sign in
(3Bot Connect emulator) and to accept the terms, lands on the same app's wizard, answers the name, the app's
question, the end date and the currency, sees the plan (farm, node, domain, CU/SU, price) before any payment QR
code, pays the new pool (the emulator pays the reservation after 1 s), waits for the apps network, sees the
overview (the planned node and domain, the price paid), deploys, sees the `https://` address
on the success page and on My solutions, downloads apps.conf once and deletes the app. A screenshot of every page
is written under pytest's tmp_path (the path is printed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_wizard_ubuntu import DEPLOY_TIMEOUT, USER, Shots, Wizard, connect, running_stack
from tests.integration.auth.conftest import forget_terms

DATABASE = "marketplace_e2e_cryptpad"
NAME = "pad"
PUBLIC_NAME = re.compile(rf"^https://alice3bot-{NAME}(-\d+)?\.gw\d+\.grid\.example$")


@pytest.fixture(scope="module")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with running_stack(tmp_path_factory.mktemp("cryptpad-stack"), DATABASE) as stack:
        yield stack


def _overview(page: Page, label: str) -> str:
    row = page.get_by_role("table").get_by_role("row", name=re.compile(f"^{re.escape(label)}"))
    expect(row).to_have_count(1)
    return row.locator("td").inner_text()


@pytest.mark.timeout(900)
def test_cryptpad_from_the_public_catalogue_for_a_new_user(full_stack: dict[str, str], page: Page,
                                                           tmp_path: Path) -> None:  # fmt: skip
    proxy = full_stack["proxy"]
    print(f"\nscreenshots: {tmp_path}\nstack logs: {full_stack['logs']}")
    forget_terms(full_stack["database"], USER)
    shots = Shots(page, tmp_path)
    wizard = Wizard(page, shots)

    # ---- signed out: the public catalogue, apps first, SVG icons, nothing personal ----
    page.goto(f"{proxy}/")
    expect(page.get_by_role("heading", level=2).first).to_have_text("Apps")
    card = page.get_by_role("region", name="Apps").get_by_role("listitem").filter(
        has=page.get_by_role("heading", name="Cryptpad", exact=True))  # fmt: skip
    # Served beside the catalogue's script, under its content-hashed path (deploy/frontend_build.py).
    expect(card.locator("img.card-icon")).to_have_attribute("src", re.compile(r"^/s/[0-9a-f]{16}/icons/cryptpad\.svg$"))
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert page.evaluate("[...document.images].every((i) => i.complete && i.naturalWidth > 0)"), "an icon is missing"
    shots("public-catalogue")

    # ---- deploying asks to sign in (3Bot Connect), then the terms, and comes back to the same app ----
    card.get_by_role("link", name="Deploy Cryptpad").click()
    connect(page, shots)
    wizard.at("Name")
    expect(page.locator("#wizard-solution")).to_have_text("Cryptpad")

    # ---- the wizard: name, the app's question, end date, currency ----
    wizard.field("Solution name").fill(NAME)
    shots("name")
    wizard.next()
    wizard.at("Cryptpad settings")
    wizard.group("Storage size (GB)").get_by_label("5 GiB", exact=True).check()
    shots("settings")
    wizard.next()
    wizard.at("End date")
    expect(wizard.field("Run the app until")).not_to_have_value("")
    shots("end-date")
    wizard.next()
    wizard.at("Currency")
    wizard.group("Pay with").get_by_label("TFT", exact=True).check()
    shots("currency")
    wizard.next()

    # ---- the plan, before paying (issue 13): nothing bought yet, no QR code ----
    wizard.at("Plan")
    expect(page.get_by_alt_text("Payment QR code")).to_have_count(0)
    assert _overview(page, "Farm") == "freefarm"
    planned_node = _overview(page, "Node")
    assert re.fullmatch(r"[1-9A-HJ-NP-Za-km-z]{32,44}", planned_node), planned_node  # base58
    planned_domain = _overview(page, "Domain")
    assert PUBLIC_NAME.match(planned_domain), planned_domain
    assert re.match(r"[\d.]+ — \d+ CU-seconds to buy", _overview(page, "Compute units (CU)"))
    assert re.match(r"[\d.]+ — \d+ SU-seconds to buy", _overview(page, "Storage units (SU)"))
    planned_price = _overview(page, "Price")
    assert re.fullmatch(r"[\d.]+ TFT", planned_price), planned_price
    shots("plan")
    wizard.next()

    # ---- pay the new pool: the QR code; the emulator pays it ----
    wizard.at("Payment")
    expect(page.get_by_alt_text("Payment QR code")).to_be_visible()
    expect(page.locator(".payment dl")).to_contain_text(re.compile(r"Memo\s*p-\d+"))
    expect(page.locator(".payment dl")).to_contain_text(re.compile(rf"Amount\s*{re.escape(planned_price[:-4])}"))
    expect(page.locator(".payment-status")).to_contain_text(re.compile(r"Pool \d+ is ready"), timeout=60_000)
    shots("payment")
    wizard.next()

    # ---- the apps network, created on first use ----
    wizard.at("Apps network")
    expect(page.locator(".markdown")).to_contain_text("apps.conf")
    expect(page.locator(".progress-status .badge")).to_have_text("deployed", timeout=DEPLOY_TIMEOUT)
    shots("apps-network")
    wizard.next()

    # ---- the overview: the plan, checked again in the paid pool, before deploying ----
    wizard.at("Overview")
    expect(page.get_by_role("table")).to_contain_text(NAME)
    assert _overview(page, "Farm") == "freefarm"
    assert _overview(page, "Node") == planned_node
    domain = _overview(page, "Domain")
    assert domain == planned_domain
    assert re.match(r"[\d.]+ — \d+ CU-seconds bought", _overview(page, "Compute units (CU)"))
    assert re.match(r"[\d.]+ — \d+ SU-seconds bought", _overview(page, "Storage units (SU)"))
    assert _overview(page, "Price") == planned_price
    shots("overview")
    wizard.next("Deploy")

    # ---- deployed: its https address; apps.conf offered once ----
    wizard.at("Deploying")
    status = page.locator(".progress-status").first
    expect(status.locator(".badge")).to_have_text(re.compile("deployed|rolled back"), timeout=DEPLOY_TIMEOUT)
    expect(status.locator(".badge")).to_have_text("deployed")
    expect(page.locator(".outputs").first).to_contain_text(domain)
    # The address as a link at the top of the success page (opened in a tab of its own).
    success_link = page.get_by_role("link", name=f"Open {NAME} at {domain}")
    expect(success_link).to_have_attribute("href", domain)
    expect(success_link).to_have_attribute("rel", "noopener noreferrer")
    shots("deployed")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the WireGuard configuration").click()
    assert download.value.suggested_filename == "apps.conf"
    config = Path(download.value.path()).read_text()
    assert "[Interface]" in config and "PrivateKey" in config and "10.100." in config, config
    expect(page.get_by_text("The WireGuard configuration was downloaded")).to_contain_text("wg-quick up apps")
    expect(page.get_by_role("button", name="Download the WireGuard configuration")).to_have_count(0)
    shots("apps-conf-downloaded")
    session_id = page.evaluate("new URLSearchParams(location.search).get('session')")
    network = page.request.get(f"{proxy}/api/chatflows/sessions/{session_id}").json()["step"]["fields"][-1]
    again = page.request.post(f"{proxy}/api/solutions/{network['solution_id']}/wireguard", headers={"Origin": proxy})
    assert again.status == 410  # once only

    # ---- My solutions: the chip with its https address as a link ----
    page.get_by_role("link", name="See it in My solutions").click()
    expect(page.get_by_role("heading", name="My Cryptpad solutions")).to_be_visible()
    chip = page.get_by_role("button", name=re.compile(rf"^{NAME}\b"))
    expect(chip).to_contain_text("deployed")
    link = page.locator("#solutions a.public-url")
    expect(link).to_have_attribute("href", domain)
    expect(link).to_have_text(domain)
    shots("solutions")
    chip.click()
    dialog = page.get_by_role("dialog", name=NAME)
    expect(dialog.get_by_role("link", name=f"Open {NAME} at {domain}")).to_have_attribute("href", domain)
    keys = dialog.locator("#details-keys")
    for key in ("Domain", "IPv4 Address", "Node", "Pool", "Network"):
        expect(keys.get_by_text(key, exact=True)).to_be_visible()
    shots("details")

    # ---- delete it ----
    dialog.get_by_role("button", name=f"Delete {NAME}").click()
    ask = page.get_by_role("dialog", name=f"Delete {NAME}?")
    expect(ask).to_contain_text("removes every workload")
    shots("delete-confirm")
    ask.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").filter(has_text=f"{NAME} was deleted")).to_be_visible(timeout=DEPLOY_TIMEOUT)
    expect(chip).to_have_count(0)
    expect(page.get_by_text("You have no Cryptpad solutions.")).to_be_visible()
    shots("deleted")
