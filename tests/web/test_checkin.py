"""Check-in by scan: what a code means, one check-in per person and session, replayed scans."""

from __future__ import annotations

import re
import sqlite3
import threading
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from kitmanager.audit import cli_actor
from kitmanager.checkin.services import replace_badge
from kitmanager.extensions import db
from kitmanager.models import CheckIn, Participant, ScanRequest, utcnow
from kitmanager.scans import (
    Outcome,
    Scan,
    ScanRaced,
    answer_scan,
    classify_code,
    replayed_scan,
)
from kitmanager.workshops.services import add_session, get_workshop, utc_to_local
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people, make_workshop
from tests.web.test_postgres import pg_app, postgres_url  # noqa: F401  (fixtures)

TOKEN = "Zq3v9JXl2m0T8b4kQp1sYw6uNc5eRd7a"


def _token(runner, name="door-1", role="volunteer") -> dict[str, str]:
    result = runner.invoke(args=["tokens", "create", name, "--role", role])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.output.strip().splitlines()[-1]}"}


def _session(app, slug: str, title: str, starts: datetime, hours: float = 1.5) -> int:
    """A session in ``slug`` starting at ``starts`` (UTC, naive), made through the service."""
    with app.app_context():
        workshop = get_workshop(slug)
        local = utc_to_local(starts, workshop.timezone).replace(tzinfo=None, second=0)
        session = add_session(cli_actor(), workshop, title, local, local + timedelta(hours=hours))
        db.session.commit()
        return session.id


def _badge(app, participant_id: int) -> str:
    with app.app_context():
        return db.session.get(Participant, participant_id).badge_token


def _check_ins(data_dir) -> list[tuple[int, int]]:
    with sqlite3.connect(data_dir / "kitmanager.sqlite3") as conn:
        return conn.execute("SELECT participant_id, session_id FROM check_in").fetchall()


@pytest.fixture
def day(app):
    """A workshop with a session running now, one later today, and two participants."""
    make_workshop(app)
    now = utcnow()
    running = _session(app, "nairobi", "Session 2", now - timedelta(minutes=20))
    later = _session(app, "nairobi", "Session 3", now + timedelta(hours=3))
    amina, kofi = add_people(app, "nairobi", "Amina Yusuf", "Kofi Mensah")
    return {"running": running, "later": later, "amina": amina, "kofi": kofi}


@pytest.mark.parametrize(
    ("code", "kind", "token"),
    [
        (f"http://192.168.1.20:5000/b/{TOKEN}", "badge", TOKEN),
        (f"https://kit.example.org/b/{TOKEN}/", "badge", TOKEN),
        (f"  {TOKEN}\n", "badge", TOKEN),
        (f"http://10.42.0.1:5000/k/{TOKEN}", "kit", TOKEN),
        ("KIT-017", "kit_code", "KIT-017"),
        (" kit-017 ", "kit_code", "KIT-017"),
        ("http://10.42.0.1:5000/b/short", "unknown", ""),
        ("", "unknown", ""),
        ("'; DROP TABLE check_in; --", "unknown", ""),
    ],
)
def test_a_scanned_text_is_a_badge_from_any_host_a_kit_label_a_kit_code_or_nothing(
    code, kind, token
):
    scanned = classify_code(code)
    assert (scanned.kind.value, scanned.value) == (kind, token)


def test_scanning_a_badge_checks_in_to_the_running_session_once(app, client, runner, day):
    headers = _token(runner)
    badge = f"http://old-laptop.local:5077/b/{_badge(app, day['amina'])}"
    first = client.post("/api/v1/scans", json={"code": badge, "client_id": "c1"}, headers=headers)
    assert first.status_code == 200
    assert first.json["outcome"] == "checked_in"
    assert first.json["message"] == "Amina Yusuf — checked in to Session 2"
    assert first.json["participant"]["name"] == "Amina Yusuf"
    assert "email" not in first.json["participant"]
    assert first.json["session"]["id"] == day["running"]

    again = client.post("/api/v1/scans", json={"code": badge, "client_id": "c2"}, headers=headers)
    assert again.json["outcome"] == "already_checked_in"
    assert again.json["message"].startswith("Amina Yusuf was already checked in at ")
    assert again.json["checked_in_at"] == first.json["checked_in_at"]
    assert _check_ins(app.config["DATA_DIR"]) == [(day["amina"], day["running"])]


