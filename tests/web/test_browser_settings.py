"""A real Chromium on a 375 px phone, in French, by keyboard: the Settings page (badge address),
the print page's address warning and the time zone search of the workshop form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kitmanager.network import local_addresses
from tests.web.e2e import Server, run_kitmanager
from tests.web.test_browser import (
    CHROMIUM,
    PHONE,
    PageProblems,
    assert_fits_a_phone,
    assert_focus_is_visible,
    chromium,  # noqa: F401  (fixture)
    log_in_by_keyboard,
    server,  # noqa: F401  (fixture)
    tab_to,
)

HOTSPOT = "http://10.42.0.1:5077"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


@pytest.fixture
def phone(chromium, server: Server):  # noqa: F811
    """A French phone: 375 px wide, touch, Accept-Language fr."""
    context = chromium.new_context(base_url=server.url, locale="fr-FR", **PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.problems = PageProblems(page)
    try:
        yield page
    finally:
        context.close()


def assert_fits(page, name: str) -> None:
    assert_fits_a_phone(page, page.problems, Path(f"/tmp/kitmanager-{name}-375px-fr.png"))


def test_organiser_sets_the_badge_address_on_a_french_phone_by_keyboard(
    phone,
    server: Server,  # noqa: F811
):
    from playwright.sync_api import expect

    page = phone
    assert run_kitmanager(
        server.data_dir, "workshops", "create", "Défi IA Abidjan", "--slug", "abidjan",
        "--starts", "2026-12-05", "--language", "fr",
    ).returncode == 0  # fmt: skip
    assert (
        run_kitmanager(server.data_dir, "participants", "add", "abidjan", "Aya Koné").returncode
        == 0
    )
    log_in_by_keyboard(page)
    expect(page.locator("html")).to_have_attribute("lang", "fr")

    assert_focus_is_visible(tab_to(page, lambda el: el["tag"] == "a" and el["text"] == "Réglages"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/settings/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Réglages")
    field = page.get_by_label("Adresse dans les QR codes des badges")
    expect(field).to_have_value(server.url)  # the first start on 127.0.0.1 stored nothing
    expect(page.locator("#address-warning")).to_contain_text("adresse de bouclage")
    assert_fits(page, "settings")

    # A wrong address: the message appears next to the field, in French.
    assert_focus_is_visible(tab_to(page, lambda el: el["name"] == "base_url"))
    page.keyboard.press("Control+A")
    page.keyboard.type("kits.local")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    block = page.locator(".field.has-error")
    expect(block).to_contain_text("« kits.local » n'est pas une adresse web pour les badges")
    assert_fits(page, "settings-error")

    # The laptop's hotspot address: saved, and the message after the redirect is French too.
    tab_to(page, lambda el: el["name"] == "base_url")
    page.keyboard.press("Control+A")
    page.keyboard.type(HOTSPOT)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/settings/$"))
    expect(page.locator(".flash-success")).to_have_text(
        "Adresse des badges enregistrée. Les badges imprimés désormais la portent."
    )
    expect(field).to_have_value(HOTSPOT)
    assert_fits(page, "settings-saved")

    # The print page shows the address the codes will carry, and warns when phones cannot
    # reach it (10.42.0.1 is not an address of this machine unless it runs a hotspot).
    page.goto("/workshops/abidjan/badges")
    expect(page.locator("#badge-address")).to_contain_text(f"{HOTSPOT}/b/…")
    if "10.42.0.1" not in local_addresses():
        expect(page.locator("#address-warning")).to_contain_text(
            "10.42.0.1 n'est pas en ce moment une adresse de cet ordinateur"
        )
    assert_fits(page, "print-page")
    assert page.problems.messages == [], page.problems.messages


def test_typing_a_city_finds_its_time_zone_by_keyboard_on_a_french_phone(
    phone,
    server: Server,  # noqa: F811
):
    from playwright.sync_api import expect

    page = phone
    log_in_by_keyboard(page)
    page.goto("/workshops/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nouvel atelier")
    zone = page.get_by_role("combobox", name="Fuseau horaire")
    expect(zone).to_have_attribute("aria-expanded", "false")
    assert_focus_is_visible(tab_to(page, lambda el: el["name"] == "timezone", limit=40))
    page.keyboard.press("Control+A")
    page.keyboard.type("abidjan")
    listbox = page.get_by_role("listbox")
    expect(listbox.get_by_role("option")).to_have_text(["Africa/Abidjan"])
    expect(zone).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    expect(listbox.get_by_role("option", name="Africa/Abidjan")).to_have_attribute(
        "aria-selected", "true"
    )
    page.keyboard.press("Enter")  # picks the zone; it does not submit the form
    expect(zone).to_have_value("Africa/Abidjan")
    expect(listbox).to_be_hidden()
    assert page.url.endswith("/workshops/new")

    # Several matches, a space for the underscore, Escape closes the list.
    page.keyboard.press("Control+A")
    page.keyboard.type("new york")
    expect(listbox.get_by_role("option")).to_contain_text(["America/New_York"])
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    page.keyboard.press("Control+A")
    page.keyboard.type("Atlantide")
    expect(listbox).to_contain_text("Aucun fuseau horaire ne correspond")
    assert_fits(page, "workshop-form")

    # Typed anyway and sent: the message stands next to the field.
    page.keyboard.press("Escape")
    page.get_by_label("Titre", exact=True).fill("Défi IA Abidjan")
    page.get_by_label("Premier jour").fill("2026-12-05")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_load_state()
    block = page.locator(".field.has-error")
    expect(block).to_contain_text("Fuseau horaire inconnu « Atlantide »")
    expect(block.get_by_role("combobox")).to_have_attribute("aria-invalid", "true")

    # Fixed by picking from the list with the keyboard, then saved.
    block.get_by_role("combobox").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("Abidjan")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(re.compile(r"/workshops/defi-ia-abidjan/$"))
    expect(page.locator(".meta")).to_contain_text("Africa/Abidjan")

    # A session is deleted after a French confirmation page, by keyboard, on the phone.
    assert run_kitmanager(
        server.data_dir, "sessions", "add", "defi-ia-abidjan", "Premier robot",
        "--starts", "2026-12-05 09:00", "--ends", "2026-12-05 10:30",
    ).returncode == 0  # fmt: skip
    page.reload()
    tab_to(page, lambda el: el["tag"] == "a" and el["text"].startswith("Supprimer"), limit=60)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/sessions/\d+/delete$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Supprimer la séance « Premier robot » ?"
    )
    expect(page.locator("#what-goes")).to_contain_text("aucune présence")
    assert_fits(page, "session-delete")
    assert_focus_is_visible(
        tab_to(page, lambda el: el["tag"] == "button" and el["text"] == "Supprimer la séance")
    )
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/workshops/defi-ia-abidjan/$"))
    expect(page.locator(".flash-success")).to_have_text("Séance « Premier robot » supprimée.")
    expect(page.get_by_text("Aucune séance pour l'instant.")).to_be_visible()
    assert page.problems.messages == [], page.problems.messages
