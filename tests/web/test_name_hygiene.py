"""Names of things go through the cleaning people's names get (kitmanager.text): kit types and
their parts, firmware, workshops and sessions are stored without control characters or
bidirectional overrides, and a name longer than its column is refused with the limit, never
a 500. Through the pages (Flask test client) and the command line, on a real SQLite file.
"""

from __future__ import annotations

import io

from sqlalchemy import select

from kitmanager.boards.services import BUILTIN_DIR
from kitmanager.extensions import db
from kitmanager.models import Firmware, KitComponent, KitType, Workshop, WorkshopSession
from tests.web.conftest import csrf_token
from tests.web.helpers import make_workshop, post_workshop_form

# U+202E (right-to-left override) makes what follows it read backwards: "kit v2" shows as
# "2v tik", and it runs on into whatever is printed after the name.
RLO = "\u202e"
# An escape sequence (clears a terminal screen) and a bell: control characters.
ESCAPE = "\x1b[2J"
BELL = "\x07"


def _post(client, url: str, **fields):
    return client.post(url, data={"csrf_token": csrf_token(client, url), **fields})


def _kit_type(app, name: str) -> KitType | None:
    with app.app_context():
        row = db.session.scalar(select(KitType).where(KitType.name == name))
        if row is not None:
            db.session.expunge(row)
        return row


def test_a_kit_type_and_its_parts_are_stored_without_control_or_bidi_characters(trainer, app):
    reply = _post(
        trainer,
        "/kits/types/new",
        name=f"Line-follower {RLO}kit v2",
        description=f"Two motors{BELL}\r\nand a {RLO}line sensor",
        **{
            "components-0-name": f"Arduino{ESCAPE} Nano",
            "components-0-quantity": "1",
            "components-1-name": f"Wheel{BELL}\u2066 ",
            "components-1-quantity": "2",
        },
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    kit_type = _kit_type(app, "Line-follower kit v2")
    assert kit_type is not None
    assert kit_type.description == "Two motors\nand a line sensor"
    with app.app_context():
        parts = db.session.scalars(
            select(KitComponent.name)
            .where(KitComponent.kit_type_id == kit_type.id)
            .order_by(KitComponent.position)
        ).all()
    assert parts == ["Arduino[2J Nano", "Wheel"]


def test_a_name_of_invisible_characters_only_is_no_name(trainer, app):
    reply = _post(
        trainer,
        "/kits/types/new",
        name=f"{RLO}{BELL}",
        **{"components-0-name": "Arduino Nano", "components-0-quantity": "1"},
    )
    assert reply.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(KitType)).all() == []


