"""Typed SQLAlchemy 2.0 models of the foundation: accounts, workshops, sessions, participants.

Times are stored in UTC (naive ``DateTime`` columns hold UTC) and shown in the workshop's time
zone. Every token a QR carries is random and unique, never an id or a name.
"""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime, timezone
from typing import Any
from uuid import uuid4

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from kitmanager.extensions import db
from kitmanager.text import sort_key

__all__ = [
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


def utcnow() -> datetime:
    """Now, in UTC, naive: the form every DateTime column stores."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_token(nbytes: int = 24) -> str:
    """A URL-safe random token: 24 bytes = 192 bits, well above the 128 a QR token needs."""
    return secrets.token_urlsafe(nbytes)


class Role(str, enum.Enum):
    """Account roles, each including everything the lower ones may do."""

    VOLUNTEER = "volunteer"  # scanning only
    TRAINER = "trainer"  # sessions, scanning, kits, boards
    ORGANISER = "organiser"  # everything

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_ROLE_RANK = {Role.VOLUNTEER: 1, Role.TRAINER: 2, Role.ORGANISER: 3}


class ParticipantRole(str, enum.Enum):
    PARTICIPANT = "participant"
    TRAINER = "trainer"
    MENTOR = "mentor"
    GUEST = "guest"


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(10))
    # Bumped on password reset so existing sessions of that account stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        CheckConstraint("role in ('organiser', 'trainer', 'volunteer')", name="role"),
    )

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def actor(self) -> str:
        return f"user:{self.username}"

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class LoginSession(db.Model):
    """One browser login. Logging out ends it here, so a copied cookie stops working too."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginThrottle(db.Model):
    """Recent failed logins for one user name (as typed, known or not) from one address.

    Throttling counts per name *and* address, so guessing at one address never locks the
    person out on their own phone, and an unknown name is throttled exactly like a real one.
    """

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))  # lower-cased
    address: Mapped[str] = mapped_column(String(64))
    # Attempts since the last success, counted before the password is checked.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("username", "address"),)


class ApiToken(db.Model):
    """A bearer token for scripts and scanner apps; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        CheckConstraint("role in ('organiser', 'trainer', 'volunteer')", name="role"),
    )

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def actor(self) -> str:
        return f"token:{self.name}"


class Workshop(db.Model):
    __tablename__ = "workshop"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    # what badges print instead of a title too long for them ("" = the title)
    badge_title: Mapped[str] = mapped_column(String(60), default="", server_default="")
    venue: Mapped[str] = mapped_column(String(200), default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(10), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    capacity: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # How long a kit scanned alone at a station waits for a badge (and a badge for a kit).
    pair_window_seconds: Mapped[int] = mapped_column(
        Integer, default=60, server_default="60", info={"min": 10, "max": 600}
    )

    sessions: Mapped[list[WorkshopSession]] = relationship(
        back_populates="workshop",
        order_by="WorkshopSession.starts_at",
        cascade="all, delete-orphan",
    )
    teams: Mapped[list[Team]] = relationship(
        back_populates="workshop", order_by="Team.name", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity"),
        CheckConstraint("pair_window_seconds BETWEEN 10 AND 600", name="pair_window"),
    )

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class WorkshopSession(db.Model):
    """One time slot of a workshop (named so it never shadows the database session)."""

    __tablename__ = "workshop_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    room: Mapped[str] = mapped_column(String(100), default="")

    workshop: Mapped[Workshop] = relationship(back_populates="sessions")

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="times"),
        Index("ix_workshop_session_workshop_start", "workshop_id", "starts_at"),
    )


class Team(db.Model):
    __tablename__ = "team"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))

    workshop: Mapped[Workshop] = relationship(back_populates="teams")
    participants: Mapped[list[Participant]] = relationship(back_populates="team")

    __table_args__ = (UniqueConstraint("workshop_id", "name"),)


def _sort_key_of(name: str | None) -> str:
    return sort_key(name or "")[: Participant.__table__.c.sort_key.type.length]


def _name_sort_key(context: Any) -> str:
    """Insert default of ``Participant.sort_key``: a bulk import sets no attributes."""
    return _sort_key_of(context.get_current_parameters().get("full_name"))


class Participant(db.Model):
    """A person registered for a workshop.

    Deleting one anonymises the row (``deleted_at`` set, personal fields cleared) so the
    organiser's anonymous counts stay right. ``sort_key`` files the name the way a reader
    expects (see :func:`kitmanager.text.sort_key`); it follows ``full_name`` on every write,
    so lists sort and page in SQL.

    The column types are the one home of the fields' length limits (``notes`` is ``Text``:
    its limit is in ``info``); forms, the import and the API read them from here.
    """

    __tablename__ = "participant"

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"))
    full_name: Mapped[str] = mapped_column(String(200))
    badge_name: Mapped[str] = mapped_column(String(60), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default=ParticipantRole.PARTICIPANT.value)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    guardian_contact: Mapped[str] = mapped_column(String(200), default="")
    photo_consent: Mapped[bool | None] = mapped_column(Boolean)
    notes: Mapped[str] = mapped_column(Text, default="", info={"max_length": 2000})
    external_id: Mapped[str | None] = mapped_column(String(100))
    sort_key: Mapped[str] = mapped_column(String(200), default=_name_sort_key, server_default="")
    badge_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)

    workshop: Mapped[Workshop] = relationship()
    team: Mapped[Team | None] = relationship(back_populates="participants")

    __table_args__ = (
        CheckConstraint(
            "role in ({})".format(", ".join(f"'{role.value}'" for role in ParticipantRole)),
            name="role",
        ),
        Index("ix_participant_workshop_name", "workshop_id", "full_name"),
        Index("ix_participant_workshop_email", "workshop_id", "email"),
        Index("ix_participant_workshop_sort", "workshop_id", "sort_key"),
    )

    @validates("full_name")
    def _keep_sort_key(self, _key: str, name: str) -> str:
        self.sort_key = _sort_key_of(name)
        return name

    @property
    def display_badge_name(self) -> str:
        return self.badge_name or self.full_name


class AuditEvent(db.Model):
    """One row per change that matters: who, what, when, from which device."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id"),)


