"""kitmanager.models as a package by domain: the names it always had, enum columns that give
members and make their own CHECK, enums that carry their labels, and "not deleted" in one place.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale, get_translations
from sqlalchemy import CheckConstraint, select, text
from sqlalchemy.exc import IntegrityError

import kitmanager.models as models
from kitmanager import create_app
from kitmanager.audit import cli_actor
from kitmanager.database import upgrade_database
from kitmanager.extensions import db
from kitmanager.models import (
    BoardRunKind,
    BoardRunStatus,
    CheckInSource,
    EnumString,
    Kit,
    KitCondition,
    KitStatus,
    KitType,
    LabelledEnum,
    Participant,
    ParticipantRole,
    Role,
    StationScanKind,
    User,
)
from kitmanager.participants.services import delete_participant
from tests.web.helpers import add_people, make_workshop

# Every public name of the single kitmanager/models.py the package replaced (its __all__).
NAMES_OF_THE_OLD_MODULE = [
    "ApiToken",
    "AppSetting",
    "AuditEvent",
    "BoardPort",
    "BoardRun",
    "BoardRunKind",
    "BoardRunStatus",
    "Certificate",
    "CertificateOverride",
    "CertificateRule",
    "CheckIn",
    "CheckInSource",
    "Firmware",
    "Kit",
    "KitComponent",
    "KitCondition",
    "KitHandout",
    "KitIncident",
    "KitIncidentItem",
    "KitStatus",
    "KitType",
    "KitTypeFirmware",
    "LoginSession",
    "LoginThrottle",
    "OneTimeLogin",
    "Participant",
    "ParticipantRole",
    "RetiredBadgeToken",
    "Role",
    "ScanRequest",
    "StationScan",
    "Team",
    "User",
    "Workshop",
    "WorkshopSession",
    "new_token",
    "utcnow",
]
MODEL_ENUMS = [
    Role,
    ParticipantRole,
    CheckInSource,
    StationScanKind,
    KitStatus,
    KitCondition,
    BoardRunKind,
    BoardRunStatus,
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """A real SQLite file built by the real migrations."""
    data_dir: Path = tmp_path_factory.mktemp("models")
    app = create_app({"DATA_DIR": data_dir, "TESTING": True, "SECRET_KEY": "test"})
    upgrade_database(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_every_name_of_the_old_models_module_imports_from_the_package():
    missing = [name for name in NAMES_OF_THE_OLD_MODULE if not hasattr(models, name)]
    assert missing == []
    assert set(NAMES_OF_THE_OLD_MODULE) <= set(models.__all__)
    namespace: dict[str, object] = {}
    exec("from kitmanager.models import *", namespace)  # the star import users get
    assert set(NAMES_OF_THE_OLD_MODULE) <= set(namespace)
    # Each model lives in a module of its domain, not in the package's __init__.
    for name in NAMES_OF_THE_OLD_MODULE:
        home = getattr(models, name).__module__
        assert home.startswith("kitmanager.models.") and home != "kitmanager.models", name


def test_an_enum_column_reads_back_a_member_and_stores_its_value(app: Flask):
    slug = make_workshop(app, slug="enum-columns")
    (guest_id,) = add_people(app, slug, "Grace Guest", role="guest")
    with app.app_context():
        guest = db.session.get(Participant, guest_id)
        assert guest.role is ParticipantRole.GUEST
        assert guest.role.label == "guest"
        stored = db.session.scalar(
            text("SELECT role FROM participant WHERE id = :id"), {"id": guest_id}
        )
        assert stored == "guest" and type(stored) is str
        # A query by the text or by the member finds the row; a selected column gives members.
        mine = Participant.workshop_id == guest.workshop_id
        by_text = select(Participant.id).where(mine, Participant.role == "guest")
        by_member = select(Participant.id).where(mine, Participant.role == ParticipantRole.GUEST)
        assert db.session.scalars(by_text).all() == [guest_id]
        assert db.session.scalars(by_member).all() == [guest_id]
        assert db.session.scalar(select(Participant.role).where(mine)) is ParticipantRole.GUEST
        # Set as text, the attribute holds the member at once, before any flush.
        guest.role = "mentor"
        assert guest.role is ParticipantRole.MENTOR
        db.session.commit()
        olga = User(username="olga", role="organiser", password_hash="-")
        db.session.add(olga)
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Participant, guest_id).role is ParticipantRole.MENTOR
        assert olga.role is Role.ORGANISER and olga.role_enum.allows(Role.TRAINER)
        # A member is its value wherever text is made of it.
        assert f"{olga.role}" == str(olga.role) == "organiser"
        assert f"{olga.role:>10}" == " organiser"


def test_a_new_row_holds_the_default_member(app: Flask):
    with app.app_context():
        kit_type = KitType(name="Line follower")
        kit = Kit(code="KIT-001", kit_type=kit_type)
        db.session.add(kit)
        db.session.flush()
        assert kit.condition is KitCondition.READY
        assert kit.status is KitStatus.READY
        db.session.rollback()


def test_the_database_refuses_a_value_outside_the_enum(app: Flask):
    slug = make_workshop(app, slug="enum-check")
    (person_id,) = add_people(app, slug, "Pat Participant")
    with app.app_context():
        person = db.session.get(Participant, person_id)
        person.role = "captain"  # no member: kept as typed, for the CHECK to refuse
        with pytest.raises(IntegrityError, match="ck_participant_role"):
            db.session.flush()
        db.session.rollback()


def test_the_enum_checks_the_models_make_are_the_ones_the_migrations_made(app: Flask):
    """The type makes each enum column's CHECK; its text is the committed schema's, word for
    word, so the models need no migration."""
    made_by_the_type = {
        (column.table.name, column.name)
        for table in db.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, EnumString)
    }
    assert len(made_by_the_type) == 8
    with app.app_context():
        schema = dict(db.session.execute(text("SELECT name, sql FROM sqlite_master")).all())
    checked = set()
    for table in db.metadata.tables.values():
        for constraint in table.constraints:
            if not isinstance(constraint, CheckConstraint):
                continue
            assert (
                f"CONSTRAINT {constraint.name} CHECK ({constraint.sqltext})" in schema[table.name]
            )
            checked.add((table.name, constraint.name.removeprefix(f"ck_{table.name}_")))
    assert made_by_the_type <= checked


@pytest.mark.parametrize("enum_class", MODEL_ENUMS, ids=lambda e: e.__name__)
def test_every_member_has_a_label_in_english_and_french(app: Flask, enum_class: type[enum.Enum]):
    assert issubclass(enum_class, LabelledEnum)
    with app.test_request_context():
        with force_locale("en"):
            english = {member: str(member.label) for member in enum_class}
        with force_locale("fr"):
            french = {member: str(member.label) for member in enum_class}
            catalog = get_translations()._catalog
    assert all(label.strip() for label in english.values()), english
    assert all(label.strip() for label in french.values()), french
    untranslated = [label for label in english.values() if label not in catalog]
    assert untranslated == [], "no French for these labels"


def test_labels_follow_the_page_language(app: Flask):
    with app.test_request_context():
        with force_locale("fr"):
            assert str(Role.TRAINER.label) == "formateur"
            assert str(ParticipantRole.GUEST.choice_label) == "Invité"
            assert str(KitCondition.NEEDS_ATTENTION.label) == "à vérifier"
            assert str(KitCondition.RETIRED.action) == "Retirer du service"
        with force_locale("en"):
            assert str(ParticipantRole.GUEST.choice_label) == "Guest"
            assert str(KitStatus.NEEDS_ATTENTION.label) == "needs attention"


def test_not_deleted_leaves_out_a_deleted_participant(app: Flask):
    slug = make_workshop(app, slug="not-deleted")
    kept_id, gone_id = add_people(app, slug, "Kim Kept", "Dan Deleted")
    with app.app_context():
        gone = db.session.get(Participant, gone_id)
        delete_participant(cli_actor(), gone)
        db.session.commit()
        still_there = db.session.scalars(
            select(Participant.id).where(Participant.workshop_id == gone.workshop_id)
        ).all()
        assert sorted(still_there) == sorted([kept_id, gone_id])  # anonymised, not removed
        live = db.session.scalars(
            select(Participant.id).where(
                Participant.workshop_id == gone.workshop_id, Participant.not_deleted
            )
        ).all()
        assert live == [kept_id]
        assert gone.not_deleted is False
        assert db.session.get(Participant, kept_id).not_deleted is True
