"""Check-in: what a scanned code means, and recording who is present at which session.

One service answers every way a badge reaches the app: the scan station, ``/b/<token>`` opened
by a trainer's phone, ``POST /api/v1/scans`` and the roster's tick boxes. Writes are idempotent
at the database: a check-in is inserted with ON CONFLICT DO NOTHING against the unique
(participant, session) constraint, and a scan's ``client_id`` is claimed the same way before
anything else, so a retried or replayed scan answers the same and applies nothing twice.

Services take an explicit actor, flush, never commit; the caller commits once.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask_babel import format_time
from flask_babel import gettext as _
from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.orm import joinedload

from kitmanager.audit import Actor, record_event
from kitmanager.database import insert_ignoring_conflicts
from kitmanager.extensions import db
from kitmanager.models import (
    CheckIn,
    CheckInSource,
    Participant,
    RetiredBadgeToken,
    ScanRequest,
    Team,
    Workshop,
    WorkshopSession,
    new_token,
    utcnow,
)
from kitmanager.participants.fields import ParticipantFields
from kitmanager.participants.services import create_participant, list_participants, same_name
from kitmanager.workshops.services import utc_to_local

__all__ = [
    "BADGE_PATH",
    "KIT_LABEL_PATH",
    "AlreadyRegistered",
    "CheckInError",
    "Outcome",
    "RosterLine",
    "ScanRaced",
    "ScanResult",
    "ScanSession",
    "ScannedPerson",
    "apply_once",
    "attendance",
    "board_state",
    "check_in",
    "classify_code",
    "find_badge",
    "local_clock",
    "local_iso",
    "record_scan",
    "register_walk_in",
    "replace_badge",
    "replayed_scan",
    "roster",
    "roster_copy",
    "running_session",
    "scan_session",
    "scan_time",
    "sessions_attended",
    "token_digest",
    "undo_check_in",
    "undo_scan",
]

# The path a badge QR carries (``<base URL>/b/<token>``) and the one kit labels will carry.
BADGE_PATH = "/b/"
KIT_LABEL_PATH = "/k/"

# A scan may open a session a little early: people arrive before the start time.
EARLY_ARRIVAL = timedelta(minutes=30)
# A queued offline scan keeps its own time, unless that time is impossible.
_FUTURE_SLACK = timedelta(minutes=5)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


class CheckInError(ValueError):
    """A check-in request the user can fix; the message says how."""


class ScanRaced(Exception):
    """Another copy of this scan (same client id) was applied while this one was decided.

    Roll back, then :func:`replayed_scan` gives the answer the other copy got.
    """

    def __init__(self, client_id: str) -> None:
        super().__init__(client_id)
        self.client_id = client_id


_STORED_OUTCOME = select(ScanRequest.outcome).where(ScanRequest.client_id == bindparam("client_id"))


def _stored_outcome(client_id: str) -> dict[str, Any] | None:
    return _core().execute(_STORED_OUTCOME, {"client_id": client_id}).scalar()


def replayed_scan(client_id: str) -> ScanResult:
    """The stored answer to the scan sent with ``client_id`` (after :class:`ScanRaced`)."""
    return _stored_result(_stored_outcome(client_id) or {})


class Outcome(str, enum.Enum):
    """What a scan did. The values are the API's ``outcome`` strings."""

    CHECKED_IN = "checked_in"
    ALREADY_CHECKED_IN = "already_checked_in"
    UNKNOWN_CODE = "unknown_code"
    REVOKED = "revoked"
    NO_SESSION = "no_session"
    WRONG_WORKSHOP = "wrong_workshop"
    # A kit label that cannot be used here: not one of this laptop's kits, or at a kiosk.
    KIT_LABEL = "kit_label"
    # Kit scans at a station (kitmanager.kits.scans) and the return checklist's answer.
    KIT_HANDED_OUT = "kit_handed_out"
    KIT_WAITING = "kit_waiting"
    KIT_NEEDS_CONFIRMATION = "kit_needs_confirmation"
    KIT_UNAVAILABLE = "kit_unavailable"
    KIT_NEEDS_STATION = "kit_needs_station"
    KIT_RETURN = "kit_return"
    KIT_RETURNED = "kit_returned"
    KIT_NOT_OUT = "kit_not_out"