def test_the_same_client_id_twice_is_applied_once_and_answers_the_same(app, client, runner, day):
    headers = _token(runner)
    body = {"code": _badge(app, day["kofi"]), "client_id": str(uuid.uuid4()), "station": "door"}
    first = client.post("/api/v1/scans", json=body, headers=headers)
    replay = client.post("/api/v1/scans", json=body, headers=headers)
    assert first.json == replay.json
    assert replay.json["outcome"] == "checked_in"
    assert (first.headers["X-Scan-Replayed"], replay.headers["X-Scan-Replayed"]) == ("0", "1")
    assert len(_check_ins(app.config["DATA_DIR"])) == 1
    with sqlite3.connect(app.config["DATA_DIR"] / "kitmanager.sqlite3") as conn:
        audit = conn.execute("SELECT count(*) FROM audit_event WHERE action='checkin.add'")
        assert audit.fetchone()[0] == 1
        station = conn.execute("SELECT station, by FROM check_in").fetchone()
    # The station's own label stands after the token that sent it (tests/web/test_scan_scope.py).
    assert station == ("token:door-1 · door", "token:door-1")


def test_an_offline_scan_keeps_its_own_time_and_a_chosen_session(app, client, runner, day):
    headers = _token(runner)
    # Scanned 40 minutes ago by a phone in Abidjan while the laptop was out of reach.
    scanned = (datetime.now(timezone.utc) - timedelta(minutes=40)).replace(microsecond=0)
    scanned = scanned.astimezone(ZoneInfo("Africa/Abidjan"))
    body = {
        "code": _badge(app, day["amina"]),
        "session": day["later"],
        "client_id": "queued-1",
        "scanned_at": scanned.isoformat(),
    }
    answer = client.post("/api/v1/scans", json=body, headers=headers).json
    assert answer["outcome"] == "checked_in"
    assert answer["checked_in_at"] == scanned.astimezone(ZoneInfo("Africa/Nairobi")).isoformat()
    assert answer["session"]["id"] == day["later"]


def test_unknown_replaced_kit_label_and_wrong_workshop_scans_say_what_they_are(
    app, client, runner, day
):
    headers = _token(runner)

    def outcome(code: str, **extra) -> dict:
        response = client.post("/api/v1/scans", json={"code": code, **extra}, headers=headers)
        assert response.status_code == 200
        return response.json

    assert outcome("hello world")["outcome"] == "unknown_code"
    assert outcome(f"http://x/b/{TOKEN}")["message"] == (
        "Not a badge of this workshop. Please ask a trainer."
    )
    assert outcome(f"http://x/k/{TOKEN}")["outcome"] == "kit_label"

    old = _badge(app, day["kofi"])
    with app.app_context():
        new = replace_badge(cli_actor(), db.session.get(Participant, day["kofi"]))
        db.session.commit()
    assert outcome(old)["outcome"] == "revoked"
    assert outcome(new)["outcome"] == "checked_in"

    make_workshop(app, "abidjan", "Défi IA Abidjan", timezone="Africa/Abidjan")
    (other,) = add_people(app, "abidjan", "Aïssatou Koné")
    wrong = outcome(_badge(app, other), session=day["running"])
    assert wrong["outcome"] == "wrong_workshop"
    assert wrong["participant"]["name"] == "Aïssatou Koné"
    assert _check_ins(app.config["DATA_DIR"]) == [(day["kofi"], day["running"])]


def test_a_scan_when_no_session_is_running_asks_which_session(app, client, runner):
    make_workshop(app)
    _session(app, "nairobi", "Tomorrow", utcnow() + timedelta(days=1))
    (amina,) = add_people(app, "nairobi", "Amina Yusuf")
    answer = client.post(
        "/api/v1/scans", json={"code": _badge(app, amina)}, headers=_token(runner)
    ).json
    assert answer["outcome"] == "no_session"
    assert "Choose the session" in answer["message"]
    assert _check_ins(app.config["DATA_DIR"]) == []


def test_the_answer_speaks_the_scanners_language(app, client, runner, day):
    response = client.post(
        "/api/v1/scans",
        json={"code": _badge(app, day["amina"])},
        headers={**_token(runner), "Accept-Language": "fr-CI,fr;q=0.9"},
    )
    assert response.json["message"] == "Amina Yusuf — présence enregistrée pour Session 2"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "code"),
        ({"code": 17}, "code"),
        ({"code": "x" * 2001}, "code"),
        ({"code": "abc", "session": "two"}, "session"),
        ({"code": "abc", "session": 999999}, "999999"),
        ({"code": "abc", "client_id": "c" * 65}, "client_id"),
        ({"code": "abc", "scanned_at": "yesterday"}, "scanned_at"),
    ],
)
def test_a_malformed_scan_is_a_422_naming_the_field(app, client, runner, body, field):
    response = client.post("/api/v1/scans", json=body, headers=_token(runner))
    assert response.status_code == 422
    assert field in response.json["error"]


