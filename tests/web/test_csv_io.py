"""Participant CSV import/export: what a trainer sees when importing real sign-up exports."""

from __future__ import annotations

import codecs
import random
import unicodedata
from pathlib import Path

import pytest
from flask import has_app_context

from kitmanager.participants.csv_io import (
    FIELDS,
    CsvError,
    ParticipantRow,
    RowError,
    Table,
    guess_mapping,
    neutralise_cell,
    parse_participants,
    read_table,
    write_csv,
)

DATA = Path(__file__).parent / "data" / "csv"


def import_bytes(data: bytes) -> tuple[Table, list[ParticipantRow], list[RowError]]:
    """The whole import as the web page runs it: read, guess the mapping, parse."""
    table = read_table(data)
    result = parse_participants(table, guess_mapping(table.headers))
    return table, result.rows, result.errors


def names(rows: list[ParticipantRow]) -> list[str]:
    return [row.full_name for row in rows]


# --- Encodings ----------------------------------------------------------------------------------

FRENCH_LIST = "Nom;Prénom;École\nDurand;Élodie;Lycée Français\nGarçon;François;Collège Sœur\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (FRENCH_LIST.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + FRENCH_LIST.encode("utf-8"), "utf-8-sig"),
        (FRENCH_LIST.encode("cp1252"), "cp1252"),
        (FRENCH_LIST.encode("utf-16"), "utf-16-le"),  # Python writes a little-endian BOM
        (codecs.BOM_UTF16_BE + FRENCH_LIST.encode("utf-16-be"), "utf-16-be"),
        (FRENCH_LIST.encode("utf-32"), "utf-32-le"),
    ],
)
def test_accents_survive_every_encoding_excel_and_forms_produce(data: bytes, encoding: str):
    table, rows, errors = import_bytes(data)
    assert table.encoding == encoding
    assert errors == []
    assert names(rows) == ["Élodie Durand", "François Garçon"]
    assert [row.organisation for row in rows] == ["Lycée Français", "Collège Sœur"]


def test_excel_unicode_text_export_is_utf16_with_tabs():
    text = (
        "First name\tLast name\tEmail\tOrganization\r\n"
        "Chidinma\tEze\tchidinma@example.ng\tLagos STEM Hub, Yaba\r\n"
        "Thandiwe\tDlamini\t\tUnisa\r\n"
    )
    table, rows, errors = import_bytes(text.encode("utf-16"))
    assert (table.encoding, table.delimiter) == ("utf-16-le", "\t")
    assert errors == []
    assert names(rows) == ["Chidinma Eze", "Thandiwe Dlamini"]
    assert rows[0].organisation == "Lagos STEM Hub, Yaba"
    assert rows[1].email is None


def test_utf16_without_bom_is_still_recognised():
    table, rows, _ = import_bytes("Name,Team\nAmani Wanjiru,Nairobi Bots\n".encode("utf-16-le"))
    assert table.encoding == "utf-16-le"
    assert names(rows) == ["Amani Wanjiru"]


def test_windows_file_with_cp1252_punctuation_decodes_to_the_right_characters():
    # 0x92 is the curly apostrophe and 0x80 the euro sign in cp1252, invalid in UTF-8.
    data = "Name,Notes\nKouassi N’Guessan,Paid 5 €\n".encode("cp1252")
    assert b"\x92" in data
    table, rows, _ = import_bytes(data)
    assert table.encoding == "cp1252"
    assert rows[0].full_name == "Kouassi N’Guessan"
    assert rows[0].notes == "Paid 5 €"


def test_bytes_that_are_neither_utf8_nor_cp1252_ask_for_utf8():
    # 0x81 and 0x8d are undefined in cp1252: guessing latin-1 would silently garble names.
    with pytest.raises(CsvError, match="UTF-8"):
        read_table(b"Name\nAb\x81c\x8dd\n")


# --- Delimiters ---------------------------------------------------------------------------------


