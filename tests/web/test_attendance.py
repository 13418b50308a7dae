"""Attendance: the projector board, walk-ins at the door, the attendance export."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from kitmanager.audit import cli_actor
from kitmanager.checkin.services import check_in
from kitmanager.extensions import db
from kitmanager.models import Participant, WorkshopSession, utcnow
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people, make_workshop
from tests.web.test_checkin import _session


@pytest.fixture
def day(app):
    make_workshop(app)
    first = _session(app, "nairobi", "Morning", utcnow() - timedelta(hours=3), hours=1.5)
    second = _session(app, "nairobi", "Afternoon", utcnow() - timedelta(minutes=10), hours=2)
    ids = add_people(app, "nairobi", "Amina Yusuf", "Kofi Mensah", '=HYPERLINK("x")')
    with app.app_context():
        amina, kofi = (db.session.get(Participant, i) for i in ids[:2])
        morning, afternoon = (db.session.get(WorkshopSession, i) for i in (first, second))
        check_in(cli_actor(), amina, morning)
        check_in(cli_actor(), amina, afternoon)
        check_in(cli_actor(), kofi, afternoon)
        db.session.commit()
    return {"morning": first, "afternoon": second, "ids": ids}


def test_the_board_counts_the_room_and_updates_without_a_reload(app, volunteer, day):
    url = f"/workshops/nairobi/sessions/{day['afternoon']}/board"
    page = volunteer.get(url).get_data(as_text=True)
    assert 'id="board-present">2<' in page and 'id="board-expected">3<' in page
    state = volunteer.get(f"{url}.json").json
    assert (state["present"], state["expected"]) == (2, 3)
    assert {item["name"] for item in state["last"]} == {"Amina Yusuf", "Kofi Mensah"}
    assert state["missing"] == ['=HYPERLINK("x")']
    assert "/board.json" in page and "checkin/board.js" in page


def test_a_walk_in_is_registered_checked_in_and_sent_to_print(app, trainer, day):
    url = f"/workshops/nairobi/sessions/{day['afternoon']}"
    token = csrf_token(trainer, f"{url}/roster")
    reply = trainer.post(
        f"{url}/walk-in", data={"csrf_token": token, "full_name": "Nia Achieng", "team": "Lions"}
    )
    assert reply.status_code == 302
    with sqlite3.connect(app.config["DATA_DIR"] / "kitmanager.sqlite3") as conn:
        (pid,) = conn.execute("SELECT id FROM participant WHERE full_name='Nia Achieng'").fetchone()
        row = conn.execute(
            "SELECT session_id, source, station FROM check_in WHERE participant_id=?", (pid,)
        ).fetchone()
    assert row == (day["afternoon"], "manual", "walk-in")
    assert reply.headers["Location"].endswith(f"/workshops/nairobi/badges?id={pid}")
    empty = trainer.post(
        f"{url}/walk-in", data={"csrf_token": token, "full_name": " "}, follow_redirects=True
    )
    assert "needs a full name" in empty.get_data(as_text=True)


def test_a_volunteer_cannot_register_walk_ins(app, volunteer, day):
    url = f"/workshops/nairobi/sessions/{day['afternoon']}"
    token = csrf_token(volunteer, f"{url}/roster")
    reply = volunteer.post(f"{url}/walk-in", data={"csrf_token": token, "full_name": "X Y"})
    assert reply.status_code == 403


def test_the_attendance_export_has_each_session_and_hours_per_person(app, trainer, day):
    reply = trainer.get("/workshops/nairobi/attendance.csv")
    assert reply.headers["Content-Disposition"].endswith('nairobi-attendance.csv"')
    rows = list(csv.reader(io.StringIO(reply.get_data().decode("utf-8-sig"))))
    header, *people = rows
    assert header[0] == "Full name" and header[-2:] == ["Sessions attended", "Hours attended"]
    assert header[3].startswith("Morning (") and header[4].startswith("Afternoon (")
    by_name = {row[0]: row for row in people}
    assert by_name["Amina Yusuf"][-2:] == ["2", "3.5"]
    assert by_name["Kofi Mensah"][-2:] == ["1", "2.0"]
    assert by_name["Kofi Mensah"][3] == "" and by_name["Kofi Mensah"][4] != ""
    # A name that looks like a formula stays text.
    assert '\'=HYPERLINK("x")' in by_name


def test_the_attendance_workbook_opens_in_excel_with_text_kept_as_text(app, trainer, day):
    token = csrf_token(trainer, "/workshops/")
    trainer.post("/language", data={"csrf_token": token, "language": "fr", "next": "/"})
    reply = trainer.get("/workshops/nairobi/attendance.xlsx")
    book = load_workbook(io.BytesIO(reply.get_data()))
    sheet = book.active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Nom complet"
    names = [row[0] for row in values[1:]]
    assert '=HYPERLINK("x")' in names
    formula = next(row for row in sheet.iter_rows() if row[0].value == '=HYPERLINK("x")')
    assert formula[0].data_type == "s"
    amina = next(row for row in values if row[0] == "Amina Yusuf")
    assert amina[-2:] == [2, 3.5]


def test_kitmanager_attendance_writes_csv_or_xlsx(app, runner, day, tmp_path):
    result = runner.invoke(args=["attendance", "nairobi", "-o", str(tmp_path / "a.xlsx")])
    assert result.exit_code == 0, result.output
    assert load_workbook(tmp_path / "a.xlsx").active.max_row == 4
    wrong = runner.invoke(args=["attendance", "nairobi", "-o", str(tmp_path / "a.pdf")])
    assert wrong.exit_code != 0 and "name the file .csv or .xlsx" in wrong.output


def test_a_walk_in_already_registered_is_shown_not_registered_twice(app, trainer, day):
    url = f"/workshops/nairobi/sessions/{day['afternoon']}"
    token = csrf_token(trainer, f"{url}/roster")
    again = trainer.post(f"{url}/walk-in", data={"csrf_token": token, "full_name": "amina  yusuf"})
    assert again.status_code == 302 and "/roster?q=amina" in again.headers["Location"]
    page = trainer.get(again.headers["Location"]).get_data(as_text=True)
    assert "Amina Yusuf is already registered" in page
    with sqlite3.connect(app.config["DATA_DIR"] / "kitmanager.sqlite3") as conn:
        count = "SELECT count(*) FROM participant WHERE full_name LIKE 'amina%'"
        assert conn.execute(count).fetchone()[0] == 1
        anyway = trainer.post(
            f"{url}/walk-in",
            data={"csrf_token": token, "full_name": "Amina Yusuf", "again": "1"},
        )
        assert anyway.status_code == 302 and "/badges?id=" in anyway.headers["Location"]
        assert conn.execute(count).fetchone()[0] == 2
