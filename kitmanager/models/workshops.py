"""Workshops, their sessions (time slots) and teams."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kitmanager.extensions import db
from kitmanager.models.base import utcnow

if TYPE_CHECKING:
    from kitmanager.models.participants import Participant


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