class AppSetting(db.Model):
    """One installation-wide setting an organiser changes in the app (the badge address, ...).

    Stored as text under a key; the code that owns a setting parses and validates it.
    """

    __tablename__ = "app_setting"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120), default="")


class CheckInSource(str, enum.Enum):
    """How a check-in was recorded."""

    SCAN = "scan"  # a badge scanned at a station, on /b/<token> or through the API
    MANUAL = "manual"  # ticked by hand on the session roster


class CheckIn(db.Model):
    """A participant present at one session: at most one row per participant and session.

    The unique constraint is what keeps a double scan from counting twice; writers insert with
    ON CONFLICT DO NOTHING instead of checking first, so two scans at the same instant are safe.
    """

    __tablename__ = "check_in"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(
        ForeignKey("workshop_session.id", ondelete="CASCADE"), index=True
    )
    # When the scan happened (a queued offline scan keeps its own time), and when it arrived.
    at: Mapped[datetime] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    by: Mapped[str] = mapped_column(String(120))
    device: Mapped[str] = mapped_column(String(200), default="")
    station: Mapped[str] = mapped_column(String(80), default="")
    source: Mapped[str] = mapped_column(String(20), default=CheckInSource.SCAN.value)

    participant: Mapped[Participant] = relationship()
    session: Mapped[WorkshopSession] = relationship()

    __table_args__ = (
        UniqueConstraint("participant_id", "session_id"),
        CheckConstraint("source in ('scan', 'manual')", name="source"),
    )


class ScanRequest(db.Model):
    """The answer given to one scan, by the scanning device's ``client_id``.

    A station that lost its connection sends the same scan again with the same client id; it
    gets this stored answer back and nothing is applied twice. The answer is its sender's:
    another login or token gets it (or undoes the scan) only as a trainer.
    """

    __tablename__ = "scan_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The sender: the account or API token that sent the scan first (``user:amina``,
    # ``token:door-1``); both names are unique and never change.
    actor: Mapped[str] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RetiredBadgeToken(db.Model):
    """A badge token that no longer opens anything (a lost badge was replaced).

    Kept so a scan of the old badge says "replaced" instead of "unknown".
    """

    __tablename__ = "retired_badge_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), index=True
    )
    retired_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class OneTimeLogin(db.Model):
    """A QR code an organiser shows so one phone signs in as a volunteer, once, for minutes.

    Only the SHA-256 of its secret is kept; using it creates the phone's volunteer account.
    """

    __tablename__ = "one_time_login"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class KitCondition(str, enum.Enum):
    """What a trainer knows of a kit's state, whoever holds it. Stored on the kit."""

    READY = "ready"
    NEEDS_ATTENTION = "needs_attention"  # something missing or broken, or its board failed
    RETIRED = "retired"  # no longer handed out; kept for its history


