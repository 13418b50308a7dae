"""Scans bound to their scope and their sender (issue 16): a kiosk scans for the workshop and
session the server kept, ``scanned_at`` lies in a window around the laptop's clock, a stored
answer and its undo belong to the login or token that sent the scan (or a trainer), a station
name is recorded under its sender, a kiosk whose login ended shows the login page, and the
attendance list follows the export's role."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from kitmanager.audit import Actor
from kitmanager.checkin.attendance import ATTENDANCE_ROLE
from kitmanager.models import Role, utcnow
from kitmanager.scans import (
    OTHER_SENDERS_ROLE,
    SCAN_CLOCK_AHEAD,
    Scan,
    ScanOfAnotherSender,
    answer_scan,
    commit_once,
    replayed_scan,
    station_name,
)
from tests.web.conftest import csrf_token, login
from tests.web.helpers import add_people, make_workshop
from tests.web.test_checkin import _badge, _session, _token
from tests.web.test_kit_scans import _hand, _kits


@pytest.fixture
def day(app):
    """Nairobi with a session running now, one that ended this morning and one tomorrow;
    Abidjan with a session running now; a participant in each workshop."""
    make_workshop(app)
    now = utcnow()
    running = _session(app, "nairobi", "Session 2", now - timedelta(minutes=20))
    ended = _session(app, "nairobi", "Session 1", now - timedelta(hours=4))
    tomorrow = _session(app, "nairobi", "Session 3", now + timedelta(days=1))
    make_workshop(app, "abidjan", "Défi IA Abidjan", timezone="Africa/Abidjan")
    abidjan_running = _session(app, "abidjan", "Atelier", now - timedelta(minutes=10))
    amina, kofi = add_people(app, "nairobi", "Amina Yusuf", "Kofi Mensah")
    (aissatou,) = add_people(app, "abidjan", "Aïssatou Koné")
    return {
        "running": running,
        "ended": ended,
        "tomorrow": tomorrow,
        "abidjan_running": abidjan_running,
        "amina": _badge(app, amina),
        "kofi": _badge(app, kofi),
        "aissatou": _badge(app, aissatou),
    }


def _rows(app, sql: str) -> list[tuple]:
    with sqlite3.connect(app.config["DATA_DIR"] / "kitmanager.sqlite3") as conn:
        return conn.execute(sql).fetchall()


def _check_ins(app) -> list[tuple[str, int]]:
    return _rows(
        app,
        "SELECT p.full_name, c.session_id FROM check_in c "
        "JOIN participant p ON p.id = c.participant_id ORDER BY c.id",
    )


def _start_kiosk(trainer, target: str) -> dict[str, str]:
    """Start kiosk mode on ``target`` as the station page does; the page's CSRF header."""
    token = csrf_token(trainer, target)
    started = trainer.post("/scan/kiosk", data={"csrf_token": token, "pin": "2468", "next": target})
    assert started.status_code == 302 and started.headers["Location"] == target
    return {"X-CSRFToken": token}


def _post(client, headers, **body):
    return client.post("/api/v1/scans", json=body, headers=headers)


# ---------------------------------------------------------------- 1. the kiosk's scope


def test_a_kiosk_scans_only_for_the_workshop_and_session_it_was_started_for(app, trainer, day):
    kiosk = _start_kiosk(trainer, "/scan?workshop=nairobi")
    for other in ({"workshop": "abidjan"}, {"session": day["abidjan_running"]}):
        refused = _post(trainer, kiosk, code=day["aissatou"], **other)
        assert refused.status_code == 422, other
        assert refused.json["error"] == (
            "This kiosk scans only for the workshop and session it was started for. Ask a trainer."
        )
    # Nor a session of its own workshop other than the one it runs for.
    assert _post(trainer, kiosk, code=day["amina"], session=day["tomorrow"]).status_code == 422
    # Sending no workshop at all still scans for the kiosk's: another workshop's badge is one.
    stranger = _post(trainer, kiosk, code=day["aissatou"])
    assert stranger.status_code == 200 and stranger.json["outcome"] == "wrong_workshop"
    assert _check_ins(app) == []
    # What the station page sends goes through.
    mine = _post(trainer, kiosk, code=day["amina"], workshop="nairobi", session=None)
    assert mine.json["outcome"] == "checked_in"
    assert mine.json["session"]["id"] == day["running"]
    assert _check_ins(app) == [("Amina Yusuf", day["running"])]


