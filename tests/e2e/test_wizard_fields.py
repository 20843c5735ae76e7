"""The wizard page renders every field kind of services/chatflow/API.md and speaks the contract, in Chromium.

No stack: the static frontend is served from a thread and the API is answered by Playwright routes, so every
kind (also the ones no flow uses yet) and every error path is driven on purpose.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from playwright.sync_api import Page, Route, expect

from services.chatflow.questions import literal

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
SESSION = "0b0e5a4c-8f4a-4d47-9a43-8d2f1f3c0a11"
SOLUTION = "5f1d7c1e-2b55-4a8e-9a77-0c6b2d4f9e21"


class _Frontend(SimpleHTTPRequestHandler):
    """The static files, plus the one-time WireGuard download: a same-origin POST, answered once, then 410."""

    downloads: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        if self.path != f"/api/solutions/{SOLUTION}/wireguard":
            self.send_error(404)
            return
        self.downloads.append(self.headers.get("Origin", ""))
        if len(self.downloads) == 2:  # the first attempt failed on the server: nothing was used up
            status, kind, body = 200, "text/plain", b"[Interface]\nPrivateKey = x\n"
        else:
            status, kind = (503, "application/json") if len(self.downloads) == 1 else (410, "application/json")
            message = "the deployer is unavailable" if status == 503 else "the WireGuard config was already downloaded"
            body = json.dumps({"message": message, "errors": []}).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if status == 200:
            self.send_header("Content-Disposition", 'attachment; filename="wg-17.conf"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the test's output is pytest's, not one line per static file served."""


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Frontend, directory=str(FRONTEND)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _field(name: str, kind: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "label": label, "help": extra.pop("help", ""),
            "required": extra.pop("required", True), "default": extra.pop("default", None), **extra}  # fmt: skip


FORM = [
    _field(
        "name",
        "string",
        "Solution name",
        min_length=1,
        max_length=31,
        pattern="[a-z0-9-]+",
        help="lower-case letters, digits and dashes",
    ),
    _field("password", "secret", "Admin password", min_length=8, max_length=64, default="proposed-Random-1"),
    _field("workers", "integer", "Workers", min=1, max=10, default=1),
    _field("notes", "text", "Notes", required=False, min_length=None, max_length=1000),
    _field(
        "version",
        "choice",
        "Version",
        choices=[{"value": "a", "label": "Alpha"}, {"value": "b", "label": "Beta"}],
        default="b",
    ),
    _field(
        "node",
        "dropdown",
        "Node",
        searchable=True,
        choices=[
            {"value": f"node-{i}", "label": f"Node {i} in {city}"}
            for i, city in enumerate(["Ghent", "Vienna", "Cairo", "Lima"])
        ],
    ),
    _field(
        "pools",
        "multi_choice",
        "Pools",
        min_items=1,
        max_items=None,
        choices=[
            {"value": "1", "label": "Pool 1"},
            {"value": "2", "label": "Pool 2"},
            {"value": "3", "label": "Pool 3"},
        ],
    ),
    _field("expires", "datetime", "End date", future_only=True),
    _field("key", "file", "SSH public key", accept=".pub,.txt", max_size=64),
]

MARKDOWN = """Read **this** first: `wg-quick up` and [the docs](https://example.org/docs).

- one **bold** item
- a [bad link](javascript:alert(1))

<script>window.pwned = true</script><img src=x onerror="window.pwned=true">"""

DISPLAY = [
    _field("intro", "info", "Before you pay", required=False, markdown=MARKDOWN),
    _field("summary", "confirm", "Deploy this?", required=False, rows=[["Name", "box"], ["Nodes", "3"]]),
    _field(
        "qr",
        "qr",
        "Wallet code",
        required=False,
        data="TFT:GADDR?amount=1&message=p-42&sender=me",
        image="/favicon.svg",
        rows=[["Memo", "p-42"]],
    ),
    _field(
        "pay",
        "payment",
        "Pay",
        required=False,
        pool_id=7,
        image="/favicon.svg",
        rows=[["Wallet address", "GADDR"], ["Amount", "1 TFT"]],
    ),
    _field("conf", "download", "Configuration", required=False, url="/api/download/conf", filename="wg.conf"),
]


def _view(index: int, count: int, title: str, fields: list[dict[str, Any]], *, status: str = "active",
          answers: dict[str, Any] | None = None, final: bool = False,
          can_back: bool = True) -> dict[str, Any]:  # fmt: skip
    return {"id": SESSION, "type": "demo", "title": "Demo", "status": status,
            "step": {"index": index, "count": count, "name": title.lower(), "title": title, "can_back": can_back,
                     "final": final, "fields": fields},
            "answers": answers or {}, "solution_id": None, "expires_at": "2030-01-01T00:00:00+00:00"}  # fmt: skip