class KitStatus(str, enum.Enum):
    """The status a trainer reads: "out" while a handout is open, else the kit's condition.

    "Out" is not stored on the kit: the open handout row is its one home (see ``Kit.status``).
    """

    READY = "ready"
    OUT = "out"
    NEEDS_ATTENTION = "needs_attention"
    RETIRED = "retired"


def _in_enum(column: str, values: type[enum.Enum]) -> str:
    return "{} in ({})".format(column, ", ".join(f"'{item.value}'" for item in values))


class KitType(db.Model):
    """A kind of kit ("Line-follower kit v2") and its bill of materials."""

    __tablename__ = "kit_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", info={"max_length": 2000})
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    components: Mapped[list[KitComponent]] = relationship(
        back_populates="kit_type",
        order_by="KitComponent.position",
        cascade="all, delete-orphan",
    )


class KitComponent(db.Model):
    """One line of a kit type's bill of materials: what, how many, whether it must come back
    (consumables such as jumper wires or batteries need not)."""

    __tablename__ = "kit_component"

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_type_id: Mapped[int] = mapped_column(ForeignKey("kit_type.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    must_return: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    kit_type: Mapped[KitType] = relationship(back_populates="components")

    __table_args__ = (
        UniqueConstraint("kit_type_id", "name"),
        CheckConstraint("quantity > 0 AND quantity <= 1000", name="quantity"),
    )


class Kit(db.Model):
    """One physical kit: a box with a label QR (``<badge address>/k/<label_token>``).

    The board fields record the kit's microcontroller board as the board tools last saw it:
    matched by USB serial number, or, for boards without one, by the fingerprint read from the
    board.
    """

    __tablename__ = "kit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kit_type_id: Mapped[int] = mapped_column(ForeignKey("kit_type.id", ondelete="RESTRICT"))
    label_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    condition: Mapped[str] = mapped_column(String(20), default=KitCondition.READY.value)
    notes: Mapped[str] = mapped_column(Text, default="", info={"max_length": 2000})
    board_family: Mapped[str] = mapped_column(String(40), default="")
    board_serial: Mapped[str | None] = mapped_column(String(120), unique=True)
    board_fingerprint: Mapped[str | None] = mapped_column(String(200), unique=True)
    firmware_name: Mapped[str] = mapped_column(String(120), default="")
    firmware_version: Mapped[str] = mapped_column(String(60), default="")
    last_check_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_check_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_check_detail: Mapped[str] = mapped_column(String(500), default="")
    needs_reflash: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    kit_type: Mapped[KitType] = relationship()
    open_handout: Mapped[KitHandout | None] = relationship(
        primaryjoin="and_(KitHandout.kit_id == Kit.id, KitHandout.returned_at.is_(None))",
        viewonly=True,
        uselist=False,
    )

    __table_args__ = (
        CheckConstraint(_in_enum("condition", KitCondition), name="condition"),
        Index("ix_kit_condition", "condition"),
    )

    @property
    def status(self) -> KitStatus:
        """Out while a handout is open; otherwise the kit's condition."""
        if self.open_handout is not None:
            return KitStatus.OUT
        return KitStatus(self.condition)

    @property
    def board_check_failed(self) -> bool:
        return self.last_check_ok is False


class KitHandout(db.Model):
    """A kit handed to a participant (or to their team): open until ``returned_at``.

    The partial unique index allows one open handout per kit: two stations handing out the same
    kit at the same instant cannot both succeed; the database decides, on SQLite and PostgreSQL.
    """

    __tablename__ = "kit_handout"

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_id: Mapped[int] = mapped_column(ForeignKey("kit.id", ondelete="CASCADE"))
    workshop_id: Mapped[int | None] = mapped_column(
        ForeignKey("workshop.id", ondelete="SET NULL"), index=True
    )
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id", ondelete="SET NULL"), index=True
    )
    # Set when the kit went to the participant's team rather than to them alone.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("workshop_session.id", ondelete="SET NULL")
    )
    out_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    out_by: Mapped[str] = mapped_column(String(120))
    station: Mapped[str] = mapped_column(String(80), default="")
    device: Mapped[str] = mapped_column(String(200), default="")
    returned_at: Mapped[datetime | None] = mapped_column(DateTime)
    returned_by: Mapped[str] = mapped_column(String(120), default="")

    kit: Mapped[Kit] = relationship()
    participant: Mapped[Participant | None] = relationship()
    team: Mapped[Team | None] = relationship()
    workshop: Mapped[Workshop | None] = relationship()
    session: Mapped[WorkshopSession | None] = relationship()

    __table_args__ = (
        Index(
            "uq_kit_handout_open",
            "kit_id",
            unique=True,
            sqlite_where=text("returned_at IS NULL"),
            postgresql_where=text("returned_at IS NULL"),
        ),
        Index("ix_kit_handout_kit_out", "kit_id", "out_at"),
    )


