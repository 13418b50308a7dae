"""Workshops and their sessions. Services take an explicit actor, flush, never commit."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask_babel import gettext
from sqlalchemy import Column, Table, delete, func, select
from sqlalchemy.exc import IntegrityError

from kitmanager.audit import Actor, record_event
from kitmanager.config import LANGUAGES
from kitmanager.extensions import db
from kitmanager.models import Participant, Workshop, WorkshopSession, utcnow
from kitmanager.text import clean_text
from kitmanager.unit_of_work import UserError

__all__ = [
    "WorkshopError",
    "WorkshopFields",
    "add_session",
    "archive_workshop",
    "create_workshop",
    "delete_session",
    "get_workshop",
    "list_workshops",
    "local_timezone_name",
    "local_to_utc",
    "session_dependants",
    "slugify",
    "timezone_choices",
    "update_session",
    "update_workshop",
    "utc_to_local",
]

MAX_CAPACITY = 100_000
BADGE_TITLE_MAX = Workshop.__table__.c.badge_title.type.length
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


class WorkshopError(UserError):
    """A workshop or session request the user can fix; the message says how.

    ``field`` names the form field the message belongs next to (None: the whole form).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def slugify(title: str) -> str:
    """A URL-safe slug from a title in any script ("Défi IA Abidjan" -> "defi-ia-abidjan")."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:60].strip("-") or "workshop"


def local_timezone_name() -> str:
    """The laptop's IANA time zone name, or UTC when the system does not say."""
    try:
        link = Path("/etc/localtime").resolve()
        parts = link.parts
        if "zoneinfo" in parts:
            name = "/".join(parts[parts.index("zoneinfo") + 1 :])
            ZoneInfo(name)
            return name
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    return "UTC"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WorkshopError(
            gettext(
                "Unknown time zone '%(name)s': use a name like Africa/Nairobi, Africa/Abidjan "
                "or America/New_York.",
                name=name,
            ),
            field="timezone",
        ) from None


def local_to_utc(value: datetime, zone_name: str) -> datetime:
    """A wall-clock time in the workshop's zone -> naive UTC for storage."""
    aware = value.replace(tzinfo=_zone(zone_name))
    try:
        return aware.astimezone(timezone.utc).replace(tzinfo=None)
    except OverflowError:
        raise WorkshopError(
            gettext("%(time)s is too far in the past or future: check the year.", time=value)
        ) from None


def utc_to_local(value: datetime, zone_name: str) -> datetime:
    """Stored naive UTC -> naive wall-clock time in the workshop's zone."""
    return value.replace(tzinfo=timezone.utc).astimezone(_zone(zone_name)).replace(tzinfo=None)


@dataclass
class WorkshopFields:
    title: str
    starts_on: date
    ends_on: date | None = None
    slug: str | None = None
    venue: str = ""
    language: str = "en"
    timezone: str | None = None
    capacity: int | None = None
    notes: str = ""
    badge_title: str = ""
    # How long a kit scanned alone waits at a station for a badge; None: as it is (60 s new).
    pair_window_seconds: int | None = None


_PAIR_WINDOW = Workshop.__table__.c.pair_window_seconds.info


