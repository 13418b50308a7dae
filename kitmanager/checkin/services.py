"""Check-in: recording who is present at which session.

One service answers every way a badge reaches the app: scans (through the scan core, whose
badge handler is :mod:`kitmanager.checkin.scans`), ``/b/<token>`` opened by a trainer's phone
and the roster's tick boxes. Writes are idempotent at the database: a check-in is inserted with
ON CONFLICT DO NOTHING against the unique (participant, session) constraint.

Services take an explicit actor, flush, never commit; the caller commits once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import joinedload

from kitmanager.audit import Actor, record_event
from kitmanager.database import HotStatement, insert_ignoring_conflicts
from kitmanager.extensions import db
from kitmanager.models import (
    CheckIn,
    CheckInSource,
    Participant,
    RetiredBadgeToken,
    Workshop,
    WorkshopSession,
    new_token,
    utcnow,
)
from kitmanager.participants.fields import ParticipantFields
from kitmanager.participants.services import create_participant, list_participants, same_name
from kitmanager.scans.codes import TOKEN, token_digest
from kitmanager.scans.subjects import (
    EARLY_ARRIVAL,
    ScannedPerson,
    ScanSession,
    local_clock,
)
from kitmanager.text import safe_text, sort_key
from kitmanager.unit_of_work import UserError

__all__ = [
    "AlreadyRegistered",
    "BadgeAlreadyReplaced",
    "CheckInError",
    "RosterLine",
    "WalkIn",
    "attendance",
    "board_state",
    "check_in",
    "find_badge",
    "is_retired_badge",
    "register_walk_in",
    "replace_badge",
    "roster",
    "roster_copy",
    "running_session",
    "sessions_attended",
    "undo_check_in",
]


class CheckInError(UserError):
    """A check-in request the user can fix; the message says how."""


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


_CHECKED_IN_AT = HotStatement(
    select(CheckIn.at).where(
        CheckIn.participant_id == bindparam("participant_id"),
        CheckIn.session_id == bindparam("session_id"),
    )
)


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
        first = _CHECKED_IN_AT.scalar({"participant_id": participant.id, "session_id": session.id})
        return False, first
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


def undo_check_in(actor: Actor, participant_id: int, session_id: int) -> bool:
    """Remove the check-in of the participant at the session; False when there was none."""
    result = db.session.execute(
        delete(CheckIn).where(
            CheckIn.participant_id == participant_id, CheckIn.session_id == session_id
        )
    )
    if result.rowcount:
        record_event(actor, "checkin.remove", "participant", participant_id, session=session_id)
    return bool(result.rowcount)


class BadgeAlreadyReplaced(CheckInError):
    """The badge a replacement was asked for is no longer the person's: another request
    replaced it a moment before, or the page showed an older badge. Nothing was changed."""

    def __init__(self, participant: Participant) -> None:
        super().__init__(
            _(
                "This badge was already replaced: %(name)s has a new one. Print it now.",
                name=participant.full_name,
            )
        )
        self.participant = participant


def replace_badge(actor: Actor, participant: Participant, replacing: str | None = None) -> str:
    """Give ``participant`` a new badge token in place of ``replacing`` (the token of the badge
    the page showed; None: the one they have now): a lost badge. Returns the new token.

    The old badge stops working: a scan of it then answers "replaced" instead of checking
    anyone in. The token changes only where it still is ``replacing`` (a conditional UPDATE,
    which the database decides), so of several requests at once one replaces the badge and the
    others change nothing, and a page showing an older badge does not replace the new one.

    :raise BadgeAlreadyReplaced: ``replacing`` is no longer the participant's badge.
    :raise CheckInError: the participant was removed from the workshop meanwhile.
    """
    old = replacing or participant.badge_token
    new = new_token()
    changed = db.session.execute(
        update(Participant)
        .where(
            Participant.id == participant.id,
            Participant.badge_token == old,
            Participant.not_deleted,
        )
        .values(badge_token=new)
        .execution_options(synchronize_session=False)
    ).rowcount
    # What the database holds now: the new token, or the one another request gave.
    db.session.expire(participant, ["badge_token", "updated_at", "deleted_at"])
    if not changed:
        if participant.deleted_at is not None:
            raise CheckInError(_("This participant was removed from the workshop."))
        raise BadgeAlreadyReplaced(participant)
    db.session.add(RetiredBadgeToken(token=old, participant_id=participant.id))
    db.session.flush()
    record_event(actor, "participant.badge_replaced", "participant", participant.id)
    return new


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
    .where(Participant.badge_token == bindparam("token"), Participant.not_deleted)
    .options(joinedload(Participant.team), joinedload(Participant.workshop))
)


def find_badge(token: str) -> tuple[Participant | None, bool]:
    """The participant a badge token opens, and whether the token is a replaced one.

    A trailing slash is forgiven, as a scan of the same badge URL forgives it.
    """
    token = (token or "").rstrip("/")
    if not TOKEN.fullmatch(token):
        return None, False
    participant = db.session.scalar(_BADGE_HOLDER, {"token": token})
    if participant is not None:
        return participant, False
    return None, is_retired_badge(token)


_RETIRED = HotStatement(
    select(RetiredBadgeToken.id).where(RetiredBadgeToken.token == bindparam("token"))
)


def is_retired_badge(token: str) -> bool:
    """Whether ``token`` was a badge's before it was replaced (a lost badge)."""
    return _RETIRED.first({"token": token}) is not None


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

    def __init__(self, existing: Participant, *, checked_in: bool = False) -> None:
        if checked_in:
            message = _(
                "%(name)s is already registered and checked in. For a different person with "
                'the same name, tick "Register anyway".',
                name=existing.full_name,
            )
        else:
            message = _(
                '%(name)s is already registered: mark them present below, or tick "Register '
                'anyway" for a different person with the same name.',
                name=existing.full_name,
            )
        super().__init__(message)
        self.existing = existing


