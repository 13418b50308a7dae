"""The kit pages through the Flask test client: kit types and their bill of materials, the kits
list, a kit's record, ``/k/<token>`` (public and staff), two-scan handouts on a trainer's phone,
checklist returns, and the lists a trainer keeps an eye on."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.kits.services import (
    ComponentLine,
    create_kit_type,
    create_kits,
    hand_out,
    kit_by_code,
    phone_station,
    remember_scan,
)
from kitmanager.models import (
    AuditEvent,
    Kit,
    KitHandout,
    KitIncident,
    KitType,
    Participant,
    StationScan,
    User,
    utcnow,
)
from kitmanager.workshops.services import utc_to_local
from tests.web.conftest import csrf_token, login
from tests.web.helpers import add_people, make_workshop
from tests.web.test_checkin import _session
from tests.web.test_postgres import pg_app, postgres_url  # noqa: F401  (fixtures)

BOM = [
    ComponentLine("Arduino Nano", 1),
    ComponentLine("Ultrasonic sensor HC-SR04", 1),
    ComponentLine("Jumper wires", 20, must_return=False),
]


@pytest.fixture
def kits(app):
    """A Nairobi workshop with a session running now, Amina (team Lions) and Kofi, and three
    kits of one type."""
    make_workshop(app)
    _session(app, "nairobi", "Session 1", utcnow() - timedelta(minutes=20), hours=2)
    amina, kofi = add_people(app, "nairobi", "Amina Yusuf", "Kofi Mensah")
    with app.app_context(), app.test_request_context():
        db.session.get(Participant, amina).team = _team(app, "Lions")
        kit_type = create_kit_type(cli_actor(), "Line-follower kit v2", BOM)
        created = create_kits(cli_actor(), kit_type, 3)
        db.session.commit()
        return {
            "amina": amina,
            "kofi": kofi,
            "type": kit_type.id,
            "tokens": {kit.code: kit.label_token for kit in created},
            "components": {c.name: c.id for c in kit_type.components},
        }


def _team(app, name: str):
    from kitmanager.participants.services import get_or_create_team
    from kitmanager.workshops.services import get_workshop

    return get_or_create_team(get_workshop("nairobi"), name)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _post(client, form_url: str, action: str, **fields):
    """POST ``fields`` to ``action`` with the CSRF token of the form on ``form_url``."""
    return client.post(action, data={"csrf_token": csrf_token(client, form_url), **fields})


def _badge(app, participant_id: int) -> str:
    with app.app_context():
        return db.session.get(Participant, participant_id).badge_token


def _open_handout(app, code: str) -> KitHandout | None:
    with app.app_context():
        return kit_by_code(code).open_handout


def _hand_out(app, code: str, participant_id: int, **kwargs) -> None:
    with app.app_context(), app.test_request_context():
        hand_out(
            cli_actor(), kit_by_code(code), db.session.get(Participant, participant_id), **kwargs
        )
        db.session.commit()


def test_adding_kits_in_bulk_twice_from_the_same_page_adds_them_once(trainer, app, kits):
    """A double tap on "Add these kits" (or a reload that sends the form again) must not number
    30 more boxes: the form carries the highest number it was made with."""
    page = _text(trainer.get("/kits/"))
    form = {
        "many-csrf_token": re.search(r'name="many-csrf_token"[^>]*value="([^"]+)"', page)[1],
        "many-after": re.search(r'name="many-after"[^>]*value="([^"]*)"', page)[1],
        "many-count": "30",
        "many-kit_type": str(kits["type"]),
    }
    assert form["many-after"] == "3"
    first = trainer.post("/kits/add", data=form)
    assert "30 kits added: KIT-004 to KIT-033." in _text(trainer.get(first.headers["Location"]))
    second = trainer.post("/kits/add", data=form)
    assert "Kits were added since this page was opened (up to KIT-033)" in _text(
        trainer.get(second.headers["Location"])
    )
    with app.app_context():
        assert db.session.scalar(select(func.count(Kit.id))) == 33
    # The page made after the first add adds more.
    page = _text(trainer.get("/kits/"))
    form["many-after"] = re.search(r'name="many-after"[^>]*value="([^"]*)"', page)[1]
    form["many-count"] = "2"
    again = trainer.post("/kits/add", data=form)
    assert "2 kits added: KIT-034 to KIT-035." in _text(trainer.get(again.headers["Location"]))


# ---- kit types -----------------------------------------------------------------------------


def test_a_kit_type_made_by_mistake_is_deleted_but_one_kits_use_stays(trainer, app, kits):
    made = _post(
        trainer,
        "/kits/types/new",
        "/kits/types/new",
        name="Line-folower kit v2",
        **{"components-0-name": "Arduino Nano", "components-0-quantity": "1"},
    )
    assert made.status_code == 302
    with app.app_context():
        typo_id = db.session.scalar(select(KitType.id).where(KitType.name == "Line-folower kit v2"))
    url = f"/kits/types/{typo_id}"
    assert "Delete this kit type" in _text(trainer.get(url))
    # Without the form's token nothing happens.
    assert trainer.post(url + "/delete").status_code == 400
    response = _post(trainer, url, url + "/delete")
    assert response.status_code == 302
    page = _text(trainer.get(response.headers["Location"]))
    assert "Kit type “Line-folower kit v2” deleted." in page
    assert "Line-folower" not in page.split("</h1>", 1)[1].replace("deleted", "")
    with app.app_context():
        assert db.session.get(KitType, typo_id) is None
        assert (
            db.session.scalar(
                select(AuditEvent).where(AuditEvent.action == "kit_type.delete")
            ).details["name"]
            == "Line-folower kit v2"
        )

    url = f"/kits/types/{kits['type']}"
    response = _post(trainer, url, url + "/delete")
    page = _text(trainer.get(response.headers["Location"]))
    assert "3 kit(s) are of type “Line-follower kit v2”, so it stays" in page
    with app.app_context():
        assert db.session.get(KitType, kits["type"]) is not None


def test_a_kit_type_needs_at_least_one_component_on_the_web_as_on_the_command_line(
    trainer, app, kits
):
    """A form sent with its lines left blank would make kits whose return checklist is empty."""
    response = _post(trainer, "/kits/types/new", "/kits/types/new", name="Sumo robot kit")
    assert response.status_code == 400
    assert "Give the bill of materials: at least one component" in _text(response)
    url = f"/kits/types/{kits['type']}"
    response = _post(
        trainer,
        url,
        url,
        name="Line-follower kit v2",
        **{"components-0-name": "", "components-0-quantity": "1"},
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(KitType.id))) == 1
        assert len(db.session.get(KitType, kits["type"]).components) == len(BOM)


def test_a_trainer_creates_a_kit_type_with_its_bill_of_materials_and_edits_it(trainer, app):
    page = _text(trainer.get("/kits/types/new"))
    assert 'name="components-0-name"' in page
    response = _post(
        trainer,
        "/kits/types/new",
        "/kits/types/new",
        name="Sumo robot kit",
        description="For the Saturday contest",
        **{
            "components-0-name": "Motor driver",
            "components-0-quantity": "1",
            "components-0-must_return": "y",
            "components-1-name": "AA battery",
            "components-1-quantity": "4",
            # must_return left unticked: batteries need not come back
            "components-2-name": "",
            "components-2-quantity": "",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        kit_type = db.session.scalar(select(KitType).where(KitType.name == "Sumo robot kit"))
        assert [(c.name, c.quantity, c.must_return) for c in kit_type.components] == [
            ("Motor driver", 1, True),
            ("AA battery", 4, False),
        ]
        type_id = kit_type.id
    listing = _text(trainer.get("/kits/types/"))
    assert "Sumo robot kit" in listing and "4 × AA battery" in listing

    # The edit page shows the lines and blank ones; "More lines" adds lines without saving.
    url = f"/kits/types/{type_id}"
    page = _text(trainer.get(url))
    assert 'value="Motor driver"' in page and 'name="components-2-name"' in page
    more = _post(
        trainer,
        url,
        url,
        name="Sumo robot kit",
        more="1",
        **{"components-0-name": "Motor driver", "components-0-quantity": "1"},
    )
    assert more.status_code == 200 and 'name="components-3-name"' in _text(more)
    with app.app_context():
        assert len(db.session.get(KitType, type_id).components) == 2

    # Emptying a line's name removes it; a new line is added; the name changes.
    response = _post(
        trainer,
        url,
        url,
        name="Sumo robot kit v2",
        **{
            "components-0-name": "",
            "components-0-quantity": "1",
            "components-1-name": "AA battery",
            "components-1-quantity": "6",
            "components-2-name": "Ultrasonic sensor",
            "components-2-quantity": "2",
            "components-2-must_return": "y",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        kit_type = db.session.get(KitType, type_id)
        assert kit_type.name == "Sumo robot kit v2"
        assert [(c.name, c.quantity, c.must_return) for c in kit_type.components] == [
            ("AA battery", 6, False),
            ("Ultrasonic sensor", 2, True),
        ]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ({"components-1-quantity": "lots"}, "Not a valid integer value"),
        ({"components-1-quantity": "0"}, "Number must be between 1 and 1000"),
        ({"components-1-quantity": "1001"}, "Number must be between 1 and 1000"),
        ({"components-1-quantity": ""}, "How many are in each kit?"),
        ({"components-1-name": "motor DRIVER"}, "This component is listed twice."),
        ({"components-1-name": "x" * 121}, "Field cannot be longer than 120 characters."),
    ],
)
def test_a_bad_bill_of_materials_line_is_an_error_on_that_line(trainer, app, line, error):
    fields = {
        "name": "Sumo robot kit",
        "components-0-name": "Motor driver",
        "components-0-quantity": "1",
        "components-1-name": "AA battery",
        "components-1-quantity": "4",
        **line,
    }
    response = _post(trainer, "/kits/types/new", "/kits/types/new", **fields)
    assert response.status_code == 400
    page = _text(response)
    # The message sits in the field block of line 2, next to what the trainer typed.
    blocks = re.findall(r'<div class="field has-error">(.*?)</div>', page, re.S)
    assert any("components-1-" in block and error in block for block in blocks), blocks
    with app.app_context():
        assert db.session.scalar(select(KitType)) is None


def test_a_kit_type_name_taken_is_a_message_on_the_name(trainer, kits):
    response = _post(
        trainer,
        "/kits/types/new",
        "/kits/types/new",
        name="line-follower KIT v2",
        **{"components-0-name": "Motor", "components-0-quantity": "1"},
    )
    assert response.status_code == 400
    assert "A kit type named" in _text(response)


def test_a_volunteer_hands_out_and_takes_back_but_cannot_manage_kits(volunteer, app, kits):
    for url in ("/kits/", "/kits/types/", "/kits/types/new", f"/kits/types/{kits['type']}"):
        assert volunteer.get(url).status_code == 403, url
    for url in ("/kits/out", "/kits/attention", "/kits/restock", "/kits/1"):
        assert volunteer.get(url).status_code == 403, url
    token = csrf_token(volunteer, "/k/" + kits["tokens"]["KIT-001"])
    assert (
        volunteer.post(
            "/kits/types/new",
            data={"csrf_token": token, "name": "X", "components-0-name": "Y"},
        ).status_code
        == 403
    )
    assert volunteer.post("/kits/1/condition", data={"csrf_token": token}).status_code == 403
    assert 'href="/kits/"' not in _text(volunteer.get("/workshops/"))

    kit_url = "/k/" + kits["tokens"]["KIT-001"]
    response = _post(volunteer, kit_url, kit_url + "/hand-out", participant=str(kits["kofi"]))
    assert response.status_code == 302
    assert _open_handout(app, "KIT-001").participant_id == kits["kofi"]
    response = _post(volunteer, kit_url, kit_url + "/return", **_all_ticked(kits))
    assert response.status_code == 302
    assert _open_handout(app, "KIT-001") is None


def _all_ticked(kits) -> dict[str, object]:
    """The return checklist as it comes: every component listed and ticked."""
    ids = list(kits["components"].values())
    return {"listed": [str(i) for i in ids], **{f"back-{i}": "1" for i in ids}}


# ---- the kits list and a kit's record --------------------------------------------------------


def test_the_kits_list_filters_by_status_and_type_and_adds_kits(trainer, app, kits):
    _hand_out(app, "KIT-002", kits["amina"])
    with app.app_context(), app.test_request_context():
        other = create_kit_type(cli_actor(), "Drone kit", [ComponentLine("Propeller", 4)])
        db.session.commit()
        other_id = other.id
    page = _text(trainer.get("/kits/"))
    assert all(f'id="kit-KIT-00{n}"' in page for n in (1, 2, 3))
    row = re.search(r'<tr id="kit-KIT-002">(.*?)</tr>', page, re.S).group(1)
    assert "out" in row and "Amina Yusuf" in row and "Lions" not in row
    with app.app_context():
        due = utc_to_local(kit_by_code("KIT-002").open_handout.due_at, "Africa/Nairobi")
    assert due.strftime("%H:%M") in row

    out = _text(trainer.get("/kits/?status=out"))
    assert 'id="kit-KIT-002"' in out and 'id="kit-KIT-001"' not in out
    ready = _text(trainer.get("/kits/?status=ready"))
    assert 'id="kit-KIT-001"' in ready and 'id="kit-KIT-002"' not in ready
    assert "No kit matches." in _text(trainer.get(f"/kits/?type={other_id}"))
    # A made-up status or type shows every kit rather than an error.
    assert trainer.get("/kits/?status=lost&type=abc").status_code == 200

    # "Add N kits of this type", then one kit by its printed code.
    response = _post(
        trainer, "/kits/", "/kits/add", **{"many-count": "2", "many-kit_type": str(other_id)}
    )
    assert response.status_code == 302
    follow = _text(trainer.get(response.headers["Location"]))
    assert "2 kits added: KIT-004 to KIT-005." in follow
    assert 'id="kit-KIT-004"' in follow and 'id="kit-KIT-001"' not in follow
    response = _post(
        trainer, "/kits/", "/kits/add-one", **{"one-code": "sumo-9", "one-kit_type": str(other_id)}
    )
    assert response.status_code == 302
    with app.app_context():
        assert kit_by_code("SUMO-9").kit_type.name == "Drone kit"

    # Mistakes are messages: a count out of range, a code already taken.
    response = _post(
        trainer, "/kits/", "/kits/add", **{"many-count": "5000", "many-kit_type": str(other_id)}
    )
    assert "Number must be between 1 and 500" in _text(trainer.get(response.headers["Location"]))
    response = _post(
        trainer, "/kits/", "/kits/add-one", **{"one-code": "KIT-001", "one-kit_type": str(other_id)}
    )
    assert "There is already a kit KIT-001." in _text(trainer.get(response.headers["Location"]))


def test_a_kits_record_takes_notes_and_the_board_by_hand(trainer, app, kits):
    with app.app_context():
        kit_id = kit_by_code("KIT-001").id
        other_id = kit_by_code("KIT-002").id
    url = f"/kits/{kit_id}"
    board = {
        "notes": "Wheel glued back",
        "board_family": "avr",
        "board_serial": "A9X3K2",
        "board_fingerprint": "",
        "firmware_name": "line-follower",
        "firmware_version": "2.1.0",
    }
    assert _post(trainer, url, url, **board).status_code == 302
    with app.app_context():
        kit = kit_by_code("KIT-001")
        assert (kit.notes, kit.board_serial, kit.board_fingerprint, kit.firmware_version) == (
            "Wheel glued back",
            "A9X3K2",
            None,
            "2.1.0",
        )
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "kit.update"))
    page = _text(trainer.get(url))
    assert 'value="A9X3K2"' in page and "Wheel glued back" in page

    # The same board on a second kit is refused, with what to do.
    response = _post(trainer, f"/kits/{other_id}", f"/kits/{other_id}", board_serial="A9X3K2")
    assert response.status_code == 400
    assert "KIT-001 already has this board" in _text(response)
    # A board named as trainers know it is kept as its family, as the import does; a name the
    # board tools do not know is refused with the ones they do.
    assert _post(trainer, url, url, **{**board, "board_family": "ESP32"}).status_code == 302
    with app.app_context():
        assert kit_by_code("KIT-001").board_family == "esp"
    response = _post(trainer, url, url, **{**board, "board_family": "arduino"})
    assert response.status_code == 400
    assert "Unknown board family “arduino”: use one of avr, micropython, esp" in _text(response)
    with app.app_context():
        assert kit_by_code("KIT-001").board_family == "esp"
    # A field longer than its column is an error on the field.
    response = _post(trainer, url, url, board_family="x" * 41)
    assert response.status_code == 400 and "longer than 40" in _text(response)


def test_a_trainer_marks_a_kit_needing_attention_ready_and_retires_it(trainer, app, kits):
    with app.app_context():
        kit_id = kit_by_code("KIT-001").id
    url = f"/kits/{kit_id}"
    action = f"{url}/condition"
    _post(trainer, url, action, condition="needs_attention", note="Loose wheel")
    page = _text(trainer.get(url))
    assert "KIT-001 status: needs attention." in page and "Loose wheel" in page
    assert "KIT-001" in _text(trainer.get("/kits/attention"))
    _post(trainer, url, action, condition="ready")
    assert "KIT-001 status: ready." in _text(trainer.get(url))
    _hand_out(app, "KIT-001", kits["kofi"])
    _post(trainer, url, action, condition="retired")
    assert "take it back before retiring it" in _text(trainer.get(url))
    _post(
        trainer,
        "/k/" + kits["tokens"]["KIT-001"],
        "/k/" + kits["tokens"]["KIT-001"] + "/return",
        **_all_ticked(kits),
    )
    _post(trainer, url, action, condition="retired")
    page = _text(trainer.get("/k/" + kits["tokens"]["KIT-001"]))
    assert "This kit is retired" in page and "Hand KIT-001" not in page
    assert (
        trainer.post(
            action, data={"csrf_token": csrf_token(trainer, url), "condition": "lost"}
        ).status_code
        == 400
    )


# ---- /k/<token> ----------------------------------------------------------------------------


def test_the_public_kit_page_shows_only_the_kit_and_asks_for_it_back(client, app, kits):
    _hand_out(app, "KIT-001", kits["amina"])
    response = client.get("/k/" + kits["tokens"]["KIT-001"])
    assert response.status_code == 200
    page = _text(response)
    assert "KIT-001" in page and "Line-follower kit v2" in page
    assert "Please return it to a trainer." in page
    for secret in (
        "Amina",
        "Yusuf",
        "Lions",
        "Nairobi",
        "due",
        "Arduino",
        'name="csrf_token" value',
    ):
        assert secret not in page.split("<main", 1)[1], secret
    assert response.headers["Cache-Control"].startswith("no-store")
    assert client.get("/k/not-a-kit").status_code == 404
    # Without a login the actions are refused.
    assert client.post("/k/" + kits["tokens"]["KIT-001"] + "/return").status_code in (302, 400)
    assert _open_handout(app, "KIT-001") is not None


def test_returning_with_the_checklist_opens_an_incident_and_the_restock_list_shows_it(
    volunteer, app, kits
):
    _hand_out(app, "KIT-001", kits["amina"])
    url = "/k/" + kits["tokens"]["KIT-001"]
    page = _text(volunteer.get(url))
    assert "Amina Yusuf" in page
    # Every component with its quantity, all ticked.
    for name, component_id in kits["components"].items():
        assert re.search(rf'name="back-{component_id}" value="1" checked', page), name
    assert "20 × Jumper wires" in page

    fields = _all_ticked(kits)
    sensor = kits["components"]["Ultrasonic sensor HC-SR04"]
    wires = kits["components"]["Jumper wires"]
    del fields[f"back-{sensor}"]  # unticked: gone
    fields[f"missing-{wires}"] = "5"
    fields["note"] = "Sensor lost at the contest"
    response = _post(volunteer, url, url + "/return", **fields)
    assert response.status_code == 302
    page = _text(volunteer.get(url))
    assert "KIT-001 is back with something missing or damaged" in page
    assert "1 × Ultrasonic sensor HC-SR04 missing" in page
    # The status reads as a status, not as "it is needs attention".
    assert "; status: needs attention." in page
    assert _open_handout(app, "KIT-001") is None
    with app.app_context():
        incident = db.session.scalar(select(KitIncident))
        assert {(i.component_name, i.missing) for i in incident.items} == {
            ("Ultrasonic sensor HC-SR04", 1),
            ("Jumper wires", 5),
        }
        assert incident.note == "Sensor lost at the contest"

    client = app.test_client()
    login(client, "tom")
    restock = _text(client.get("/kits/restock"))
    row = re.search(
        r"<tr>\s*<td class=\"name\">Ultrasonic sensor HC-SR04</td>(.*?)</tr>", restock, re.S
    )
    assert row and "1 missing" in row.group(1)
    assert "Jumper wires" in restock
    attention = _text(client.get("/kits/attention"))
    assert "KIT-001" in attention and "Incident: 1 × Ultrasonic sensor HC-SR04 missing" in attention

    # Handing it out again asks first, and says what is missing, not only that it needs
    # attention.
    confirm = _post(volunteer, url, url + "/hand-out", participant=str(kits["kofi"])).get_data(
        as_text=True
    )
    assert "Hand out anyway" in confirm
    assert (
        "KIT-001 is marked “needs attention”: 1 × Ultrasonic sensor HC-SR04 missing, "
        "5 × Jumper wires missing." in confirm
    )
    assert _open_handout(app, "KIT-001") is None


def test_a_refused_return_shows_the_checklist_as_it_was_sent(volunteer, app, kits):
    """A count that is too big is refused; the checklist must come back with the unticked
    part still unticked, or the next tap would record the kit as complete."""
    _hand_out(app, "KIT-001", kits["kofi"])
    url = "/k/" + kits["tokens"]["KIT-001"]
    nano = kits["components"]["Arduino Nano"]
    sensor = kits["components"]["Ultrasonic sensor HC-SR04"]
    fields = _all_ticked(kits)
    del fields[f"back-{sensor}"]
    fields[f"missing-{nano}"] = "3"
    fields["note"] = "Sensor lost"
    response = _post(volunteer, url, url + "/return", **fields)
    assert response.status_code == 400
    page = _text(response)
    assert "KIT-001 has 1 × Arduino Nano: missing and damaged cannot add up to more." in page
    assert re.search(rf'name="back-{sensor}" value="1">', page)  # still unticked
    assert re.search(rf'name="back-{nano}" value="1" checked>', page)
    assert re.search(rf'name="missing-{nano}"[^>]*value="3"', page)
    assert 'value="Sensor lost"' in page
    assert _open_handout(app, "KIT-001") is not None


def test_a_component_added_while_the_kit_was_out_is_not_taken_as_missing(volunteer, app, kits):
    _hand_out(app, "KIT-001", kits["kofi"])
    url = "/k/" + kits["tokens"]["KIT-001"]
    checklist = _all_ticked(kits)  # the page as the volunteer opened it
    assert 'name="listed"' in _text(volunteer.get(url))
    with app.app_context(), app.test_request_context():
        from kitmanager.kits.services import update_kit_type

        kit_type = db.session.get(KitType, kits["type"])
        update_kit_type(cli_actor(), kit_type, kit_type.name, [*BOM, ComponentLine("Buzzer", 1)])
        db.session.commit()
    response = _post(volunteer, url, url + "/return", **checklist)
    assert response.status_code == 302
    assert "KIT-001 is back, complete, and ready." in _text(volunteer.get(url))
    with app.app_context():
        assert db.session.scalar(select(KitIncident)) is None


def test_a_bad_count_or_a_kit_not_out_is_a_message_not_an_error(volunteer, app, kits):
    url = "/k/" + kits["tokens"]["KIT-002"]
    response = _post(volunteer, url, url + "/return", **_all_ticked(kits))
    assert response.status_code == 302
    page = _text(volunteer.get(response.headers["Location"]))
    assert "KIT-002 is not out, so there is nothing to return." in page

    _hand_out(app, "KIT-002", kits["kofi"])
    sensor = kits["components"]["Ultrasonic sensor HC-SR04"]
    for bad in ("two", "-1", "3"):
        response = _post(volunteer, url, url + "/return", **{f"missing-{sensor}": bad})
        assert response.status_code == 400
        assert 'class="flash flash-error"' in _text(response), bad
        assert _open_handout(app, "KIT-002") is not None, bad


def test_a_kit_is_handed_to_someone_found_by_name(volunteer, app, kits):
    url = "/k/" + kits["tokens"]["KIT-001"]
    page = _text(volunteer.get(url + "?q=amina"))
    assert "Hand to Amina Yusuf" in page and "Kofi" not in page
    assert "Nobody matches" in _text(volunteer.get(url + "?q=zzz"))
    # Every write needs the form's CSRF token.
    forged = volunteer.post(url + "/hand-out", data={"participant": str(kits["amina"])})
    assert forged.status_code == 400 and _open_handout(app, "KIT-001") is None
    response = _post(volunteer, url, url + "/hand-out", participant=str(kits["amina"]))
    assert response.status_code == 302
    page = _text(volunteer.get(url))
    assert "KIT-001 handed to Amina Yusuf, due back" in page
    handout = _open_handout(app, "KIT-001")
    assert handout.participant_id == kits["amina"] and handout.due_at is not None

    # A second tap on the same button says it is done; nothing changes.
    response = _post(volunteer, url, url + "/hand-out", participant=str(kits["amina"]))
    again = _text(volunteer.get(response.headers["Location"]))
    assert "KIT-001 is already with Amina Yusuf." in again and "flash-error" not in again
    # The same kit to someone else: a clear message, not a second handout.
    response = _post(volunteer, url, url + "/hand-out", participant=str(kits["kofi"]))
    assert "KIT-001 is already out with Amina Yusuf" in _text(
        volunteer.get(response.headers["Location"])
    )
    assert _open_handout(app, "KIT-001").participant_id == kits["amina"]


def test_a_handout_that_needs_thought_asks_for_confirmation_with_the_reasons(volunteer, app, kits):
    _hand_out(app, "KIT-001", kits["amina"])
    url = "/k/" + kits["tokens"]["KIT-002"]
    response = _post(volunteer, url, url + "/hand-out", participant=str(kits["amina"]))
    assert response.status_code == 200
    page = _text(response)
    assert "Amina Yusuf already holds KIT-001." in page and "Hand out anyway" in page
    assert _open_handout(app, "KIT-002") is None
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = volunteer.post(
        url + "/hand-out",
        data={"csrf_token": token, "participant": str(kits["amina"]), "confirmed": "1"},
    )
    assert response.status_code == 302
    assert _open_handout(app, "KIT-002").participant_id == kits["amina"]


# ---- two scans on a trainer's phone --------------------------------------------------------


def _station_of(app, username: str) -> str:
    with app.app_context():
        return phone_station(db.session.scalar(select(User.id).where(User.username == username)))


def test_badge_then_kit_on_a_phone_offers_the_handout_in_one_tap(volunteer, app, kits):
    badge = _badge(app, kits["amina"])
    page = _text(volunteer.get(f"/b/{badge}"))
    assert "Scan a kit label now to hand it out." in page
    url = "/k/" + kits["tokens"]["KIT-003"]
    page = _text(volunteer.get(url))
    assert "Hand KIT-003 to Amina Yusuf" in page
    assert "Hand KIT-003 to team Lions" in page
    response = _post(volunteer, url, url + "/hand-out", participant=str(kits["amina"]), to_team="1")
    assert response.status_code == 302
    handout = _open_handout(app, "KIT-003")
    assert handout.participant_id == kits["amina"] and handout.team_id is not None
    # The pairing is used up: the next kit scanned asks for a badge again.
    page = _text(volunteer.get("/k/" + kits["tokens"]["KIT-001"]))
    assert "Hand KIT-001 to" not in page and "Scan the participant's badge now" in page
    # The participant's page, logged in or not, shows the kit they (their team) hold.
    page = _text(volunteer.get(f"/b/{badge}"))
    assert "KIT-003" in page and "Line-follower kit v2" in page


def test_kit_then_badge_on_a_phone_offers_the_handout_on_the_badge_page(volunteer, app, kits):
    url = "/k/" + kits["tokens"]["KIT-002"]
    assert "Scan the participant's badge now" in _text(volunteer.get(url))
    badge = _badge(app, kits["kofi"])
    page = _text(volunteer.get(f"/b/{badge}"))
    assert "Hand KIT-002 to Kofi Mensah" in page and "to team" not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = volunteer.post(
        url + "/hand-out",
        data={"csrf_token": token, "participant": str(kits["kofi"]), "back": "badge"},
    )
    assert response.headers["Location"] == f"/b/{badge}?done=1"
    page = _text(volunteer.get(f"/b/{badge}"))
    assert "KIT-002 handed to Kofi Mensah" in page
    assert _open_handout(app, "KIT-002").participant_id == kits["kofi"]


def test_the_page_shown_again_after_a_return_is_not_a_new_scan(volunteer, app, kits):
    _hand_out(app, "KIT-001", kits["kofi"])
    url = "/k/" + kits["tokens"]["KIT-001"]
    response = _post(volunteer, url, url + "/return", **_all_ticked(kits))
    assert response.headers["Location"] == url + "?done=1"
    page = _text(volunteer.get(response.headers["Location"]))
    assert "KIT-001 is back, complete, and ready." in page
    assert "Scan the participant's badge now" not in page
    # The next badge scanned checks in, without offering the kit just taken back.
    page = _text(volunteer.get(f"/b/{_badge(app, kits['amina'])}"))
    assert "Hand KIT-001" not in page and "Scan a kit label now" in page


def test_a_scan_older_than_the_workshops_window_or_on_another_phone_does_not_pair(
    client, app, kits
):
    badge = _badge(app, kits["amina"])
    url = "/k/" + kits["tokens"]["KIT-001"]
    login(client, "vera")
    client.get(f"/b/{badge}")
    with app.app_context():
        db.session.execute(
            update(StationScan)
            .where(StationScan.station == _station_of(app, "vera"))
            .values(scanned_at=utcnow() - timedelta(seconds=61))
        )
        db.session.commit()
    assert "Hand KIT-001 to" not in _text(client.get(url))

    # The workshop's own pairing window counts: 90 s pairs a badge scanned 61 s ago; 10 s
    # does not pair one scanned 20 s ago, nor a badge with a kit scanned 20 s before it.
    def scanned(kind: str, subject: int, seconds_ago: int, window: int) -> None:
        with app.app_context():
            db.session.get(Participant, kits["amina"]).workshop.pair_window_seconds = window
            when = utcnow() - timedelta(seconds=seconds_ago)
            remember_scan(_station_of(app, "vera"), kind, subject, when)
            db.session.commit()

    scanned("badge", kits["amina"], 61, window=90)
    assert "Hand KIT-001 to Amina Yusuf" in _text(client.get(url))
    scanned("badge", kits["amina"], 20, window=10)
    assert "Hand KIT-001 to" not in _text(client.get(url))
    with app.app_context():
        kit_id = kit_by_code("KIT-001").id
    scanned("kit", kit_id, 20, window=10)
    assert "Hand KIT-001" not in _text(client.get(f"/b/{badge}"))

    client.get(f"/b/{badge}")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/workshops/")})
    login(client, "tom")
    # Tom's phone did not scan Amina's badge: Vera's scan stays hers.
    assert "Hand KIT-001 to" not in _text(client.get(url))


# ---- lists ------------------------------------------------------------------------------------


def test_out_now_and_overdue_show_who_holds_what_and_when_it_is_due(trainer, app, kits):
    _hand_out(app, "KIT-001", kits["amina"])
    _hand_out(app, "KIT-002", kits["kofi"], due_at=utcnow() - timedelta(hours=1))
    page = _text(trainer.get("/kits/out"))
    overdue = page.split('id="overdue"', 1)[1].split('id="out"', 1)[0]
    assert "KIT-002" in overdue and "Kofi Mensah" in overdue and "KIT-001" not in overdue
    out = page.split('id="out"', 1)[1]
    assert "KIT-001" in out and "Amina Yusuf" in out and "KIT-002" in out
    with app.app_context():
        due = utc_to_local(kit_by_code("KIT-001").open_handout.due_at, "Africa/Nairobi")
    assert due.strftime("%H:%M") in out


def test_an_incident_is_resolved_from_the_attention_list_and_the_kit_is_ready_again(
    trainer, app, kits
):
    _hand_out(app, "KIT-001", kits["amina"])
    url = "/k/" + kits["tokens"]["KIT-001"]
    fields = _all_ticked(kits)
    del fields[f"back-{kits['components']['Arduino Nano']}"]
    _post(trainer, url, url + "/return", **fields)
    with app.app_context():
        incident_id = db.session.scalar(select(KitIncident.id))
        kit_id = kit_by_code("KIT-001").id
    history = _text(trainer.get(f"/kits/{kit_id}"))
    assert "Handed out to Amina Yusuf (team Lions)" not in history  # handed to her alone
    assert "Handed out to Amina Yusuf" in history and "Returned by Amina Yusuf" in history
    assert "1 × Arduino Nano missing" in history
    response = _post(
        trainer, "/kits/attention", f"/kits/incidents/{incident_id}/resolve", back="attention"
    )
    assert response.headers["Location"] == "/kits/attention"
    page = _text(trainer.get("/kits/attention"))
    assert "Incident on KIT-001 resolved; kit status: ready." in page
    assert "Every kit is fine." in page
    assert "Nothing to restock." in _text(trainer.get("/kits/restock"))
    assert "Resolved: 1 × Arduino Nano missing" in _text(trainer.get(f"/kits/{kit_id}"))


def test_the_attention_list_says_why_a_board_needs_a_look_and_the_handout_asks_first(
    trainer, app, kits
):
    with app.app_context():
        failing, half_flashed = kit_by_code("KIT-001"), kit_by_code("KIT-002")
        failing.last_check_ok = False
        failing.last_check_detail = "no answer from the board"
        half_flashed.needs_reflash = True
        db.session.commit()
    page = _text(trainer.get("/kits/attention"))
    assert "Board check failed: no answer from the board" in page
    assert "The board needs flashing again." in page
    assert "KIT-003" not in page
    url = "/k/" + kits["tokens"]["KIT-001"]
    response = _post(trainer, url, url + "/hand-out", participant=str(kits["kofi"]))
    assert "The last board check of KIT-001 failed: no answer from the board" in _text(response)
    assert _open_handout(app, "KIT-001") is None


def test_the_participants_own_page_shows_the_kit_they_hold_and_when_it_is_due(client, app, kits):
    _hand_out(app, "KIT-001", kits["amina"])
    page = _text(client.get(f"/b/{_badge(app, kits['amina'])}"))
    assert "KIT-001" in page and "Line-follower kit v2" in page
    with app.app_context():
        due = utc_to_local(kit_by_code("KIT-001").open_handout.due_at, "Africa/Nairobi")
    assert due.strftime("%H:%M") in page
    assert "Hand KIT" not in page and "Scan a kit label" not in page
    assert "KIT-001" not in _text(client.get(f"/b/{_badge(app, kits['kofi'])}"))


def test_the_kit_pages_are_in_french(client, app, kits):
    login(client, "tom")
    client.post(
        "/language",
        data={"csrf_token": csrf_token(client, "/kits/"), "language": "fr", "next": "/kits/"},
    )
    for url in (
        "/kits/",
        "/kits/types/",
        "/kits/types/new",
        "/kits/out",
        "/kits/attention",
        "/kits/restock",
        "/k/" + kits["tokens"]["KIT-001"],
    ):
        page = _text(client.get(url))
        assert 'lang="fr"' in page, url
    assert "Types de kits" in _text(client.get("/kits/types/"))


def test_the_kit_pages_work_on_postgresql(pg_app):  # noqa: F811
    from kitmanager.auth.services import create_user
    from tests.web.conftest import PASSWORDS

    make_workshop(pg_app)
    _session(pg_app, "nairobi", "Session 1", utcnow() - timedelta(minutes=20), hours=2)
    (eloise,) = add_people(pg_app, "nairobi", "Éloïse Diallo")
    with pg_app.app_context(), pg_app.test_request_context():
        create_user(cli_actor(), "tom", "trainer", PASSWORDS["tom"])
        kit_type = create_kit_type(cli_actor(), "Line-follower kit v2", BOM)
        kit = create_kits(cli_actor(), kit_type, 1)[0]
        db.session.commit()
        url = f"/k/{kit.label_token}"
        sensor = next(c.id for c in kit_type.components if c.name.startswith("Ultrasonic"))
        components = [c.id for c in kit_type.components]
        badge = db.session.get(Participant, eloise).badge_token
    client = pg_app.test_client()
    login(client, "tom")

    # Found by name without the accents; then the two scans.
    assert "Hand to Éloïse Diallo" in _text(client.get(url + "?q=eloise"))
    client.get(f"/b/{badge}")
    assert "Hand KIT-001 to Éloïse Diallo" in _text(client.get(url))
    assert _post(client, url, url + "/hand-out", participant=str(eloise)).status_code == 302
    assert "Éloïse Diallo" in _text(client.get("/kits/out"))
    ticked = {f"back-{i}": "1" for i in components if i != sensor}
    response = _post(client, url, url + "/return", listed=[str(i) for i in components], **ticked)
    assert response.status_code == 302
    assert "Ultrasonic sensor HC-SR04" in _text(client.get("/kits/restock"))


def test_the_kits_list_leads_to_importing_kits_and_printing_their_labels(trainer, kits):
    page = _text(trainer.get("/kits/"))
    for url in ("/kits/import", "/kits/labels"):
        assert f'href="{url}"' in page
        assert trainer.get(url).status_code == 200