def test_french_excel_semicolons_with_decimal_commas_and_commas_in_addresses():
    text = (
        "Nom;Prénom;Adresse;Taille (m)\n"
        "Traoré;Aminata;12, rue des Jardins, Bouaké;1,62\n"
        "Diallo;Moussa;Quartier Plateau, Abidjan;1,75\n"
        "Bamba;Awa;Cocody;1,58\n"
    )
    table, rows, errors = import_bytes(text.encode("cp1252"))
    assert table.delimiter == ";"
    assert errors == []
    assert names(rows) == ["Aminata Traoré", "Moussa Diallo", "Awa Bamba"]


def test_comma_file_whose_notes_contain_semicolons():
    text = (
        "Name,Email,Notes\n"
        "Ana Souza,ana@example.org,vegetarian; needs laptop\n"
        "Li Wei,li@example.org,arrives late; leaves early; bring charger\n"
    )
    table, rows, _ = import_bytes(text.encode())
    assert table.delimiter == ","
    assert rows[1].notes == "arrives late; leaves early; bring charger"


def test_one_column_list_of_surname_comma_first_name_keeps_each_name_whole():
    table, rows, errors = import_bytes(b"Name\nDupont, Jean\nMartin, Claire\nSow\n")
    assert errors == []
    assert names(rows) == ["Dupont, Jean", "Martin, Claire", "Sow"]
    assert table.headers == ["Name"]


def test_excel_sep_hint_line_sets_the_delimiter_and_keeps_line_numbers():
    data = b"sep=;\r\nName;Email\r\nAda;not-an-email\r\n"
    table = read_table(data)
    assert table.delimiter == ";"
    assert table.headers == ["Name", "Email"]
    errors = parse_participants(table, guess_mapping(table.headers)).errors
    assert [(e.line, e.column) for e in errors] == [(3, "Email")]


# --- Realistic exports --------------------------------------------------------------------------


def test_google_forms_export_in_french():
    table, rows, errors = import_bytes((DATA / "google_forms_fr.csv").read_bytes())
    mapping = guess_mapping(table.headers)
    assert {field: table.headers[index] for field, index in mapping.items()} == {
        "first_name": "Prénom",
        "last_name": "Nom",
        "email": "Adresse e-mail",
        "organisation": "Nom de votre école",
        "role": "Rôle dans l'atelier",
        "team": "Nom de votre équipe",
        "guardian_contact": "Contact d'un parent ou tuteur",
        "photo_consent": "Autorisation de prise de photos",
        "notes": "Remarques (allergies, besoins particuliers…)",
    }
    assert errors == []
    assert names(rows) == [
        "Awa Koné",
        "Kouassi N'Guessan",
        "Adéwálé Ọláolúwa",
        "Minh Khai Nguyễn Thị",
        "فاطمة الزهراء",
    ]
    # The multiline remark spans lines 3-4, so the next participant starts on line 5.
    assert [row.line for row in rows] == [2, 3, 5, 6, 7]
    awa, kouassi, adewale, minh, fatima = rows
    assert awa.email == "awa.kone@gmail.com"
    assert awa.guardian_contact == "+225 07 08 09 10 11 (maman)"
    assert kouassi.notes == "Allergie aux arachides.\nApporte son propre ordinateur."
    assert adewale.email is None and adewale.organisation == "École Internationale, Abidjan"
    assert [r.role for r in rows] == [
        "participant",
        "participant",
        "participant",
        "trainer",
        "mentor",
    ]
    assert [r.photo_consent for r in rows] == [True, False, True, True, False]
    assert fatima.team is None and minh.team == "Robots du Sud"


