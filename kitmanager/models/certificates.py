"""Certificates: the rule a workshop sets, organisers' overrides, issued certificates."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import uuid4

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kitmanager.extensions import db
from kitmanager.models.base import utcnow
from printouts import DEFAULT_LAYOUTS

if TYPE_CHECKING:
    from kitmanager.models.participants import Participant
    from kitmanager.models.workshops import Workshop


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
    layout: Mapped[str] = mapped_column(String(60), default=DEFAULT_LAYOUTS["certificate"])
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