def test_a_kiosk_reads_only_its_own_workshops_roster(app, trainer, day):
    kiosk = _start_kiosk(trainer, "/scan?workshop=nairobi")
    own = trainer.get("/api/v1/workshops/nairobi/roster", headers=kiosk)
    assert own.status_code == 200 and len(own.json["people"]) == 2
    other = trainer.get("/api/v1/workshops/abidjan/roster", headers=kiosk)
    assert other.status_code == 403
    assert "Aïssatou" not in other.get_data(as_text=True)


def test_a_kiosk_on_a_chosen_session_refuses_another_session(app, trainer, day):
    kiosk = _start_kiosk(trainer, f"/scan?workshop=nairobi&session={day['running']}")
    refused = _post(trainer, kiosk, code=day["amina"], session=day["tomorrow"])
    assert refused.status_code == 422
    chosen = _post(trainer, kiosk, code=day["amina"], session=day["running"])
    assert chosen.json["outcome"] == "checked_in"
    # Without a session in the body, the kiosk's chosen one.
    assert _post(trainer, kiosk, code=day["kofi"]).json["session"]["id"] == day["running"]


def test_a_kiosk_checks_in_to_no_ended_session(app, trainer, day):
    kiosk = _start_kiosk(trainer, f"/scan?workshop=nairobi&session={day['ended']}")
    refused = _post(trainer, kiosk, code=day["amina"], session=day["ended"])
    assert refused.status_code == 422
    assert refused.json["error"].startswith("Session 1 takes check-ins from ")
    assert refused.json["error"].endswith(
        ": this kiosk cannot check anyone in to it now. Ask a trainer."
    )
    assert _check_ins(app) == []


def test_a_kiosk_cannot_reach_an_ended_session_through_the_scans_time(app, trainer, day):
    """Without a chosen session a scan goes to the session running at its own time: a time
    inside this morning's session must not check anyone in to it."""
    kiosk = _start_kiosk(trainer, "/scan?workshop=nairobi")
    this_morning = (utcnow() - timedelta(hours=3, minutes=30)).replace(tzinfo=timezone.utc)
    refused = _post(trainer, kiosk, code=day["amina"], scanned_at=this_morning.isoformat())
    assert refused.status_code == 422
    assert refused.json["error"].startswith("Session 1 takes check-ins from ")
    # A station that is no kiosk still records a scan queued offline this morning.
    trainer.post("/scan/kiosk/exit", data={"csrf_token": kiosk["X-CSRFToken"], "pin": "2468"})
    queued = _post(trainer, kiosk, code=day["amina"], scanned_at=this_morning.isoformat())
    assert queued.json["outcome"] == "checked_in"
    assert _check_ins(app) == [("Amina Yusuf", day["ended"])]


def test_a_kiosk_started_before_the_server_kept_its_scope_reads_it_from_its_address(
    app, trainer, day
):
    """A kiosk cookie from the version before: its scope is read from the page it is on."""
    kiosk = _start_kiosk(trainer, "/scan?workshop=nairobi")
    with trainer.session_transaction() as cookie:
        del cookie["kiosk"]["workshop"], cookie["kiosk"]["session"]
    assert _post(trainer, kiosk, code=day["aissatou"]).json["outcome"] == "wrong_workshop"
    assert _post(trainer, kiosk, code=day["amina"], workshop="abidjan").status_code == 422
    assert _post(trainer, kiosk, code=day["amina"]).json["outcome"] == "checked_in"


# ---------------------------------------------------------------- 2. the scan's time, the body


@pytest.mark.parametrize(
    "scanned_at",
    [
        "0001-01-01T00:00:00+05:00",
        "0001-01-01T00:00:00",
        "9999-12-31T23:59:59-05:00",
        "9999-12-31T23:59:59",
    ],
)
def test_a_scan_time_no_clock_could_have_is_a_422_that_blames_the_devices_clock(
    app, client, runner, day, scanned_at
):
    response = _post(client, _token(runner), code=day["amina"], scanned_at=scanned_at)
    assert response.status_code == 422
    assert (
        "the device's clock looks wrong. Set it to the right time, then scan again."
        in (response.json["error"])
    )
    assert _check_ins(app) == []


