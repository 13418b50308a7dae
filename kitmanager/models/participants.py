"""Participants of a workshop and the badge tokens they no longer use."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.sql.elements import ColumnElement

from kitmanager.extensions import db
from kitmanager.models.base import EnumString, LabelledEnum, new_token, utcnow
from kitmanager.text import sort_key

if TYPE_CHECKING:
    from kitmanager.models.workshops import Team, Workshop


class ParticipantRole(LabelledEnum):
    """What a person comes to the workshop as."""

    PARTICIPANT = "participant", _l("participant")
    TRAINER = "trainer", _l("trainer")
    MENTOR = "mentor", _l("mentor")
    GUEST = "guest", _l("guest")


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
    role: Mapped[ParticipantRole] = mapped_column(
        EnumString(ParticipantRole, 20), default=ParticipantRole.PARTICIPANT
    )
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
        Index("ix_participant_workshop_name", "workshop_id", "full_name"),
        Index("ix_participant_workshop_email", "workshop_id", "email"),
        Index("ix_participant_workshop_sort", "workshop_id", "sort_key"),
    )

    @validates("full_name")
    def _keep_sort_key(self, _key: str, name: str) -> str:
        self.sort_key = _sort_key_of(name)
        return name

    @hybrid_property
    def not_deleted(self) -> bool:
        """Still registered (not deleted and anonymised); in a query, that condition:
        ``select(Participant).where(Participant.not_deleted)``."""
        return self.deleted_at is None

    @not_deleted.inplace.expression
    @classmethod
    def _not_deleted_condition(cls) -> ColumnElement[bool]:
        return cls.deleted_at.is_(None)

    @property
    def display_badge_name(self) -> str:
        return self.badge_name or self.full_name


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
