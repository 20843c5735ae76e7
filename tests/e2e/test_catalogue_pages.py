"""The catalogue and My solutions pages in Chromium, against scripted API answers (no stack): families, counts,
resuming and abandoning a wizard, the details dialog, deleting with a confirmation, errors — with the keyboard —
and a network's one-time WireGuard download from the dialog."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Route, expect

from tests.e2e.test_wizard_fields import site  # noqa: F401 — the static frontend, served from a thread

RESUME = "7d0c6f1e-1111-4a8e-9a77-0c6b2d4f9e21"
BOX = "11111111-2222-4333-8444-555555555555"
OLD = "99999999-2222-4333-8444-555555555555"

CHATFLOWS = [
    {"type": "pools", "title": "Capacity pools", "description": "Buy capacity.", "family": "advanced",
     "icon": "/icons/pools.svg"},
    {"type": "ubuntu", "title": "Ubuntu", "description": "An Ubuntu container.", "family": "advanced",
     "icon": "/icons/ubuntu.svg"},
    {"type": "cryptpad", "title": "Cryptpad", "description": "Private documents.", "family": "apps",
     "icon": "/icons/cryptpad.svg"},
]  # fmt: skip


def _listed(id_: str, name: str, status: str, error: str | None = None) -> dict[str, Any]:
    return {"id": id_, "type": "ubuntu", "name": name, "status": status, "error": error,
            "created": "2026-11-01T10:00:00+00:00", "Name": name, "wids": [4, 5], "IPv4 Address": "10.1.2.3",
            "IPv6 Address": "", "Node": "node-1", "Pool": 1, "Network": "net", "CPU": 1, "Memory": 1024,
            "RootFS Type": "SSD", "RootFS Size": 256}  # fmt: skip


class FakeApi:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.box_status = "deployed"
        self.polls_after_delete = 0

    def handle(self, route: Route) -> None:
        request = route.request
        path = "/" + request.url.split("://", 1)[1].split("/", 1)[1]
        method = request.method
        self.calls.append(f"{method} {path}")
        if path == "/auth/me":
            return self._json(route, {"username": "alice.3bot", "email": "alice@example.com"})
        if path == "/auth/terms":
            return self._json(route, {"accepted": True, "version": "1", "grid_network": "testnet"})
        if path == "/api/chatflows":
            return self._json(route, {"chatflows": CHATFLOWS})
        if path == "/api/solutions/count":
            return self._json(route, {"ubuntu": 2, "cryptpad": 0, "pools": 0})
        if path == "/api/pools":
            return self._json(route, {"pools": [{"id": 1}, {"id": 2}, {"id": 3}]})
        if path == "/api/solutions":  # every type: the catalogue links the public addresses of deployed ones
            return self._json(route, {"solutions": [
                _listed(BOX, "pad", "deployed") | {"Domain": "alice-pad.gw1.grid.example"},
                _listed(OLD, "odd", "deployed") | {"Domain": 'x.example/"><img src=x>'},  # not a name: no link
                _listed(RESUME, "gone", "rolled_back") | {"Domain": "alice-gone.gw1.grid.example"},
            ]})  # fmt: skip
        if path == "/api/chatflows/sessions":
            return self._json(
                route,
                {
                    "sessions": [
                        {
                            "id": RESUME,
                            "type": "ubuntu",
                            "title": "Ubuntu",
                            "status": "active",
                            "updated": "2026-11-01T10:00:00+00:00",
                            "name": "box",
                        }
                    ]
                },
            )
        if path == f"/api/chatflows/sessions/{RESUME}" and method == "DELETE":
            return route.fulfill(status=204)
        if path == "/api/solutions?type=ubuntu":
            rows = [_listed(OLD, "old", "rolled_back", "node 12 went down; everything was removed")]
            if self.box_status != "cancelled":
                rows.insert(0, _listed(BOX, "box", self.box_status))
            return self._json(route, {"solutions": rows})
        if path == f"/api/solutions/{BOX}" and method == "DELETE":
            self.box_status = "cancelling"
            return self._json(route, self._detail(BOX, "box"), 202)
        if path == f"/api/solutions/{BOX}":
            if self.box_status == "cancelling":
                self.polls_after_delete += 1
                if self.polls_after_delete >= 2:
                    self.box_status = "cancelled"
            return self._json(route, self._detail(BOX, "box"))
        if path == f"/api/solutions/{OLD}" and method == "DELETE":
            return self._json(
                route,
                {
                    "message": "the network is still used by: ubuntu box; delete those first",
                    "errors": [{"code": "in_use", "field": None, "description": "in use"}],
                },
                409,
            )
        if path == f"/api/solutions/{OLD}":
            return self._json(
                route, _listed(OLD, "old", "rolled_back", "node 12 went down") | {"events": [], "outputs": {}}
            )
        return self._json(route, {"message": f"no route {method} {path}", "errors": []}, 404)

    def _detail(self, id_: str, name: str) -> dict[str, Any]:
        return _listed(id_, name, self.box_status) | {
            "outputs": {"ssh": "ssh root@10.1.2.3"}, "wireguard_config": None,
            "events": [{"at": "2026-11-01T10:00:00+00:00", "level": "info", "message": "submitted"},
                       {"at": "2026-11-01T10:00:05+00:00", "level": "info", "message": "deployed"}],
        }  # fmt: skip

    @staticmethod
    def _json(route: Route, body: dict[str, Any], status: int = 200) -> None:
        route.fulfill(status=status, body=json.dumps(body), content_type="application/json")


def _no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"


def test_catalogue_families_counts_resume_and_abandon(site: str, page: Page, tmp_path: Path) -> None:  # noqa: F811
    fake = FakeApi()
    page.route(re.compile(r".*/(auth|api)/.*"), fake.handle)
    page.goto(f"{site}/")

    advanced = page.get_by_role("region", name="Advanced")
    apps = page.get_by_role("region", name="Apps")
    expect(advanced.get_by_role("heading", level=3)).to_have_text(["Capacity pools", "Ubuntu"])
    expect(apps.get_by_role("heading", level=3)).to_have_text(["Cryptpad"])
    ubuntu = advanced.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Ubuntu"))
    expect(ubuntu).to_contain_text("You have 2.")
    expect(ubuntu.get_by_role("link", name="Deploy Ubuntu")).to_have_attribute("href", "/wizard.html?type=ubuntu")
    expect(ubuntu.get_by_role("link", name="My Ubuntu solutions (2)")).to_have_attribute(
        "href", "/solutions.html?type=ubuntu"
    )
    pools = advanced.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Capacity pools"))
    expect(pools).to_contain_text("You have 3.")  # counted from the pools service
    expect(pools.get_by_role("link", name=re.compile("My Capacity pools solutions"))).to_have_attribute(
        "href", "/pools.html"
    )
    expect(apps).to_contain_text("You have none yet.")
    expect(page.get_by_role("link", name="Your capacity pools")).to_be_visible()
    # The public address of a deployed solution on a gateway, as a link; nothing else becomes one.
    link = ubuntu.get_by_role("link", name="Open pad at https://alice-pad.gw1.grid.example")
    expect(link).to_have_attribute("href", "https://alice-pad.gw1.grid.example")
    expect(link).to_have_attribute("target", "_blank")
    expect(ubuntu.locator("a.public-url")).to_have_count(1)

    resume = page.get_by_role("region", name="Continue where you left off")
    expect(resume.get_by_role("link", name=re.compile("Resume the Ubuntu “box” wizard"))).to_have_attribute(
        "href", f"/wizard.html?session={RESUME}"
    )
    _no_horizontal_scroll(page)
    page.screenshot(path=tmp_path / "catalogue.png", full_page=True)

    # Abandon with the keyboard only: the confirmation opens on Cancel (the safe choice); Tab, Enter confirms.
    resume.get_by_role("button", name=re.compile("Abandon")).focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=re.compile("Abandon the Ubuntu"))
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(resume).to_be_hidden()
    assert f"DELETE /api/chatflows/sessions/{RESUME}" in fake.calls


class SignedOutApi(FakeApi):
    """A visitor without a session: the catalogue answers, everything personal is 401."""

    def handle(self, route: Route) -> None:
        path = "/" + route.request.url.split("://", 1)[1].split("/", 1)[1]
        self.calls.append(f"{route.request.method} {path}")
        if path == "/api/chatflows":
            return self._json(route, {"chatflows": CHATFLOWS})
        return self._json(route, {"message": "sign in first", "errors": []}, 401)


def test_the_catalogue_is_public_apps_first_with_svg_icons(site: str, page: Page, tmp_path: Path) -> None:  # noqa: F811
    fake = SignedOutApi()
    page.route(re.compile(r".*/(auth|api)/.*"), fake.handle)
    page.goto(f"{site}/")

    # Signed out: no redirect to the login, the apps family first (no pools), nothing personal asked or shown.
    expect(page.get_by_role("heading", level=2).first).to_have_text("Apps")
    expect(page.get_by_role("link", name="Sign in")).to_have_attribute("href", "/auth/login?next=%2F")
    cryptpad = page.get_by_role("region", name="Apps").get_by_role("listitem")
    expect(cryptpad.get_by_role("link", name="Deploy Cryptpad")).to_have_attribute("href", "/wizard.html?type=cryptpad")
    expect(cryptpad.get_by_role("link", name=re.compile("My Cryptpad"))).to_have_count(0)
    expect(cryptpad.locator("img.card-icon")).to_have_attribute("src", "/icons/cryptpad.svg")
    assert page.evaluate("[...document.images].every((i) => i.complete && i.naturalWidth > 0)"), "an icon is missing"
    expect(page.get_by_text("Service status")).to_have_count(0)
    expect(page.get_by_role("link", name="Your capacity pools")).to_be_hidden()
    assert not [c for c in fake.calls if c.startswith("GET /api/") and c != "GET /api/chatflows"]
    assert page.url == f"{site}/"
    page.screenshot(path=tmp_path / "public-catalogue.png", full_page=True)


def test_the_service_status_is_on_the_operators_page(site: str, page: Page) -> None:  # noqa: F811
    page.route(re.compile(r".*/(auth|api)/.*"), FakeApi().handle)
    page.goto(f"{site}/operators.html")
    expect(page.get_by_role("heading", name="Service status")).to_be_visible()
    expect(page.locator("#status li")).to_have_count(5)


def test_my_solutions_details_delete_and_errors(site: str, page: Page, tmp_path: Path) -> None:  # noqa: F811
    fake = FakeApi()
    page.route(re.compile(r".*/(auth|api)/.*"), fake.handle)
    page.goto(f"{site}/solutions.html?type=ubuntu")

    expect(page.get_by_role("heading", name="My Ubuntu solutions")).to_be_visible()
    expect(page.get_by_role("link", name="Deploy another Ubuntu")).to_have_attribute("href", "/wizard.html?type=ubuntu")
    box = page.get_by_role("button", name=re.compile(r"^box\b"))
    expect(box).to_contain_text("deployed")
    old = page.get_by_role("button", name=re.compile(r"^old\b"))
    expect(old).to_contain_text("rolled back")
    expect(page.get_by_text("node 12 went down; everything was removed")).to_be_visible()
    _no_horizontal_scroll(page)
    page.screenshot(path=tmp_path / "solutions.png", full_page=True)

    # Keyboard: Enter opens the dialog (focus inside), Escape closes it and gives the focus back to the chip.
    box.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="box")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    keys = dialog.locator("#details-keys")
    expect(keys).to_contain_text(re.compile(r"Workload ids\s*4, 5"))
    expect(keys).to_contain_text(re.compile(r"IPv6 Address\s*—"))
    expect(dialog.locator("#details-outputs")).to_contain_text("ssh root@10.1.2.3")
    expect(dialog.locator("#details-events li")).to_have_count(2)
    page.screenshot(path=tmp_path / "details.png", full_page=True)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(box).to_be_focused()

    # Delete: a second dialog asks first; then "cancelling" until the solution is gone.
    box.click()
    dialog.get_by_role("button", name="Delete box").click()
    ask = page.get_by_role("dialog", name="Delete box?")
    expect(ask).to_contain_text("This removes every workload")
    ask.get_by_role("button", name="Cancel").click()
    expect(ask).to_have_count(0)
    assert not any(c.startswith("DELETE") for c in fake.calls)
    dialog.get_by_role("button", name="Delete box").click()
    ask.get_by_role("button", name="Delete").click()
    expect(dialog.locator("#details-status")).to_contain_text("cancelling")
    expect(dialog.get_by_role("button", name="Delete box")).to_be_hidden()
    expect(page.get_by_text("box was deleted.")).to_be_visible(timeout=10000)
    expect(dialog).to_be_hidden()
    expect(box).to_have_count(0)

    # A refused delete (409) says why, in the dialog.
    old.click()
    page.get_by_role("dialog", name="old").get_by_role("button", name="Delete old").click()
    page.get_by_role("dialog", name="Delete old?").get_by_role("button", name="Delete").click()
    expect(page.locator("#details-error")).to_have_text(re.compile("still used by: ubuntu box"))


NET = "22222222-3333-4444-8555-666666666666"


class NetworkApi(FakeApi):
    """A deployed network whose one-time WireGuard config is still on the server: one POST hands it out, then 410."""

    def __init__(self) -> None:
        super().__init__()
        self.downloads: list[str] = []

    def handle(self, route: Route) -> None:
        request = route.request
        path = "/" + request.url.split("://", 1)[1].split("/", 1)[1]
        if path == "/api/solutions?type=network":
            return self._json(route, {"solutions": [self._net()]})
        if path == f"/api/solutions/{NET}/wireguard":
            if request.method != "POST":
                return self._json(route, {"message": "method not allowed", "errors": []}, 405)
            self.downloads.append(request.headers.get("origin", ""))
            if len(self.downloads) == 1:
                return route.fulfill(status=200, body="[Interface]\nPrivateKey = k\n", content_type="text/plain",
                                     headers={"Content-Disposition": 'attachment; filename="wg-31.conf"'})  # fmt: skip
            message = "the WireGuard config was already downloaded"
            return self._json(route, {"message": message, "errors": [{"code": "gone", "description": message}]}, 410)
        if path == f"/api/solutions/{NET}":
            return self._json(route, self._net() | {
                "outputs": {"WireGuard config": "wg-31.conf: copy it to /etc/wireguard/ and run wg-quick up wg-31"},
                "wireguard_config": None if self.downloads else "available", "events": []})  # fmt: skip
        return super().handle(route)

    @staticmethod
    def _net() -> dict[str, Any]:
        return {"id": NET, "type": "network", "name": "lab", "status": "deployed", "error": None,
                "created": "2026-11-01T10:00:00+00:00", "Name": "lab", "wids": [31], "IP Range": "10.20.0.0/16",
                "nodes": {"node-1": "10.20.1.0/24"}}  # fmt: skip


def test_my_networks_offer_the_wireguard_download_once(site: str, page: Page) -> None:  # noqa: F811
    fake = NetworkApi()
    page.route(re.compile(r".*/(auth|api)/.*"), fake.handle)
    page.goto(f"{site}/solutions.html?type=network")
    page.get_by_role("button", name=re.compile(r"^lab\b")).click()
    dialog = page.get_by_role("dialog", name="lab")
    expect(dialog).to_contain_text("It can be downloaded once only")
    expect(dialog.locator("#details-outputs")).to_contain_text("run wg-quick up wg-31")
    with page.expect_download() as download:
        dialog.get_by_role("button", name="Download the WireGuard configuration").click()
    assert download.value.suggested_filename == "wg-31.conf"
    assert Path(download.value.path()).read_text().startswith("[Interface]")
    expect(dialog).to_contain_text("The WireGuard configuration was downloaded. Copy wg-31.conf to /etc/wireguard/")
    assert fake.downloads == [site]  # a same-origin POST, once
    # Opened again: the server no longer has it, so nothing is offered.
    dialog.get_by_role("button", name="Close").click()
    page.get_by_role("button", name=re.compile(r"^lab\b")).click()
    expect(dialog.locator("#details-outputs")).to_contain_text("run wg-quick up wg-31")
    expect(dialog.get_by_role("button", name="Download the WireGuard configuration")).to_have_count(0)
