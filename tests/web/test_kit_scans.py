"""Kit labels at ``POST /api/v1/scans``: the handout question and its confirmation, returns
with their checklist, undo, the kiosk, and stations racing for one kit (SQLite and
PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta, timezone

import pytest
from sqlalchemy import func, select

from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.kits.services import (
    ComponentLine,
    create_kit_type,
    create_kits,
    kit_by_code,
    set_condition,
)
from kitmanager.models import CheckIn, KitCondition, KitHandout, KitIncident, utcnow
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people, make_workshop
from tests.web.test_checkin import _badge, _session, _token
from tests.web.test_postgres import pg_app, postgres_url  # noqa: F401  (fixtures)

BOM = [
    ComponentLine("Arduino Nano", 1),
    ComponentLine("Ultrasonic sensor HC-SR04", 1),
    ComponentLine("Jumper wires", 20, must_return=False),
]


def _kits(app, count: int = 3) -> dict[str, str]:
    """``count`` kits of one type; their label URLs by code, as the QR carries them."""
    with app.app_context(), app.test_request_context():
        kit_type = create_kit_type(cli_actor(), "Line-follower kit v2", BOM)
        kits = create_kits(cli_actor(), kit_type, count)
        db.session.commit()
        return {kit.code: f"http://10.42.0.1:5000/k/{kit.label_token}" for kit in kits}


@pytest.fixture
def day(app):
    """A session running now, two participants, three kits."""
    make_workshop(app)
    running = _session(app, "nairobi", "Session 2", utcnow() - timedelta(minutes=20))
    amina, kofi = add_people(app, "nairobi", "Amina Yusuf", "Kofi Mensah")
    return {
        "running": running,
        "amina": _badge(app, amina),
        "kofi": _badge(app, kofi),
        "amina_id": amina,
        "kits": _kits(app),
    }


class Station:
    """One scanning device: a token, a station name, and its own client ids."""

    def __init__(self, client, headers, name: str | None = "door") -> None:
        self.client, self.headers, self.name = client, headers, name

    def scan(self, code: str, **extra) -> dict:
        body = {"code": code, "client_id": str(uuid.uuid4()), **extra}
        if self.name is not None:
            body.setdefault("station", self.name)
        response = self.client.post("/api/v1/scans", json=body, headers=self.headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return {**response.json, "client_id": body["client_id"]}


def _ago(seconds: float) -> str:
    return (utcnow() - timedelta(seconds=seconds)).replace(tzinfo=timezone.utc).isoformat()


def _open_handouts(app) -> list[tuple[str, int]]:
    with app.app_context():
        rows = db.session.scalars(select(KitHandout).where(KitHandout.returned_at.is_(None)))
        return sorted((row.kit.code, row.participant_id) for row in rows)


def _hand(station: Station, kit: str, badge: str, **extra) -> dict:
    """What a station sends when the person answers the handout question with Hand out."""
    return station.scan(kit, confirm=True, **{"with": badge}, **extra)


def _check_ins(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CheckIn))


def test_a_kit_alone_waits_and_records_nothing_and_a_badge_with_it_asks_first(
    app, client, runner, day
):
    door = Station(client, _token(runner))
    waiting = door.scan(day["kits"]["KIT-002"])
    assert waiting["outcome"] == "kit_waiting"
    assert waiting["message"] == "KIT-002 waits for a badge: scan the participant's badge."
    assert waiting["undoable"] is False
    # The next child's badge, paired by the station: checked in, and a question, no handout.
    asked = door.scan(day["amina"], **{"with": day["kits"]["KIT-002"]})
    assert asked["outcome"] == "kit_needs_confirmation"
    assert asked["message"] == "Hand KIT-002 to Amina Yusuf?"
    assert asked["reasons"] == []
    assert asked["check_in"]["outcome"] == "checked_in"
    assert asked["session"]["id"] == day["running"]
    assert asked["undoable"] is True  # the check-in
    assert _open_handouts(app) == [] and _check_ins(app) == 1
    # Hand out: the kit's code with the badge's, confirmed; the check-in is not applied again.
    out = _hand(door, day["kits"]["KIT-002"], day["amina"])
    assert out["outcome"] == "kit_handed_out"
    assert out["message"].startswith("KIT-002 → Amina Yusuf, due ")
    assert out["kit"]["status"] == "out" and out["undoable"] is True
    assert _open_handouts(app) == [("KIT-002", day["amina_id"])] and _check_ins(app) == 1


def test_a_badge_then_a_kit_asks_the_same_question(app, client, runner, day):
    door = Station(client, _token(runner))
    assert door.scan(day["amina"])["outcome"] == "checked_in"
    asked = door.scan(day["kits"]["KIT-001"], **{"with": day["amina"]})
    assert asked["outcome"] == "kit_needs_confirmation"
    assert asked["message"] == "Hand KIT-001 to Amina Yusuf?"
    assert asked["kit"]["code"] == "KIT-001" and asked["participant"]["name"] == "Amina Yusuf"
    assert "check_in" not in asked and asked["undoable"] is False
    assert _open_handouts(app) == []
    assert _hand(door, day["kits"]["KIT-001"], day["amina"])["outcome"] == "kit_handed_out"
    assert _open_handouts(app) == [("KIT-001", day["amina_id"])]


def test_scans_at_one_station_never_pair_by_themselves(app, client, runner, day):
    """A stray kit scan followed by the next child's badge hands nothing out: only a pair a
    person confirmed does."""
    door = Station(client, _token(runner))
    door.scan(day["kits"]["KIT-001"])
    assert door.scan(day["amina"])["outcome"] == "checked_in"
    assert door.scan(day["kits"]["KIT-002"])["outcome"] == "kit_waiting"
    assert door.scan(day["kofi"], confirm=True)["outcome"] == "checked_in"
    assert _open_handouts(app) == []


def test_a_kit_code_typed_is_a_kit_and_an_unknown_one_says_so(app, client, runner, day):
    door = Station(client, _token(runner))
    typed = door.scan("kit-003")
    assert typed["outcome"] == "kit_waiting" and typed["kit"]["code"] == "KIT-003"
    out = _hand(door, " KIT-003 ", day["kofi"])
    assert out["outcome"] == "kit_handed_out"
    back = door.scan("KIT-003")
    assert back["outcome"] == "kit_return" and back["holder"] == "Kofi Mensah"
    unknown = door.scan("KIT-999")
    assert unknown["outcome"] == "unknown_code"
    assert unknown["message"] == (
        "“KIT-999” is neither a badge nor a kit of this laptop. Please ask a trainer."
    )


def test_a_kit_that_is_out_starts_its_return_even_after_a_badge(app, client, runner, day):
    door = Station(client, _token(runner))
    _hand(door, day["kits"]["KIT-001"], day["amina"])
    door.scan(day["kofi"])
    back = door.scan(day["kits"]["KIT-001"], **{"with": day["kofi"]})
    assert back["outcome"] == "kit_return"
    assert back["message"] == "KIT-001 is back from Amina Yusuf: check its contents."
    # A badge paired with a kit that is out with someone else: checked in, kit unavailable.
    refused = door.scan(day["kofi"], **{"with": day["kits"]["KIT-001"]})
    assert refused["outcome"] == "kit_unavailable"
    assert refused["message"] == "KIT-001 is already out with Amina Yusuf: take it back first."
    assert refused["check_in"]["outcome"] == "already_checked_in"
    # Confirming a kit another station handed out meanwhile does not open its return.
    late = _hand(door, day["kits"]["KIT-001"], day["kofi"])
    assert late["outcome"] == "kit_unavailable"
    assert _open_handouts(app) == [("KIT-001", day["amina_id"])]


def test_a_kit_needing_attention_asks_with_its_reasons_and_an_unseen_reason_asks_again(
    app, client, runner, day
):
    with app.app_context(), app.test_request_context():
        set_condition(cli_actor(), kit_by_code("KIT-003"), KitCondition.NEEDS_ATTENTION)
        db.session.commit()
    door = Station(client, _token(runner))
    asked = door.scan(day["kofi"], **{"with": day["kits"]["KIT-003"]})
    assert asked["outcome"] == "kit_needs_confirmation"
    assert asked["message"] == "Hand KIT-003 to Kofi Mensah?"
    assert asked["reasons"] == ["KIT-003 is marked “needs attention”."]
    # Confirmed offline, where the station could not know the reason: asked again.
    unseen = _hand(door, day["kits"]["KIT-003"], day["kofi"], seen_reasons=[])
    assert unseen["outcome"] == "kit_needs_confirmation"
    assert unseen["reasons"] == asked["reasons"]
    assert _open_handouts(app) == []
    seen = _hand(door, day["kits"]["KIT-003"], day["kofi"], seen_reasons=asked["reasons"])
    assert seen["outcome"] == "kit_handed_out"

    # A second kit for the same person asks too (one each unless confirmed).
    again = door.scan(day["kits"]["KIT-001"], **{"with": day["kofi"]})
    assert again["reasons"] == ["Kofi Mensah already holds KIT-003."]
    assert _hand(door, day["kits"]["KIT-001"], day["kofi"])["outcome"] == "kit_handed_out"
    assert [code for code, _ in _open_handouts(app)] == ["KIT-001", "KIT-003"]


def test_a_handout_confirmed_offline_keeps_its_own_time(app, client, runner, day):
    door = Station(client, _token(runner))
    door.scan(day["kofi"], scanned_at=_ago(300))
    out = _hand(door, day["kits"]["KIT-002"], day["kofi"], scanned_at=_ago(290), seen_reasons=[])
    assert out["outcome"] == "kit_handed_out"
    with app.app_context():
        handout = db.session.scalars(select(KitHandout)).one()
        assert abs((utcnow() - handout.out_at).total_seconds() - 290) < 5  # as it happened


def test_a_retired_kit_is_refused_at_once_alone_or_paired(app, client, runner, day):
    with app.app_context(), app.test_request_context():
        set_condition(cli_actor(), kit_by_code("KIT-002"), KitCondition.RETIRED)
        db.session.commit()
    door = Station(client, _token(runner))
    retired = door.scan(day["kits"]["KIT-002"])
    assert retired["outcome"] == "kit_unavailable"
    assert retired["message"] == "KIT-002 is retired and is not handed out. Take another kit."
    paired = door.scan(day["kofi"], **{"with": day["kits"]["KIT-002"]})
    assert paired["outcome"] == "kit_unavailable" and paired["check_in"]["outcome"] == "checked_in"
    assert _hand(door, day["kits"]["KIT-002"], day["kofi"])["outcome"] == "kit_unavailable"
    assert _open_handouts(app) == []


def test_a_station_of_one_workshop_refuses_a_badge_of_another_and_pairs_no_kit(
    app, client, runner, day
):
    """The station sends its workshop: a badge of another workshop is refused there even
    when no session is chosen, and a kit paired with it waits instead of going to that
    person."""
    make_workshop(app, slug="dakar", title="Dakar Robotique")
    _session(app, "dakar", "Atelier", utcnow() - timedelta(minutes=10))
    (stranger,) = add_people(app, "dakar", "Zed Other")
    door = Station(client, _token(runner))
    stranger_badge = _badge(app, stranger)
    refused = door.scan(stranger_badge, workshop="nairobi", **{"with": day["kits"]["KIT-001"]})
    assert refused["outcome"] == "wrong_workshop"
    assert refused["message"] == "Zed Other is registered for another workshop (Dakar Robotique)."
    kit = _hand(door, day["kits"]["KIT-001"], stranger_badge, workshop="nairobi")
    assert kit["outcome"] == "kit_waiting"
    assert _open_handouts(app) == [] and _check_ins(app) == 0
    response = client.post(
        "/api/v1/scans",
        json={"code": day["kofi"], "workshop": "nowhere"},
        headers=door.headers,
    )
    assert response.status_code == 422
    assert "nowhere" in response.json["error"]
    bad_pair = client.post(
        "/api/v1/scans", json={"code": day["kofi"], "with": "hello there"}, headers=door.headers
    )
    assert bad_pair.status_code == 422
    assert bad_pair.json["error"] == "'with' must be the code of a badge or a kit"


def test_a_kit_alone_starts_its_return_and_the_checklist_records_a_missing_sensor(
    app, client, runner, day
):
    headers = _token(runner)
    door = Station(client, headers)
    _hand(door, day["kits"]["KIT-001"], day["amina"])
    back = Station(client, headers, name=None).scan(day["kits"]["KIT-001"])  # no station needed
    assert back["outcome"] == "kit_return"
    assert back["message"] == "KIT-001 is back from Amina Yusuf: check its contents."
    assert back["holder"] == "Amina Yusuf"
    checklist = {line["name"]: line for line in back["checklist"]}
    assert [line["name"] for line in back["checklist"]] == [line.name for line in BOM]
    assert checklist["Jumper wires"]["quantity"] == 20
    assert checklist["Jumper wires"]["must_return"] is False
    sensor = checklist["Ultrasonic sensor HC-SR04"]["id"]
    wires = checklist["Jumper wires"]["id"]

    url = f"/api/v1/kits/{back['kit']['token']}/return"
    body = {
        "missing": {str(sensor): 1, str(wires): 4},
        "note": "sensor lost in the playground",
        "client_id": str(uuid.uuid4()),
        "station": "door",
    }
    first = client.post(url, json=body, headers=headers)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.json["outcome"] == "kit_returned"
    assert first.json["condition"] == "needs_attention"
    assert first.json["message"] == (
        "KIT-001 is back: 1 × Ultrasonic sensor HC-SR04 missing, 4 × Jumper wires missing. "
        "It needs attention."
    )
    replay = client.post(url, json=body, headers=headers)
    assert replay.json == first.json and replay.headers["X-Scan-Replayed"] == "1"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(KitIncident)) == 1
    assert _open_handouts(app) == []

    restock = client.get("/api/v1/kits/restock", headers=headers).json["restock"]
    assert {(line["component"], line["missing"]) for line in restock} == {
        ("Ultrasonic sensor HC-SR04", 1),
        ("Jumper wires", 4),
    }

    again = client.post(url, json={**body, "client_id": str(uuid.uuid4())}, headers=headers)
    assert again.json["outcome"] == "kit_not_out"
    assert again.json["message"].startswith("KIT-001 is not out, so there is nothing to return.")
    # The kit is in again: alone it now waits for a badge.
    assert door.scan(day["kits"]["KIT-001"])["outcome"] == "kit_waiting"


def test_a_complete_return_leaves_the_kit_ready_and_bad_counts_are_refused(
    app, client, runner, day
):
    headers = _token(runner)
    door = Station(client, headers)
    out = _hand(door, day["kits"]["KIT-002"], day["kofi"])
    url = f"/api/v1/kits/{out['kit']['token']}/return"
    sensor = door.scan(day["kits"]["KIT-002"])["checklist"][1]["id"]
    too_many = client.post(url, json={"missing": {str(sensor): 2}}, headers=headers)
    assert too_many.status_code == 422
    assert "cannot add up to more" in too_many.json["error"]
    malformed = client.post(url, json={"missing": ["sensor"]}, headers=headers)
    assert malformed.status_code == 422
    unknown = client.post("/api/v1/kits/" + "x" * 32 + "/return", json={}, headers=headers)
    assert unknown.status_code == 404
    done = client.post(url, json={"client_id": "ret-1"}, headers=headers)
    assert done.json["outcome"] == "kit_returned" and done.json["condition"] == "ready"
    assert done.json["message"] == "KIT-002 is back, complete: ready."
    # A note with nothing missing is kept: the kit stays ready, the note is in its history.
    _hand(door, day["kits"]["KIT-002"], day["kofi"])
    noted = client.post(
        url, json={"client_id": "ret-2", "note": "left wheel bent"}, headers=headers
    )
    assert noted.json["condition"] == "ready" and noted.json["incident"] is not None
    assert noted.json["message"] == "KIT-002 is back: left wheel bent. Still ready."
    with app.app_context():
        assert db.session.get(KitIncident, noted.json["incident"]).note == "left wheel bent"


def _undo(client, headers, answer: dict) -> dict:
    response = client.post(
        "/api/v1/scans/undo", json={"client_id": answer["client_id"]}, headers=headers
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def test_undo_names_what_it_takes_back_a_check_in_a_handout_or_a_return(app, client, runner, day):
    headers = _token(runner)
    door = Station(client, headers)
    out = _hand(door, day["kits"]["KIT-001"], day["amina"])
    assert _undo(client, headers, out) == {
        "undone": True,
        "message": "Handout of KIT-001 to Amina Yusuf undone.",
    }
    assert _open_handouts(app) == []
    with app.app_context():
        assert kit_by_code("KIT-001").status.value == "ready"
    assert _undo(client, headers, out) == {
        "undone": False,
        "message": "Nothing to undo: that change was already undone.",
    }

    # The question after a badge changed one thing: the check-in, which the undo names.
    asked = door.scan(day["kofi"], **{"with": day["kits"]["KIT-002"]})
    assert _check_ins(app) == 1
    assert _undo(client, headers, asked)["message"] == "Check-in of Kofi Mensah undone."
    assert _check_ins(app) == 0

    # A kit waiting for a badge changed nothing.
    waiting = door.scan(day["kits"]["KIT-003"])
    assert _undo(client, headers, waiting) == {
        "undone": False,
        "message": "Nothing to undo: that scan changed nothing.",
    }

    # A return recorded by mistake: the kit is out again, the incident and condition undone.
    _hand(door, day["kits"]["KIT-003"], day["amina"])
    back = door.scan(day["kits"]["KIT-003"])
    sensor = back["checklist"][1]["id"]
    body = {"missing": {str(sensor): 1}, "client_id": str(uuid.uuid4())}
    returned = client.post(
        f"/api/v1/kits/{back['kit']['token']}/return", json=body, headers=headers
    )
    assert returned.json["condition"] == "needs_attention" and returned.json["undoable"] is True
    assert _undo(client, headers, {"client_id": body["client_id"]})["message"] == (
        "Return of KIT-003 undone: it is out with Amina Yusuf again."
    )
    assert _open_handouts(app) == [("KIT-003", day["amina_id"])]
    with app.app_context():
        assert kit_by_code("KIT-003").condition == "ready"
        assert db.session.scalar(select(func.count()).select_from(KitIncident)) == 0
    missing = client.post("/api/v1/scans/undo", json={"client_id": "nope"}, headers=headers)
    assert missing.status_code == 404


def test_handout_messages_speak_the_scanners_language(app, client, runner, day):
    headers = {**_token(runner), "Accept-Language": "fr"}
    door = Station(client, headers)
    assert door.scan(day["kits"]["KIT-001"])["message"] == (
        "KIT-001 attend un badge : scannez le badge du participant."
    )
    asked = door.scan(day["amina"], **{"with": day["kits"]["KIT-001"]})
    assert asked["message"] == "Remettre KIT-001 à Amina Yusuf ?"
    out = _hand(door, day["kits"]["KIT-001"], day["amina"])
    assert out["message"].startswith("KIT-001 → Amina Yusuf, à rendre à ")
    assert _undo(client, headers, out)["message"] == "Remise de KIT-001 à Amina Yusuf annulée."


def test_a_kiosk_hands_out_no_kit(app, trainer, day):
    token = csrf_token(trainer, "/scan")
    trainer.post(
        "/scan/kiosk", data={"csrf_token": token, "pin": "2468", "next": "/scan?workshop=nairobi"}
    )
    kiosk = Station(trainer, {"X-CSRFToken": token}, name="kiosk")
    assert kiosk.scan(day["amina"])["outcome"] == "checked_in"
    kit = kiosk.scan(day["kits"]["KIT-001"])
    assert kit["outcome"] == "kit_label"
    assert kit["message"] == "This is a kit: a trainer hands out and takes back kits."
    assert _hand(kiosk, day["kits"]["KIT-001"], day["amina"])["outcome"] == "kit_label"
    assert kiosk.scan(day["amina"], **{"with": day["kits"]["KIT-001"]})["outcome"] == (
        "already_checked_in"
    )
    assert _open_handouts(app) == []
    returned = trainer.post(
        f"/api/v1/kits/{'x' * 32}/return", json={}, headers={"X-CSRFToken": token}
    )
    assert returned.status_code == 403
    # Nor does it take back the last participant's check-in.
    mine = kiosk.scan(day["kofi"])
    undo = trainer.post(
        "/api/v1/scans/undo", json={"client_id": mine["client_id"]}, headers={"X-CSRFToken": token}
    )
    assert undo.status_code == 403
    assert undo.json["error"] == "A kiosk cannot take back scans: ask a trainer."


def _race(app, headers: list[dict[str, str]], badges: list[str], kit: str) -> list[dict]:
    """Each station has scanned its own person's badge; then all scan ``kit`` at once."""
    stations = [
        Station(app.test_client(), header, f"station-{n}") for n, header in enumerate(headers)
    ]
    badge_of = {}
    for station, badge in zip(stations, badges, strict=True):
        assert station.scan(badge)["outcome"] == "checked_in"
        badge_of[station.name] = badge
    start = threading.Barrier(len(stations))
    answers: list[dict] = []
    errors: list[BaseException] = []

    def scan(station: Station) -> None:
        try:
            start.wait()
            answers.append(_hand(station, kit, badge_of[station.name]))
        except BaseException as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(station,)) for station in stations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return answers


