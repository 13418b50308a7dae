"""`kitmanager kits ...` as a trainer types it: types, bulk codes, the JSON list with holders
and label addresses, import, labels and contents cards; bad input writes nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.kits.services import hand_out, kit_by_code
from kitmanager.models import AuditEvent, Kit, KitType, Participant
from tests.printouts.reading import all_codes, read_pdf
from tests.web.helpers import add_people, make_workshop

ADDRESS = "http://192.168.1.10:5000"


def _invoke(runner, *args: str):
    return runner.invoke(args=["kits", *args])


def _kit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Kit.id)))


@pytest.fixture
def kits(runner):
    made = _invoke(
        runner,
        "types", "add", "Line-follower kit v2",
        "--component", "Arduino Nano:1",
        "--component", "DC motor:2",
        "--component", "Jumper wires:20:consumable",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    created = _invoke(runner, "create", "--type", "line-follower KIT v2", "--count", "3")
    assert created.exit_code == 0, created.output
    return created


def test_a_trainer_makes_a_type_and_thirty_kits_from_the_command_line(app, runner, kits):
    assert kits.stdout.split() == ["KIT-001", "KIT-002", "KIT-003"]
    listed = _invoke(runner, "types", "list")
    assert "Line-follower kit v2" in listed.output
    assert "20 × Jumper wires  (consumable)" in listed.output
    assert "2 × DC motor" in listed.output
    more = _invoke(runner, "create", "--type", "Line-follower kit v2", "--count", "27")
    assert more.stdout.split()[0] == "KIT-004" and more.stdout.split()[-1] == "KIT-030"
    other = _invoke(
        runner, "create", "--type", "Line-follower kit v2", "--count", "2", "--prefix", "LF-"
    )
    assert other.stdout.split() == ["LF-001", "LF-002"]
    with app.app_context():
        kit_type = db.session.scalar(select(KitType))
        assert [(c.name, c.quantity, c.must_return) for c in kit_type.components] == [
            ("Arduino Nano", 1, True),
            ("DC motor", 2, True),
            ("Jumper wires", 20, False),
        ]
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert actions.count("kit.create") == 32 and "kit_type.create" in actions


def test_a_mistyped_consumable_flag_is_refused_not_taken_as_a_name(app, runner):
    typo = _invoke(
        runner, "types", "add", "Sumo kit",
        "--component", "Motor:2", "--component", "AA battery:4:consumabel",
    )  # fmt: skip
    assert typo.exit_code == 2
    assert "'consumabel' is neither a quantity nor 'consumable'" in typo.output
    with app.app_context():
        assert db.session.scalar(select(func.count(KitType.id))) == 0
    # A colon inside a name stays part of the name.
    kept = _invoke(runner, "types", "add", "Sumo kit", "--component", "Cable USB:C:1")
    assert kept.exit_code == 0, kept.output
    assert "1 × Cable USB:C" in _invoke(runner, "types", "list").output


def test_the_json_list_gives_status_holder_and_label_url(app, runner, kits):
    make_workshop(app)
    (amina,) = add_people(app, "nairobi", "Amina Yusuf", team="Falcons")
    with app.app_context(), app.test_request_context():
        hand_out(cli_actor(), kit_by_code("KIT-002"), db.session.get(Participant, amina))
        db.session.commit()
        tokens = {kit.code: kit.label_token for kit in db.session.scalars(select(Kit))}
    result = _invoke(runner, "list", "--json", "--base-url", ADDRESS)
    assert result.exit_code == 0, result.output
    rows = {row["code"]: row for row in json.loads(result.stdout)}
    assert list(rows) == ["KIT-001", "KIT-002", "KIT-003"]
    assert rows["KIT-002"]["status"] == "out"
    assert rows["KIT-002"]["holder"]["name"] == "Amina Yusuf"
    assert rows["KIT-002"]["holder"]["team"] == "Falcons"
    assert rows["KIT-001"] == {
        "code": "KIT-001",
        "type": "Line-follower kit v2",
        "status": "ready",
        "holder": None,
        "label_url": f"{ADDRESS}/k/{tokens['KIT-001']}",
    }
    out = json.loads(_invoke(runner, "list", "--status", "out", "--json").stdout)
    # without --base-url: the stored or configured badge address, as `kitmanager badges` uses
    assert [(r["code"], r["label_url"]) for r in out] == [
        ("KIT-002", f"http://kit.test/k/{tokens['KIT-002']}")
    ]
    ready = _invoke(runner, "list", "--status", "ready", "--type", "Line-follower kit v2")
    assert [line.split()[0] for line in ready.stdout.splitlines()] == ["KIT-001", "KIT-003"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("create", "--type", "Robot arm", "--count", "3"), "No kit type named 'Robot arm'"),
        (("create", "--type", "Line-follower kit v2", "--count", "0"), "--count"),
        (("create", "--type", "Line-follower kit v2", "--count", "2", "--prefix", "K I T"),
         "code prefix"),
        (("types", "add", "Robot arm"), "--component"),
        (("types", "add", "Robot arm", "--component", ":3"), "has no name"),
        (("types", "add", "Robot arm", "--component", "Servo:0"), "between 1 and 1000"),
        (("types", "add", "line-follower kit V2", "--component", "LED"), "already exists"),
        (("list", "--status", "lost"), "'lost' is not one of"),
        (("list", "--type", "Robot arm"), "No kit type named"),
        (("labels", "-o", "{out}", "--code", "KIT-404", "--base-url", ADDRESS), "No kit KIT-404"),
        (("labels", "-o", "{out}", "--layout", "certificate-a4", "--base-url", ADDRESS),
         "does not print kit labels"),
        (("labels", "-o", "{out}", "--cards", "--layout", "avery-l7160", "--base-url", ADDRESS),
         "does not print contents cards"),
        (("labels", "-o", "{out}", "--base-url", "not a url"), "--base-url"),
    ],
)  # fmt: skip
def test_bad_input_says_what_to_do_and_writes_nothing(app, runner, kits, tmp_path, args, says):
    out = tmp_path / "labels.pdf"
    before = _kit_count(app)
    with app.app_context():
        types_before = db.session.scalar(select(func.count(KitType.id)))
    result = _invoke(runner, *(arg.replace("{out}", str(out)) for arg in args))
    assert result.exit_code != 0
    assert says in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert _kit_count(app) == before
    with app.app_context():
        assert db.session.scalar(select(func.count(KitType.id))) == types_before


def test_import_from_csv_is_all_or_nothing_and_names_line_and_column(app, runner, kits, tmp_path):
    bad = tmp_path / "kits.csv"
    bad.write_text(
        "Code;Type de kit;Remarques;Carte;Numéro de série\n"
        "KIT-101;Line-follower kit v2;new box;avr;85735313\n"
        "KIT-102;Robot arm;;;\n"
        "KIT-101;Line-follower kit v2;;;\n",
        encoding="utf-8",
    )
    refused = _invoke(runner, "import", str(bad))
    assert refused.exit_code != 0
    assert "Line 3, column “Type de kit”: There is no kit type “Robot arm”" in refused.output
    assert "Line 4, column “Code”: KIT-101 is also on line 2" in refused.output
    assert _kit_count(app) == 3
    good = tmp_path / "good.csv"
    good.write_text(
        "code,type,notes,board family,usb serial\n"
        "KIT-101,Line-follower kit v2,new box,avr,85735313\n"
        "KIT-102,line-follower kit v2,,,\n",
        encoding="utf-8",
    )
    dry = _invoke(runner, "import", str(good), "--dry-run")
    assert dry.exit_code == 0 and "nothing written" in dry.output
    assert _kit_count(app) == 3
    done = _invoke(runner, "import", str(good))
    assert done.exit_code == 0, done.output
    assert "Imported 2 kit(s): KIT-101, KIT-102." in done.output
    with app.app_context():
        kit = kit_by_code("KIT-101")
        assert (kit.notes, kit.board_family, kit.board_serial) == ("new box", "avr", "85735313")
    again = _invoke(runner, "import", str(good))
    assert again.exit_code != 0
    assert "There is already a kit KIT-101." in again.output
    assert "Another kit already has the board with this serial number." in again.output
    assert _kit_count(app) == 5


def test_importing_a_kit_file_with_no_kit_speaks_of_kits(app, runner, kits, tmp_path):
    for name, content in (("header.csv", "code,type\n"), ("empty.csv", "")):
        path = tmp_path / name
        path.write_text(content, "utf-8")
        result = _invoke(runner, "import", str(path))
        assert result.exit_code == 1
        assert "The file has no kit in it: one kit per row" in result.output, name
        assert "participant" not in result.output and "sign-up" not in result.output
    assert _kit_count(app) == 3


def test_import_reads_the_chosen_sheet_of_a_workbook(app, runner, kits, tmp_path):
    import openpyxl

    from tests.web.imports import workbook_bytes

    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Nothing here but a note"])
    sheet = book.create_sheet("Kits")
    sheet.append(["Kit code", "Kit type"])
    sheet.append(["KIT-201", "Line-follower kit v2"])
    path = tmp_path / "kits.xlsx"
    path.write_bytes(workbook_bytes(book))
    wrong = _invoke(runner, "import", str(path))
    assert wrong.exit_code != 0 and "choose it with --sheet" in wrong.output
    done = _invoke(runner, "import", str(path), "--sheet", "Kits")
    assert done.exit_code == 0, done.output
    assert "KIT-201" in done.output


def test_labels_and_cards_scan_to_each_kits_label_address(app, runner, kits, tmp_path):
    with app.app_context():
        urls = {
            kit.code: f"{ADDRESS}/k/{kit.label_token}" for kit in db.session.scalars(select(Kit))
        }
    labels = tmp_path / "labels.pdf"
    made = _invoke(runner, "labels", "-o", str(labels), "--layout", "avery-l7160",
                   "--base-url", ADDRESS)  # fmt: skip
    assert made.exit_code == 0, made.output
    pages = read_pdf(labels.read_bytes(), dpi=150)
    assert sorted(all_codes(pages)) == sorted(urls.values())
    chosen = tmp_path / "two.pdf"
    made = _invoke(runner, "labels", "-o", str(chosen), "--code", "kit-003", "--code", "KIT-001",
                   "--base-url", ADDRESS)  # fmt: skip
    assert made.exit_code == 0, made.output
    pages = read_pdf(chosen.read_bytes(), dpi=200)
    assert [page.codes[0].text for page in pages] == [urls["KIT-003"], urls["KIT-001"]]
    cards = tmp_path / "cards.pdf"
    made = _invoke(runner, "labels", "-o", str(cards), "--cards", "--language", "fr",
                   "--base-url", ADDRESS)  # fmt: skip
    assert made.exit_code == 0, made.output
    (page,) = read_pdf(cards.read_bytes(), dpi=150)
    assert sorted(code.text for code in page.codes) == sorted(urls.values())
    for part in ("1 × Arduino Nano", "2 × DC motor", "20 × Jumper wires (consommable)"):
        assert page.flat_text.count(part) == 3
