"""Every frontend page, served by the real Caddy with its Content-Security-Policy (the auth stack: plain HTTP on
localhost), loads in Chromium without one CSP violation: the pages have no inline script, handler or style
attribute, and load nothing from elsewhere."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import Browser, ConsoleMessage

from tests.conftest import ROOT
from tests.integration.auth.conftest import Stack

PAGES = ["/", *sorted(f"/{p.name}" for p in (ROOT / "frontend").glob("*.html"))]
assert len(PAGES) >= 7, PAGES


def _violations(chromium: Browser, stack: Stack, path: str, inject: bool = False) -> tuple[list[str], str]:
    """The CSP violations Chromium reports while ``path`` loads for a signed-in user, and the policy served."""
    session = stack.browser()
    session.login()
    context = chromium.new_context()
    context.add_cookies([{"name": "mp_session", "value": session.session_cookie or "", "url": stack.proxy}])
    page = context.new_page()
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if _is_csp(m) else None)
    try:
        response = page.goto(stack.proxy + path, wait_until="networkidle")
        assert response is not None and response.ok, (path, response and response.status)
        if inject:  # proves the detector: an inline script is exactly what the policy must block
            page.evaluate("() => { const s = document.createElement('script'); s.textContent = '1'; "
                          "document.body.append(s); }")  # fmt: skip
            page.wait_for_timeout(300)
        return seen, response.headers.get("content-security-policy", "")
    finally:
        context.close()


def _is_csp(message: ConsoleMessage) -> bool:
    return "Content Security Policy" in message.text


def test_every_page_loads_without_a_csp_violation(chromium: Browser, stack: Stack) -> None:
    for path in PAGES:
        violations, policy = _violations(chromium, stack, path)
        assert policy.startswith("default-src 'self'"), (path, policy)
        assert violations == [], (path, violations)


def test_an_inline_script_is_reported_as_a_violation(chromium: Browser, stack: Stack) -> None:
    violations, _ = _violations(chromium, stack, "/", inject=True)
    assert violations, "the policy did not block an inline script"


def test_no_page_has_inline_script_handler_or_style_attribute() -> None:
    for page in sorted((ROOT / "frontend").glob("*.html")):
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), page.name
        assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), page.name
        assert not re.search(r"\sstyle\s*=", html, re.IGNORECASE), page.name
        assert "javascript:" not in html, page.name


def test_plain_http_site_sends_the_security_headers_but_no_hsts(stack: Stack) -> None:
    response = requests.get(stack.proxy + "/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # HSTS belongs to the HTTPS site (test_acme_pebble)
