"""Certificates in a real Chromium against a real `kitmanager serve`: an organiser issues them
from the page and downloads the PDF; the QR code printed on it, decoded from the pixels, opens
the public verify page, on a 375 px phone and in French too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.printouts.reading import read_pdf
from tests.web.e2e import Server, run_kitmanager
from tests.web.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ORGANISER,
    PHONE,
    PageProblems,
    assert_fits_a_phone,
    log_in_by_keyboard,
)

SLUG = "abidjan"
PEOPLE = ("Awa Koné", "Kouassi N'Guessan", "Adébáyọ̀ Ọlápọ̀")
SCREENSHOTS = Path("/tmp")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _ok(result) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def _attend(data_dir: Path, names: tuple[str, ...]) -> None:
    """Check ``names`` in to every session through the check-in service (no CLI for it)."""
    from sqlalchemy import select

    from kitmanager import create_app
    from kitmanager.audit import cli_actor
    from kitmanager.checkin.services import check_in
    from kitmanager.extensions import db
    from kitmanager.models import Participant
    from kitmanager.workshops.services import get_workshop

    app = create_app({"DATA_DIR": data_dir})
    with app.app_context():
        workshop = get_workshop(SLUG)
        for person in db.session.scalars(
            select(Participant).where(Participant.full_name.in_(names))
        ):
            for session in workshop.sessions:
                check_in(cli_actor(), person, session)
        db.session.commit()
        db.engine.dispose()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A French workshop of two sessions: Awa and Kouassi came to both, Adébáyọ̀ to none."""
    data_dir = tmp_path / "data"
    username, password = ORGANISER
    _ok(
        run_kitmanager(
            data_dir, "users", "create", username, "--role", "organiser", "--password-stdin",
            stdin=password + "\n",
        )
    )  # fmt: skip
    _ok(
        run_kitmanager(
            data_dir, "workshops", "create", "Défi IA Abidjan", "--slug", SLUG,
            "--starts", "2026-12-05", "--ends", "2026-12-06", "--timezone", "Africa/Abidjan",
            "--language", "fr",
        )
    )  # fmt: skip
    for day in ("05", "06"):
        _ok(
            run_kitmanager(
                data_dir, "sessions", "add", SLUG, f"Journée {day}",
                "--starts", f"2026-12-{day} 09:00", "--ends", f"2026-12-{day} 16:00",
            )
        )  # fmt: skip
    people = tmp_path / "people.csv"
    people.write_text("Name\n" + "\n".join(PEOPLE) + "\n", encoding="utf-8")
    _ok(run_kitmanager(data_dir, "participants", "import", SLUG, str(people)))
    _attend(data_dir, PEOPLE[:2])
    with Server(data_dir) as running:
        yield running
        assert running.stop() == 0


def _verdict(page) -> str:
    return page.locator("#verdict").inner_text().strip()


def test_an_organiser_issues_certificates_and_the_printed_qr_opens_a_valid_verify_page(
    chromium, server: Server, tmp_path: Path
):
    from playwright.sync_api import expect

    # the organiser, on a laptop, in French
    context = chromium.new_context(base_url=server.url, locale="fr-FR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems = PageProblems(page)
    try:
        log_in_by_keyboard(page)
        page.goto(f"/workshops/{SLUG}/")
        page.get_by_role("link", name="Attestations").click()
        page.wait_for_url(re.compile(rf"/workshops/{SLUG}/certificates$"))
        expect(page.locator(".standing").filter(has_text="Adébáyọ̀")).to_contain_text(
            "séances suivies : 0 sur 2"
        )
        page.get_by_label("Délivrée par (votre organisation)").fill("Club Robotique d'Abidjan")
        page.get_by_label("Signée par (nom)").fill("Koffi N'Guessan")
        page.get_by_role("button", name="Enregistrer").click()
        expect(page.locator(".flash-success")).to_contain_text("Réglages des attestations")
        page.get_by_role("button", name="Délivrer les attestations").click()
        expect(page.locator(".flash-success")).to_contain_text("2 attestations délivrées.")
        with page.expect_download() as download:
            page.get_by_role("link", name="Toutes les attestations (un PDF)").click()
        pdf = tmp_path / "attestations.pdf"
        download.value.save_as(pdf)
        assert problems.messages == [], problems.messages
    finally:
        context.close()

    pages = read_pdf(pdf.read_bytes(), dpi=150)
    assert len(pages) == 2
    assert "Attestation de participation" in pages[0].flat_text
    urls = [view.codes[0].text for view in pages]
    assert all(url.startswith(f"{server.url}/verify/") for url in urls), urls

    # anyone, on a phone, opens the address the QR code holds: no account needed
    for locale, valid in (("en-GB", "✓ Valid"), ("fr-FR", "✓ Valide")):
        phone = chromium.new_context(**PHONE, locale=locale)
        try:
            page = phone.new_page()
            problems = PageProblems(page)
            page.goto(urls[0])
            assert _verdict(page) == valid
            expect(page.locator(".facts")).to_contain_text("Awa Koné")
            expect(page.locator(".facts")).to_contain_text("Club Robotique d'Abidjan")
            assert_fits_a_phone(page, problems, SCREENSHOTS / f"kitmanager-verify-{locale}.png")
            # a changed name in the address reads not valid
            page.goto(urls[0].replace("?d=", "?d=x"))
            assert _verdict(page) in ("✗ Not valid", "✗ Non valide")
        finally:
            phone.close()

    # the organiser's certificate page on a phone, in French
    phone = chromium.new_context(**PHONE, locale="fr-FR", base_url=server.url)
    try:
        page = phone.new_page()
        problems = PageProblems(page)
        log_in_by_keyboard(page)
        page.goto(f"/workshops/{SLUG}/certificates")
        expect(page.get_by_role("heading", name="Attestations", exact=True)).to_be_visible()
        assert_fits_a_phone(page, problems, SCREENSHOTS / "kitmanager-certificates-fr.png")
        page.goto("/certificates/address")
        expect(page.get_by_label("Adresse dans les QR codes des attestations")).to_be_visible()
        assert_fits_a_phone(page, problems, SCREENSHOTS / "kitmanager-certificate-address-fr.png")
        # the code printed beside the QR code, typed by hand (lower case, with a space)
        code = urls[0].split("/verify/")[1].split("?")[0]
        page.goto("/verify/")
        page.get_by_label("Code de l'attestation").fill(f"{code[:5].lower()} {code[5:]}")
        page.get_by_role("button", name="Vérifier").click()
        page.wait_for_url(re.compile(rf"/verify/{code}$"))
        assert _verdict(page) == "✓ Valide"
        assert_fits_a_phone(page, problems, SCREENSHOTS / "kitmanager-verify-typed-fr.png")
    finally:
        phone.close()