def test_scanned_at_lies_between_the_kept_answers_days_and_a_few_minutes_ahead(
    app, client, runner, day
):
    headers = _token(runner)
    now = datetime.now(timezone.utc)
    ahead = _post(
        client, headers, code=day["amina"], scanned_at=(now + timedelta(minutes=10)).isoformat()
    )
    assert ahead.status_code == 422
    assert "is ahead of the laptop's clock: the device's clock looks wrong." in ahead.json["error"]
    old = _post(
        client, headers, code=day["amina"], scanned_at=(now - timedelta(days=91)).isoformat()
    )
    assert old.status_code == 422
    assert "is more than 90 days ago: the device's clock looks wrong." in old.json["error"]
    # Within the window, a queued scan keeps its own time.
    fine = _post(
        client, headers, code=day["amina"], scanned_at=(now + timedelta(minutes=2)).isoformat()
    )
    assert fine.json["outcome"] == "checked_in"
    # A kit's return checklist has the same window.
    kits = _kits(app)
    station = {"Authorization": _token(runner, "desk", "trainer")["Authorization"]}
    _hand_out(client, station, kits["KIT-001"], day["kofi"])
    label = kits["KIT-001"].rsplit("/", 1)[1]
    returned = client.post(
        f"/api/v1/kits/{label}/return",
        json={"scanned_at": "9999-12-31T23:59:59-05:00"},
        headers=station,
    )
    assert returned.status_code == 422 and "clock looks wrong" in returned.json["error"]


def test_a_scan_for_a_session_must_be_made_on_that_sessions_day(app, client, runner, day):
    """The running session is today (Nairobi): a scan sent for it with a time two days ago,
    or yesterday at noon, is a wrong clock or the wrong session; a few hours off still lands."""
    headers = _token(runner)
    now = datetime.now(timezone.utc)
    for earlier in (timedelta(days=2), timedelta(days=80)):
        wrong = _post(
            client,
            headers,
            code=day["amina"],
            session=day["running"],
            scanned_at=(now - earlier).isoformat(),
        )
        assert wrong.status_code == 422, earlier
        assert (
            "is not on the day of Session 2: the device's clock looks wrong"
            in (wrong.json["error"])
        )
    assert _check_ins(app) == []
    # Tomorrow's session does not take a scan made now either.
    tomorrow = _post(
        client,
        headers,
        code=day["kofi"],
        session=day["tomorrow"],
        scanned_at=(now - timedelta(hours=20)).isoformat(),
    )
    assert tomorrow.status_code == 422
    fine = _post(
        client,
        headers,
        code=day["amina"],
        session=day["running"],
        scanned_at=(now - timedelta(minutes=20)).isoformat(),
    )
    assert fine.json["outcome"] == "checked_in"


