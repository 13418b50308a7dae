"""Workshops and sessions, from the web pages and the CLI; times stored UTC, shown local."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kitmanager.extensions import db
from kitmanager.models import AuditEvent, Workshop, WorkshopSession
from tests.web.conftest import csrf_token
from tests.web.helpers import make_workshop


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


def test_session_that_ends_before_it_starts_is_refused(trainer, app):
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
    assert "before it starts" in response.get_data(as_text=True)


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