def test_the_logged_in_scan_page_may_post_with_its_csrf_header_and_nothing_else(
    app, volunteer, day
):
    body = {"code": _badge(app, day["amina"])}
    refused = volunteer.post("/api/v1/scans", json=body)
    assert refused.status_code == 401
    forged = volunteer.post("/api/v1/scans", json=body, headers={"X-CSRFToken": "forged"})
    assert forged.status_code == 401
    token = csrf_token(volunteer, "/workshops/")
    accepted = volunteer.post("/api/v1/scans", json=body, headers={"X-CSRFToken": token})
    assert accepted.json["outcome"] == "checked_in"
    # Other API writes still need a token, even with the header.
    other = volunteer.post(
        "/api/v1/workshops",
        json={"title": "x", "starts_on": "2026-12-01"},
        headers={"X-CSRFToken": token},
    )
    assert other.status_code == 401


def test_attendance_lists_every_check_in_in_the_workshops_time(app, client, runner, day):
    headers = _token(runner, role="trainer")  # as the attendance export: trainers only
    for person in ("amina", "kofi"):
        client.post("/api/v1/scans", json={"code": _badge(app, day[person])}, headers=headers)
    rows = client.get("/api/v1/workshops/nairobi/attendance", headers=headers).json["check_ins"]
    assert sorted(r["name"] for r in rows) == ["Amina Yusuf", "Kofi Mensah"]
    assert {r["session"] for r in rows} == {day["running"]}
    assert all(r["at"].endswith("+03:00") and r["by"] == "token:door-1" for r in rows)


def test_twenty_scans_of_one_badge_at_the_same_instant_give_one_check_in(app, runner, day):
    """Real concurrency on the real SQLite file: separate connections, released together."""
    with app.app_context():
        token = _badge(app, day["amina"])
    start = threading.Barrier(20)
    answers: list[str] = []
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            with app.app_context(), app.test_request_context():
                start.wait()
                result, _ = answer_scan(cli_actor(), Scan.read(token, client_id=str(uuid.uuid4())))
                db.session.commit()
                answers.append(result.outcome.value)
        except BaseException as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=scan) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(answers) == ["already_checked_in"] * 19 + ["checked_in"]
    with app.app_context():
        assert db.session.query(CheckIn).count() == 1


def test_twenty_scans_at_once_give_one_check_in_on_postgresql_too(pg_app):  # noqa: F811
    app = pg_app
    make_workshop(app)
    running = _session(app, "nairobi", "Session 2", utcnow() - timedelta(minutes=20))
    (amina,) = add_people(app, "nairobi", "Amina Yusuf")
    token = _badge(app, amina)
    start = threading.Barrier(20)
    answers: list[str] = []
    errors: list[BaseException] = []
    client_id = str(uuid.uuid4())  # half the threads replay one client id

    def scan(index: int) -> None:
        try:
            with app.app_context(), app.test_request_context():
                start.wait()
                scan_id = client_id if index % 2 else str(uuid.uuid4())
                try:
                    result, _ = answer_scan(cli_actor(), Scan.read(token, client_id=scan_id))
                except ScanRaced:  # what the API view does when a copy won the race
                    db.session.rollback()
                    result = replayed_scan(scan_id)
                db.session.commit()
                answers.append(result.outcome.value)
        except BaseException as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(answers) == 20 and answers.count("checked_in") >= 1
    with app.app_context():
        rows = db.session.scalars(select(CheckIn)).all()
        assert [(r.participant_id, r.session_id) for r in rows] == [(amina, running)]
        assert db.session.scalar(select(func.count()).select_from(ScanRequest)) == 11


def test_the_openapi_file_documents_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    paths = spec.json["paths"]
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1") :])
            served.setdefault(path, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    for path, methods in served.items():
        assert path in paths, f"{path} is not in openapi.json"
        assert {m.lower() for m in methods} <= set(paths[path]), path
    assert set(paths) == set(served)
    outcomes = spec.json["components"]["schemas"]["ScanResult"]["properties"]["outcome"]["enum"]
    assert set(outcomes) == {o.value for o in Outcome}