def test_the_command_line_cleans_kit_type_and_part_names_and_refuses_long_ones(runner, app):
    result = runner.invoke(
        args=[
            "kits", "types", "add", f"Sumo{RLO} kit",
            "--component", f"Motor{BELL} driver:2", "--component", f"{ESCAPE}Battery",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    kit_type = _kit_type(app, "Sumo kit")
    assert kit_type is not None
    with app.app_context():
        parts = db.session.scalars(
            select(KitComponent.name).where(KitComponent.kit_type_id == kit_type.id)
        ).all()
    assert sorted(parts) == ["Motor driver", "[2JBattery"]
    # the type is found by the name it is stored under, whatever was typed around it
    listing = runner.invoke(args=["kits", "list", "--type", f"sumo {RLO}KIT"])
    assert listing.exit_code == 0, listing.output

    long_name = "Robot arm " + "x" * 120  # 130 characters; the column holds 120
    result = runner.invoke(args=["kits", "types", "add", long_name, "--component", "Servo:4"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert (
        "The kit type's name is 130 characters long; the limit is 120. Shorten it." in result.output
    )
    long_part = "Servo " + "y" * 124
    result = runner.invoke(args=["kits", "types", "add", "Robot arm", "--component", long_part])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "is 130 characters long; the limit is 120. Shorten it." in result.output
    assert _kit_type(app, "Robot arm") is None


def test_a_firmware_name_version_and_notes_are_cleaned(trainer, app):
    hex_file = (BUILTIN_DIR / "kitbot-avr" / "kitbot.hex").read_bytes()
    data = {
        "csrf_token": csrf_token(trainer, "/boards/firmware"),
        "name": f"kitbot{RLO}-lab",
        "version": f"3.0{BELL}.1",
        "family": "",
        "address": "",
        "notes": f"line follower{ESCAPE}\r\nfor the {RLO}lab",
        "files": [(io.BytesIO(hex_file), "kitbot.hex")],
    }
    reply = trainer.post("/boards/firmware", data=data, content_type="multipart/form-data")
    assert reply.status_code == 302, reply.get_data(as_text=True)
    with app.app_context():
        row = db.session.scalar(select(Firmware).where(Firmware.builtin.is_(False)))
        assert (row.name, row.version) == ("kitbot-lab", "3.0.1")
        assert row.notes == "line follower[2J\nfor the lab"


def test_workshop_and_session_titles_are_cleaned(organiser, app):
    reply = post_workshop_form(
        organiser,
        "/workshops/new",
        title=f"Défi IA {RLO}Abidjan{BELL}",
        slug="defi",
        venue=f"Lycée{ESCAPE} Classique",
        badge_title=f"Défi{RLO} IA",
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    with app.app_context():
        workshop = db.session.scalar(select(Workshop).where(Workshop.slug == "defi"))
        assert (workshop.title, workshop.venue, workshop.badge_title) == (
            "Défi IA Abidjan",
            "Lycée[2J Classique",
            "Défi IA",
        )
    make_workshop(app)
    reply = _post(
        organiser,
        "/workshops/nairobi/sessions/new",
        title=f"Line{RLO} followers{BELL}",
        starts="2026-12-01T09:00",
        ends="2026-12-01T10:30",
        room=f"Lab{ESCAPE} 1",
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    with app.app_context():
        session = db.session.scalar(select(WorkshopSession))
        assert (session.title, session.room) == ("Line followers", "Lab[2J 1")


def test_the_services_clean_workshop_and_session_titles_typed_anywhere(app):
    """The command line and the API reach the services without a form: they clean too."""
    from datetime import datetime

    from kitmanager.audit import cli_actor
    from kitmanager.workshops.services import add_session, get_workshop

    make_workshop(app, "mombasa", title=f"Mombasa {RLO}Robotics{BELL}", venue=f"Hall{ESCAPE} B")
    with app.app_context():
        workshop = get_workshop("mombasa")
        assert (workshop.title, workshop.venue) == ("Mombasa Robotics", "Hall[2J B")
        add_session(
            cli_actor(),
            workshop,
            f"Day 1{RLO}",
            datetime(2026, 12, 1, 9),
            datetime(2026, 12, 1, 12),
            room=f"Lab{BELL}",
        )
        db.session.commit()
        session = db.session.scalar(
            select(WorkshopSession).where(WorkshopSession.workshop_id == workshop.id)
        )
        assert (session.title, session.room) == ("Day 1", "Lab")


def test_what_a_certificate_prints_and_a_token_name_are_cleaned(organiser, app):
    from kitmanager.models import ApiToken, CertificateRule

    make_workshop(app)
    url = "/workshops/nairobi/certificates"
    reply = _post(
        organiser,
        url,
        basis="sessions",
        min_percent="75",
        issuer=f"Robotics {RLO}Club",
        signatory_name=f"Awa{BELL} Koné",
        signatory_title=f"Director{ESCAPE}",
        layout="certificate-a4",
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    with app.app_context():
        rule = db.session.scalar(select(CertificateRule))
        assert (rule.issuer, rule.signatory_name, rule.signatory_title) == (
            "Robotics Club",
            "Awa Koné",
            "Director[2J",
        )
    too_long = _post(organiser, url, basis="sessions", issuer="x" * 500, layout="certificate-a4")
    assert too_long.status_code != 302
    with app.app_context():
        assert db.session.scalar(select(CertificateRule.issuer)) == "Robotics Club"

    reply = organiser.post(
        "/accounts/tokens/new",
        data={
            "csrf_token": csrf_token(organiser, "/accounts/"),
            "name": f"phone-{RLO}2",
            "role": "volunteer",
        },
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(ApiToken.name)).all() == ["phone-2"]


def test_invisible_characters_alone_are_no_name_and_a_zero_width_space_goes(trainer, app):
    """U+200F (a right-to-left mark) alone is no name; "Kit\u200bZW" would look like "KitZW"."""
    from kitmanager.text import clean_text

    assert clean_text(f"{RLO}\u200f{BELL}") == ""
    assert clean_text("\u200d \u200c") == ""
    assert clean_text("Kit\u200bZW\ufeff") == "KitZW"
    assert clean_text("نور\u200c") == "نور\u200c"  # a joiner inside a name stays
    reply = _post(
        trainer,
        "/kits/types/new",
        name=f"{RLO}\u200f{BELL}",
        **{"components-0-name": "Arduino Nano", "components-0-quantity": "1"},
    )
    assert reply.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(KitType)).all() == []


def test_a_phone_logins_label_is_cleaned(app):
    """The label typed for a phone joining by QR becomes its account's name on every page."""
    from kitmanager.audit import cli_actor
    from kitmanager.auth.services import create_phone_login

    with app.app_context():
        row, _secret = create_phone_login(cli_actor(), f"Porte{RLO}B{BELL}")
        assert row.label == "PorteB"
        row, _secret = create_phone_login(cli_actor(), f"{RLO}\u200b")
        assert row.label == "Volunteer phone"


def test_the_command_line_cleans_the_issuer_it_signs_into_certificates(runner, app):
    from kitmanager.models import CertificateRule

    make_workshop(app)
    runner.invoke(args=["certificates", "issue", "nairobi", "--issuer", f"Iss{RLO}uer{BELL}"])
    with app.app_context():
        assert db.session.scalar(select(CertificateRule.issuer)) == "Issuer"
