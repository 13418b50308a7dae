"""What a scan needs of a badge's holder and of a session, read in one query each.

Scans are the hot path of the day, so these are plain rows, not ORM objects, each read by a
:class:`~kitmanager.database.HotStatement`. Check-in and kits both read them: a badge names a
person for a check-in and for a handout alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import format_time
from sqlalchemy import bindparam, select

from kitmanager.database import HotStatement
from kitmanager.models import Participant, Team, Workshop, WorkshopSession
from kitmanager.workshops.services import utc_to_local

__all__ = [
    "EARLY_ARRIVAL",
    "SESSION_DAY_TOLERANCE",
    "ScanSession",
    "ScannedPerson",
    "local_clock",
    "local_iso",
    "running_scan_session",
    "scan_session",
    "scanned_person",
]

# A scan may open a session a little early: people arrive before the start time. A session
# takes check-ins from EARLY_ARRIVAL before its start until its end (ScanSession.open_at).
EARLY_ARRIVAL = timedelta(minutes=30)
SESSION_DAY_TOLERANCE = timedelta(hours=3)
"""How far outside its session's day a scan's own time may lie: a scan queued on a phone is
sent later but keeps the time it was made, which is on the session's day; a device whose clock
is a few hours off (a wrong time zone) still lands there. A time further away is refused."""


def local_iso(value: datetime, zone: str) -> str:
    """Stored naive UTC as an ISO time with the UTC offset of ``zone`` (what the API sends)."""
    aware = value.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone))
    return aware.isoformat(timespec="seconds")


def local_clock(value: datetime, zone: str) -> str:
    """Stored naive UTC as a short clock time in ``zone``, in the reader's locale (09:14)."""
    return format_time(utc_to_local(value, zone), "short")


@dataclass(frozen=True)
class ScannedPerson:
    """What a scan needs of a badge's holder."""

    id: int
    workshop_id: int
    full_name: str
    badge_name: str
    role: str
    team: str | None
    workshop_title: str
    timezone: str

    @classmethod
    def of(cls, participant: Participant) -> ScannedPerson:
        return cls(
            participant.id,
            participant.workshop_id,
            participant.full_name,
            participant.badge_name,
            participant.role,
            participant.team.name if participant.team is not None else None,
            participant.workshop.title,
            participant.workshop.timezone,
        )

    def to_json(self) -> dict[str, Any]:
        """What a station may show: names and team, never contact data."""
        return {
            "id": self.id,
            "name": self.full_name,
            "badge_name": self.badge_name or self.full_name,
            "team": self.team,
            "role": self.role,
        }


@dataclass(frozen=True)
class ScanSession:
    """What a scan needs of a session, with its workshop's time zone."""

    id: int
    workshop_id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str

    @classmethod
    def of(cls, session: WorkshopSession) -> ScanSession:
        return cls(
            session.id,
            session.workshop_id,
            session.title,
            session.starts_at,
            session.ends_at,
            session.workshop.timezone,
        )

    @property
    def opens_at(self) -> datetime:
        """When the session starts taking check-ins (naive UTC): :data:`EARLY_ARRIVAL` early."""
        return self.starts_at - EARLY_ARRIVAL

    def open_at(self, at: datetime) -> bool:
        """Whether the session takes check-ins at ``at`` (naive UTC): from :attr:`opens_at`
        until its end, the window in which :func:`running_scan_session` finds it."""
        return self.opens_at <= at < self.ends_at

    def on_its_day(self, at: datetime) -> bool:
        """Whether ``at`` (naive UTC) lies on the session's day in its workshop's time zone
        (the days it spans), give or take :data:`SESSION_DAY_TOLERANCE`."""
        zone = ZoneInfo(self.timezone)
        first = utc_to_local(self.starts_at, self.timezone).date()
        last = utc_to_local(self.ends_at, self.timezone).date()
        day_start = datetime.combine(first, time.min, zone).astimezone(timezone.utc)
        day_end = datetime.combine(last + timedelta(days=1), time.min, zone).astimezone(
            timezone.utc
        )
        utc = at.replace(tzinfo=timezone.utc)
        return day_start - SESSION_DAY_TOLERANCE <= utc < day_end + SESSION_DAY_TOLERANCE

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "starts": local_iso(self.starts_at, self.timezone),
            "ends": local_iso(self.ends_at, self.timezone),
        }


_SCANNED_PERSON = HotStatement(
    select(
        Participant.id,
        Participant.workshop_id,
        Participant.full_name,
        Participant.badge_name,
        Participant.role,
        Team.name,
        Workshop.title,
        Workshop.timezone,
    )
    .join(Workshop, Workshop.id == Participant.workshop_id)
    .outerjoin(Team, Team.id == Participant.team_id)
    .where(Participant.badge_token == bindparam("token"), Participant.not_deleted)
)
_SCAN_SESSION_COLUMNS = (
    WorkshopSession.id,
    WorkshopSession.workshop_id,
    WorkshopSession.title,
    WorkshopSession.starts_at,
    WorkshopSession.ends_at,
    Workshop.timezone,
)
_SCAN_SESSION = HotStatement(
    select(*_SCAN_SESSION_COLUMNS)
    .join(Workshop, Workshop.id == WorkshopSession.workshop_id)
    .where(WorkshopSession.id == bindparam("id"))
)
_RUNNING_SESSION = HotStatement(
    select(*_SCAN_SESSION_COLUMNS)
    .join(Workshop, Workshop.id == WorkshopSession.workshop_id)
    .where(
        WorkshopSession.workshop_id == bindparam("workshop_id"),
        WorkshopSession.starts_at <= bindparam("soon"),
        WorkshopSession.ends_at > bindparam("now"),
    )
    .order_by(WorkshopSession.starts_at.desc())
    .limit(1)
)


def scanned_person(token: str) -> ScannedPerson | None:
    """The registered holder of the badge with ``token``, or None."""
    row = _SCANNED_PERSON.first({"token": token})
    return ScannedPerson(*row) if row is not None else None


def scan_session(session_id: int) -> ScanSession | None:
    """The session a scan names, or None when there is no such session."""
    row = _SCAN_SESSION.first({"id": session_id})
    return ScanSession(*row) if row is not None else None


def running_scan_session(workshop_id: int, at: datetime) -> ScanSession | None:
    """The session of ``workshop_id`` running at ``at`` (or starting within
    :data:`EARLY_ARRIVAL`: :meth:`ScanSession.open_at`); of two overlapping, the one that
    started last."""
    row = _RUNNING_SESSION.first(
        {"workshop_id": workshop_id, "soon": at + EARLY_ARRIVAL, "now": at}
    )
    return ScanSession(*row) if row is not None else None