def _validate(fields: WorkshopFields) -> tuple[str, date, str]:
    if len(clean_text(fields.badge_title)) > BADGE_TITLE_MAX:
        raise WorkshopError(
            gettext(
                "The short name for badges is too long: keep it to %(max)s characters.",
                max=BADGE_TITLE_MAX,
            ),
            field="badge_title",
        )
    title = clean_text(fields.title)
    if not title:
        raise WorkshopError(gettext("The workshop needs a title."), field="title")
    if len(title) > 200:
        raise WorkshopError(
            gettext("The title is too long: keep it under 200 characters."), field="title"
        )
    ends_on = fields.ends_on or fields.starts_on
    if ends_on < fields.starts_on:
        raise WorkshopError(
            gettext(
                "The workshop ends (%(ends)s) before it starts (%(starts)s): check the dates.",
                ends=f"{ends_on:%Y-%m-%d}",
                starts=f"{fields.starts_on:%Y-%m-%d}",
            ),
            field="ends_on",
        )
    if fields.language not in LANGUAGES:
        raise WorkshopError(
            gettext(
                "Unknown language '%(language)s': choose %(choices)s.",
                language=fields.language,
                choices=", ".join(LANGUAGES),
            ),
            field="language",
        )
    if fields.capacity is not None and not 0 < fields.capacity <= MAX_CAPACITY:
        raise WorkshopError(
            gettext(
                "The capacity must be a number from 1 to %(max)s, or left empty.",
                max=MAX_CAPACITY,
            ),
            field="capacity",
        )
    window = fields.pair_window_seconds
    if window is not None and not _PAIR_WINDOW["min"] <= window <= _PAIR_WINDOW["max"]:
        raise WorkshopError(
            gettext(
                "A kit waits for a badge between %(min)s and %(max)s seconds: choose a number "
                "in that range.",
                min=_PAIR_WINDOW["min"],
                max=_PAIR_WINDOW["max"],
            ),
            field="pair_window_seconds",
        )
    zone = fields.timezone or local_timezone_name()
    _zone(zone)
    return title, ends_on, zone


def _slug_taken(slug: str) -> WorkshopError:
    return WorkshopError(
        gettext(
            "The slug '%(slug)s' is already used by another workshop: choose another.",
            slug=slug,
        ),
        field="slug",
    )