class KitIncident(db.Model):
    """Something missing or damaged in a kit, usually found at its return; open until resolved
    (the parts replaced or brought back)."""

    __tablename__ = "kit_incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_id: Mapped[int] = mapped_column(ForeignKey("kit.id", ondelete="CASCADE"), index=True)
    handout_id: Mapped[int | None] = mapped_column(
        ForeignKey("kit_handout.id", ondelete="SET NULL")
    )
    opened_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    opened_by: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="", info={"max_length": 2000})
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str] = mapped_column(String(120), default="")

    kit: Mapped[Kit] = relationship()
    handout: Mapped[KitHandout | None] = relationship()
    items: Mapped[list[KitIncidentItem]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", order_by="KitIncidentItem.id"
    )


class KitIncidentItem(db.Model):
    """One component of an incident: how many are missing and how many damaged.

    The component's name is kept as it was, so the record reads the same if the bill of
    materials changes later.
    """

    __tablename__ = "kit_incident_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("kit_incident.id", ondelete="CASCADE"))
    component_id: Mapped[int | None] = mapped_column(
        ForeignKey("kit_component.id", ondelete="SET NULL")
    )
    component_name: Mapped[str] = mapped_column(String(120))
    missing: Mapped[int] = mapped_column(Integer, default=0)
    damaged: Mapped[int] = mapped_column(Integer, default=0)

    incident: Mapped[KitIncident] = relationship(back_populates="items")

    __table_args__ = (
        CheckConstraint("missing >= 0 AND damaged >= 0 AND missing + damaged > 0", name="counts"),
    )


class StationScan(db.Model):
    """The last badge or kit scanned at a named station, so that the next scan there within a
    minute can pair with it (a badge then a kit, or a kit then a badge, is a handout)."""

    __tablename__ = "station_scan"

    station: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "badge" or "kit"
    subject_id: Mapped[int] = mapped_column(Integer)  # the participant's or the kit's id
    scanned_at: Mapped[datetime] = mapped_column(DateTime)
    client_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("kind in ('badge', 'kit')", name="kind"),)


class CertificateRule(db.Model):
    """How one workshop's certificates are earned and what they print (one row per workshop).

    ``min_hours`` set: at least that many hours attended; else at least ``min_percent`` of the
    sessions. ``kit_returned``: also no kit handout of theirs still open. Images are file
    names in the data folder (``certificate_images``), uploaded by the organiser.
    """

    __tablename__ = "certificate_rule"

    workshop_id: Mapped[int] = mapped_column(
        ForeignKey("workshop.id", ondelete="CASCADE"), primary_key=True
    )
    min_percent: Mapped[int] = mapped_column(Integer, default=75)
    min_hours: Mapped[float | None] = mapped_column(Float)
    kit_returned: Mapped[bool] = mapped_column(Boolean, default=False)
    issuer: Mapped[str] = mapped_column(String(200), default="")
    signatory_name: Mapped[str] = mapped_column(String(120), default="")
    signatory_title: Mapped[str] = mapped_column(String(120), default="")
    layout: Mapped[str] = mapped_column(String(60), default="certificate-a4")
    logo_file: Mapped[str | None] = mapped_column(String(100))
    signature_file: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        CheckConstraint("min_percent >= 0 AND min_percent <= 100", name="percent"),
        CheckConstraint("min_hours IS NULL OR min_hours >= 0", name="hours"),
    )


