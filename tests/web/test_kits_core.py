"""The kits service layer: types, bulk codes, handout rules, returns with incidents, races."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.kits.services import (
    ComponentLine,
    KitError,
    KitNotOut,
    KitUnavailable,
    NeedsConfirmation,
    create_kit_type,
    create_kits,
    hand_out,
    kit_by_code,
    kit_history,
    kits_held_by,
    kits_needing_attention,
    list_kits,
    overdue_handouts,
    resolve_incident,
    restock_list,
    return_kit,
)
from kitmanager.models import KitHandout, KitStatus, Participant, utcnow
from tests.web.helpers import add_people, make_workshop
from tests.web.test_checkin import _session
from tests.web.test_postgres import pg_app, postgres_url  # noqa: F401  (fixtures)

BOM = [
    ComponentLine("Arduino Nano", 1),
    ComponentLine("Ultrasonic sensor HC-SR04", 1),
    ComponentLine("Jumper wires", 20, must_return=False),
]


def _setup(app, count: int = 3, people: tuple[str, ...] = ("Amina Yusuf", "Kofi Mensah")):
    make_workshop(app)
    _session(app, "nairobi", "Session 1", utcnow() - timedelta(minutes=20), hours=2)
    ids = add_people(app, "nairobi", *people)
    with app.app_context(), app.test_request_context():
        kit_type = create_kit_type(cli_actor(), "Line-follower kit v2", BOM)
        codes = [kit.code for kit in create_kits(cli_actor(), kit_type, count)]
        db.session.commit()
    return ids, codes


def test_bulk_kits_are_numbered_on_from_the_highest_code(app):
    _, codes = _setup(app, count=3)
    assert codes == ["KIT-001", "KIT-002", "KIT-003"]
    with app.app_context(), app.test_request_context():
        kit_type = kit_by_code("kit-001").kit_type
        more = [kit.code for kit in create_kits(cli_actor(), kit_type, 2)]
        assert more == ["KIT-004", "KIT-005"]
        with pytest.raises(KitError, match="between 1 and 500"):
            create_kits(cli_actor(), kit_type, 3000)
        with pytest.raises(KitError, match="already exists"):
            create_kit_type(cli_actor(), "line-follower KIT v2", BOM)
        with pytest.raises(KitError, match="listed twice"):
            create_kit_type(cli_actor(), "Other", [ComponentLine("LED"), ComponentLine("led")])


def test_a_handout_is_due_at_the_end_of_the_running_session_and_a_return_closes_it(app):
    (amina, _kofi), _ = _setup(app)
    with app.app_context(), app.test_request_context():
        kit = kit_by_code("KIT-001")
        person = db.session.get(Participant, amina)
        handout = hand_out(cli_actor(), kit, person, station="door")
        db.session.commit()
        assert kit.status == KitStatus.OUT
        session_end = person.workshop.sessions[0].ends_at
        assert handout.due_at == session_end
        assert [h.kit.code for h in kits_held_by(person)] == ["KIT-001"]
        assert [k.code for k in list_kits(KitStatus.OUT)] == ["KIT-001"]
        assert [k.code for k in list_kits(KitStatus.READY)] == ["KIT-002", "KIT-003"]
        assert overdue_handouts(session_end + timedelta(minutes=1))[0].kit.code == "KIT-001"

        result = return_kit(cli_actor(), kit)
        db.session.commit()
        assert result.incident is None and kit.status == KitStatus.READY
        with pytest.raises(KitNotOut, match="KIT-001 is not out"):
            return_kit(cli_actor(), kit)


def test_one_kit_each_attention_and_failed_checks_ask_for_confirmation(app):
    (amina, kofi), _ = _setup(app)
    with app.app_context(), app.test_request_context():
        first, second, third = (kit_by_code(f"KIT-00{n}") for n in (1, 2, 3))
        person = db.session.get(Participant, amina)
        hand_out(cli_actor(), first, person)
        with pytest.raises(NeedsConfirmation, match="Amina Yusuf already holds KIT-001"):
            hand_out(cli_actor(), second, person)
        hand_out(cli_actor(), second, person, confirmed=True)
        assert sorted(h.kit.code for h in kits_held_by(person)) == ["KIT-001", "KIT-002"]

        other = db.session.get(Participant, kofi)
        with pytest.raises(KitUnavailable, match="KIT-001 is already out with Amina Yusuf"):
            hand_out(cli_actor(), first, other, confirmed=True)
        third.last_check_ok = False
        third.last_check_detail = "motor driver did not answer"
        with pytest.raises(NeedsConfirmation, match="motor driver did not answer"):
            hand_out(cli_actor(), third, other)


def test_a_return_with_a_missing_sensor_opens_an_incident_and_the_restock_list_sums_it(app):
    (amina, kofi), _ = _setup(app)
    with app.app_context(), app.test_request_context():
        components = {c.name: c.id for c in kit_by_code("KIT-001").kit_type.components}
        sensor, wires = components["Ultrasonic sensor HC-SR04"], components["Jumper wires"]
        for code, person in (("KIT-001", amina), ("KIT-002", kofi)):
            hand_out(cli_actor(), kit_by_code(code), db.session.get(Participant, person))
        one = return_kit(cli_actor(), kit_by_code("KIT-001"), missing={sensor: 1})
        two = return_kit(cli_actor(), kit_by_code("KIT-002"), missing={wires: 5})
        db.session.commit()
        assert one.condition.value == "needs_attention"  # a part that must come back
        assert two.condition.value == "ready"  # consumables used up
        lines = {(line.component, line.missing) for line in restock_list()}
        assert lines == {("Ultrasonic sensor HC-SR04", 1), ("Jumper wires", 5)}
        assert [k.code for k in kits_needing_attention()] == ["KIT-001"]
        history = kit_history(kit_by_code("KIT-001"))
        assert [entry.kind for entry in history] == ["incident", "return", "handout"]
        assert "1 × Ultrasonic sensor HC-SR04 missing" in history[0].summary

        resolve_incident(cli_actor(), one.incident, "spare sensor fitted")
        db.session.commit()
        assert kit_by_code("KIT-001").status == KitStatus.READY
        assert {line.component for line in restock_list()} == {"Jumper wires"}
        with pytest.raises(KitError, match="cannot add up"):
            hand_out(
                cli_actor(),
                kit_by_code("KIT-003"),
                db.session.get(Participant, amina),
                confirmed=True,
            )
            return_kit(
                cli_actor(), kit_by_code("KIT-003"), missing={sensor: 1}, damaged={sensor: 1}
            )


def _race(app, kit_code: str, people: list[int]) -> list[str]:
    start = threading.Barrier(len(people))
    answers: list[str] = []
    errors: list[BaseException] = []

    def give(person: int) -> None:
        try:
            with app.app_context(), app.test_request_context():
                kit = kit_by_code(kit_code)
                participant = db.session.get(Participant, person)
                start.wait()
                try:
                    hand_out(cli_actor(), kit, participant, confirmed=True)
                    db.session.commit()
                    answers.append("out")
                except KitUnavailable as refused:
                    db.session.rollback()
                    answers.append(str(refused))
        except BaseException as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=give, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return answers


def test_two_stations_handing_out_one_kit_at_once_one_wins_on_sqlite(app):
    people, _ = _setup(app, people=tuple(f"Person {n}" for n in range(8)))
    answers = _race(app, "KIT-001", people)
    assert answers.count("out") == 1
    assert all("KIT-001" in answer for answer in answers if answer != "out")
    with app.app_context():
        assert len(db.session.scalars(select(KitHandout)).all()) == 1


def test_two_stations_handing_out_one_kit_at_once_one_wins_on_postgresql(pg_app):  # noqa: F811
    people, _ = _setup(pg_app, people=tuple(f"Person {n}" for n in range(8)))
    answers = _race(pg_app, "KIT-001", people)
    assert answers.count("out") == 1
    assert all("KIT-001" in answer for answer in answers if answer != "out")
    with pg_app.app_context():
        assert len(db.session.scalars(select(KitHandout)).all()) == 1


def test_a_station_pairs_a_badge_and_a_kit_scanned_within_a_minute(app):
    from kitmanager.kits.services import forget_scan, remember_scan, scan_partner

    now = utcnow()
    with app.app_context():
        remember_scan("door", "badge", 7, now)
        assert scan_partner("door", "badge", now + timedelta(seconds=59)) == 7
        assert scan_partner("door", "kit", now + timedelta(seconds=5)) is None
        assert scan_partner("hall", "badge", now + timedelta(seconds=5)) is None
        assert scan_partner("door", "badge", now + timedelta(seconds=61)) is None
        remember_scan("door", "kit", 3, now + timedelta(seconds=2))  # replaces the badge
        assert scan_partner("door", "badge", now + timedelta(seconds=3)) is None
        assert scan_partner("door", "kit", now + timedelta(seconds=3)) == 3
        forget_scan("door")
        assert scan_partner("door", "kit", now + timedelta(seconds=3)) is None
        db.session.commit()
