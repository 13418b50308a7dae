"""A trainer's phone (Chromium at 375 px, in French, keyboard only) against a real
`kitmanager serve`: a badge scan then a kit scan hand the kit out, the kit's checklist takes it
back with the sensor missing, and the restock list asks for a sensor."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.web.e2e import Server, run_kitmanager
from tests.web.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    PageProblems,
    assert_fits_a_phone,
    assert_focus_is_visible,
    tab_to,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]

TRAINER = ("awa", "Formatrice-Abidjan-2026")
SLUG = "abidjan"
SENSOR = "Capteur à ultrasons HC-SR04"


def _ok(result) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def _seed_kits(data_dir: Path) -> dict[str, object]:
    """Two kits of one type made through the service layer, as the kit pages or CLI would."""
    from sqlalchemy import select

    from kitmanager import create_app
    from kitmanager.audit import cli_actor
    from kitmanager.extensions import db
    from kitmanager.kits.services import ComponentLine, create_kit_type, create_kits
    from kitmanager.models import Participant

    app = create_app({"DATA_DIR": data_dir})
    with app.app_context(), app.test_request_context():
        kit_type = create_kit_type(
            cli_actor(),
            "Kit suiveur de ligne v2",
            [
                ComponentLine("Arduino Nano", 1),
                ComponentLine(SENSOR, 1),
                ComponentLine("Fils de connexion", 20, must_return=False),
            ],
        )
        kits = create_kits(cli_actor(), kit_type, 2)
        amina = db.session.scalar(select(Participant).where(Participant.full_name == "Amina Yusuf"))
        seeded = {
            "kit": kits[0].label_token,
            "badge": amina.badge_token,
            "sensor": next(c.id for c in kit_type.components if c.name == SENSOR),
        }
        db.session.commit()
        db.engine.dispose()
    return seeded


@pytest.fixture
def workshop(tmp_path: Path):
    data_dir = tmp_path / "data"
    _ok(
        run_kitmanager(
            data_dir, "users", "create", TRAINER[0], "--role", "trainer", "--password-stdin",
            stdin=TRAINER[1] + "\n",
        )
    )  # fmt: skip
    now = datetime.now(timezone.utc)
    _ok(
        run_kitmanager(
            data_dir, "workshops", "create", "Défi IA Abidjan", "--slug", SLUG,
            "--starts", f"{now:%Y-%m-%d}", "--timezone", "Africa/Abidjan", "--language", "fr",
        )
    )  # fmt: skip
    starts, ends = now - timedelta(minutes=15), now + timedelta(hours=2)
    _ok(
        run_kitmanager(
            data_dir, "sessions", "add", SLUG, "Premier robot",
            "--starts", f"{starts:%Y-%m-%d %H:%M}", "--ends", f"{ends:%Y-%m-%d %H:%M}",
        )
    )  # fmt: skip
    people = tmp_path / "people.csv"
    people.write_text("Nom,Équipe\nAmina Yusuf,Les Lions\nKofi Mensah,Les Baobabs\n", "utf-8")
    _ok(run_kitmanager(data_dir, "participants", "import", SLUG, str(people)))
    seeded = _seed_kits(data_dir)
    with Server(data_dir) as server:
        yield server, seeded
        assert server.stop() == 0


def _press(page, text: str) -> None:
    """Tab to the button or link that says ``text`` and press Enter on it."""
    assert_focus_is_visible(
        tab_to(page, lambda el: el["tag"] in ("a", "button") and el["text"] == text, limit=60)
    )
    page.keyboard.press("Enter")


def test_a_trainer_hands_a_kit_out_by_two_scans_and_takes_it_back_with_the_checklist(workshop):
    from playwright.sync_api import expect, sync_playwright

    server, seeded = workshop
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server.url, locale="fr-FR", **PHONE)
        context.set_default_timeout(15_000)
        try:
            page = context.new_page()
            problems = PageProblems(page)

            # Log in with the keyboard alone, in French.
            page.goto("/login")
            tab_to(page, lambda el: el["name"] == "username")
            page.keyboard.type(TRAINER[0])
            page.keyboard.press("Tab")
            page.keyboard.type(TRAINER[1])
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"/workshops/$"))

            # The phone's camera app opens the badge, then the kit label.
            page.goto(f"/b/{seeded['badge']}")
            expect(page.locator("html")).to_have_attribute("lang", "fr")
            expect(page.get_by_text("Scannez maintenant l'étiquette d'un kit")).to_be_visible()
            page.goto(f"/k/{seeded['kit']}")
            expect(
                page.get_by_role("button", name="Remettre KIT-001 à l'équipe Les Lions")
            ).to_be_visible()
            _press(page, "Remettre KIT-001 à Amina Yusuf")
            expect(page.locator(".flash-success")).to_contain_text("KIT-001 remis à Amina Yusuf")
            expect(page.locator("#holder")).to_contain_text("Amina Yusuf")
            assert_fits_a_phone(page, problems, Path("/tmp/kitmanager-kit-out-375px-fr.png"))

            # Back at the end of the day: the checklist, every component ticked.
            page.goto(f"/k/{seeded['kit']}")
            boxes = page.locator(".checklist input[type=checkbox]")
            expect(boxes).to_have_count(3)
            for index in range(3):
                expect(boxes.nth(index)).to_be_checked()
            sensor = f"back-{seeded['sensor']}"
            assert_focus_is_visible(tab_to(page, lambda el: el["name"] == sensor, limit=60))
            page.keyboard.press("Space")
            expect(page.locator(f"input[name='{sensor}']")).not_to_be_checked()
            _press(page, "Reprendre KIT-001")
            warning = page.locator(".flash-warning")
            expect(warning).to_contain_text("KIT-001 est rendu")
            expect(warning).to_contain_text(f"1 × {SENSOR} manquant")
            expect(page.locator("h1 .tag")).to_have_text("à vérifier")

            # The restock list, reached through the menu.
            _press(page, "Kits")
            page.wait_for_url(re.compile(r"/kits/$"))
            _press(page, "Réassort")
            page.wait_for_url(re.compile(r"/kits/restock$"))
            row = page.locator("table.restock tbody tr")
            expect(row).to_have_count(1)
            expect(row).to_contain_text(SENSOR)
            expect(row).to_contain_text("1 manquant")
            assert_fits_a_phone(page, problems, Path("/tmp/kitmanager-restock-375px-fr.png"))
        finally:
            context.close()
            browser.close()