class CertificateOverride(db.Model):
    """An organiser's decision that one participant earns a certificate despite the rule."""

    __tablename__ = "certificate_override"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(500))
    by: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Certificate(db.Model):
    """One issued certificate: its code, the facts signed (canonical JSON, exactly as signed)
    and the Ed25519 signature. Re-issuing revokes the old row and points it at the new one.

    At most one unrevoked certificate per participant: a partial unique index, so two
    organisers issuing at once cannot both create one.
    """

    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid4()))
    code: Mapped[str] = mapped_column(String(10), unique=True)
    workshop_id: Mapped[int] = mapped_column(
        ForeignKey("workshop.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"))
    facts: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(120))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoke_reason: Mapped[str] = mapped_column(String(500), default="")
    revoked_by: Mapped[str] = mapped_column(String(120), default="")
    replaced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificate.id", ondelete="SET NULL")
    )

    participant: Mapped[Participant] = relationship()
    workshop: Mapped[Workshop] = relationship()

    __table_args__ = (
        Index(
            "ux_certificate_one_valid",
            "participant_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )


# -- boards: the firmware library and every flash or check of a board --------------------------


class BoardRunKind(str, enum.Enum):
    """What a board run did."""

    FLASH = "flash"
    CHECK = "check"


class BoardRunStatus(str, enum.Enum):
    """Where a board run stands: running, then what it came to (firmware_tools' outcomes)."""

    RUNNING = "running"
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    WARN = "warn"
    SKIPPED = "skipped"
    FAIL = "fail"


class Firmware(db.Model):
    """A firmware in the library: files kept in the data dir under ``firmware/<sha256>/``.

    ``sha256`` is the hash of what is flashed (the image file, or the MicroPython files in
    name order); ``address`` is where a raw ``.bin`` goes. ``builtin`` marks the firmware that
    ships with firmware_tools (it cannot be deleted).
    """

    __tablename__ = "firmware"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[str] = mapped_column(String(60))
    family: Mapped[str] = mapped_column(String(40))
    notes: Mapped[str] = mapped_column(Text, default="", info={"max_length": 2000})
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))  # the file or folder name as uploaded
    address: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer, default=0)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    added_by: Mapped[str] = mapped_column(String(120), default="")
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("name", "version", "family"),)

    @property
    def title(self) -> str:
        return f"{self.name} {self.version} ({self.family})"


class KitTypeFirmware(db.Model):
    """The current firmware of a kit type: what "Flash all" puts on its kits' boards."""

    __tablename__ = "kit_type_firmware"

    kit_type_id: Mapped[int] = mapped_column(
        ForeignKey("kit_type.id", ondelete="CASCADE"), primary_key=True
    )
    firmware_id: Mapped[int] = mapped_column(ForeignKey("firmware.id", ondelete="CASCADE"))
    set_by: Mapped[str] = mapped_column(String(120), default="")
    set_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    firmware: Mapped[Firmware] = relationship()


class BoardPort(db.Model):
    """A serial port the boards page knows beyond the USB ones it finds by itself.

    A port added by hand (a path, ``rfc2217://`` or ``socket://``) has ``hand_added``; any
    port without a USB serial number remembers here the kit bound to it and the fingerprint
    its board last reported.
    """

    __tablename__ = "board_port"

    id: Mapped[int] = mapped_column(primary_key=True)
    device: Mapped[str] = mapped_column(String(300), unique=True)
    hand_added: Mapped[bool] = mapped_column(Boolean, default=False)
    family: Mapped[str] = mapped_column(String(40), default="")  # "" : the board tells
    kit_id: Mapped[int | None] = mapped_column(ForeignKey("kit.id", ondelete="SET NULL"))
    fingerprint: Mapped[str | None] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(120), default="")
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    kit: Mapped[Kit | None] = relationship()


class BoardRun(db.Model):
    """One flash or check of one board: the job it belonged to, what it came to, on which kit.

    Firmware name, version and hash are copied, so the record stays true when the firmware
    leaves the library.
    """

    __tablename__ = "board_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    kit_id: Mapped[int | None] = mapped_column(
        ForeignKey("kit.id", ondelete="SET NULL"), index=True
    )
    port: Mapped[str] = mapped_column(String(300))
    family: Mapped[str] = mapped_column(String(40), default="")
    firmware_id: Mapped[int | None] = mapped_column(ForeignKey("firmware.id", ondelete="SET NULL"))
    firmware_name: Mapped[str] = mapped_column(String(120), default="")
    firmware_version: Mapped[str] = mapped_column(String(60), default="")
    firmware_sha256: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(10), default=BoardRunStatus.RUNNING.value)
    reason: Mapped[str] = mapped_column(String(40), default="")
    message: Mapped[str] = mapped_column(String(500), default="")
    needs_reflash: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_s: Mapped[float | None] = mapped_column(Float)
    board_serial: Mapped[str] = mapped_column(String(120), default="")
    fingerprint: Mapped[str] = mapped_column(String(200), default="")
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    started_by: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    kit: Mapped[Kit | None] = relationship()

    __table_args__ = (
        CheckConstraint(_in_enum("kind", BoardRunKind), name="kind"),
        CheckConstraint(_in_enum("status", BoardRunStatus), name="status"),
    )
