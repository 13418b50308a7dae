"""Printing kit labels and contents cards from the web: choose layout and kits, download the
PDF; every label's QR decodes to its own kit's label address, every card lists every part."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.kits.services import ComponentLine, create_kit_type, create_kits
from kitmanager.models import AuditEvent, Kit
from tests.printouts.reading import all_codes, read_pdf
from tests.web.conftest import csrf_token, login
from tests.web.e2e import Server, run_kitmanager
from tests.web.helpers import make_workshop
from tests.web.test_browser import (
    CHROMIUM,
    PHONE,
    PageProblems,
    assert_fits_a_phone,
    chromium,  # noqa: F401  (fixture)
    log_in_by_keyboard,
    server,  # noqa: F401  (fixture)
)

LINE_FOLLOWER = [
    ComponentLine("Arduino Nano"),
    ComponentLine("HC-SR04 ultrasonic sensor"),
    ComponentLine("DC motor", 2),
    ComponentLine("Jumper wires", 20, must_return=False),
]


@pytest.fixture
def kits(app) -> dict[str, str]:
    """KIT-001..003 line followers and ARM-001..002 robot arms -> their label URLs."""
    with app.app_context(), app.test_request_context():
        follower = create_kit_type(cli_actor(), "Line-follower kit v2", LINE_FOLLOWER)
        arm = create_kit_type(cli_actor(), "Robot arm", [ComponentLine("Servo SG90", 4)])
        create_kits(cli_actor(), follower, 3)
        create_kits(cli_actor(), arm, 2, prefix="ARM-")
        db.session.commit()
        return {
            kit.code: f"http://kit.test/k/{kit.label_token}"
            for kit in db.session.scalars(select(Kit))
        }


def _make_pdf(client, **form) -> tuple[str, bytes]:
    """Press "Make the PDF" with ``form``; the ready page and the PDF it links to."""
    data = {"csrf_token": csrf_token(client, "/kits/labels"), **form}
    made = client.post("/kits/labels", data=data)
    assert made.status_code == 302, made.get_data(as_text=True)
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    link = re.search(r'href="(/kits/labels/\w+\.pdf)"', page)
    assert link, page
    pdf = client.get(link[1])
    assert pdf.mimetype == "application/pdf"
    return page, pdf.data


def test_labels_of_all_kits_each_scan_to_their_own_kit(app, trainer, kits):
    page, pdf = _make_pdf(trainer, what="labels", layout="avery-l7160", scope="all")
    assert "Kit labels ready" in page and "5 kits on 1 page(s)" in page
    assert sorted(all_codes(read_pdf(pdf, dpi=150))) == sorted(kits.values())
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "kit_labels.printed")
        )
        assert event.details["count"] == 5 and event.details["layout"] == "avery-l7160"


def test_ticked_kits_print_in_the_order_shown_on_the_brother_roll(trainer, kits):
    _, pdf = _make_pdf(
        trainer, what="labels", layout="brother-ql-62", scope="codes", code=["KIT-003", "ARM-001"]
    )
    pages = read_pdf(pdf, dpi=200)
    assert [page.codes[0].text for page in pages] == [kits["KIT-003"], kits["ARM-001"]]
    assert "KIT-003" in pages[0].flat_text and "Robot arm" in pages[1].flat_text


def test_the_kits_of_one_type(app, trainer, kits):
    with app.app_context():
        arm_type = db.session.scalar(select(Kit).where(Kit.code == "ARM-001")).kit_type_id
    _, pdf = _make_pdf(
        trainer, what="labels", layout="avery-l7160", scope="type", kit_type=str(arm_type)
    )
    assert sorted(all_codes(read_pdf(pdf, dpi=150))) == sorted([kits["ARM-001"], kits["ARM-002"]])


def test_contents_cards_list_every_component_in_the_workshops_language(app, trainer, kits):
    make_workshop(app, language="fr", starts_on=date.today(), ends_on=date.today())
    page, pdf = _make_pdf(trainer, what="cards", scope="codes", code=["KIT-001", "KIT-002"])
    assert "Contents cards ready" in page
    (sheet,) = read_pdf(pdf, dpi=150)
    assert sorted(code.text for code in sheet.codes) == sorted([kits["KIT-001"], kits["KIT-002"]])
    text = sheet.flat_text
    for part in ("1 × Arduino Nano", "1 × HC-SR04 ultrasonic sensor", "2 × DC motor",
                 "20 × Jumper wires (consommable)"):  # fmt: skip
        assert text.count(part) == 2, part
    assert "cochez chaque pièce" in text


def test_mistakes_are_explained_and_nothing_is_made(trainer, kits):
    data = {"csrf_token": csrf_token(trainer, "/kits/labels"), "what": "labels", "scope": "codes"}
    page = trainer.post("/kits/labels", data=data).get_data(as_text=True)
    assert "Tick the kits to print" in page and ".pdf" not in page
    data.update(scope="all", layout="certificate-a4")
    page = trainer.post("/kits/labels", data=data).get_data(as_text=True)
    assert "does not print kit labels" in page and ".pdf" not in page


def test_a_pdf_opens_only_for_the_session_that_made_it(app, trainer, kits):
    _make_pdf(trainer, what="labels", layout="avery-l7160", scope="all")
    other = app.test_client()
    login(other, "olga")
    folder = Path(app.config["DATA_DIR"]) / "generated"
    (made,) = folder.glob("kits-*.pdf")
    assert other.get(f"/kits/labels/{made.stem.removeprefix('kits-')}.pdf").status_code == 404


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_a_trainer_prints_contents_cards_on_a_french_phone(chromium, server: Server):  # noqa: F811
    from playwright.sync_api import expect

    for args in (
        ("workshops", "create", "Défi IA Abidjan", "--slug", "abidjan",
         "--starts", date.today().isoformat(), "--language", "fr"),
        ("kits", "types", "add", "Suiveur de ligne", "--component", "Arduino Nano:1",
         "--component", "Moteur CC:2", "--component", "Fils de connexion:20:consumable"),
        ("kits", "create", "--type", "Suiveur de ligne", "--count", "4"),
    ):  # fmt: skip
        made = run_kitmanager(server.data_dir, *args)
        assert made.returncode == 0, made.stderr
    context = chromium.new_context(base_url=server.url, locale="fr-FR", **PHONE)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        problems = PageProblems(page)
        log_in_by_keyboard(page)
        page.goto("/kits/labels")
        expect(page.locator("h1")).to_have_text(
            "Imprimer les étiquettes et les fiches de contenu des kits"
        )
        assert_fits_a_phone(page, problems, Path("/tmp/kitmanager-kit-labels-375px-fr.png"))
        page.get_by_label("Des fiches de contenu A6").check()
        page.get_by_label("Les kits cochés ci-dessous").check()
        page.get_by_label("KIT-002").check()
        page.get_by_label("KIT-004").check()
        page.get_by_role("button", name="Créer le PDF").click()
        expect(page.locator("#labels-ready")).to_contain_text("Fiches de contenu prêtes")
        assert_fits_a_phone(page, problems, Path("/tmp/kitmanager-kit-cards-375px-fr.png"))
        link = page.get_by_role("link", name="Télécharger le PDF").get_attribute("href")
        reply = page.request.get(link)  # with the page's session, as the browser opens it
        assert reply.headers["content-type"] == "application/pdf"
        pdf = reply.body()
    finally:
        context.close()
    (sheet,) = read_pdf(pdf, dpi=150)
    assert len(sheet.codes) == 2
    assert all(code.text.startswith(f"{server.url}/k/") for code in sheet.codes)
    assert sheet.flat_text.count("20 × Fils de connexion (consommable)") == 2
    assert "KIT-002" in sheet.flat_text and "KIT-004" in sheet.flat_text
