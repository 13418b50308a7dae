"""`kitmanager demo`: a full workshop for today at once."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from kitmanager.extensions import db
from kitmanager.models import Participant, Team, WorkshopSession
from kitmanager.workshops.services import get_workshop, utc_to_local


def test_demo_seeds_a_workshop_for_today_with_sessions_teams_and_people(runner, app):
    result = runner.invoke(args=["demo", "--participants", "60"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        workshop = get_workshop("demo")
        assert workshop is not None
        sessions = db.session.scalars(select(WorkshopSession)).all()
        assert len(sessions) >= 3
        assert all(
            utc_to_local(s.starts_at, workshop.timezone).date() == date.today() for s in sessions
        )
        people = db.session.scalars(select(Participant)).all()
        assert len(people) == 60
        assert len({p.full_name for p in people}) == 60
        assert any(not p.full_name.isascii() for p in people)  # real names, real accents
        assert db.session.scalar(select(func.count(Team.id))) >= 4
        assert {p.role for p in people} >= {"participant", "mentor"}


def test_demo_refuses_to_overwrite_unless_asked(runner, app):
    assert runner.invoke(args=["demo", "--participants", "5"]).exit_code == 0
    again = runner.invoke(args=["demo"])
    assert again.exit_code != 0 and "--replace" in again.output
    replaced = runner.invoke(args=["demo", "--participants", "7", "--replace"])
    assert replaced.exit_code == 0, replaced.output
    with app.app_context():
        live = select(func.count(Participant.id)).where(
            Participant.workshop_id == get_workshop("demo").id
        )
        assert db.session.scalar(live) == 7


def test_demo_workshop_shows_a_full_screen(runner, organiser):
    runner.invoke(args=["demo"])
    page = organiser.get("/workshops/demo/").get_data(as_text=True)
    assert "40" in page and "Team challenge" in page
    listing = organiser.get("/workshops/demo/participants/").get_data(as_text=True)
    assert listing.count("<tr>") >= 41


def test_workshop_page_lists_teams_with_their_sizes(runner, organiser):
    runner.invoke(args=["demo", "--participants", "16"])
    page = organiser.get("/workshops/demo/").get_data(as_text=True)
    assert "Baobabs · 2" in page and "Éléphants · 2" in page