def test_microsoft_forms_export_prefers_the_questions_over_the_account_columns():
    table, rows, errors = import_bytes((DATA / "microsoft_forms_en.csv").read_bytes())
    assert table.encoding == "utf-8-sig"
    mapping = guess_mapping(table.headers)
    assert table.headers[mapping["full_name"]] == "Full name"
    assert table.headers[mapping["email"]] == "Email address"
    assert table.headers[mapping["external_id"]] == "ID"
    assert names(rows) == ["Wang Xiaoming 王小明", "Maria José Álvarez", "Sam Lee"]
    assert rows[0].email == "wang.xm@example.org"
    assert [r.external_id for r in rows] == ["1", "2", "4"]
    assert [r.role for r in rows] == ["participant", "participant", "guest"]
    assert rows[2].photo_consent is None
    assert errors == [
        RowError(
            line=4,
            column="Email address",
            value="chinedu@@example.org",
            message='"chinedu@@example.org" is not a valid email address. '
            "Correct it (like name@example.org) or leave the cell empty.",
        )
    ]


def test_microsoft_forms_name_question_beats_the_empty_account_name_column():
    headers = ["ID", "Start time", "Completion time", "Email", "Name", "What is your name?"]
    assert guess_mapping(headers) == {"full_name": 5, "email": 3, "external_id": 0}
    french = ["ID", "Heure de début", "Heure de fin", "Adresse de messagerie", "Nom", "Votre nom"]
    assert guess_mapping(french) == {"full_name": 5, "email": 3, "external_id": 0}
    # Without a name question, the account name (a form requiring sign-in) is the name.
    assert guess_mapping(headers[:5]) == {"full_name": 4, "email": 3, "external_id": 0}


def test_microsoft_forms_anonymous_account_email_is_no_email():
    _, rows, errors = import_bytes(b"ID,Email,Name,Full name\n1,anonymous,,Juma Otieno\n")
    assert errors == []
    assert rows[0].email is None and rows[0].full_name == "Juma Otieno"


# --- Header mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("E-mail", "email"),
        ("Adresse e-mail", "email"),
        ("COURRIEL", "email"),
        ("Email Address", "email"),
        ("Quelle est votre adresse électronique ?", "email"),
        ("Nom de famille", "last_name"),
        ("Last Name", "last_name"),
        ("Prénom", "first_name"),
        ("prenom(s)", "first_name"),
        ("First name", "first_name"),
        ("Full name", "full_name"),
        ("Nom complet", "full_name"),
        ("Nom et prénoms", "full_name"),
        ("Quel est votre nom complet ?", "full_name"),
        ("Name", "full_name"),
        ("École", "organisation"),
        ("School", "organisation"),
        ("Organisation", "organisation"),
        ("Organization", "organisation"),
        ("Équipe", "team"),
        ("Team", "team"),
        ("Nom de l'équipe", "team"),
        ("Rôle", "role"),
        ("Photo consent", "photo_consent"),
        ("Droit à l'image", "photo_consent"),
        ("Parent/guardian email", "guardian_contact"),
        ("Nom sur le badge", "badge_name"),
        ("Badge name", "badge_name"),
        ("Remarques", "notes"),
        ("ID", "external_id"),
    ],
)
def test_guess_mapping_understands_english_and_french_headers(header: str, field: str):
    assert guess_mapping(["Horodateur", header]) == {field: 1}


def test_eventbrite_attendee_report_headers():
    headers = [
        "Order #", "Order Date", "First Name", "Last Name", "Email", "Quantity", "Ticket Type",
        "Attendee #", "Barcode #", "Job Title", "Company", "Attendee Status",
    ]  # fmt: skip
    assert guess_mapping(headers) == {
        "first_name": 2,
        "last_name": 3,
        "email": 4,
        "organisation": 10,
        "external_id": 7,
    }


def test_nom_next_to_prenom_is_the_family_name_but_alone_it_is_the_full_name():
    assert guess_mapping(["Nom", "Prénom"]) == {"first_name": 1, "last_name": 0}
    assert guess_mapping(["Nom", "Email"]) == {"full_name": 0, "email": 1}


def test_duplicate_headers_are_numbered_and_the_leftmost_is_mapped():
    table = read_table(b"Name,Email,Email\nAda,ada@example.org,old@example.org\n")
    assert table.headers == ["Name", "Email", "Email (2)"]
    assert guess_mapping(table.headers) == {"full_name": 0, "email": 1}
    assert guess_mapping(["E-mail", "Email"]) == {"email": 0}