def _check_slug(slug: str, exclude_id: int | None = None) -> str:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise WorkshopError(
            gettext(
                "'%(slug)s' is not a valid slug: use lowercase letters, digits and dashes "
                "(max 60).",
                slug=slug,
            ),
            field="slug",
        )
    query = select(Workshop.id).where(Workshop.slug == slug)
    if exclude_id is not None:
        query = query.where(Workshop.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise _slug_taken(slug)
    return slug


def create_workshop(actor: Actor, fields: WorkshopFields) -> Workshop:
    """:raise WorkshopError: invalid fields or a slug already in use."""
    title, ends_on, zone = _validate(fields)
    slug = _check_slug(fields.slug or slugify(title))
    workshop = Workshop(
        slug=slug,
        title=title,
        venue=clean_text(fields.venue),
        starts_on=fields.starts_on,
        ends_on=ends_on,
        language=fields.language,
        timezone=zone,
        capacity=fields.capacity,
        notes=fields.notes,
        badge_title=clean_text(fields.badge_title),
    )
    if fields.pair_window_seconds is not None:
        workshop.pair_window_seconds = fields.pair_window_seconds
    try:
        # Two organisers may pick the same slug at the same moment: the database decides.
        with db.session.begin_nested():
            db.session.add(workshop)
            db.session.flush()
    except IntegrityError:
        raise _slug_taken(slug) from None
    record_event(actor, "workshop.created", "workshop", workshop.id, slug=slug)
    return workshop


def update_workshop(actor: Actor, workshop: Workshop, fields: WorkshopFields) -> Workshop:
    title, ends_on, zone = _validate(fields)
    slug = _check_slug(fields.slug or workshop.slug, exclude_id=workshop.id)
    changed = {}
    for name, value in (
        ("slug", slug),
        ("title", title),
        ("venue", clean_text(fields.venue)),
        ("starts_on", fields.starts_on),
        ("ends_on", ends_on),
        ("language", fields.language),
        ("timezone", zone),
        ("capacity", fields.capacity),
        ("notes", fields.notes),
        ("badge_title", clean_text(fields.badge_title)),
        ("pair_window_seconds", fields.pair_window_seconds or workshop.pair_window_seconds),
    ):
        if getattr(workshop, name) != value:
            changed[name] = str(value)
            setattr(workshop, name, value)
    if changed:
        db.session.flush()
        record_event(actor, "workshop.updated", "workshop", workshop.id, changed=changed)
    return workshop


def archive_workshop(actor: Actor, workshop: Workshop, archived: bool = True) -> None:
    workshop.archived_at = utcnow() if archived else None
    action = "workshop.archived" if archived else "workshop.unarchived"
    record_event(actor, action, "workshop", workshop.id)
    db.session.flush()


def get_workshop(slug: str) -> Workshop | None:
    return db.session.scalar(select(Workshop).where(Workshop.slug == slug))


def list_workshops(include_archived: bool = False) -> list[tuple[Workshop, int]]:
    """Workshops, newest first, each with its number of (not deleted) participants."""
    count = (
        select(func.count(Participant.id))
        .where(Participant.workshop_id == Workshop.id, Participant.not_deleted)
        .scalar_subquery()
    )
    query = select(Workshop, count).order_by(Workshop.starts_on.desc(), Workshop.id.desc())
    if not include_archived:
        query = query.where(Workshop.archived_at.is_(None))
    return [(workshop, n) for workshop, n in db.session.execute(query)]


def _session_times(
    workshop: Workshop, starts: datetime, ends: datetime
) -> tuple[datetime, datetime]:
    if ends <= starts:
        raise WorkshopError(
            gettext(
                "The session ends (%(ends)s) before it starts (%(starts)s).",
                ends=f"{ends:%Y-%m-%d %H:%M}",
                starts=f"{starts:%Y-%m-%d %H:%M}",
            ),
            field="ends",
        )
    return local_to_utc(starts, workshop.timezone), local_to_utc(ends, workshop.timezone)


def add_session(
    actor: Actor, workshop: Workshop, title: str, starts: datetime, ends: datetime, room: str = ""
) -> WorkshopSession:
    """Add a session; ``starts``/``ends`` are wall-clock times in the workshop's time zone."""
    title = clean_text(title)
    if not title:
        raise WorkshopError(gettext("The session needs a title."), field="title")
    starts_utc, ends_utc = _session_times(workshop, starts, ends)
    session = WorkshopSession(
        workshop=workshop,
        title=title[:200],
        starts_at=starts_utc,
        ends_at=ends_utc,
        room=clean_text(room),
    )
    db.session.add(session)
    db.session.flush()
    record_event(actor, "session.created", "workshop_session", session.id, workshop=workshop.slug)
    return session


def update_session(
    actor: Actor,
    session: WorkshopSession,
    title: str,
    starts: datetime,
    ends: datetime,
    room: str = "",
) -> WorkshopSession:
    title = clean_text(title)
    if not title:
        raise WorkshopError(gettext("The session needs a title."), field="title")
    session.starts_at, session.ends_at = _session_times(session.workshop, starts, ends)
    session.title = title[:200]
    session.room = clean_text(room)
    db.session.flush()
    record_event(actor, "session.updated", "workshop_session", session.id)
    return session


def timezone_choices() -> list[str]:
    """Every IANA time zone name this Python knows, sorted (Africa/Abidjan, ...)."""
    return sorted(available_timezones())


def _session_dependants() -> list[tuple[Table, Column]]:
    """Every table whose rows go with their session (a foreign key ``ON DELETE CASCADE``:
    check-ins, once they exist), so deleting a session counts and removes them without a
    list kept by hand; the schema is the one place that says what belongs to a session."""
    target = WorkshopSession.__table__.c.id
    return [
        (table, fk.parent)
        for table in db.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column is target and (fk.ondelete or "").upper() == "CASCADE"
    ]


def session_dependants(session: WorkshopSession) -> dict[str, int]:
    """How many rows of each table hang on ``session`` (table name -> count, none left out)."""
    counts: dict[str, int] = {}
    for table, column in _session_dependants():
        found = db.session.scalar(
            select(func.count()).select_from(table).where(column == session.id)
        )
        if found:
            counts[table.name] = counts.get(table.name, 0) + found
    return counts


def delete_session(actor: Actor, session: WorkshopSession) -> dict[str, int]:
    """Delete a session with everything recorded against it; returns what went with it.

    The rows of dependent tables are deleted here rather than left to ON DELETE CASCADE,
    so the audit row says what was removed whatever the database does with foreign keys.
    """
    removed = session_dependants(session)
    for table, column in reversed(_session_dependants()):
        db.session.execute(delete(table).where(column == session.id))
    record_event(
        actor,
        "session.deleted",
        "workshop_session",
        session.id,
        workshop=session.workshop.slug,
        title=session.title,
        starts_at=session.starts_at.isoformat(),
        removed=removed,
    )
    db.session.delete(session)
    db.session.flush()
    return removed
