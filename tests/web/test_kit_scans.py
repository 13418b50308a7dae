"""Kit labels at ``POST /api/v1/scans``: two-scan handouts, returns with their checklist,
confirmations, undo, the kiosk, and two stations racing for one kit (SQLite and PostgreSQL)."""

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


def test_a_badge_then_a_kit_hand_the_kit_out_and_the_badge_still_checks_in(
    app, client, runner, day
):
    door = Station(client, _token(runner))
    badge = door.scan(day["amina"])
    assert badge["outcome"] == "checked_in"
    kit = door.scan(day["kits"]["KIT-001"])
    assert kit["outcome"] == "kit_handed_out"
    assert kit["message"].startswith("KIT-001 → Amina Yusuf, due ")
    assert kit["kit"]["code"] == "KIT-001" and kit["kit"]["status"] == "out"
    assert kit["participant"]["name"] == "Amina Yusuf"
    assert _open_handouts(app) == [("KIT-001", day["amina_id"])]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1
    # The pair is used up: the next kit alone waits for its own badge.
    assert door.scan(day["kits"]["KIT-002"])["outcome"] == "kit_waiting"


def test_a_kit_then_a_badge_hand_out_too_and_the_answer_carries_the_check_in(
    app, client, runner, day
):
    door = Station(client, _token(runner))
    waiting = door.scan(day["kits"]["KIT-002"])
    assert waiting["outcome"] == "kit_waiting"
    assert waiting["message"] == "KIT-002: now scan the participant's badge."
    assert _open_handouts(app) == []
    out = door.scan(day["amina"])
    assert out["outcome"] == "kit_handed_out"
    assert out["message"].startswith("KIT-002 → Amina Yusuf, due ")
    assert out["check_in"]["outcome"] == "checked_in"
    assert out["session"]["id"] == day["running"]
    assert _open_handouts(app) == [("KIT-002", day["amina_id"])]


def test_pairs_only_within_sixty_seconds_by_the_scans_own_times(app, client, runner, day):
    door = Station(client, _token(runner))
    # Queued offline: a badge 400 s ago, a kit 61 seconds after it: no pair.
    door.scan(day["amina"], scanned_at=_ago(400))
    late = door.scan(day["kits"]["KIT-001"], scanned_at=_ago(339))
    assert late["outcome"] == "kit_waiting"
    # The badge again 89 s after that kit: no pair either; the badge waits.
    assert door.scan(day["amina"], scanned_at=_ago(250))["outcome"] == "already_checked_in"
    assert _open_handouts(app) == []
    # Another kit 59 seconds after that badge: a pair.
    paired = door.scan(day["kits"]["KIT-002"], scanned_at=_ago(191))
    assert paired["outcome"] == "kit_handed_out"
    assert _open_handouts(app) == [("KIT-002", day["amina_id"])]
    with app.app_context():
        handout = db.session.scalars(select(KitHandout)).one()
        assert abs((utcnow() - handout.out_at).total_seconds() - 191) < 5  # as it happened


def test_without_a_station_name_a_kit_does_not_pair(app, client, runner, day):
    nameless = Station(client, _token(runner), name=None)
    nameless.scan(day["amina"])
    alone = nameless.scan(day["kits"]["KIT-001"])
    assert alone["outcome"] == "kit_needs_station"
    assert "needs a station name" in alone["message"]
    assert _open_handouts(app) == []


def test_two_stations_pair_only_their_own_scans(app, client, runner, day):
    headers = _token(runner)
    door, hall = Station(client, headers, "door"), Station(client, headers, "hall")
    door.scan(day["amina"])
    assert hall.scan(day["kits"]["KIT-001"])["outcome"] == "kit_waiting"
    assert hall.scan(day["kofi"])["outcome"] == "kit_handed_out"
    assert door.scan(day["kits"]["KIT-002"])["outcome"] == "kit_handed_out"
    with app.app_context():
        holders = {code: who for code, who in _open_handouts(app)}
    assert holders["KIT-002"] == day["amina_id"] and holders["KIT-001"] != day["amina_id"]