def test_a_kitmanager_export_header_maps_back_to_its_own_fields():
    headers = [*FIELDS, "badge_url"]
    assert guess_mapping(headers) == {field: index for index, field in enumerate(FIELDS)}


# --- Rows and line numbers ----------------------------------------------------------------------


def test_line_numbers_count_embedded_newlines_blank_lines_and_skip_blank_rows():
    data = (
        b"Name,Email,Notes\r\n"
        b'Ada,ada@example.org,"first line\r\nsecond line\r\nthird line"\r\n'
        b"\r\n"
        b",,\r\n"
        b"Bo,bad-email,\r\n"
    )
    table = read_table(data)
    assert [(row.line, row.cells[0]) for row in table.rows] == [(2, "Ada"), (7, "Bo")]
    result = parse_participants(table, guess_mapping(table.headers))
    assert result.rows[0].notes == "first line\nsecond line\nthird line"
    assert [(e.line, e.column, e.value) for e in result.errors] == [(7, "Email", "bad-email")]


def test_title_lines_above_the_header_of_a_hand_made_sheet_are_skipped():
    text = (
        "Atelier robotique – Bouaké, mars 2024;;\r\n"
        ";;\r\n"
        "Classe de 3e B;;\r\n"
        "Nom;Prénom;Équipe\r\n"
        "Yao;Ange;Rouge\r\n"
    )
    table, rows, errors = import_bytes(text.encode("cp1252"))
    assert table.headers == ["Nom", "Prénom", "Équipe"]
    assert errors == []
    assert [(row.line, row.full_name, row.team) for row in rows] == [(5, "Ange Yao", "Rouge")]


def test_header_repeated_by_pasting_two_exports_together_is_not_a_participant():
    first = "Name,Email,\r\nAda,ada@example.org,\r\n".encode("utf-8-sig")
    second = "Name,Email,\r\nBo,bo@example.org,\r\n".encode("utf-8-sig")
    _, rows, errors = import_bytes(first + second)
    assert errors == []
    assert [(row.line, row.full_name) for row in rows] == [(2, "Ada"), (4, "Bo")]


def test_trailing_empty_columns_are_ignored_and_short_rows_padded():
    table = read_table(b"Name;Email;;;\nAda;ada@example.org;;;\nBo\n")
    assert table.headers == ["Name", "Email"]
    assert [row.cells for row in table.rows] == [["Ada", "ada@example.org"], ["Bo", ""]]


def test_row_with_more_cells_than_headers_is_an_error_not_a_silent_shift():
    _, rows, errors = import_bytes(b"Name,Email\nAda,ada@example.org\nLovelace, Ada,ada@x.org\n")
    assert names(rows) == ["Ada"]
    assert len(errors) == 1
    error = errors[0]
    assert (error.line, error.column, error.value) == (3, "column 3 (no header)", "ada@x.org")
    assert "3 cells but the header has 2" in error.message
    assert "quotes" in error.message


def test_quote_closed_rows_later_is_reported_on_the_cell_that_swallowed_them():
    data = b'Name,Team,Notes\nAda,"Red,\nBo,Blue,\nCy,"Green",ok\n'
    _, rows, errors = import_bytes(data)
    assert rows == []
    assert [(e.line, e.column) for e in errors] == [(2, "Team")]
    assert "quote" in errors[0].message


