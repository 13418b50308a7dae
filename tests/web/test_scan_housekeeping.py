"""Stored scan answers are pruned after the setting's days, on start or by a command; check-ins
stay."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from kitmanager import create_app
from kitmanager.audit import cli_actor
from kitmanager.config import DATABASE_FILE, ConfigError
from kitmanager.extensions import db
from kitmanager.models import AuditEvent, CheckIn, ScanRequest, utcnow
from kitmanager.scans.housekeeping import prune_scan_requests
from kitmanager.workshops.services import add_session, get_workshop
from tests.web.e2e import Server, run_kitmanager
from tests.web.helpers import add_people, make_workshop

DAY = timedelta(days=1)


def _scan_answer(client_id: str, received_at: datetime) -> ScanRequest:
    return ScanRequest(
        client_id=client_id,
        actor="token:door-1",
        received_at=received_at,
        outcome={"outcome": "checked_in", "message": "Amina Yusuf — checked in to Day 1"},
    )


@pytest.fixture
def history(app: Flask) -> dict[str, int]:
    """Check-ins a year old and today, and answers stored 200, 91, 89 and 0 days ago."""
    make_workshop(app)
    amina, kofi = add_people(app, "nairobi", "Amina Yusuf", "Kofi Mensah")
    now = utcnow()
    with app.app_context():
        workshop = get_workshop("nairobi")
        start = datetime(2026, 12, 1, 9, 0)
        session = add_session(cli_actor(), workshop, "Day 1", start, start + timedelta(hours=2))
        for participant, at in ((amina, now - 365 * DAY), (kofi, now)):
            db.session.add(
                CheckIn(participant_id=participant, session_id=session.id, at=at, by="cli:test")
            )
        for client_id, age in (("old-200", 200), ("old-91", 91), ("kept-89", 89), ("new", 0)):
            db.session.add(_scan_answer(client_id, now - age * DAY))
        db.session.commit()
    return {"amina": amina, "kofi": kofi}


def _kept_answers(app: Flask) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(ScanRequest.client_id)))


def _counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        check_ins = db.session.scalar(select(func.count()).select_from(CheckIn))
        audit = db.session.scalar(select(func.count()).select_from(AuditEvent))
        return check_ins, audit


def test_answers_older_than_90_days_go_newer_ones_and_every_check_in_stay(app, history):
    before = _counts(app)
    with app.app_context():
        assert prune_scan_requests() == 2
        db.session.commit()
    assert _kept_answers(app) == ["kept-89", "new"]
    assert _counts(app) == before  # the year-old check-in too

    with app.app_context():
        assert prune_scan_requests() == 0


def test_an_explicit_age_and_the_setting_choose_what_goes(app, data_dir, history):
    with app.app_context():
        assert prune_scan_requests(timedelta(days=150)) == 1
        db.session.commit()
    assert _kept_answers(app) == ["kept-89", "new", "old-91"]

    shorter = create_app({"DATA_DIR": data_dir, "TESTING": True, "SCAN_REQUEST_DAYS": 30})
    with shorter.app_context():
        assert prune_scan_requests() == 2
        db.session.commit()
        db.engine.dispose()
    assert _kept_answers(app) == ["new"]


def test_answers_of_the_transaction_in_progress_follow_the_same_rule(app, history):
    with app.app_context():
        db.session.add(_scan_answer("pending-old", utcnow() - 100 * DAY))
        db.session.add(_scan_answer("pending-new", utcnow()))
        assert prune_scan_requests() == 3
        db.session.commit()
    assert _kept_answers(app) == ["kept-89", "new", "pending-new"]


@pytest.mark.parametrize("older_than", [timedelta(0), -DAY])
def test_pruning_refuses_an_age_that_would_take_answers_still_in_use(app, history, older_than):
    with app.app_context(), pytest.raises(ValueError, match="positive"):
        prune_scan_requests(older_than)
    assert len(_kept_answers(app)) == 4


def test_the_command_says_how_many_answers_it_removed_and_commits(app, runner, history):
    result = runner.invoke(args=["scans", "prune"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Removed 2 stored scan answers older than 90 days (check-ins and kit handouts stay).\n"
    )
    assert _kept_answers(app) == ["kept-89", "new"]

    result = runner.invoke(args=["scans", "prune", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Removed 1 stored scan answer older than 1 day (")
    assert _kept_answers(app) == ["new"]
    assert _counts(app)[0] == 2


@pytest.mark.parametrize("days", ["0", "-5", "ninety"])
def test_the_command_refuses_a_number_of_days_that_is_not_a_positive_whole_number(
    app, runner, history, days
):
    result = runner.invoke(args=["scans", "prune", "--days", days])
    assert result.exit_code == 2
    assert "--days" in result.output
    assert len(_kept_answers(app)) == 4


@pytest.mark.parametrize("value", ["ninety", "0", "-1", "1.5", "9999999"])
def test_a_bad_setting_in_the_environment_is_explained_not_a_traceback(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, value: str
):
    monkeypatch.setenv("KITMANAGER_SCAN_REQUEST_DAYS", value)
    with pytest.raises(ConfigError) as refused:
        create_app({"DATA_DIR": data_dir})
    assert str(refused.value) == (
        "KITMANAGER_SCAN_REQUEST_DAYS (the days a scan's stored answer is kept) must be a whole "
        f"number from 1 to 36500, e.g. 90; it is '{value}'. Change it, or remove it to use the "
        "default (90)."
    )


def test_the_setting_comes_from_the_environment(data_dir: Path, monkeypatch):
    monkeypatch.setenv("KITMANAGER_SCAN_REQUEST_DAYS", " 14 ")
    assert create_app({"DATA_DIR": data_dir}).config["SCAN_REQUEST_DAYS"] == 14
    monkeypatch.setenv("KITMANAGER_SCAN_REQUEST_DAYS", "")
    assert create_app({"DATA_DIR": data_dir}).config["SCAN_REQUEST_DAYS"] == 90


def test_the_installed_command_says_what_is_wrong_with_the_setting(data_dir, monkeypatch):
    monkeypatch.setenv("KITMANAGER_SCAN_REQUEST_DAYS", "ninety")
    result = run_kitmanager(data_dir, "scans", "prune")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "KITMANAGER_SCAN_REQUEST_DAYS" in result.stderr and "'ninety'" in result.stderr


def _add_answer_received(data_dir: Path, client_id: str, days_ago: int) -> None:
    received = (utcnow() - days_ago * DAY).isoformat(sep=" ")
    with sqlite3.connect(data_dir / DATABASE_FILE) as conn:
        conn.execute(
            "INSERT INTO scan_request (client_id, actor, received_at, outcome) "
            "VALUES (?, 'token:door-1', ?, '{}')",
            (client_id, received),
        )


def _answers_in(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / DATABASE_FILE) as conn:
        rows = conn.execute("SELECT client_id FROM scan_request ORDER BY client_id")
        return [client_id for (client_id,) in rows]


def test_serve_prunes_on_start_and_says_so_only_when_it_removed_some(data_dir: Path):
    _add_answer_received(data_dir, "old", 120)
    _add_answer_received(data_dir, "recent", 3)
    with Server(data_dir) as server:
        assert server.stop() == 0
    assert "Removed 1 stored scan answer older than 90 days" in server.stdout
    assert _answers_in(data_dir) == ["recent"]

    with Server(data_dir) as again:
        assert again.stop() == 0
    assert "stored scan answer" not in again.stdout
