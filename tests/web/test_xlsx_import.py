"""Excel workbooks (.xlsx) import like CSV files: same mapping, review and all-or-nothing rules.

Every workbook here is written by openpyxl the way a trainer's Excel file looks: several
sheets, a merged title row, French headers, phone numbers typed as numbers and as text, dates,
blank rows.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from msoffcrypto.format.ooxml import OOXMLFile
from sqlalchemy import select

from kitmanager.extensions import db
from kitmanager.models import Participant
from kitmanager.participants.csv_io import CsvError, guess_mapping, parse_participants, read_table
from tests.web.helpers import make_workshop
from tests.web.imports import guessed_form, press_import, upload, workbook_bytes

HEADERS = ["Prénom", "Nom", "Courriel", "Équipe", "Contact du parent", "Identifiant", "Remarques"]


def signup_workbook() -> bytes:
    """A notes sheet first (empty), then the sign-ups, then a second list of mentors."""
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    sheet = workbook.create_sheet("Inscriptions")
    sheet["A1"] = "Atelier robotique — 3e B"
    sheet.merge_cells("A1:G1")
    sheet.append([])
    sheet.append(HEADERS)
    sheet.append(["Aya", "Koné", "aya@example.org", "Baobabs", 2250712345678, "000123", 42])
    sheet.append([])  # a blank row in the middle of the list
    sheet.append(["Kofi", "Mensah", None, "Lions", "+225 07 98 76 54", 7.0, dt.date(2026, 5, 3)])
    sheet.append(
        [
            "Zoë",
            "Müller",
            "zoe@example.org",
            None,
            254712345678.0,
            "0042",
            dt.datetime(2026, 5, 3, 14, 30),
        ]
    )
    sheet["E7"].number_format = "0000000000000"  # shown with a leading zero in Excel
    sheet["E7"].value = 712345678
    mentors = workbook.create_sheet("Mentors")
    mentors.append(["Nom complet", "Rôle"])
    mentors.append(["Amara Diallo", "mentore"])
    return workbook_bytes(workbook)


def test_cells_come_through_as_the_trainer_typed_them():
    table = read_table(signup_workbook())
    assert (table.sheet, table.sheets) == ("Inscriptions", ("Notes", "Inscriptions", "Mentors"))
    assert table.headers == HEADERS
    assert [row.line for row in table.rows] == [4, 6, 7]  # the sheet's own row numbers
    assert [row.cells for row in table.rows] == [
        ["Aya", "Koné", "aya@example.org", "Baobabs", "2250712345678", "000123", "42"],
        ["Kofi", "Mensah", "", "Lions", "+225 07 98 76 54", "7", "2026-05-03"],
        ["Zoë", "Müller", "zoe@example.org", "", "0000712345678", "0042", "2026-05-03 14:30"],
    ]
    parsed = parse_participants(table, guess_mapping(table.headers))
    assert parsed.errors == []
    assert [(p.full_name, p.guardian_contact, p.external_id) for p in parsed.rows] == [
        ("Aya Koné", "2250712345678", "000123"),
        ("Kofi Mensah", "+225 07 98 76 54", "7"),
        ("Zoë Müller", "0000712345678", "0042"),
    ]


def test_a_chosen_sheet_is_read_and_an_unknown_one_is_named():
    table = read_table(signup_workbook(), sheet="Mentors")
    assert table.sheet == "Mentors" and [r.cells for r in table.rows] == [
        ["Amara Diallo", "mentore"]
    ]
    with pytest.raises(CsvError, match=r'no sheet named "Staff"\. Choose one of: Notes, '):
        read_table(signup_workbook(), sheet="Staff")
    with pytest.raises(CsvError, match=r'The sheet "Notes" is empty\. Choose another sheet'):
        read_table(signup_workbook(), sheet="Notes")


def test_large_numbers_decimals_percentages_and_booleans():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Name", "Phone", "Score", "Share", "Consent"])
    sheet.append(["Ada", 2.547e11, 12.5, 0.25, True])
    sheet["D2"].number_format = "0%"
    table = read_table(workbook_bytes(workbook))
    assert table.rows[0].cells == ["Ada", "254700000000", "12.5", "25%", "TRUE"]


def test_a_cell_beyond_the_headers_gets_a_column_of_its_own():
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name", "Email"])
    workbook.active.append(["Ada", "ada@example.org", None, "stray note"])
    table = read_table(workbook_bytes(workbook))
    assert table.headers == ["Name", "Email", "Column 3", "Column 4"]
    assert parse_participants(table, guess_mapping(table.headers)).errors == []


def test_every_sheet_empty_old_xls_password_and_damage_are_refused_clearly():
    with pytest.raises(CsvError, match="Every sheet of this workbook is empty"):
        read_table(workbook_bytes(openpyxl.Workbook()))

    # What Excel 97-2003 writes starts like this compound file (and has no encryption stream).
    with pytest.raises(CsvError, match=r"old Excel workbook \(\.xls\)\. Open it in Excel"):
        read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))

    protected = io.BytesIO()
    OOXMLFile(io.BytesIO(signup_workbook())).encrypt("secret", protected)
    with pytest.raises(CsvError, match="protected by a password"):
        read_table(protected.getvalue())

    good = signup_workbook()
    with pytest.raises(CsvError, match="workbook is damaged"):
        read_table(good[: len(good) // 2])
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]  # the sheet's XML cut in the middle
            target.writestr(item, data)
    with pytest.raises(CsvError, match="workbook is damaged"):
        read_table(damaged.getvalue())

    document = io.BytesIO()
    with zipfile.ZipFile(document, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(CsvError, match=r"zip archive .*not an Excel workbook"):
        read_table(document.getvalue())


def _people(app) -> dict[str, Participant]:
    with app.app_context():
        people = db.session.scalars(select(Participant)).all()
        return {
            p.full_name: (p.guardian_contact, p.external_id, p.team and p.team.name) for p in people
        }


def test_web_import_of_a_workbook_with_a_sheet_choice(trainer, app):
    make_workshop(app)
    response = upload(trainer, signup_workbook(), "inscriptions.xlsx")
    assert response.status_code == 302, response.get_data(as_text=True)
    review_url = response.headers["Location"]
    page = trainer.get(review_url).get_data(as_text=True)
    assert "Excel workbook, sheet Inscriptions" in page
    assert '<option value="Inscriptions" selected>Inscriptions</option>' in page
    assert '<option value="Mentors" >Mentors</option>' in page
    assert "<td>0000712345678</td>" not in page  # the preview shows names, not contacts
    assert "Aya Koné" in page and "Zoë Müller" in page

    # Another sheet: its own columns, guessed again.
    mentors = trainer.get(review_url, query_string={"sheet": "Mentors"}).get_data(as_text=True)
    assert "Excel workbook, sheet Mentors" in mentors and "Amara Diallo" in mentors
    assert re.search(r'<option value="0" selected>Nom complet</option>', mentors)

    # An empty sheet: said so, and back to the sheet the upload showed.
    empty = trainer.get(review_url, query_string={"sheet": "Notes"}, follow_redirects=True)
    assert 'The sheet "Notes" is empty.' in empty.get_data(as_text=True).replace("&#34;", '"')
    assert "Excel workbook, sheet Inscriptions" in empty.get_data(as_text=True)

    done = press_import(trainer, f"{review_url}?sheet=Inscriptions", guessed_form(page))
    assert "Imported: 3 added, 0 updated, 0 skipped." in done.get_data(as_text=True)
    assert _people(app) == {
        "Aya Koné": ("2250712345678", "000123", "Baobabs"),
        "Kofi Mensah": ("+225 07 98 76 54", "7", "Lions"),
        "Zoë Müller": ("0000712345678", "0042", None),
    }


def test_web_import_of_a_workbook_with_a_bad_row_is_all_or_nothing(trainer, app):
    make_workshop(app)
    workbook = openpyxl.Workbook()
    workbook.active.append(["Nom complet", "Courriel"])
    workbook.active.append(["Aya Koné", "aya@example.org"])
    workbook.active.append(["Kofi Mensah", "kofi@@example"])
    review_url = upload(trainer, workbook_bytes(workbook), "liste.xlsx").headers["Location"]
    page = trainer.get(review_url).get_data(as_text=True)
    assert "<td>3</td><td>Courriel</td>" in page
    refused = press_import(trainer, review_url, guessed_form(page))
    assert "nothing was imported" in refused.get_data(as_text=True)
    assert _people(app) == {}


def test_web_upload_of_an_old_xls_workbook_says_how_to_convert_it(trainer, app):
    make_workshop(app)
    response = upload(trainer, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096), "old.xls")
    assert response.status_code == 200
    assert "This file is an old Excel workbook (.xls)." in response.get_data(as_text=True)


def test_cli_imports_a_workbook_and_a_chosen_sheet(runner, app, tmp_path: Path):
    make_workshop(app)
    path = tmp_path / "inscriptions.xlsx"
    path.write_bytes(signup_workbook())
    result = runner.invoke(args=["participants", "import", "nairobi", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 rows (sheet 'Inscriptions'; other sheets: 'Notes', 'Mentors'" in result.output
    assert "3 added" in result.output
    result = runner.invoke(
        args=["participants", "import", "nairobi", str(path), "--sheet", "Mentors"]
    )
    assert result.exit_code == 0 and "1 added" in result.output
    with app.app_context():
        amara = db.session.scalar(
            select(Participant).where(Participant.full_name == "Amara Diallo")
        )
        assert amara.role == "mentor"
    missing = runner.invoke(
        args=["participants", "import", "nairobi", str(path), "--sheet", "Staff"]
    )
    assert missing.exit_code == 1 and 'no sheet named "Staff"' in missing.output
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("Name\nAda\n", encoding="utf-8")
    wrong = runner.invoke(
        args=["participants", "import", "nairobi", str(csv_file), "--sheet", "Mentors"]
    )
    assert wrong.exit_code == 1 and "--sheet is for Excel workbooks only" in wrong.output


def test_a_cell_with_line_breaks_and_commas_is_not_a_broken_quote():
    """Alt+Enter in a cell is ordinary in Excel; only a CSV line can have an unclosed quote."""
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name", "School"])
    workbook.active.append(["Ada", "Lycée Classique, Cocody\nAbidjan"])
    table = read_table(workbook_bytes(workbook))
    parsed = parse_participants(table, guess_mapping(table.headers))
    assert parsed.errors == []
    assert parsed.rows[0].organisation == "Lycée Classique, Cocody Abidjan"


def test_a_first_sheet_without_names_points_the_cli_to_the_other_sheets(runner, app, tmp_path):
    make_workshop(app)
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "Notes"
    notes.append(["Remarque"])
    notes.append(["Apporter les rallonges"])
    people = workbook.create_sheet("3e B")
    people.append(["Prénom", "Nom", "Adresse e-mail"])
    people.append(["Awa", "Koné", "awa@example.ci"])
    path = tmp_path / "inscriptions.xlsx"
    path.write_bytes(workbook_bytes(workbook))
    result = runner.invoke(args=["participants", "import", "nairobi", str(path), "--dry-run"])
    assert result.exit_code == 1
    assert "No column holds the participants' names" in result.output
    assert "read sheet 'Notes'; this workbook also has '3e B': choose with --sheet" in (
        result.output
    )