def test_every_row_error_says_line_column_and_what_to_do():
    text = (
        "Full name,Badge name,Email,Role,Photo consent,Team,Notes\n"
        "Ada Lovelace,Ada,ada@example.org,trainer,yes,Red,ok\n"  # line 2: valid
        ",,nobody@example.org,,,,\n"  # line 3: no name
        "Bo,,bo@example,boss,maybe,,\n"  # line 4: three problems
        f"{'N' * 201},{'B' * 61},,,,{'T' * 101},{'x' * 2001}\n"  # line 5: four too long
        "Cy,,cy@example.org; dee@example.org,,,,\n"  # line 6: two addresses
    )
    _, rows, errors = import_bytes(text.encode())
    assert names(rows) == ["Ada Lovelace"]
    assert [(e.line, e.column) for e in errors] == [
        (3, "Full name"),
        (4, "Email"),
        (4, "Role"),
        (4, "Photo consent"),
        (5, "Full name"),
        (5, "Badge name"),
        (5, "Team"),
        (5, "Notes"),
        (6, "Email"),
    ]
    for error in errors:
        assert error.message.endswith(".") and len(error.message) > 20
    by_place = {(e.line, e.column): e for e in errors}
    assert "empty" in by_place[3, "Full name"].message
    assert "participant, trainer, mentor or guest" in by_place[4, "Role"].message
    assert by_place[4, "Photo consent"].value == "maybe"
    assert "limit is 200" in by_place[5, "Full name"].message
    assert "limit is 60" in by_place[5, "Badge name"].message
    assert "limit is 100" in by_place[5, "Team"].message
    assert "limit is 2000" in by_place[5, "Notes"].message
    assert "only one address" in by_place[6, "Email"].message


def test_name_from_first_and_last_columns_or_full_name_column():
    table = read_table(
        "Full name,First name,Last name\n"
        "Dr. Ngozi Okonjo,Ngozi,Okonjo\n"
        ",Kwame,Mensah\n"
        ",Madonna,\n"
        ",,\u00a0\n".encode()
    )
    result = parse_participants(table, guess_mapping(table.headers))
    assert names(result.rows) == ["Dr. Ngozi Okonjo", "Kwame Mensah", "Madonna"]
    # The blank-looking last row holds only a no-break space: it is skipped as blank.
    assert result.errors == []


def test_empty_first_and_last_name_reports_both_columns():
    table = read_table(b"First name,Last name,Email\n,,a@example.org\n")
    errors = parse_participants(table, guess_mapping(table.headers)).errors
    assert [(e.line, e.column) for e in errors] == [(2, "First name / Last name")]


@pytest.mark.parametrize(
    ("value", "role"),
    [
        ("", "participant"),
        ("Participant(e)", "participant"),
        ("participante", "participant"),
        ("Formateur", "trainer"),
        ("FORMATRICE", "trainer"),
        ("Trainer", "trainer"),
        ("Mentore", "mentor"),
        ("mentor", "mentor"),
        ("Invité(e)", "guest"),
        ("invitée", "guest"),
        ("Guest", "guest"),
    ],
)
def test_roles_in_english_and_french(value: str, role: str):
    _, rows, errors = import_bytes(f"Name,Role\nAda,{value}\n".encode())
    assert errors == []
    assert rows[0].role == role


@pytest.mark.parametrize(
    ("value", "consent"),
    [
        ("yes", True),
        ("Oui", True),
        ("TRUE", True),
        ("1", True),
        ("y", True),
        ("x", True),
        ("Vrai", True),
        ("Oui, j'accepte", True),
        ("no", False),
        ("NON", False),
        ("false", False),
        ("0", False),
        ("n", False),
        ("Non, merci", False),
        ("J'accepte que mon enfant soit photographié", True),
        ("I agree to be photographed", True),
        ("I do not agree", False),
        ("Je n'accepte pas", False),
        ("", None),
        ("-", None),
    ],
)
def test_photo_consent_answers(value: str, consent: bool | None):
    _, rows, errors = import_bytes(f'Name,Photo consent\nAda,"{value}"\n'.encode())
    assert errors == []
    assert rows[0].photo_consent is consent


@pytest.mark.parametrize("value", ["N/A", "maybe", "Yesterday", "peut-être", "Nope"])
def test_photo_consent_that_is_not_a_yes_or_no_is_an_error(value: str):
    _, rows, errors = import_bytes(f"Name,Photo consent\nAda,{value}\n".encode())
    assert rows == []
    assert [(e.line, e.column, e.value) for e in errors] == [(2, "Photo consent", value)]
    assert "yes/no" in errors[0].message