class FakeApi:
    """The chatflow, pools and deployer answers for one scripted walk through the wizard."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        self.step = 1
        self.pool_polls = 0
        self.solution_polls = 0
        self.fail_next_with_503 = False

    def handle(self, route: Route) -> None:
        request = route.request
        path = request.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        method = request.method
        if path == "auth/me":
            return self._json(route, {"username": "alice.3bot", "email": "alice@example.com"})
        if path == "auth/terms":
            return self._json(route, {"accepted": True, "version": "1", "grid_network": "testnet"})
        if path == "api/chatflows/demo" and method == "POST":
            return self._json(route, self._current(), 201)
        if path == f"api/chatflows/sessions/{SESSION}" and method == "GET":
            return self._json(route, self._current())
        if path == f"api/chatflows/sessions/{SESSION}/back":
            self.step = max(1, self.step - 1)
            return self._json(route, self._current())
        if path == f"api/chatflows/sessions/{SESSION}/answer":
            return self._answer(route, json.loads(request.post_data or "{}"))
        if path == "api/pools/7":
            self.pool_polls += 1
            paid = self.pool_polls >= 2
            return self._json(route, {
                "pool": {"id": 7, "grid_pool_id": 42, "state": "active" if paid else "awaiting_payment"},
                "payment": {"state": "paid" if paid else "awaiting_payment", "wait_over": False,
                            "message": "payment received" if paid else "waiting for the payment"}})  # fmt: skip
        if path == f"api/solutions/{SOLUTION}":
            self.solution_polls += 1
            done = self.solution_polls >= 2
            return self._json(route, {
                "id": SOLUTION, "type": "demo", "status": "deployed" if done else "deploying", "error": None,
                "outputs": {"IPv4 Address": "10.1.2.3", "WireGuard config": f"/api/solutions/{SOLUTION}/wireguard"}
                if done else {},
                "wireguard_config": "available" if done else None,
                "events": [{"at": "2026-01-01T10:00:00+00:00", "level": "info", "message": "submitted"},
                           *([{"at": "2026-01-01T10:00:05+00:00", "level": "info", "message": "deployed"}]
                             if done else [])],
            })  # fmt: skip
        if path == f"api/solutions/{SOLUTION}/wireguard":
            return route.fallback()
        return self._json(route, {"message": f"no route {method} {path}", "errors": []}, 404)

    def _current(self) -> dict[str, Any]:
        if self.step == 1:
            return _view(
                1,
                3,
                "Settings",
                FORM,
                can_back=False,
                answers={"name": "box", "password": "never-shown", "notes": "hello", "pools": ["2"]},
            )
        if self.step == 2:
            return _view(2, 3, "Review and pay", DISPLAY, final=True)
        progress = _field("progress", "progress", "Deployment", required=False, solution_id=SOLUTION)
        return _view(3, 3, "Deploying", [progress], status="submitted", can_back=False) | {"solution_id": SOLUTION}

    def _answer(self, route: Route, body: dict[str, Any]) -> None:
        self.posted.append(body)
        answers = body["answers"]
        if self.fail_next_with_503:
            self.fail_next_with_503 = False
            return self._json(route, {"message": "the pools service did not answer; try again.", "errors": []}, 503)
        if self.step == 1 and answers.get("name") != "box":
            return self._json(route, {"message": "some answers need a change", "errors": [
                {"code": "pattern", "field": "name", "description": "lower-case letters, digits and dashes"},
                {"code": "required", "field": "node", "description": "choose a node"}]}, 422)  # fmt: skip
        self.step += 1
        return self._json(route, self._current())

    @staticmethod
    def _json(route: Route, body: dict[str, Any], status: int = 200) -> None:
        route.fulfill(status=status, body=json.dumps(body), content_type="application/json")


def test_every_field_kind_renders_submits_and_shows_errors(site: str, page: Page, tmp_path: Path) -> None:
    fake = FakeApi()
    page.route(re.compile(r".*/(auth|api)/.*"), fake.handle)
    page.goto(f"{site}/wizard.html?type=demo")

    heading = page.get_by_role("heading", level=2)
    expect(heading).to_have_text(re.compile(r"Step 1 of 3.*Settings"))
    expect(page).to_have_url(re.compile(rf"\?session={SESSION}$"))
    assert page.evaluate("document.activeElement.id") == "step-title"
    expect(page.get_by_role("button", name="Back")).to_be_hidden()

    # Every control has a label; pre-filled from answers and defaults; a secret never from answers.
    name = page.get_by_label("Solution name")
    expect(name).to_have_value("box")
    password = page.get_by_label("Admin password")
    expect(password).to_have_attribute("type", "password")
    expect(password).to_have_value("proposed-Random-1")
    page.get_by_role("button", name="Show").click()
    expect(password).to_have_attribute("type", "text")
    expect(page.get_by_label("Workers")).to_have_value("1")
    expect(page.get_by_label("Notes")).to_have_value("hello")
    expect(page.get_by_role("group", name="Version").get_by_label("Beta")).to_be_checked()
    expect(page.get_by_role("group", name="Pools").get_by_label("Pool 2")).to_be_checked()
    expect(page.get_by_label("End date")).to_have_attribute("min", re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d$"))
    expect(page.get_by_label("SSH public key")).to_have_attribute("accept", ".pub,.txt")
    page.screenshot(path=tmp_path / "wizard-form.png", full_page=True)

    # A file over max_size is refused before sending, next to its field.
    page.get_by_label("SSH public key").set_input_files(
        files=[{"name": "big.pub", "mimeType": "text/plain", "buffer": b"x" * 100}]
    )
    page.get_by_role("button", name="Next").click()
    key_error = page.locator("#f-key-error")
    expect(key_error).to_contain_text("largest file accepted is 64 bytes")
    assert fake.posted == []

    # Filter the node list, pick with the keyboard; fill the rest; Enter in a single-line input submits.
    page.get_by_label("Filter the Node list").fill("vie")
    expect(page.get_by_label("Node", exact=True).locator("option")).to_have_count(1)
    page.get_by_label("Workers").fill("3")
    page.get_by_role("group", name="Version").get_by_label("Alpha").check()
    page.get_by_role("group", name="Pools").get_by_label("Pool 3").check()
    page.get_by_label("End date").fill("2031-05-04T10:30")
    page.get_by_label("SSH public key").set_input_files(
        files=[{"name": "id.pub", "mimeType": "text/plain", "buffer": b"ssh-ed25519 AAAA me\n"}]
    )
    name.fill("Bad Name!")
    name.press("Enter")

    # 422: each error next to its field, tied with aria-describedby / aria-invalid, focus on the first.
    error = page.locator("#f-name-error")
    expect(error).to_have_text(re.compile("lower-case letters, digits and dashes"))
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_attribute("aria-describedby", re.compile(r"\bf-name-error\b"))
    expect(name).to_be_focused()
    expect(page.locator("#f-node-error")).to_have_text(re.compile("choose a node"))
    answers = fake.posted[-1]["answers"]
    assert answers["name"] == "Bad Name!"
    assert answers["password"] == "proposed-Random-1"
    assert answers["workers"] == 3
    assert answers["version"] == "a"
    assert answers["node"] == "node-1"
    assert answers["pools"] == ["2", "3"]
    assert re.fullmatch(r"2031-05-04T10:30[+-]\d\d:\d\d", answers["expires"])
    assert answers["key"] == {"filename": "id.pub", "content": "ssh-ed25519 AAAA me\n"}
    page.screenshot(path=tmp_path / "wizard-errors.png", full_page=True)

    # A 503 offers a retry that sends the same answers again.
    name.fill("box")
    fake.fail_next_with_503 = True
    page.get_by_role("button", name="Next").click()
    retry = page.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    expect(page.get_by_role("alert").filter(has=retry)).to_contain_text("did not answer")
    retry.click()

    # Step 2: display-only kinds; Markdown is rendered safely; Next ("Deploy") waits for the payment.
    expect(heading).to_have_text(re.compile(r"Step 2 of 3.*Review and pay"))
    markdown = page.locator(".markdown")
    expect(markdown.locator("strong").first).to_have_text("this")
    expect(markdown.locator("code")).to_have_text("wg-quick up")
    expect(markdown.get_by_role("link", name="the docs")).to_have_attribute("href", "https://example.org/docs")
    expect(markdown.get_by_role("link", name="bad link")).to_have_count(0)
    expect(markdown.locator("li")).to_have_count(2)
    expect(markdown.locator("script, img")).to_have_count(0)
    expect(markdown).to_contain_text("<script>")
    assert page.evaluate("window.pwned") is None
    expect(page.get_by_role("table").get_by_role("row", name=re.compile("Nodes"))).to_contain_text("3")
    expect(page.get_by_role("link", name="Download wg.conf")).to_have_attribute("download", "wg.conf")
    deploy = page.get_by_role("button", name="Deploy")
    expect(page.get_by_text("Pool 42 is ready")).to_be_visible(timeout=10000)
    expect(deploy).to_be_enabled()
    page.screenshot(path=tmp_path / "wizard-display.png", full_page=True)

    # Back keeps the session; then forward again to the deployment.
    page.get_by_role("button", name="Back").click()
    expect(heading).to_have_text(re.compile(r"Step 1 of 3"))
    page.get_by_role("button", name="Next").click()
    expect(heading).to_have_text(re.compile(r"Step 2 of 3"))
    expect(deploy).to_be_enabled(timeout=10000)
    deploy.click()

    # Step 3: live progress, outputs, the one-time WireGuard download, then the ways on.
    expect(heading).to_have_text(re.compile(r"Step 3 of 3.*Deploying"))
    expect(page.locator(".progress-status")).to_contain_text("deployed", timeout=10000)
    expect(page.get_by_text("10.1.2.3")).to_be_visible()
    expect(page.get_by_text("It can be downloaded once only")).to_be_visible()
    download_button = page.get_by_role("button", name="Download the WireGuard configuration")
    download_button.click()
    expect(page.get_by_role("alert").filter(has_text="could not be downloaded")).to_contain_text("try again")
    expect(download_button).to_be_enabled()
    with page.expect_download() as download:
        download_button.click()
    assert download.value.suggested_filename == "wg-17.conf"
    assert Path(download.value.path()).read_text().startswith("[Interface]")
    expect(page.get_by_text("The WireGuard configuration was downloaded")).to_be_visible()
    expect(page.get_by_text("run wg-quick up wg-17")).to_be_visible()
    assert _Frontend.downloads == [site, site]  # POSTs, same-origin (the API's cross-site check passes)
    expect(page.get_by_role("link", name="See it in My solutions")).to_have_attribute(
        "href", "/solutions.html?type=demo"
    )
    expect(page.get_by_role("button", name="Next")).to_be_hidden()
    page.screenshot(path=tmp_path / "wizard-progress.png", full_page=True)
    print(f"screenshots in {tmp_path}")

    # A reload resumes the same session from the URL.
    page.reload()
    expect(heading).to_have_text(re.compile(r"Step 3 of 3"))


RENDER_LINKS = """async (fields) => {
  const { renderField } = await import("/fields.js");
  const ctx = { answers: {}, block() {}, settled() {} };
  return fields.map((field) => {
    const view = renderField(field, ctx);
    const node = view.element.querySelector("a[download], img");
    const attribute = node.tagName === "A" ? "href" : "src";
    view.destroy?.();
    return node.getAttribute(attribute);
  });
}"""


def test_download_and_image_urls_go_through_safe_href(site: str, page: Page) -> None:
    # A field's URL comes from a server answer; only http(s) or a path of this site may become a link or image.
    page.route(re.compile(r".*/(auth|api)/.*"), lambda route: route.abort())
    page.route(f"{site}/blank.html", lambda route: route.fulfill(body="<!doctype html><body></body>",
                                                                  content_type="text/html"))  # fmt: skip
    page.goto(f"{site}/blank.html")
    bad = ["javascript:window.pwned=1", "data:text/html,<script>window.pwned=1</script>", "vbscript:x"]
    fields = [
        *(_field("conf", "download", "Configuration", required=False, url=url, filename="wg.conf") for url in bad),
        *(_field("qr", "qr", "Wallet code", required=False, data="TFT:x", image=url, rows=[]) for url in bad),
        *(_field("pay", "payment", "Pay", required=False, pool_id=7, image=url, rows=[]) for url in bad),
    ]
    assert page.evaluate(RENDER_LINKS, fields) == [None] * len(fields)
    good = [
        _field("conf", "download", "Configuration", required=False, url="/api/download/conf", filename="wg.conf"),
        _field("qr", "qr", "Wallet code", required=False, data="TFT:x", image="/api/pools/7/payment.svg", rows=[]),
        _field("pay", "payment", "Pay", required=False, pool_id=7, image="https://example.org/qr.png", rows=[]),
    ]
    assert page.evaluate(RENDER_LINKS, good) == ["/api/download/conf", "/api/pools/7/payment.svg",
                                                  "https://example.org/qr.png"]  # fmt: skip
    assert page.evaluate("window.pwned") is None


NAMES = ["[claim your refund](https://evil.example/phish)", "# Urgent", "- item", "1. first", "```", "**bold** `x`",
         "back\\slash \\[x\\]", "plain farm_name (EU-BE)"]  # fmt: skip


def test_text_escaped_by_the_server_renders_as_itself(site: str, page: Page) -> None:
    # literal() on the server and the renderer's backslash escapes together: a farm name is its characters, no more.
    page.route(f"{site}/blank.html", lambda route: route.fulfill(body="<!doctype html><body></body>",
                                                                  content_type="text/html"))  # fmt: skip
    page.goto(f"{site}/blank.html")
    rendered = page.evaluate(
        """async (sources) => {
          const { renderMarkdown } = await import("/markdown.js");
          return sources.map((source) => {
            const box = document.createElement("div");
            box.append(renderMarkdown(source));
            return [box.querySelectorAll("a, h3, h4, ul, ol, pre, code, strong").length, box.textContent];
          });
        }""",
        [f"**Pool 7 is ready.**\n\n{literal(name)}" for name in NAMES],
    )
    assert rendered == [[1, f"Pool 7 is ready.{name}"] for name in NAMES]  # the one element: the flow's own bold
