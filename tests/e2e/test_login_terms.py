"""A person signs in with 3Bot Connect, is sent to the terms, accepts, sees their menu, signs out."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from services.auth.service import safe_next
from tests.integration.auth.conftest import Stack, forget_terms


def _sign_in(page: Page, stack: Stack, user: str) -> None:
    page.goto(f"{stack.proxy}/")
    # The catalogue is public: signed out it stays, with a Sign in link that comes back to it.
    page.get_by_role("link", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/auth/login\?next=(/|%2F)$"))
    page.get_by_role("button", name="Sign in with 3Bot Connect").click()
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    page.get_by_label(user).check()
    page.get_by_role("button", name="Approve").click()


def test_sign_in_accept_terms_see_menu_and_sign_out(stack: Stack, page: Page) -> None:
    stack.connect_config()
    page.goto(f"{stack.proxy}/auth/healthz")  # a first request, so the user row may exist below
    forget_terms(stack.env["DATABASE_URL"], "carol.3bot")
    _sign_in(page, stack, "carol.3bot")

    # Terms not yet accepted: every page sends the user to the terms page first.
    expect(page).to_have_url(re.compile(r"/terms\.html\?next="))
    expect(page.get_by_role("heading", name="Terms of service")).to_be_visible()
    page.get_by_role("button", name="Accept").click()

    expect(page).to_have_url(f"{stack.proxy}/")
    menu = page.get_by_role("navigation", name="Account")
    expect(menu).to_contain_text("carol.3bot")
    expect(menu).to_contain_text("carol@example.com")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/auth/login"))
    # Signed out again: a page of one's own sends to the sign-in (and back); the public catalogue offers it.
    page.goto(f"{stack.proxy}/solutions.html?type=ubuntu")
    expect(page).to_have_url(re.compile(r"/auth/login\?next=(/|%2F)solutions\.html"))
    page.goto(f"{stack.proxy}/")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()


def test_declining_the_terms_signs_out(stack: Stack, page: Page) -> None:
    stack.connect_config()
    forget_terms(stack.env["DATABASE_URL"], "bob.3bot")
    _sign_in(page, stack, "bob.3bot")
    expect(page).to_have_url(re.compile(r"/terms\.html"))
    page.get_by_role("button", name="Decline and sign out").click()
    expect(page).to_have_url(re.compile(r"/auth/login"))
    response = page.request.get(f"{stack.proxy}/auth/me", headers={"Accept": "application/json"})
    assert response.status == 401


def test_the_keyboard_alone_can_sign_in(stack: Stack, page: Page) -> None:
    stack.connect_config()
    page.goto(f"{stack.proxy}/auth/login")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Approve")).to_be_visible()


# The server's safe_next decides on every one of these; the browser's copy of the rule must decide alike.
NEXT_CASES = ["/", "/pools.html?x=1", "/a?b=c:d", "/\t/evil.example", "/\n/evil.example", "/\r/evil.example",
              "//evil.example", "/\\evil.example", "/a\\b", "https://evil.example/", "/javascript:alert(1)", "",
              "evil.example", "/" + "a" * 511, "/" + "a" * 512, "/" + "é" * 511, "/😀" * 200]  # fmt: skip


def test_the_browser_applies_the_servers_rule_to_next(stack: Stack, page: Page) -> None:
    page.goto(f"{stack.proxy}/")  # the public catalogue: app.js loads signed out too
    page.wait_for_function("window.marketplace !== undefined")
    for value in NEXT_CASES:
        assert page.evaluate("(v) => window.marketplace.safeNext(v)", value) == safe_next(value), repr(value)


def test_accepting_the_terms_never_leaves_the_site(stack: Stack, page: Page) -> None:
    # The browser drops the tab of "/\t/evil.example" and would go to //evil.example.
    stack.connect_config()
    page.goto(f"{stack.proxy}/auth/healthz")
    forget_terms(stack.env["DATABASE_URL"], "carol.3bot")
    _sign_in(page, stack, "carol.3bot")
    expect(page).to_have_url(re.compile(r"/terms\.html\?next="))
    page.goto(f"{stack.proxy}/terms.html?next=%2F%09%2Fevil.example")
    page.get_by_role("button", name="Accept").click()
    expect(page).to_have_url(f"{stack.proxy}/")