def test_email_domain_is_lowercased_but_not_the_mailbox():
    data = (
        "Name,Email\n"
        "Ada,Ada.Lovelace@Example.ORG\n"
        "Bo,Bo Diallo <Bo@Mail.Example.SN>\n"
        "Cy,mailto:cy@example.org\n"
        "Dé,dé@exämple.org\n"
    ).encode()
    _, rows, errors = import_bytes(data)
    assert errors == []
    assert [r.email for r in rows] == [
        "Ada.Lovelace@example.org",
        "Bo@mail.example.sn",
        "cy@example.org",
        "dé@exämple.org",
    ]


def test_surrounding_whitespace_is_stripped_and_inner_text_kept():
    _, rows, _ = import_bytes(
        b'Name,Organisation,Notes\n  Ama  Owusu \t," Ashesi\n University ","  line 1\n  line 2 "\n'
    )
    assert rows[0].full_name == "Ama  Owusu"
    assert rows[0].organisation == "Ashesi University"  # a badge cannot print a line break
    assert rows[0].notes == "line 1\n  line 2"


def test_mapping_without_a_name_column_is_a_whole_file_error():
    table = read_table(b"Email,Team\na@example.org,Red\n")
    with pytest.raises(CsvError, match="names"):
        parse_participants(table, guess_mapping(table.headers))


def test_mapping_to_a_missing_column_or_unknown_field_is_refused():
    table = read_table(b"Name\nAda\n")
    with pytest.raises(CsvError, match="does not exist"):
        parse_participants(table, {"full_name": 3})
    with pytest.raises(CsvError, match="Unknown field"):
        parse_participants(table, {"full_name": 0, "shoe_size": 0})


# --- Whole-file errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b" \r\n\r\n\t\n", "empty"),
        (codecs.BOM_UTF8, "empty"),
        ("".encode("utf-16"), "empty"),
        (b"Name,Email\r\n", "no participants"),
        (b"Name,Email\r\n\r\n,\r\n", "no participants"),
        (bytes(range(256)) * 8, "binary"),
        (b"\x00\x01\x02\x03Name\x00\x00,\x07\x08\x00\x00", "binary"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64, "Excel workbook is damaged"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, r"old Excel workbook \(\.xls\)"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"\r\n<!DOCTYPE html><html><body><table>", "web page"),
        (codecs.BOM_UTF16_LE + "Name\nAda".encode("utf-16-le") + b"\x00", "UTF-16 text but"),
        (b'Name,Notes\nAda,"ok"\nBo,"never closed\nCy,x\nDee,y\n', "Line 3"),
    ],
)
def test_whole_file_problems_raise_one_message_that_says_what_to_do(data: bytes, expected: str):
    with pytest.raises(CsvError, match=expected) as caught:
        read_table(data)
    message = str(caught.value)
    assert "Traceback" not in message and message.endswith(".")


