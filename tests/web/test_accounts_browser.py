"""The accounts page in a real Chromium on a 375 px phone, driven by the keyboard alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.web.e2e import Browser, Server
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    ORGANISER,
    PHONE,
    PageProblems,
    assert_fits_a_phone,
    assert_focus_is_visible,
    chromium,
    focused,
    log_in_by_keyboard,
    server,
    tab_to,
)

SCREENSHOT = Path("/tmp/kitmanager-accounts-375px.png")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


def test_an_organiser_manages_accounts_on_a_phone_with_the_keyboard(chromium, server: Server):  # noqa: F811
    context = chromium.new_context(base_url=server.url, **PHONE)
    context.set_default_timeout(15_000)
    from playwright.sync_api import expect

    try:
        page = context.new_page()
        problems = PageProblems(page)
        log_in_by_keyboard(page)

        # The header's link leads there.
        assert_focus_is_visible(tab_to(page, lambda el: el["text"] == "Accounts"))
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/accounts/$"))

        # A new trainer account, typed field after field; the password is generated.
        tab_to(page, lambda el: el["name"] == "username", limit=60)
        page.keyboard.type("amina")
        page.keyboard.press("Tab")
        assert focused(page)["name"] == "display_name"
        page.keyboard.type("Amina Diallo")
        page.keyboard.press("Tab")
        assert focused(page)["name"] == "role"
        page.keyboard.press("Tab")
        assert focused(page)["name"] == "password"
        page.keyboard.press("Tab")
        assert_focus_is_visible(focused(page))
        assert focused(page)["text"] == "Create account"
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/accounts/users/new$"))
        generated = page.locator("#secret").input_value()
        assert len(generated) >= 10
        assert "shown only this once" in page.content()
        assert Browser(server.url).login("amina", generated).status == 200

        tab_to(page, lambda el: el["text"] == "Done")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/accounts/$"))

        # A token for the door scanner, then revoked, by keyboard as well.
        tab_to(page, lambda el: el["name"] == "name", limit=80)
        page.keyboard.type("door-scanner")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert focused(page)["text"] == "Create token"
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/accounts/tokens/new$"))
        assert page.locator("#secret").input_value().startswith("km_")
        page.goto("/accounts/")
        tab_to(page, lambda el: el["text"] == "Revoke", limit=80)
        page.keyboard.press("Enter")
        expect(page.locator(".flash-success")).to_contain_text("it no longer works")
        expect(page.locator("#tokens-heading + p + ul")).to_contain_text("revoked")

        assert_fits_a_phone(page, problems, SCREENSHOT)
    finally:
        context.close()