def test_a_kit_needing_attention_asks_to_confirm_and_the_same_scan_confirmed_hands_it_out(
    app, client, runner, day
):
    with app.app_context(), app.test_request_context():
        set_condition(cli_actor(), kit_by_code("KIT-003"), KitCondition.NEEDS_ATTENTION)
        db.session.commit()
    door = Station(client, _token(runner))
    door.scan(day["kofi"])
    asked = door.scan(day["kits"]["KIT-003"])
    assert asked["outcome"] == "kit_needs_confirmation"
    assert asked["message"] == "Hand KIT-003 to Kofi Mensah anyway?"
    assert asked["reasons"] == ["KIT-003 is marked “needs attention”."]
    assert _open_handouts(app) == []
    confirmed = door.scan(day["kits"]["KIT-003"], confirm=True)
    assert confirmed["outcome"] == "kit_handed_out"
    assert [code for code, _ in _open_handouts(app)] == ["KIT-003"]

    # A second kit for the same person asks too (one each unless confirmed), kit first.
    door.scan(day["kits"]["KIT-001"])
    again = door.scan(day["kofi"])
    assert again["outcome"] == "kit_needs_confirmation"
    assert again["reasons"] == ["Kofi Mensah already holds KIT-003."]
    assert door.scan(day["kofi"], confirm=True)["outcome"] == "kit_handed_out"
    assert [code for code, _ in _open_handouts(app)] == ["KIT-001", "KIT-003"]


def test_a_queued_pair_asking_to_confirm_is_confirmed_when_the_answer_is_seen(
    app, client, runner, day
):
    with app.app_context(), app.test_request_context():
        set_condition(cli_actor(), kit_by_code("KIT-003"), KitCondition.NEEDS_ATTENTION)
        db.session.commit()
    door = Station(client, _token(runner))
    # Both scans were queued offline five minutes ago and arrive now.
    door.scan(day["kofi"], scanned_at=_ago(300))
    asked = door.scan(day["kits"]["KIT-003"], scanned_at=_ago(290))
    assert asked["outcome"] == "kit_needs_confirmation"
    assert door.scan(day["kits"]["KIT-003"], confirm=True)["outcome"] == "kit_handed_out"
    assert [code for code, _ in _open_handouts(app)] == ["KIT-003"]


def test_a_kit_out_with_someone_else_is_unavailable_and_a_retired_one_too(app, client, runner, day):
    door = Station(client, _token(runner))
    door.scan(day["amina"])
    door.scan(day["kits"]["KIT-001"])
    door.scan(day["kofi"])
    taken = door.scan(day["kits"]["KIT-001"])
    assert taken["outcome"] == "kit_unavailable"
    assert taken["message"] == (
        "KIT-001 is already out with Amina Yusuf. Scan it alone to take it back first."
    )
    with app.app_context(), app.test_request_context():
        set_condition(cli_actor(), kit_by_code("KIT-002"), KitCondition.RETIRED)
        db.session.commit()
    door.scan(day["kofi"])
    retired = door.scan(day["kits"]["KIT-002"])
    assert retired["outcome"] == "kit_unavailable"
    assert "retired" in retired["message"]
    assert _open_handouts(app) == [("KIT-001", day["amina_id"])]


def test_a_retired_kit_scanned_alone_says_so_at_once_and_pairs_with_no_later_badge(
    app, client, runner, day
):
    """A retired kit scanned first is refused there and then: it does not wait at the station
    to refuse the next badge (an offline queue would lose that person's own pair)."""
    with app.app_context(), app.test_request_context():
        set_condition(cli_actor(), kit_by_code("KIT-002"), KitCondition.RETIRED)
        db.session.commit()
    door = Station(client, _token(runner))
    retired = door.scan(day["kits"]["KIT-002"])
    assert retired["outcome"] == "kit_unavailable"
    assert retired["message"] == "KIT-002 is retired and is not handed out. Take another kit."
    badge = door.scan(day["kofi"])
    assert badge["outcome"] == "checked_in"
    out = door.scan(day["kits"]["KIT-003"])
    assert out["outcome"] == "kit_handed_out"
    assert out["message"].startswith("KIT-003 → Kofi Mensah")