@dataclass
class ScanResult:
    """The answer to one scan, as the API sends it and a station shows it."""

    outcome: Outcome
    message: str
    participant: dict[str, Any] | None = None
    session: dict[str, Any] | None = None
    checked_in_at: str | None = None  # ISO time in the workshop's zone
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        # By hand, not dataclasses.asdict: its deep copy was a tenth of a scan's time.
        return {
            "outcome": self.outcome.value,
            "message": self.message,
            "participant": self.participant,
            "session": self.session,
            "checked_in_at": self.checked_in_at,
            **self.extra,
        }


@dataclass(frozen=True)
class ScannedCode:
    kind: str  # "badge", "kit_label" or "unknown"
    token: str | None = None


def classify_code(code: str) -> ScannedCode:
    """What a scanned text is: a badge URL from any host, a bare badge token, a kit label.

    Only the path counts, so badges printed with an old address of the laptop still work.
    """
    text = (code or "").strip()
    path = urlsplit(text).path if "/" in text else ""
    for prefix, kind in ((BADGE_PATH, "badge"), (KIT_LABEL_PATH, "kit_label")):
        position = path.rfind(prefix)
        if position >= 0:
            token = path[position + len(prefix) :].rstrip("/")
            if _TOKEN.fullmatch(token):
                return ScannedCode(kind, token)
    if _TOKEN.fullmatch(text):
        return ScannedCode("badge", text)
    return ScannedCode("unknown")


def running_session(workshop: Workshop, now: datetime | None = None) -> WorkshopSession | None:
    """The session a scan at ``now`` (UTC) belongs to: running, or starting within 30 minutes.

    When two overlap, the one that started last wins (a late session took over the room).
    """
    now = now or utcnow()
    return db.session.scalar(
        select(WorkshopSession)
        .where(
            WorkshopSession.workshop_id == workshop.id,
            WorkshopSession.starts_at <= now + EARLY_ARRIVAL,
            WorkshopSession.ends_at > now,
        )
        .order_by(WorkshopSession.starts_at.desc())
        .limit(1)
    )


def _core() -> Connection:
    """The connection of the session's transaction: plain SQL on the hot path skips the ORM's
    per-statement work (a scan is a handful of small statements)."""
    return db.session.connection()


def local_iso(value: datetime, zone: str) -> str:
    """Stored naive UTC as an ISO time with the UTC offset of ``zone`` (what the API sends)."""
    aware = value.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone))
    return aware.isoformat(timespec="seconds")


def local_clock(value: datetime, zone: str) -> str:
    """Stored naive UTC as a short clock time in ``zone``, in the reader's locale (09:14)."""
    return format_time(utc_to_local(value, zone), "short")


@dataclass(frozen=True)
class ScannedPerson:
    """What a scan needs of a badge's holder, read in one query (no ORM objects: scans are
    the hot path of the day)."""

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

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "starts": local_iso(self.starts_at, self.timezone),
            "ends": local_iso(self.ends_at, self.timezone),
        }


