"""Gitea from the catalogue, in a phone-width Chromium on the whole stack as `make run` starts it (issue 12): a
pool on a farm with a gateway and a network first, then the Gitea wizard (its public name is drawn among the
gateway's managed domains), its `https://` address shown as a link on the progress page, on My solutions and on the
catalogue card, and deleting it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_wizard_ubuntu import DEPLOY_TIMEOUT, SSH_KEY, buy_pool, create_network, running_stack, signed_in

DATABASE = "marketplace_e2e_gitea"
PUBLIC_NAME = r"alice-{name}(-\d+)?\.gw\d+\.grid\.example"


@pytest.fixture(scope="module")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with running_stack(tmp_path_factory.mktemp("gitea-stack"), DATABASE) as stack:
        yield stack


@pytest.mark.timeout(900)
def test_gitea_from_the_catalogue_shows_its_https_address_and_is_deleted(full_stack: dict[str, str], page: Page,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    proxy, wizard, suffix = signed_in(full_stack, page, tmp_path)
    shots = wizard.shots
    net, name = f"net{suffix}", f"git{suffix}"
    # Gitea and its tunnel client need 3 CPU, 2 GiB and 7 GiB for an hour at least: a pool with room to spare.
    buy_pool(page, wizard, shots, cu=20, su=20)
    create_network(page, wizard, shots, proxy, net)

    # ---- the Gitea card of the catalogue → its wizard ----
    page.goto(f"{proxy}/")
    card = page.get_by_role("region", name="Advanced").get_by_role("listitem").filter(
        has=page.get_by_role("heading", name="Gitea", exact=True))  # fmt: skip
    expect(card).to_contain_text("You have none yet.")
    card.get_by_role("link", name="Deploy Gitea").click()
    wizard.at("Name")
    wizard.field("Solution name").fill(name)
    wizard.walk({
        "Network": lambda: wizard.group("Network").get_by_label(re.compile(rf"^{net} ")).check(),
        "SSH key": lambda: wizard.field("SSH public key").set_input_files(
            files=[{"name": "id_ed25519.pub", "mimeType": "text/plain", "buffer": SSH_KEY}]),
        "Public domain": lambda: expect(page.locator(".markdown")).to_contain_text(f"alice-{name}."),
    }, until="Confirm")  # fmt: skip
    confirm = page.get_by_role("table")
    expect(confirm.get_by_role("row", name=re.compile("^Domain"))).to_contain_text(f"alice-{name}.")
    shots("gitea-confirm")
    wizard.next("Deploy")
    wizard.deployed()
    expect(page.locator(".outputs")).to_contain_text(re.compile(r"https://" + PUBLIC_NAME.format(name=name)))
    shots("gitea-deployed")

    # ---- My solutions: the chip with its public address as a link; the dialog shows it too ----
    page.get_by_role("link", name="See it in My solutions").click()
    expect(page.get_by_role("heading", name="My Gitea solutions")).to_be_visible()
    chip = page.get_by_role("button", name=re.compile(rf"^{name}\b"))
    expect(chip).to_contain_text("deployed")
    link = page.locator("#solutions a.public-url")  # (a regex with "//" is no Playwright role name)
    expect(link).to_have_attribute("aria-label", re.compile(rf"^Open {name} at https:"))
    expect(link).to_have_attribute("href", re.compile(rf"^https://{PUBLIC_NAME.format(name=name)}$"))
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    url = link.get_attribute("href")
    assert url is not None
    expect(link).to_have_text(url)
    shots("gitea-solutions")
    chip.click()
    dialog = page.get_by_role("dialog", name=name)
    expect(dialog.get_by_role("link", name=f"Open {name} at {url}")).to_have_attribute("href", url)
    expect(dialog.locator("#details-keys")).to_contain_text("Domain")
    page.keyboard.press("Escape")

    # ---- the catalogue card links it as well ----
    page.goto(f"{proxy}/")
    expect(card.get_by_role("link", name=f"Open {name} at {url}")).to_have_attribute("href", url)
    expect(card).to_contain_text("You have 1.")
    shots("catalogue-with-gitea")

    # ---- delete it from My solutions ----
    card.get_by_role("link", name=re.compile("^My Gitea solutions")).click()
    chip = page.get_by_role("button", name=re.compile(rf"^{name}\b"))
    chip.click()
    dialog = page.get_by_role("dialog", name=name)
    dialog.get_by_role("button", name=f"Delete {name}").click()
    ask = page.get_by_role("dialog", name=f"Delete {name}?")
    ask.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").filter(has_text=f"{name} was deleted")).to_be_visible(timeout=DEPLOY_TIMEOUT)
    expect(chip).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile(rf"^Open {name} at"))).to_have_count(0)
    expect(page.get_by_text("You have no Gitea solutions.")).to_be_visible()
    shots("gitea-deleted")