def _check_race(app, answers: list[dict], count: int) -> None:
    outcomes = sorted(answer["outcome"] for answer in answers)
    assert outcomes == ["kit_handed_out"] + ["kit_unavailable"] * (count - 1)
    for answer in answers:
        if answer["outcome"] == "kit_unavailable":
            assert answer["message"].startswith("KIT-001 ")
            assert "out with" in answer["message"] or "just handed out" in answer["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(KitHandout)) == 1


def test_two_stations_scanning_one_kit_at_once_make_one_handout_on_sqlite(app, runner, day):
    people = add_people(app, "nairobi", *(f"Person {n}" for n in range(4)))
    headers = [_token(runner, f"phone-{n}") for n in range(4)]
    answers = _race(app, headers, [_badge(app, p) for p in people], day["kits"]["KIT-001"])
    _check_race(app, answers, 4)


def test_two_stations_scanning_one_kit_at_once_make_one_handout_on_postgresql(
    pg_app,  # noqa: F811
):
    app = pg_app
    make_workshop(app)
    _session(app, "nairobi", "Session 2", utcnow() - timedelta(minutes=20))
    people = add_people(app, "nairobi", *(f"Person {n}" for n in range(6)))
    kits = _kits(app, 1)
    runner = app.test_cli_runner()
    headers = [_token(runner, f"phone-{n}") for n in range(6)]
    answers = _race(app, headers, [_badge(app, p) for p in people], kits["KIT-001"])
    _check_race(app, answers, 6)