_SCANNED_PERSON = (
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
    .where(Participant.badge_token == bindparam("token"), Participant.deleted_at.is_(None))
)
_SCAN_SESSION_COLUMNS = (
    WorkshopSession.id,
    WorkshopSession.workshop_id,
    WorkshopSession.title,
    WorkshopSession.starts_at,
    WorkshopSession.ends_at,
    Workshop.timezone,
)
_SCAN_SESSION = (
    select(*_SCAN_SESSION_COLUMNS)
    .join(Workshop, Workshop.id == WorkshopSession.workshop_id)
    .where(WorkshopSession.id == bindparam("id"))
)
_RUNNING_SESSION = (
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
_RETIRED = select(RetiredBadgeToken.id).where(RetiredBadgeToken.token == bindparam("token"))


def scan_session(session_id: int) -> ScanSession | None:
    """The session a scan names, or None when there is no such session."""
    row = _core().execute(_SCAN_SESSION, {"id": session_id}).first()
    return ScanSession(*row) if row is not None else None


def _running_scan_session(workshop_id: int, at: datetime) -> ScanSession | None:
    row = db.session.execute(
        _RUNNING_SESSION, {"workshop_id": workshop_id, "soon": at + EARLY_ARRIVAL, "now": at}
    ).first()
    return ScanSession(*row) if row is not None else None


def _scanned_person(token: str) -> ScannedPerson | None:
    row = _core().execute(_SCANNED_PERSON, {"token": token}).first()
    return ScannedPerson(*row) if row is not None else None


def check_in(
    actor: Actor,
    participant: Participant | ScannedPerson,
    session: WorkshopSession | ScanSession,
    *,
    at: datetime | None = None,
    station: str = "",
    source: CheckInSource = CheckInSource.SCAN,
) -> tuple[bool, datetime]:
    """Record ``participant`` present at ``session``; ``(added, checked in at)``.

    ``added`` is False when they were already checked in: the first check-in is kept, and its
    time comes back.
    :raise CheckInError: when the person is not registered for the session's workshop.
    """
    if participant.workshop_id != session.workshop_id:
        raise CheckInError(_("This badge belongs to another workshop."))
    if getattr(participant, "deleted_at", None) is not None:
        raise CheckInError(_("This participant was removed from the workshop."))
    at = at or utcnow()
    added = None is not insert_ignoring_conflicts(
        CheckIn,
        participant_id=participant.id,
        session_id=session.id,
        at=at,
        recorded_at=utcnow(),
        by=actor.name[:120],
        device=actor.device[:200],
        station=station[:80],
        source=source.value,
    )
    if not added:
        first = db.session.scalar(
            select(CheckIn.at).where(
                CheckIn.participant_id == participant.id, CheckIn.session_id == session.id
            )
        )
        return False, first  # type: ignore[return-value]
    record_event(
        actor,
        "checkin.add",
        "participant",
        participant.id,
        session=session.id,
        station=station,
        source=source.value,
    )
    return True, at


def undo_check_in(actor: Actor, participant: Participant, session: WorkshopSession) -> bool:
    """Remove the check-in of ``participant`` at ``session``; False when there was none."""
    result = db.session.execute(
        delete(CheckIn).where(
            CheckIn.participant_id == participant.id, CheckIn.session_id == session.id
        )
    )
    if result.rowcount:
        record_event(actor, "checkin.remove", "participant", participant.id, session=session.id)
    return bool(result.rowcount)


def replace_badge(actor: Actor, participant: Participant) -> str:
    """Give ``participant`` a new badge token (a lost badge); the old one stops working.

    A scan of the old badge then answers "replaced" instead of checking anyone in.
    """
    old = participant.badge_token
    db.session.add(RetiredBadgeToken(token=old, participant_id=participant.id))
    participant.badge_token = new_token()
    db.session.flush()
    record_event(actor, "participant.badge_replaced", "participant", participant.id)
    return participant.badge_token


def scan_time(value: datetime | None) -> datetime:
    """The scan's own time in naive UTC; a time in the future (a wrong phone clock) is now."""
    now = utcnow()
    if value is None:
        return now
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return now if value > now + _FUTURE_SLACK else value


def _decide(
    actor: Actor,
    code: str,
    session: ScanSession | None,
    workshop_id: int | None,
    station: str,
    at: datetime,
    client_id: str | None = None,
    confirm: bool = False,
    kits: bool = True,
) -> ScanResult:
    from kitmanager.kits import scans as kit_scans

    scanned = classify_code(code)
    if scanned.kind == "kit_label":
        assert scanned.token is not None
        return kit_scans.scan_kit(
            actor,
            scanned.token,
            station=station,
            at=at,
            session=session,
            client_id=client_id,
            confirm=confirm,
            handouts=kits,
        )
    person = _scanned_person(scanned.token) if scanned.token else None
    if person is None:
        if scanned.token and _core().execute(_RETIRED, {"token": scanned.token}).first():
            return ScanResult(
                Outcome.REVOKED,
                _("This badge was replaced by a new one. Ask for the new badge."),
            )
        return ScanResult(
            Outcome.UNKNOWN_CODE,
            _("Not a badge of this workshop. Please ask a trainer."),
        )
    scope = session.workshop_id if session is not None else workshop_id
    if scope is not None and person.workshop_id != scope:
        if station:  # someone else stands at the station: no earlier scan pairs any more
            from kitmanager.kits.services import forget_scan

            forget_scan(station)
        return ScanResult(
            Outcome.WRONG_WORKSHOP,
            _(
                "%(name)s is registered for another workshop (%(workshop)s).",
                name=person.full_name,
                workshop=person.workshop_title,
            ),
            participant=person.to_json(),
        )
    chosen = session
    if session is None:
        session = _running_scan_session(person.workshop_id, at)
    if session is None:
        result = ScanResult(
            Outcome.NO_SESSION,
            _(
                "No session is running now. Choose the session to check %(name)s in to.",
                name=person.full_name,
            ),
            participant=person.to_json(),
        )
    else:
        result = _checked_in(actor, person, session, station, at)
    if kits and station and result.outcome in kit_scans.PAIRABLE:
        return kit_scans.after_badge(
            actor,
            person,
            result,
            station=station,
            at=at,
            session=chosen,
            client_id=client_id,
            confirm=confirm,
        )
    return result


def _checked_in(
    actor: Actor, person: ScannedPerson, session: ScanSession, station: str, at: datetime
) -> ScanResult:
    added, checked_in_at = check_in(actor, person, session, at=at, station=station)
    details = {
        "participant": person.to_json(),
        "session": session.to_json(),
        "checked_in_at": local_iso(checked_in_at, session.timezone),
    }
    if added:
        return ScanResult(
            Outcome.CHECKED_IN,
            _(
                "%(name)s — checked in to %(session)s",
                name=person.full_name,
                session=session.title,
            ),
            **details,
        )
    return ScanResult(
        Outcome.ALREADY_CHECKED_IN,
        _(
            "%(name)s was already checked in at %(time)s",
            name=person.full_name,
            time=local_clock(checked_in_at, session.timezone),
        ),
        **details,
    )


def record_scan(
    actor: Actor,
    code: str,
    *,
    session: ScanSession | None = None,
    workshop_id: int | None = None,
    client_id: str | None = None,
    station: str = "",
    scanned_at: datetime | None = None,
    confirm: bool = False,
    kits: bool = True,
) -> tuple[ScanResult, bool]:
    """Apply one scan; ``(result, replayed)``.

    ``session`` None means the session running at the scan's time in the badge's workshop;
    with ``session`` or ``workshop_id``, a badge of another workshop is refused. With a
    ``client_id`` seen before, nothing is applied and the first answer comes back with
    ``replayed`` True.

    Kit labels (:mod:`kitmanager.kits.scans`): a badge and a kit scanned at the same
    ``station`` within a minute of each other (by their ``scanned_at``) make a handout (the
    badge still checks in); a kit alone that is out starts its return. ``confirm`` makes a
    handout that asked for confirmation; ``kits`` False (a kiosk) makes no handout at all.
    :raise ScanRaced: when another copy of the same scan was applied meanwhile (roll back).
    """
    return apply_once(
        actor,
        client_id,
        lambda: _decide(
            actor,
            code,
            session,
            workshop_id,
            station,
            scan_time(scanned_at),
            client_id,
            confirm,
            kits,
        ),
    )


def apply_once(
    actor: Actor, client_id: str | None, decide: Callable[[], ScanResult]
) -> tuple[ScanResult, bool]:
    """Run ``decide`` once per ``client_id``; ``(result, replayed)``.

    With a ``client_id`` seen before nothing runs and the stored answer comes back with
    ``replayed`` True; otherwise the answer is stored under ``client_id``. What ``decide``
    raises is not stored (the caller rolls back).
    :raise ScanRaced: when another copy with the same ``client_id`` was applied meanwhile.
    """
    if client_id:
        stored = _stored_outcome(client_id)
        if stored:
            return _stored_result(stored), True
    result = decide()
    if client_id and None is insert_ignoring_conflicts(
        ScanRequest,
        client_id=client_id,
        actor=actor.name[:120],
        received_at=utcnow(),
        outcome=result.to_json(),
    ):
        # The same scan arrived twice at the same instant and the other copy was applied
        # first: this copy's writes must go (the caller rolls back) and its answer is theirs.
        raise ScanRaced(client_id)
    return result, False


def _stored_result(data: dict[str, Any]) -> ScanResult:
    data = dict(data)
    return ScanResult(
        outcome=Outcome(data.pop("outcome")),
        message=data.pop("message", ""),
        participant=data.pop("participant", None),
        session=data.pop("session", None),
        checked_in_at=data.pop("checked_in_at", None),
        extra=data,
    )


def attendance(workshop: Workshop) -> list[CheckIn]:
    """Every check-in of ``workshop``, oldest first, with participant and session loaded."""
    return list(
        db.session.scalars(
            select(CheckIn)
            .join(WorkshopSession, CheckIn.session_id == WorkshopSession.id)
            .where(WorkshopSession.workshop_id == workshop.id)
            .options(
                joinedload(CheckIn.participant).joinedload(Participant.team),
                joinedload(CheckIn.session),
            )
            .order_by(CheckIn.at, CheckIn.id)
        )
    )


_BADGE_HOLDER = (
    select(Participant)
    .where(Participant.badge_token == bindparam("token"), Participant.deleted_at.is_(None))
    .options(joinedload(Participant.team), joinedload(Participant.workshop))
)


def find_badge(token: str) -> tuple[Participant | None, bool]:
    """The participant a badge token opens, and whether the token is a replaced one.

    A trailing slash is forgiven, as a scan of the same badge URL forgives it.
    """
    token = (token or "").rstrip("/")
    if not _TOKEN.fullmatch(token):
        return None, False
    participant = db.session.scalar(_BADGE_HOLDER, {"token": token})
    if participant is not None:
        return participant, False
    return None, _core().execute(_RETIRED, {"token": token}).first() is not None


@dataclass
class RosterLine:
    participant: Participant
    check_in: CheckIn | None


def roster(session: WorkshopSession, search: str = "") -> list[RosterLine]:
    """Everyone registered for the session's workshop, with their check-in at it (or None).

    Two queries whatever the size: the people (with teams) and the session's check-ins.
    """
    people = list_participants(session.workshop, search)
    present = {
        row.participant_id: row
        for row in db.session.scalars(select(CheckIn).where(CheckIn.session_id == session.id))
    }
    return [RosterLine(p, present.get(p.id)) for p in people]


def sessions_attended(participant: Participant) -> list[tuple[WorkshopSession, CheckIn | None]]:
    """Each session of the participant's workshop, with their check-in at it (or None)."""
    present = {
        row.session_id: row
        for row in db.session.scalars(
            select(CheckIn).where(CheckIn.participant_id == participant.id)
        )
    }
    return [(s, present.get(s.id)) for s in participant.workshop.sessions]


# The answers an undo changes something for (the check-in or handout goes).
_UNDOABLE = frozenset({Outcome.CHECKED_IN.value, Outcome.KIT_HANDED_OUT.value})


def undo_scan(actor: Actor, client_id: str) -> ScanResult | None:
    """Take back the scan sent with ``client_id``: its check-in goes, if that scan made it,
    and its handout, if it made one (while the kit is still out). A kit or badge still
    waiting at its station for a partner pairs no more.

    Returns the scan's answer (now with ``undone``), or None when no such scan arrived.
    Undoing twice is harmless.
    """
    stored = db.session.scalars(
        select(ScanRequest).where(ScanRequest.client_id == client_id).with_for_update()
    ).first()
    if stored is None or not stored.outcome:
        return None
    from kitmanager.kits import scans as kit_scans

    outcome = dict(stored.outcome)
    if outcome.get("undone"):
        return _stored_result(outcome)
    kit_scans.forget_scan_of(client_id)
    made_check_in = (
        outcome.get("outcome") == Outcome.CHECKED_IN.value
        or (outcome.get("check_in") or {}).get("outcome") == Outcome.CHECKED_IN.value
    )
    if outcome.get("outcome") == Outcome.KIT_HANDED_OUT.value:
        kit_scans.undo_handout(actor, outcome["handout"])
    if made_check_in and outcome.get("session"):
        participant = db.session.get(Participant, outcome["participant"]["id"])
        session = db.session.get(WorkshopSession, outcome["session"]["id"])
        if participant is not None and session is not None:
            undo_check_in(actor, participant, session)
    if made_check_in or outcome.get("outcome") in _UNDOABLE:
        outcome["undone"] = True
        stored.outcome = outcome
        db.session.flush()
    return _stored_result(outcome)


def token_digest(token: str) -> str:
    """What a station's offline copy keeps of a badge token: the start of its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def roster_copy(workshop: Workshop) -> list[dict[str, Any]]:
    """The copy a scan station keeps for offline scans: names, team and a token digest only."""
    return [
        {
            "h": token_digest(p.badge_token),
            "name": p.full_name,
            "team": p.team.name if p.team else None,
        }
        for p in list_participants(workshop)
    ]


def board_state(session: WorkshopSession, last: int = 8) -> dict[str, Any]:
    """What the projector shows: checked in against expected, the last scans, who is missing."""
    lines = roster(session)
    arrived = sorted(
        (line for line in lines if line.check_in is not None),
        key=lambda line: (line.check_in.at, line.check_in.id),  # type: ignore[union-attr]
        reverse=True,
    )
    workshop = session.workshop
    return {
        "session": ScanSession.of(session).to_json(),
        "present": len(arrived),
        "expected": len(lines),
        "last": [
            {
                "name": line.participant.display_badge_name,
                "team": line.participant.team.name if line.participant.team else None,
                "at": local_clock(line.check_in.at, workshop.timezone),  # type: ignore[union-attr]
            }
            for line in arrived[:last]
        ],
        "missing": [line.participant.display_badge_name for line in lines if line.check_in is None],
    }


class AlreadyRegistered(CheckInError):
    """A walk-in's name is already on the workshop's list; ``existing`` is that person."""

    def __init__(self, existing: Participant) -> None:
        super().__init__(
            _(
                '%(name)s is already registered: mark them present below, or tick "Register '
                'anyway" for a different person with the same name.',
                name=existing.full_name,
            )
        )
        self.existing = existing


def register_walk_in(
    actor: Actor,
    session: WorkshopSession,
    full_name: str,
    team: str | None = None,
    *,
    same_name_ok: bool = False,
) -> Participant:
    """Someone at the door who never signed up: register them and check them in to ``session``.

    :raise AlreadyRegistered: when someone of that name is registered (a typo in the sign-up,
        a lost badge), unless ``same_name_ok``: the trainer should find them, not add them twice.
    :raise ParticipantError: when the name or team cannot be registered.
    """
    if not same_name_ok:
        for person in list_participants(session.workshop, full_name):
            if same_name(person.full_name, full_name):
                raise AlreadyRegistered(person)
    participant = create_participant(
        actor,
        session.workshop,
        ParticipantFields(full_name=full_name, team=team or None, notes=_("Walk-in")),
    )
    check_in(actor, participant, session, source=CheckInSource.MANUAL, station="walk-in")
    return participant