def test_messages_are_plain_english_without_any_flask_app():
    """The command line, scripts and these tests use csv_io with no app: messages stay English,
    with their values filled in and English digit grouping."""
    assert not has_app_context()
    with pytest.raises(CsvError) as caught:
        read_table(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    assert str(caught.value) == (
        'This file is a PDF document, not a CSV file. In your spreadsheet choose "Save as" > '
        '"CSV UTF-8" and import that file.'
    )
    with pytest.raises(CsvError) as caught:
        read_table(b"Name\n" + b"P\n" * 1_001, max_rows=1_000)
    assert str(caught.value) == (
        "The file has more than 1,000 rows. Split it into smaller files and import them one "
        "after the other."
    )

    table = read_table(b"Name;Role;\nAda;chef\nBo;guest;x;y\n")
    assert table.headers == ["Name", "Role"]
    errors = parse_participants(table, {"full_name": 0, "role": 1}).errors
    assert [(e.line, e.column, e.message) for e in errors] == [
        (
            2,
            "Role",
            'Unknown role "chef". Use participant, trainer, mentor or guest (or in French '
            "participant(e), formateur/formatrice, mentor(e), invité(e)), or leave it empty for "
            "participant.",
        ),
        (
            3,
            "column 3 (no header)",
            "This line has 4 cells but the header has 2: a value probably contains a semicolon. "
            "Put that value in quotes or remove the semicolon.",
        ),
    ]
    assert read_table(b"Name,,Team\nAda,x,Lions\n").headers == ["Name", "Column 2", "Team"]


def test_damaged_files_give_a_message_or_a_table_never_a_traceback():
    seeds = [path.read_bytes() for path in sorted(DATA.glob("*.csv"))]
    seeds += [FRENCH_LIST.encode("cp1252"), FRENCH_LIST.encode("utf-16")]
    noise = b',;\t"\r\n\x00\xff\xfe\xef\xbb\xbf=+-@ \xc3\xa9\x81'
    rnd = random.Random(20240314)
    outcomes = set()
    for _ in range(400):
        data = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 6)):
            at = rnd.randint(0, len(data))
            if rnd.random() < 0.6:
                data[at:at] = bytes(rnd.choice(noise) for _ in range(rnd.randint(1, 3)))
            else:
                del data[at : at + rnd.randint(1, 4)]
        try:
            table = read_table(bytes(data))
            result = parse_participants(table, guess_mapping(table.headers))
        except CsvError as error:
            outcomes.add("refused")
            assert str(error).endswith(".")
            continue
        outcomes.add("read")
        for error in result.errors:
            assert error.line >= 1 and error.column and error.message
    assert outcomes == {"read", "refused"}


def test_too_many_rows_is_refused_with_a_hint_to_split():
    data = b"Name\n" + b"".join(b"P%d\n" % i for i in range(11))
    assert len(read_table(data, max_rows=11).rows) == 11
    with pytest.raises(CsvError, match=r"more than 10 rows\. Split"):
        read_table(data, max_rows=10)


def test_huge_cell_is_a_readable_error():
    data = b'Name,Notes\nAda,"' + b"x" * 200_000 + b'"\n'
    with pytest.raises(CsvError, match="Line 2"):
        read_table(data)


# --- Export -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            '=HYPERLINK("http://evil.example","click")',
            '\'=HYPERLINK("http://evil.example","click")',
        ),
        ("+254 712 345 678", "'+254 712 345 678"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("＝1+1", "'＝1+1"),
        ("Ada = 1", "Ada = 1"),
        ("O'Brien", "O'Brien"),
        ("", ""),
    ],
)
def test_neutralise_cell_defuses_formulas_only(value: str, expected: str):
    assert neutralise_cell(value) == expected


def test_write_csv_is_utf8_with_bom_crlf_and_neutralised():
    data = write_csv(
        ["Name", "Consent", "Count", "Guardian"],
        [["=cmd|' /C calc'!A0", True, 3, "+33 6 12 34 56 78"], ["Élodie", None, -1, "@home"]],
    )
    assert data.startswith(codecs.BOM_UTF8)
    text = data[3:].decode("utf-8")
    assert text.split("\r\n") == [
        "Name,Consent,Count,Guardian",
        "'=cmd|' /C calc'!A0,yes,3,'+33 6 12 34 56 78",
        "Élodie,,'-1,'@home",
        "",
    ]


NAMES_FROM_EVERYWHERE = [
    "Adéwálé Ọláolúwa",  # Yorùbá: dots below and tone marks
    "Nguyễn Thị Minh Khai",  # Vietnamese: stacked diacritics
    "فاطمة الزهراء",  # Arabic
    "王小明",  # Chinese
    "Zoë Ñúñez-O'Connor",
    "Ἀλέξανδρος",  # Greek with breathing marks
    "Kwabena Nana Ɔpɔku",  # Akan open o
    "Ayşe Çelik",
    "=Bobby Tables",
]