def test_a_station_of_one_workshop_refuses_a_badge_of_another_and_pairs_no_kit(
    app, client, runner, day
):
    """The station sends its workshop: a badge of another workshop is refused there even
    when no session is chosen, and a kit scanned next waits instead of going to that person."""
    make_workshop(app, slug="dakar", title="Dakar Robotique")
    _session(app, "dakar", "Atelier", utcnow() - timedelta(minutes=10))
    (stranger,) = add_people(app, "dakar", "Zed Other")
    door = Station(client, _token(runner))
    assert door.scan(day["kofi"], workshop="nairobi")["outcome"] == "checked_in"
    # Kofi's badge waits for a kit; then a stranger's badge: Kofi's pair is over.
    refused = door.scan(_badge(app, stranger), workshop="nairobi")
    assert refused["outcome"] == "wrong_workshop"
    assert refused["message"] == "Zed Other is registered for another workshop (Dakar Robotique)."
    assert door.scan(day["kits"]["KIT-001"], workshop="nairobi")["outcome"] == "kit_waiting"
    assert _open_handouts(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1  # Kofi's
    # The workshop's own people still pair; an unknown workshop is a clear 422.
    assert door.scan(day["amina"], workshop="nairobi")["outcome"] == "kit_handed_out"
    response = client.post(
        "/api/v1/scans",
        json={"code": day["kofi"], "workshop": "nowhere"},
        headers=door.headers,
    )
    assert response.status_code == 422
    assert "nowhere" in response.json["error"]


def test_a_kit_alone_starts_its_return_and_the_checklist_records_a_missing_sensor(
    app, client, runner, day
):
    headers = _token(runner)
    door = Station(client, headers)
    door.scan(day["amina"])
    door.scan(day["kits"]["KIT-001"])
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
    door.scan(day["kofi"])
    out = door.scan(day["kits"]["KIT-002"])
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


def test_undo_takes_back_a_handout_and_a_waiting_kit(app, client, runner, day):
    headers = _token(runner)
    door = Station(client, headers)
    door.scan(day["amina"])
    out = door.scan(day["kits"]["KIT-001"])
    undone = client.post(
        "/api/v1/scans/undo", json={"client_id": out["client_id"]}, headers=headers
    )
    assert undone.status_code == 200 and undone.json["undone"] is True
    assert _open_handouts(app) == []
    with app.app_context():
        assert kit_by_code("KIT-001").status.value == "ready"
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1  # kept

    # Kit then badge: undoing the badge takes back the handout and the check-in it made.
    door.scan(day["kits"]["KIT-002"])
    both = door.scan(day["kofi"])
    assert both["outcome"] == "kit_handed_out"
    client.post("/api/v1/scans/undo", json={"client_id": both["client_id"]}, headers=headers)
    assert _open_handouts(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1

    # A kit scanned by mistake and undone no longer pairs with the next badge.
    wrong = door.scan(day["kits"]["KIT-003"])
    client.post("/api/v1/scans/undo", json={"client_id": wrong["client_id"]}, headers=headers)
    assert door.scan(day["kofi"])["outcome"] == "checked_in"
    assert _open_handouts(app) == []


def test_handout_messages_speak_the_scanners_language(app, client, runner, day):
    headers = {**_token(runner), "Accept-Language": "fr"}
    door = Station(client, headers)
    assert door.scan(day["kits"]["KIT-001"])["message"] == (
        "KIT-001 : scannez maintenant le badge du participant."
    )
    out = door.scan(day["amina"])
    assert out["message"].startswith("KIT-001 → Amina Yusuf, à rendre à ")


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
    assert kiosk.scan(day["kits"]["KIT-001"])["outcome"] == "kit_label"
    assert _open_handouts(app) == []
    returned = trainer.post(
        f"/api/v1/kits/{'x' * 32}/return", json={}, headers={"X-CSRFToken": token}
    )
    assert returned.status_code == 403


def _race(app, headers: list[dict[str, str]], badges: list[str], kit: str) -> list[dict]:
    """Each station has scanned its own person's badge; then all scan ``kit`` at once."""
    stations = [
        Station(app.test_client(), header, f"station-{n}") for n, header in enumerate(headers)
    ]
    for station, badge in zip(stations, badges, strict=True):
        assert station.scan(badge)["outcome"] == "checked_in"
    start = threading.Barrier(len(stations))
    answers: list[dict] = []
    errors: list[BaseException] = []

    def scan(station: Station) -> None:
        try:
            start.wait()
            answers.append(station.scan(kit))
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
