"""Importing kits on the web: upload a CSV or workbook, review every row, import all or
nothing; a row error names its line and column."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.kits.services import ComponentLine, create_kit_type, create_kits, kit_by_code
from kitmanager.models import AuditEvent, Kit
from tests.web.conftest import csrf_token, login
from tests.web.e2e import Server, run_kitmanager
from tests.web.imports import workbook_bytes
from tests.web.test_browser import (
    CHROMIUM,
    PHONE,
    PageProblems,
    assert_fits_a_phone,
    chromium,  # noqa: F401  (fixture)
    log_in_by_keyboard,
    server,  # noqa: F401  (fixture)
)

GOOD = (
    "Code du kit;Type de kit;Remarques;Carte;Numéro de série USB\n"
    "KIT-101;Line-follower kit v2;boîte neuve;avr;85735313\n"
    "KIT-102;line-follower kit v2;;;\n"
)


@pytest.fixture
def kit_type(app):
    with app.app_context(), app.test_request_context():
        made = create_kit_type(cli_actor(), "Line-follower kit v2", [ComponentLine("Arduino Nano")])
        create_kits(cli_actor(), made, 1)
        db.session.commit()


def _upload(client, data: bytes, filename: str):
    url = "/kits/import"
    return client.post(
        url,
        data={"csrf_token": csrf_token(client, url), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def _review_form(page: str) -> dict[str, str]:
    form = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page)[1]}
    for name, options in re.findall(r'<select id="(map_\w+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="(\d+)" selected>', options)
        form[name] = chosen[1] if chosen else ""
    return form


def _kit_codes(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Kit.code).order_by(Kit.code)))


def test_a_trainer_uploads_reviews_and_imports_kits(app, trainer, kit_type):
    uploaded = _upload(trainer, GOOD.encode("utf-8"), "kits.csv")
    assert uploaded.status_code == 302
    review_url = uploaded.headers["Location"]
    page = trainer.get(review_url).get_data(as_text=True)
    assert "2 kits to add" in page
    assert "KIT-101" in page and "85735313" in page and "boîte neuve" in page
    assert _kit_codes(app) == ["KIT-001"]  # the review writes nothing
    form = _review_form(page)
    assert (
        form["map_code"] == "0" and form["map_kit_type"] == "1" and form["map_board_serial"] == "4"
    )
    done = trainer.post(review_url, data={**form, "action": "import"}, follow_redirects=True)
    body = done.get_data(as_text=True)
    assert "Imported 2 kits: KIT-101, KIT-102." in body
    assert done.request.path == "/kits/labels"  # next: print their labels
    assert _kit_codes(app) == ["KIT-001", "KIT-101", "KIT-102"]
    with app.app_context():
        kit = kit_by_code("KIT-101")
        assert (kit.board_family, kit.board_serial, kit.notes) == ("avr", "85735313", "boîte neuve")
        assert (
            db.session.scalar(
                select(func.count(AuditEvent.id)).where(AuditEvent.action == "kits.import")
            )
            == 1
        )
    # the upload is gone: pressing Import again imports nothing twice
    again = trainer.post(review_url, data={**form, "action": "import"}, follow_redirects=True)
    assert "upload has expired" in again.get_data(as_text=True)
    assert _kit_codes(app) == ["KIT-001", "KIT-101", "KIT-102"]


def test_a_board_named_as_trainers_know_it_imports_as_its_family(app, trainer, kit_type):
    """A trainer writes "ESP32" or "Nano" in the board column, as on the kit's page: the kit
    gets the family the board tools use; a name they do not know says which ones they do."""
    data = (
        "code,type,board family\n"
        "KIT-301,Line-follower kit v2,ESP32\n"
        "KIT-302,Line-follower kit v2,Nano\n"
        "KIT-303,Line-follower kit v2,micropython\n"
    )
    review_url = _upload(trainer, data.encode(), "kits.csv").headers["Location"]
    page = trainer.get(review_url).get_data(as_text=True)
    assert "3 kits to add" in page
    trainer.post(review_url, data={**_review_form(page), "action": "import"})
    with app.app_context():
        assert [kit_by_code(code).board_family for code in ("KIT-301", "KIT-302", "KIT-303")] == [
            "esp",
            "avr",
            "micropython",
        ]

    bad = "code,type,board family\nKIT-304,Line-follower kit v2,esp-32\n"
    page = trainer.get(_upload(trainer, bad.encode(), "kits.csv").headers["Location"]).get_data(
        as_text=True
    )
    assert "Unknown board family “esp-32”: use one of avr, micropython, esp" in page
    assert "KIT-304" not in _kit_codes(app)


def test_a_kit_file_with_no_kit_is_refused_in_words_about_kits(app, trainer, kit_type):
    book = openpyxl.Workbook()
    book.active.append(["Code", "Type"])
    for data, name in (
        (b"Code,Type\r\n", "k.csv"),
        (b"", "k.csv"),
        (workbook_bytes(book), "k.xlsx"),
    ):
        page = _upload(trainer, data, name).get_data(as_text=True)
        assert "The file has no kit in it: one kit per row" in page, name
        assert "sign-up" not in page and "no participants" not in page
    assert _kit_codes(app) == ["KIT-001"]


def test_one_bad_row_blocks_the_whole_file_and_each_problem_names_line_and_column(
    app, trainer, kit_type
):
    data = (
        "code,type,board family,usb serial\n"
        "KIT-201,Line-follower kit v2,avr,S1\n"
        "KIT-202,Robot arm,,\n"
        "KIT-001,Line-follower kit v2,,\n"
        "KIT-201,Line-follower kit v2,,\n"
        "KIT-203,Line-follower kit v2,arduino,S1\n"
        "KIT 204!,Line-follower kit v2,,\n"
    )
    review_url = _upload(trainer, data.encode(), "kits.csv").headers["Location"]
    page = trainer.get(review_url).get_data(as_text=True)
    rows = re.findall(
        r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page
    )
    problems = {(int(line), column) for line, column, _value, _message in rows}
    assert problems == {
        (3, "type"),
        (4, "code"),
        (5, "code"),
        (6, "board family"),
        (6, "usb serial"),
        (7, "code"),
    }
    assert "There is no kit type “Robot arm”" in page
    assert "Import now" not in page
    forced = trainer.post(
        review_url, data={**_review_form(page), "action": "import"}, follow_redirects=True
    )
    assert "Nothing was imported: 5 row(s) have errors. Line 3, column “type”" in forced.get_data(
        as_text=True
    )
    assert _kit_codes(app) == ["KIT-001"]


def test_a_workbook_sheet_is_chosen_on_the_review_page(app, trainer, kit_type):
    book = openpyxl.Workbook()
    book.active.title = "Read me"
    book.active.append(["Kits for Abidjan"])
    book.active.append(["see the other sheet"])
    sheet = book.create_sheet("Kits")
    sheet.append(["Kit", "Modèle"])
    sheet.append(["KIT-301", "Line-follower kit v2"])
    review_url = _upload(trainer, workbook_bytes(book), "kits.xlsx").headers["Location"]
    first = trainer.get(review_url, follow_redirects=True).get_data(as_text=True)
    assert "Kits for Abidjan" in first and 'id="sheet-choice"' in first
    page = trainer.get(f"{review_url}?sheet=Kits").get_data(as_text=True)
    assert "1 kit to add" in page
    form = _review_form(page)
    trainer.post(f"{review_url}?sheet=Kits", data={**form, "action": "import"})
    assert _kit_codes(app) == ["KIT-001", "KIT-301"]


def test_a_file_that_is_not_a_list_is_refused_at_upload(app, trainer, kit_type):
    refused = _upload(trainer, b"\x89PNG\r\n\x1a\n\x00\x00binary", "kits.csv")
    assert refused.status_code == 200
    assert "error" in refused.get_data(as_text=True)


def test_volunteers_cannot_import_kits(client, kit_type):
    login(client, "vera")
    assert client.get("/kits/import").status_code == 403
    assert client.get("/kits/labels").status_code == 403


def test_the_import_pages_speak_french(app, trainer, kit_type):
    trainer.post(
        "/language", data={"language": "fr", "csrf_token": csrf_token(trainer, "/kits/import")}
    )
    page = trainer.get("/kits/import", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Importer des kits" in page


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_a_trainer_imports_kits_on_a_french_phone(chromium, server: Server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    made = run_kitmanager(
        server.data_dir, "kits", "types", "add", "Line-follower kit v2",
        "--component", "Arduino Nano:1",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    bad = tmp_path / "kits-bad.csv"
    bad.write_text(GOOD + "KIT-103;Bras robotique;;;\n", encoding="utf-8")
    good = tmp_path / "kits.csv"
    good.write_text(GOOD, encoding="utf-8")
    context = chromium.new_context(base_url=server.url, locale="fr-FR", **PHONE)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        problems = PageProblems(page)
        log_in_by_keyboard(page)
        page.goto("/kits/import")
        expect(page.locator("h1")).to_have_text(
            "Importer des kits depuis un fichier CSV ou un classeur Excel"
        )
        assert_fits_a_phone(page, problems, Path("/tmp/kitmanager-kit-import-375px-fr.png"))
        page.locator("input[type=file]").set_input_files(str(bad))
        page.get_by_role("button", name="Envoyer et vérifier").click()
        expect(page.locator("#row-errors")).to_contain_text(
            "Il n'existe pas de type de kit « Bras robotique »"
        )
        expect(page.locator("#row-errors tbody tr")).to_have_count(1)
        expect(page.get_by_role("button", name="Importer maintenant")).to_have_count(0)
        assert_fits_a_phone(page, problems, Path("/tmp/kitmanager-kit-review-375px-fr.png"))
        page.goto("/kits/import")
        page.locator("input[type=file]").set_input_files(str(good))
        page.get_by_role("button", name="Envoyer et vérifier").click()
        expect(page.locator("#preview")).to_contain_text("2 kits à ajouter")
        page.get_by_role("button", name="Importer maintenant").click()
        expect(page.locator("body")).to_contain_text("2 kits importés : KIT-101, KIT-102.")
        assert problems.messages == [], problems.messages
    finally:
        context.close()
    listed = run_kitmanager(server.data_dir, "kits", "list")
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["KIT-101", "KIT-102"]