def test_openapi_states_the_window_of_scanned_at(client):
    spec = client.get("/api/v1/openapi.json").json
    described = spec["components"]["schemas"]["ScanInput"]["properties"]["scanned_at"]
    minutes = int(SCAN_CLOCK_AHEAD.total_seconds() // 60)
    assert f"At most {minutes} minutes ahead of the laptop's clock" in described["description"]
    assert "SCAN_REQUEST_DAYS" in described["description"]


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000 + "]" * 100_000, '{"code": ' + "[" * 100_000 + "]" * 100_000 + "}"],
)
def test_a_deeply_nested_body_is_a_400_with_a_message(app, client, runner, body):
    response = client.post(
        "/api/v1/scans",
        data=body,
        headers={**_token(runner), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json["error"].startswith("the JSON body is nested too deeply")


# ---------------------------------------------------------------- 3. replay and undo by sender


def test_another_volunteers_device_gets_neither_the_answer_nor_the_undo_of_a_scan(
    app, client, runner, day
):
    door = _token(runner, "door-1")
    other = _token(runner, "door-2")
    body = {"code": day["amina"], "client_id": str(uuid.uuid4())}
    first = _post(client, door, **body)
    assert first.json["outcome"] == "checked_in"

    # The other device reuses the client id, with another badge: refused, nothing applied,
    # nothing of the first answer shown.
    stolen = _post(client, other, **{**body, "code": day["kofi"]})
    assert stolen.status_code == 409
    assert stolen.json == {
        "error": "Another login already sent a scan with this client_id, so its answer is not "
        "shown here. Scan the code again if it is needed."
    }
    assert _check_ins(app) == [("Amina Yusuf", day["running"])]
    undo = client.post("/api/v1/scans/undo", json={"client_id": body["client_id"]}, headers=other)
    assert undo.status_code == 403
    assert undo.json["error"] == (
        "Another login sent this scan: only that login or a trainer can take it back."
    )
    assert _check_ins(app) == [("Amina Yusuf", day["running"])]

    # The sender itself gets its answer again.
    again = _post(client, door, **body)
    assert again.json == first.json and again.headers["X-Scan-Replayed"] == "1"
    # A trainer sees it and takes it back.
    assert OTHER_SENDERS_ROLE is Role.TRAINER
    trainer = _token(runner, "desk", "trainer")
    assert _post(client, trainer, **body).json == first.json
    taken = client.post(
        "/api/v1/scans/undo", json={"client_id": body["client_id"]}, headers=trainer
    )
    assert taken.json == {"undone": True, "message": "Check-in of Amina Yusuf undone."}
    assert _check_ins(app) == []


def test_a_kit_return_replayed_by_another_device_is_refused(app, client, runner, day):
    kits = _kits(app)
    door = _token(runner, "door-1")
    _hand_out(client, door, kits["KIT-001"], day["amina"])
    label = kits["KIT-001"].rsplit("/", 1)[1]
    body = {"missing": {}, "client_id": str(uuid.uuid4())}
    first = client.post(f"/api/v1/kits/{label}/return", json=body, headers=door)
    assert first.json["outcome"] == "kit_returned"
    other = client.post(f"/api/v1/kits/{label}/return", json=body, headers=_token(runner, "door-2"))
    assert other.status_code == 409 and "Another login already sent" in other.json["error"]


def test_a_kiosk_is_no_trainer_for_another_logins_client_id(app, runner, trainer, day):
    client = app.test_client()  # the door's device; `trainer` is the kiosk's browser
    door = _token(runner, "door-1")
    body = {"code": day["amina"], "client_id": str(uuid.uuid4())}
    assert _post(client, door, **body).json["outcome"] == "checked_in"
    kiosk = _start_kiosk(trainer, "/scan?workshop=nairobi")
    assert _post(trainer, kiosk, **body).status_code == 409


def test_a_copy_that_lost_the_race_gets_the_winners_answer_only_if_it_is_theirs(app, day):
    """The race path of the core (two copies at one instant): the replayed answer too is
    only the sender's (or a trainer's)."""
    client_id = str(uuid.uuid4())
    door = Actor("token:door-1", Role.VOLUNTEER)
    other = Actor("token:door-2", Role.VOLUNTEER)
    with app.test_request_context():
        commit_once(lambda: answer_scan(door, Scan.read(day["amina"], client_id=client_id)))
        assert replayed_scan(client_id, door).outcome.value == "checked_in"
        assert replayed_scan(client_id, Actor("user:tom", Role.TRAINER)).participant is not None
        with pytest.raises(ScanOfAnotherSender):
            replayed_scan(client_id, other)


# ---------------------------------------------------------------- 4. station names


def test_a_station_name_is_recorded_under_the_login_or_token_that_sent_the_scan(
    app, runner, volunteer, day
):
    client = app.test_client()  # the door's device; `volunteer` is a phone's browser
    door = _token(runner, "door-1")
    _post(client, door, code=day["amina"], station="phone:2")
    page = volunteer.get("/scan?workshop=nairobi&station=Door%202").get_data(as_text=True)
    from tests.web.test_scan_station import _config

    config = _config(page)
    assert config["station"] == "user:vera · Door 2"
    headers = {"X-CSRFToken": csrf_token(volunteer, "/scan?workshop=nairobi")}
    _post(volunteer, headers, code=day["kofi"], station=config["station"])
    assert _rows(app, "SELECT station, by FROM check_in ORDER BY id") == [
        ("token:door-1 · phone:2", "token:door-1"),
        ("user:vera · Door 2", "user:vera"),
    ]
    # Handouts and returns too.
    kits = _kits(app)
    _hand_out(client, door, kits["KIT-001"], day["amina"], station="user:vera")
    label = kits["KIT-001"].rsplit("/", 1)[1]
    client.post(f"/api/v1/kits/{label}/return", json={"station": "phone:2"}, headers=door)
    assert _rows(app, "SELECT station FROM kit_handout") == [("token:door-1 · user:vera",)]
    ((details,),) = _rows(app, "SELECT details FROM audit_event WHERE action = 'kit.return'")
    assert json.loads(details)["station"] == "token:door-1 · phone:2"


def test_a_station_name_is_the_senders_own_with_at_most_one_label():
    tom = Actor("user:tom", Role.TRAINER)
    assert station_name(tom) == station_name(tom, "  ") == station_name(tom, "user:tom")
    assert station_name(tom) == "user:tom"
    assert station_name(tom, "door\n2\u202e") == "user:tom · door 2"
    assert station_name(tom, station_name(tom, "door 2")) == "user:tom · door 2"
    assert len(station_name(tom, "x" * 500)) == 80
    assert station_name(tom, "phone:2").startswith("user:tom · ")


# ---------------------------------------------------------------- 5. a kiosk whose login ended


def test_a_kiosk_whose_login_ended_shows_the_login_page_and_ends(app, trainer, runner, day):
    _start_kiosk(trainer, "/scan?workshop=nairobi")
    # The login ends elsewhere: an organiser resets the trainer's password.
    assert runner.invoke(args=["users", "reset-password", "tom"]).exit_code == 0
    station = trainer.get("/scan?workshop=nairobi")
    assert station.status_code == 302
    assert station.headers["Location"].startswith("/login?next=")
    page = trainer.get(station.headers["Location"])
    assert page.status_code == 200 and 'name="password"' in page.get_data(as_text=True)
    assert "The kiosk&#39;s login ended. A trainer logs in here to start it again." in (
        page.get_data(as_text=True)
    )
    # Whoever logs in next on this browser finds an ordinary station, not a kiosk.
    login(trainer, "vera")
    assert trainer.get("/workshops/").status_code == 200
    from tests.web.test_scan_station import _config

    assert _config(trainer.get("/scan?workshop=nairobi").get_data(True))["kiosk"] is False


# ---------------------------------------------------------------- 6. attendance


def test_attendance_through_the_api_needs_the_exports_role(app, runner, volunteer, day):
    assert ATTENDANCE_ROLE is Role.TRAINER
    client = app.test_client()  # scripts with tokens; `volunteer` is a logged-in browser
    volunteer_token = _token(runner, "door-1")
    _post(client, volunteer_token, code=day["amina"])
    refused = client.get("/api/v1/workshops/nairobi/attendance", headers=volunteer_token)
    assert refused.status_code == 403
    assert refused.json["error"] == "Your account's role does not allow this. Ask an organiser."
    french = client.get(
        "/api/v1/workshops/nairobi/attendance",
        headers={**volunteer_token, "Accept-Language": "fr"},
    )
    assert french.status_code == 403 and "Demandez" in french.json["error"]
    assert volunteer.get("/api/v1/workshops/nairobi/attendance").status_code == 403
    assert volunteer.get("/workshops/nairobi/attendance.csv").status_code == 403
    trainer = _token(runner, "desk", "trainer")
    rows = client.get("/api/v1/workshops/nairobi/attendance", headers=trainer).json["check_ins"]
    assert [row["name"] for row in rows] == ["Amina Yusuf"]


def _hand_out(client, headers, kit: str, badge: str, **extra) -> dict:
    """A kit handed out through the API as the station does it: the kit, then confirmed."""
    from tests.web.test_kit_scans import Station

    station = Station(client, headers, name=extra.pop("station", None))
    answer = _hand(station, kit, badge, **extra)
    assert answer["outcome"] == "kit_handed_out", answer
    return answer
