"""Check-in and scans: attendance per session, the answer kept per scan, station pairing."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kitmanager.extensions import db
from kitmanager.models.base import EnumString, LabelledEnum, utcnow

if TYPE_CHECKING:
    from kitmanager.models.participants import Participant
    from kitmanager.models.workshops import WorkshopSession


class CheckInSource(LabelledEnum):
    """How a check-in was recorded."""

    SCAN = "scan", _l("scan")  # a badge scanned at a station, on /b/<token> or through the API
    MANUAL = "manual", _l("by hand")  # ticked by hand on the session roster


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
    source: Mapped[CheckInSource] = mapped_column(
        EnumString(CheckInSource, 20), default=CheckInSource.SCAN
    )

    participant: Mapped[Participant] = relationship()
    session: Mapped[WorkshopSession] = relationship()

    __table_args__ = (UniqueConstraint("participant_id", "session_id"),)


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


class StationScanKind(LabelledEnum):
    """What was scanned at a station: a participant's badge or a kit's label."""

    BADGE = "badge", _l("badge")
    KIT = "kit", _l("kit")


class StationScan(db.Model):
    """The last badge or kit scanned at a named station, so that the next scan there within a
    minute can pair with it (a badge then a kit, or a kit then a badge, is a handout)."""

    __tablename__ = "station_scan"

    station: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[StationScanKind] = mapped_column(EnumString(StationScanKind, 20))
    subject_id: Mapped[int] = mapped_column(Integer)  # the participant's or the kit's id
    scanned_at: Mapped[datetime] = mapped_column(DateTime)
    client_id: Mapped[str | None] = mapped_column(String(64))