@dataclass(frozen=True)
class WalkIn:
    """A walk-in registered and checked in. ``registered`` is False when the same form had
    registered them already (sent twice): nobody new was added."""

    participant: Participant
    registered: bool


def register_walk_in(
    actor: Actor,
    session: WorkshopSession,
    full_name: str,
    team: str | None = None,
    *,
    same_name_ok: bool = False,
    form_id: str = "",
) -> WalkIn:
    """Someone at the door who never signed up: register them and check them in to ``session``.

    Once per form: ``form_id`` is the one-time id of the walk-in form the page showed. The
    badge token of the person it registers is derived from it and the name, so the same form
    sent again (a double click, a tab sent twice, copies at the same instant) finds that person
    and checks them in, once, instead of registering them again. Without a ``form_id`` every
    call registers someone.

    Run it inside :func:`~kitmanager.database.serialized_writes`, up to the commit: the walk-ins
    of a workshop are decided one at a time (a locking read of the workshop), so the same name
    typed in several tabs at once is registered once and the other tabs are told.

    :raise AlreadyRegistered: when someone of that name is registered (a typo in the sign-up,
        a lost badge, another tab a moment ago), unless ``same_name_ok``: the trainer should
        find them, not add them twice.
    :raise ParticipantError: when the name or team cannot be registered.
    """
    _walk_ins_one_at_a_time(session.workshop_id)
    token = (
        _walk_in_token(session.workshop_id, form_id, full_name)
        if TOKEN.fullmatch(form_id)
        else None
    )
    if token is not None:
        earlier = _registered_by_form(session.workshop_id, token)
        if earlier is not None:
            check_in(actor, earlier, session, source=CheckInSource.MANUAL, station="walk-in")
            return WalkIn(earlier, registered=False)
    if not same_name_ok:
        for person in list_participants(session.workshop, full_name):
            if same_name(person.full_name, full_name):
                present = _CHECKED_IN_AT.scalar(
                    {"participant_id": person.id, "session_id": session.id}
                )
                raise AlreadyRegistered(person, checked_in=present is not None)
    participant = create_participant(
        actor,
        session.workshop,
        ParticipantFields(full_name=full_name, team=team or None, notes=_("Walk-in")),
    )
    if token is not None:
        participant.badge_token = token
        db.session.flush()
    check_in(actor, participant, session, source=CheckInSource.MANUAL, station="walk-in")
    return WalkIn(participant, registered=True)


def _walk_ins_one_at_a_time(workshop_id: int) -> None:
    """Wait until no other walk-in of the workshop is being decided, up to the commit.

    PostgreSQL: a lock on the workshop's row that only other walk-ins wait for (FOR NO KEY
    UPDATE lets rows that refer to the workshop be written meanwhile). SQLite: a locking read
    takes the writers' turn of :func:`~kitmanager.database.serialized_writes`.
    """
    db.session.execute(
        select(Workshop.id).where(Workshop.id == workshop_id).with_for_update(key_share=True)
    )


def _walk_in_token(workshop_id: int, form_id: str, full_name: str) -> str:
    """The badge token of the walk-in that the form ``form_id`` registers under ``full_name``
    (case, accents and spaces aside): keyed with the app's secret key, so it is as unguessable
    as a random token and shaped like one, yet the same form sent again gives the same token."""
    key = current_app.config["SECRET_KEY"]
    message = f"walk-in\n{workshop_id}\n{form_id}\n{sort_key(safe_text(full_name))}"
    digest = hmac.new(
        key.encode() if isinstance(key, str) else key, message.encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()  # 32 characters, as new_token()


def _registered_by_form(workshop_id: int, token: str) -> Participant | None:
    """The walk-in whose badge token is (or was, before a replacement) ``token``."""
    retired = select(RetiredBadgeToken.participant_id).where(RetiredBadgeToken.token == token)
    return db.session.scalar(
        select(Participant).where(
            Participant.workshop_id == workshop_id,
            Participant.not_deleted,
            (Participant.badge_token == token) | Participant.id.in_(retired),
        )
    )
