"""Workshops and sessions, from the web pages and the CLI; times stored UTC, shown local."""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import available_timezones

from sqlalchemy import select

from kitmanager.audit import cli_actor
from kitmanager.checkin.services import check_in
from kitmanager.extensions import db
from kitmanager.models import AuditEvent, CheckIn, Participant, Workshop, WorkshopSession
from kitmanager.workshops.services import add_session, get_workshop
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people, make_workshop, post_workshop_form


def test_organiser_creates_edits_archives_and_restores_a_workshop(organiser, app):
    token = csrf_token(organiser, "/workshops/new")
    response = organiser.post(
        "/workshops/new",
        data={
            "csrf_token": token,
            "title": "Défi IA Jeunesse",
            "venue": "Lycée Classique, Abidjan",
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-03",
            "language": "fr",
            "timezone": "Africa/Abidjan",
            "capacity": "60",
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Défi IA Jeunesse" in page and "Lycée Classique, Abidjan" in page
    assert response.request.path == "/workshops/defi-ia-jeunesse/"

    token = csrf_token(organiser, "/workshops/defi-ia-jeunesse/edit")
    response = organiser.post(
        "/workshops/defi-ia-jeunesse/edit",
        data={
            "csrf_token": token,
            "title": "Défi IA Jeunesse 2026",
            "slug": "defi-ia-2026",
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-02",
            "language": "fr",
            "timezone": "Africa/Abidjan",
        },
        follow_redirects=True,
    )
    assert response.request.path == "/workshops/defi-ia-2026/"

    token = csrf_token(organiser, "/workshops/defi-ia-2026/")
    organiser.post("/workshops/defi-ia-2026/archive", data={"csrf_token": token})
    assert "Défi IA Jeunesse 2026" not in organiser.get("/workshops/").get_data(as_text=True)
    assert "Défi IA Jeunesse 2026" in organiser.get("/workshops/?archived=1").get_data(as_text=True)
    organiser.post("/workshops/defi-ia-2026/archive", data={"csrf_token": token, "restore": "1"})
    assert "Défi IA Jeunesse 2026" in organiser.get("/workshops/").get_data(as_text=True)

    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-4:] == [
        "workshop.created",
        "workshop.updated",
        "workshop.archived",
        "workshop.unarchived",
    ]


def test_bad_workshop_input_gets_a_message_and_nothing_is_saved(organiser, app):
    make_workshop(app, slug="taken")
    token = csrf_token(organiser, "/workshops/new")
    response = organiser.post(
        "/workshops/new",
        data={
            "csrf_token": token,
            "title": "Another",
            "slug": "taken",
            "starts_on": "2026-12-05",
            "ends_on": "2026-12-01",
            "language": "en",
            "timezone": "Mars/Olympus",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "before it starts" in page
    with app.app_context():
        assert db.session.scalar(select(Workshop).where(Workshop.title == "Another")) is None


def test_trainer_adds_a_session_in_local_time_stored_as_utc(trainer, app):
    make_workshop(app, timezone="Africa/Nairobi")  # UTC+3
    token = csrf_token(trainer, "/workshops/nairobi/sessions/new")
    response = trainer.post(
        "/workshops/nairobi/sessions/new",
        data={
            "csrf_token": token,
            "title": "Line followers",
            "starts": "2026-12-01T09:00",
            "ends": "2026-12-01T10:30",
            "room": "Lab 1",
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Line followers" in page and "09:00" in page and "10:30" in page
    with app.app_context():
        session = db.session.scalar(select(WorkshopSession))
        assert session.starts_at == datetime(2026, 12, 1, 6, 0)
        assert session.ends_at == datetime(2026, 12, 1, 7, 30)


def test_session_that_ends_before_it_starts_is_refused_next_to_the_end(trainer, app):
    make_workshop(app)
    token = csrf_token(trainer, "/workshops/nairobi/sessions/new")
    response = trainer.post(
        "/workshops/nairobi/sessions/new",
        data={
            "csrf_token": token,
            "title": "Backwards",
            "starts": "2026-12-01T11:00",
            "ends": "2026-12-01T10:00",
        },
    )
    assert "before it starts" in _field_block(response.get_data(as_text=True), "ends")


def test_cli_creates_lists_and_adds_sessions(runner, app):
    result = runner.invoke(
        args=[
            "workshops",
            "create",
            "Youth Robotics Challenge",
            "--slug",
            "yrc",
            "--starts",
            "2026-12-01",
            "--ends",
            "2026-12-02",
            "--language",
            "fr",
            "--timezone",
            "America/New_York",
        ]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=[
            "sessions",
            "add",
            "yrc",
            "Opening",
            "--starts",
            "2026-12-01 09:00",
            "--ends",
            "2026-12-01 10:00",
            "--room",
            "Hall A",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "2026-12-01 09:00 (America/New_York)" in result.output
    listing = runner.invoke(args=["workshops", "list"]).output
    assert "yrc" in listing and "Youth Robotics Challenge" in listing
    sessions = runner.invoke(args=["sessions", "list", "yrc"]).output
    assert "2026-12-01 09:00-10:00  Opening  Hall A" in sessions
    with app.app_context():
        session = db.session.scalar(select(WorkshopSession))
        assert session.starts_at == datetime(2026, 12, 1, 14, 0)  # 09:00 EST is 14:00 UTC


def test_cli_errors_say_what_to_do(runner, app):
    bad_date = runner.invoke(args=["workshops", "create", "X", "--starts", "01/12/2026"])
    assert bad_date.exit_code != 0 and "YYYY-MM-DD" in bad_date.output
    unknown = runner.invoke(
        args=[
            "sessions",
            "add",
            "nope",
            "T",
            "--starts",
            "2026-12-01 09:00",
            "--ends",
            "2026-12-01 10:00",
        ]
    )
    assert unknown.exit_code != 0 and "workshops list" in unknown.output
    make_workshop(app)
    bad_time = runner.invoke(
        args=["sessions", "add", "nairobi", "T", "--starts", "9am", "--ends", "2026-12-01 10:00"]
    )
    assert bad_time.exit_code != 0 and "YYYY-MM-DD HH:MM" in bad_time.output
    for result in (bad_date, unknown, bad_time):
        assert "Traceback" not in result.output


def test_volunteer_can_see_but_not_change_workshops(volunteer, app):
    make_workshop(app)
    assert volunteer.get("/workshops/nairobi/").status_code == 200
    assert volunteer.get("/workshops/nairobi/edit").status_code == 403
    assert volunteer.get("/workshops/nairobi/sessions/new").status_code == 403
    assert volunteer.get("/workshops/nairobi/participants/new").status_code == 403
    assert volunteer.get("/workshops/nairobi/participants/").status_code == 403


# --- time zones from a list, errors next to their field ----------------------------------------


def _field_block(page: str, name: str) -> str:
    """The <div class="field ..."> holding the input called ``name``, as the reader sees it."""
    for block in re.findall(
        r'<div class="field[^"]*">.*?</div>\s*(?=<div|<button|</div>)', page, re.S
    ):
        if f'name="{name}"' in block:
            return html.unescape(block)
    raise AssertionError(f"no field {name} in the page")


def test_time_zone_is_chosen_from_the_full_list(organiser):
    page = organiser.get("/workshops/new").get_data(as_text=True)
    zone_input = re.search(r'<input[^>]*name="timezone"[^>]*>', page).group(0)
    assert 'list="timezone-list"' in zone_input and "data-search-list" in zone_input
    options = re.findall(r'<option value="([^"]+)">', page.split('id="timezone-list"')[1])
    assert "Africa/Abidjan" in options and "America/Argentina/Buenos_Aires" in options
    assert options == sorted(available_timezones())
    assert 'src="/static/list-search.js"' in page


def test_an_unknown_time_zone_is_explained_next_to_its_field(organiser, app):
    response = post_workshop_form(
        organiser, "/workshops/new", title="Mars base", timezone="Mars/Olympus"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    block = _field_block(page, "timezone")
    assert "has-error" in block and 'aria-invalid="true"' in block
    assert "Unknown time zone 'Mars/Olympus'" in block
    assert 'class="flash flash-error"' not in page  # not (only) at the top of the page
    with app.app_context():
        assert db.session.scalar(select(Workshop).where(Workshop.title == "Mars base")) is None


# --- deleting a session -------------------------------------------------------------------------


def _add_session(app, title: str = "Line followers") -> int:
    with app.app_context():
        workshop = get_workshop("nairobi")
        session = add_session(
            cli_actor(), workshop, title, datetime(2026, 12, 1, 9), datetime(2026, 12, 1, 10)
        )
        db.session.commit()
        return session.id


def test_a_session_is_deleted_after_a_page_that_says_what_goes_with_it(trainer, app):
    make_workshop(app)
    session_id = _add_session(app)
    keep_id = _add_session(app, "Sumo robots")
    detail = trainer.get("/workshops/nairobi/").get_data(as_text=True)
    url = f"/workshops/nairobi/sessions/{session_id}/delete"
    assert f'href="{url}"' in detail

    page = html.unescape(trainer.get(url).get_data(as_text=True))
    assert "<h1>Delete the session “Line followers”?</h1>" in page
    assert "no check-ins" in page and "09:00" in page
    with app.app_context():
        assert db.session.get(WorkshopSession, session_id) is not None  # a GET deletes nothing

    token = csrf_token(trainer, url)
    response = trainer.post(url, data={"csrf_token": token}, follow_redirects=True)
    assert "Session “Line followers” deleted." in html.unescape(response.get_data(as_text=True))
    with app.app_context():
        assert db.session.get(WorkshopSession, session_id) is None
        assert db.session.get(WorkshopSession, keep_id) is not None
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "session.deleted"))
        assert event.object_id == session_id and event.actor == "user:tom"
        assert event.details["title"] == "Line followers" and event.details["removed"] == {}
    assert trainer.get(url).status_code == 404


def test_deleting_a_session_needs_a_trainer_and_the_right_workshop(volunteer, app):
    make_workshop(app)
    make_workshop(app, slug="other", title="Other")
    session_id = _add_session(app)
    assert volunteer.get(f"/workshops/nairobi/sessions/{session_id}/delete").status_code == 403
    volunteer.post("/logout", data={"csrf_token": csrf_token(volunteer, "/workshops/")})
    from tests.web.conftest import login

    login(volunteer, "tom")
    assert volunteer.get(f"/workshops/other/sessions/{session_id}/delete").status_code == 404


def test_check_ins_of_a_session_are_counted_and_deleted_with_it(trainer, app):
    """The tables whose rows cascade with a session (check-ins) are counted on the confirmation
    page and emptied with the session; another session's check-ins stay."""
    make_workshop(app)
    session_id = _add_session(app)
    other_id = _add_session(app, "Sumo robots")
    people = add_people(app, "nairobi", "Aya Koné", "Yao Kouassi", "Awa Traoré")
    with app.app_context():
        session = db.session.get(WorkshopSession, session_id)
        other = db.session.get(WorkshopSession, other_id)
        for person_id in people:
            check_in(cli_actor(), db.session.get(Participant, person_id), session)
        check_in(cli_actor(), db.session.get(Participant, people[0]), other)
        db.session.commit()
    url = f"/workshops/nairobi/sessions/{session_id}/delete"
    page = trainer.get(url).get_data(as_text=True)
    assert "<li>3 check-ins</li>" in page
    trainer.post(url, data={"csrf_token": csrf_token(trainer, url)})
    with app.app_context():
        left = db.session.scalars(select(CheckIn.session_id)).all()
        assert left == [other_id]
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "session.deleted"))
        assert event.details["removed"] == {"check_in": 3}
