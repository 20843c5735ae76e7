"""The 4to6 Gateway's one-time WireGuard file in a phone-width Chromium (SOLUTIONS §3.11), on the whole stack as
`make run` starts it: buy a pool on the farm with a gateway (pools wizard), deploy 4to6 through its wizard with the
key pair made by the marketplace, open it in My solutions, download ``wg-<workload id>.conf`` (the
[Interface]/[Peer] file whose private key belongs to the listed public key), see a second download — from a tab
opened before the first — say the file is gone, and delete the solution."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import nacl.public
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_wizard_ubuntu import DEPLOY_TIMEOUT, Shots, Wizard, _sign_in, buy_pool, running_stack
from tests.integration.auth.conftest import forget_terms

USER = "alice.3bot"
DATABASE = "marketplace_e2e_4to6"


@pytest.fixture(scope="module")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with running_stack(tmp_path_factory.mktemp("4to6-stack"), DATABASE) as stack:
        yield stack


def open_details(page: Page, proxy: str, name: str) -> None:
    """My 4to6 Gateway solutions, the chip of ``name`` opened."""
    page.goto(f"{proxy}/solutions.html?type=4to6gw")
    expect(page.get_by_role("heading", name="My 4to6 Gateway solutions")).to_be_visible()
    chip = page.locator("#solutions").get_by_role("button").filter(has_text=name)  # a key has "/" and "+"
    expect(chip).to_contain_text("deployed")
    chip.click()
    expect(page.get_by_role("dialog", name=name)).to_be_visible()


@pytest.mark.timeout(600)
def test_4to6_wireguard_file_is_downloaded_once_from_my_solutions(
    full_stack: dict[str, str], page: Page, tmp_path: Path
) -> None:
    proxy = full_stack["proxy"]
    shots = Shots(page, tmp_path)
    print(f"\nscreenshots: {tmp_path}\nstack logs: {full_stack['logs']}")
    forget_terms(full_stack["database"], USER)
    _sign_in(page, proxy)
    wizard = Wizard(page, shots)
    buy_pool(page, wizard, shots)

    # ---- the 4to6 wizard: the gateway of the pool, no key (the marketplace makes the pair) ----
    page.goto(f"{proxy}/")
    page.get_by_role("link", name="Deploy 4to6 Gateway").click()
    wizard.at("Gateway")
    expect(wizard.field("Gateway").locator("option", has_text=re.compile(r"^Pool: \d+ ns1\.gw1\.grid\.example"))
           ).to_have_count(1)  # fmt: skip
    wizard.next()
    wizard.at("WireGuard key")
    expect(wizard.field("WireGuard public key (optional)")).to_have_value("")
    wizard.next()
    wizard.at("Confirm")
    expect(page.get_by_role("table")).to_contain_text("made by the marketplace")
    shots("4to6-confirm")
    wizard.next("Deploy")
    wizard.deployed()
    session_id = page.evaluate("new URLSearchParams(location.search).get('session')")
    solution_id = page.request.get(f"{proxy}/api/chatflows/sessions/{session_id}").json()["solution_id"]
    detail = page.request.get(f"{proxy}/api/solutions/{solution_id}").json()
    public_key = detail["Name"]
    (workload,) = [w for w in detail["workloads"] if w["kind"] == "gateway4to6"]
    shots("4to6-deployed")

    # ---- My solutions: two tabs show the download; the first takes the file ----
    other = page.context.new_page()
    open_details(page, proxy, public_key)
    open_details(other, proxy, public_key)
    dialog = page.get_by_role("dialog", name=public_key)
    keys = dialog.locator("#details-keys")
    for key in ("Public Key", "Gateway", "Pool"):
        expect(keys.get_by_text(key, exact=True)).to_be_visible()
    expect(dialog.get_by_text("It can be downloaded once only")).to_be_visible()
    # A 44-character key with no break point as the title: "Close" stays one line beside it.
    close = dialog.get_by_role("button", name="Close")
    box = close.bounding_box()
    assert box is not None and box["height"] < 40, box  # squeezed to a letter per line, it is ~90 px high
    shots("4to6-details")
    with page.expect_download() as download:
        dialog.get_by_role("button", name="Download the WireGuard configuration").click()
    assert download.value.suggested_filename == f"wg-{workload['id']}.conf"
    config = Path(download.value.path()).read_text()
    assert re.match(r"\[Interface\]\nAddress = \S+/\d+\nPrivateKey = \S+\n\n\[Peer\]\nPublicKey = \S+\nAllowedIPs = ",
                    config), config  # fmt: skip
    private = re.search(r"^PrivateKey = (\S+)$", config, re.M)
    assert private is not None
    derived = nacl.public.PrivateKey(base64.b64decode(private.group(1))).public_key
    assert base64.b64encode(bytes(derived)).decode() == public_key
    done = dialog.get_by_role("status").filter(has_text="The WireGuard configuration was downloaded")
    expect(done).to_contain_text(f"wg-quick up wg-{workload['id']}")
    shots("4to6-downloaded")

    # The tab opened before still offers it; its click is told the file is gone (410), and nothing is saved.
    second = other.get_by_role("dialog", name=public_key)
    downloads: list[object] = []
    other.on("download", lambda d: downloads.append(d))
    second.get_by_role("button", name="Download the WireGuard configuration").click()
    expect(second.get_by_role("status").filter(has_text="already downloaded")).to_be_visible()
    assert downloads == []
    other.close()

    # ---- delete it ----
    dialog.get_by_role("button", name=f"Delete {public_key}").click()
    page.get_by_role("dialog", name=f"Delete {public_key}?").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").filter(has_text=f"{public_key} was deleted")).to_be_visible(
        timeout=DEPLOY_TIMEOUT
    )
    expect(page.get_by_text("You have no 4to6 Gateway solutions.")).to_be_visible()
    shots("4to6-deleted")