def test_unicode_names_round_trip_exactly_through_export_and_import():
    exported = write_csv(
        ["Full name", "Team", "Notes", "Guardian contact"],
        [
            [name, "Équipe 1", "line 1\nline 2", "+234 803 000 0000"]
            for name in NAMES_FROM_EVERYWHERE
        ],
    )
    _, rows, errors = import_bytes(exported)
    assert errors == []
    assert names(rows) == NAMES_FROM_EVERYWHERE
    assert {row.notes for row in rows} == {"line 1\nline 2"}
    assert {row.guardian_contact for row in rows} == {"+234 803 000 0000"}
    assert [row.line for row in rows] == list(range(2, 2 * len(NAMES_FROM_EVERYWHERE) + 2, 2))


def test_decomposed_accents_are_normalised_to_nfc_without_changing_letters():
    decomposed = unicodedata.normalize("NFD", " Nguyễn Thị Minh Khai ")
    assert decomposed.strip() != "Nguyễn Thị Minh Khai"
    _, rows, _ = import_bytes(f"Name\n{decomposed}\n".encode())
    assert rows[0].full_name == "Nguyễn Thị Minh Khai"
    assert unicodedata.is_normalized("NFC", rows[0].full_name)


# --- Field limits and text hygiene --------------------------------------------------------------


def _one_row_table(header: str, value: str) -> Table:
    from kitmanager.participants.csv_io import TableRow

    return Table(
        headers=["Name", header],
        rows=[TableRow(line=2, cells=["Ama Owusu", value])],
        encoding="utf-8",
        delimiter=",",
    )


def test_every_length_limit_is_the_database_column():
    from kitmanager.models import Participant, Team
    from kitmanager.participants.fields import TEXT_FIELDS, max_length

    assert max_length("team") == Team.__table__.c.name.type.length
    assert max_length("external_id") == Participant.__table__.c.external_id.type.length
    assert max_length("notes") == Participant.__table__.c.notes.info["max_length"]
    for field in TEXT_FIELDS:
        if field in ("full_name", "email"):
            continue
        limit = max_length(field)
        fits = parse_participants(_one_row_table("X", "v" * limit), {"full_name": 0, field: 1})
        assert fits.errors == [], field
        over = parse_participants(
            _one_row_table("X", "v" * (limit + 1)), {"full_name": 0, field: 1}
        )
        assert [(e.line, e.column) for e in over.errors] == [(2, "X")], field
        assert f"the limit is {limit}" in over.errors[0].message


def test_a_150_character_sign_up_id_is_a_row_error_with_line_and_column():
    long_id = "REG-" + "7" * 146
    _, rows, errors = import_bytes(
        f"Name,Registration ID\nAma Owusu,REG-1\nKofi Mensah,{long_id}\n".encode()
    )
    assert names(rows) == ["Ama Owusu"]
    assert [(e.line, e.column, e.value) for e in errors] == [(3, "Registration ID", long_id)]
    assert "150 characters long; the limit is 100" in errors[0].message


def test_control_and_bidi_characters_are_removed_from_cells():
    _, rows, errors = import_bytes(
        "Name,Team,Notes\n"
        '"Awa\x07 Kon\u00e9\u202e\x1b[0m","\u2067Lions\u2069","first\x0bsecond\r\nthird\x85"\n'
        "\u0645\u062d\u0645\u062f \u200fAli,Red,\n".encode()
    )
    assert errors == []
    assert [(r.full_name, r.team, r.notes) for r in rows] == [
        ("Awa Koné[0m", "Lions", "first\nsecond\nthird"),
        ("محمد \u200fAli", "Red", ""),  # a right-to-left mark is harmless and kept
    ]


def test_a_lone_surrogate_in_a_cell_is_an_error_of_that_cell():
    result = parse_participants(_one_row_table("Team", "Li\ud800ons"), {"full_name": 0, "team": 1})
    assert result.rows == []
    [error] = result.errors
    assert (error.line, error.column, error.value) == (2, "Team", "Li\ufffdons")
    assert "broken character" in error.message
