"""What a kit label scanned at a station does: pairing with a badge into a handout, starting
a return, and recording the return's checklist.

The rules of a handout and a return are those of :mod:`kitmanager.kits.services`
(:func:`hand_out`, :func:`return_kit` and the station pairing primitives); this module only
turns scans into calls of them and their answers into :class:`ScanResult` values that the
API sends and the scan station shows. A badge and a kit scanned at the same named station
within :data:`PAIR_WINDOW` of each other (by the scans' own times, so a scan queued offline
pairs as it happened) make a handout; a kit scanned alone that is out starts its return.

Services take an explicit actor, flush, never commit; the caller commits once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import joinedload

from kitmanager.audit import Actor, record_event
from kitmanager.checkin.services import (
    Outcome,
    ScannedPerson,
    ScanResult,
    ScanSession,
    apply_once,
    local_clock,
    local_iso,
)
from kitmanager.extensions import db
from kitmanager.kits.services import (
    KitError,
    KitNotOut,
    NeedsConfirmation,
    ReturnResult,
    _holder_name,
    forget_scan,
    hand_out,
    incident_text,
    refuse_if_retired,
    remember_scan,
    return_kit,
    scan_partner,
)
from kitmanager.models import (
    Kit,
    KitCondition,
    KitHandout,
    KitStatus,
    Participant,
    StationScan,
    Workshop,
    WorkshopSession,
    utcnow,
)

__all__ = [
    "PAIRABLE",
    "after_badge",
    "forget_scan_of",
    "kit_json",
    "record_return",
    "scan_kit",
    "undo_handout",
]

# A badge scan that identified someone of the workshop may pair with a kit.
PAIRABLE = frozenset({Outcome.CHECKED_IN, Outcome.ALREADY_CHECKED_IN, Outcome.NO_SESSION})


def kit_json(kit: Kit, status: KitStatus | None = None) -> dict[str, Any]:
    """What a station shows of a kit: code, type, status (``status`` when the caller knows it
    already) and its label token."""
    return {
        "code": kit.code,
        "type": kit.kit_type.name,
        "status": (status or kit.status).value,
        "token": kit.label_token,
    }


# Built once: a kit scan is on the hot path of the morning.
_KIT_BY_TOKEN = (
    select(Kit).options(joinedload(Kit.kit_type)).where(Kit.label_token == bindparam("token"))
)


def _kit(token: str) -> Kit | None:
    """The kit whose label carries ``token`` (as :func:`kit_by_token`), with its type loaded
    in the same query: a scan's answer names it."""
    return db.session.scalar(_KIT_BY_TOKEN, {"token": token})


def _person(participant_id: int) -> Participant | None:
    """A participant with the workshop and team a scan's answer names, in one query."""
    return db.session.get(
        Participant,
        participant_id,
        options=[joinedload(Participant.workshop), joinedload(Participant.team)],
    )


def _checklist(kit: Kit) -> list[dict[str, Any]]:
    return [
        {
            "id": component.id,
            "name": component.name,
            "quantity": component.quantity,
            "must_return": component.must_return,
        }
        for component in kit.kit_type.components
    ]


def _handed_out(handout: KitHandout, kit: Kit, participant: Participant) -> ScanResult:
    zone = participant.workshop.timezone
    if handout.due_at is not None:
        message = _(
            "%(code)s → %(name)s, due %(time)s",
            code=kit.code,
            name=participant.full_name,
            time=local_clock(handout.due_at, zone),
        )
    else:
        message = _("%(code)s → %(name)s", code=kit.code, name=participant.full_name)
    return ScanResult(
        Outcome.KIT_HANDED_OUT,
        message,
        participant=ScannedPerson.of(participant).to_json(),
        extra={
            "kit": kit_json(kit, KitStatus.OUT),
            "handout": handout.id,
            "due_at": local_iso(handout.due_at, zone) if handout.due_at else None,
        },
    )


def _pair(
    actor: Actor,
    kit: Kit,
    participant: Participant,
    *,
    station: str,
    at: datetime,
    session: ScanSession | None,
    confirm: bool,
    partner: tuple[str, int],
) -> ScanResult:
    """Hand ``kit`` to ``participant`` (the two scans of a pair); the answer says how it went.

    A handout that asks for confirmation keeps the pair waiting from now (not from the scan's
    own time: a scan sent late from an offline queue is confirmed when the answer is seen), so
    the same scan sent again with ``confirm`` makes it.
    """
    chosen = None
    if session is not None and session.workshop_id == participant.workshop_id:
        chosen = db.session.get(WorkshopSession, session.id)
    try:
        handout = hand_out(
            actor, kit, participant, session=chosen, at=at, station=station, confirmed=confirm
        )
    except NeedsConfirmation as question:
        kind, subject = partner
        remember_scan(station, kind, subject, max(at, utcnow()))
        return ScanResult(
            Outcome.KIT_NEEDS_CONFIRMATION,
            _(
                "Hand %(code)s to %(name)s anyway?",
                code=kit.code,
                name=participant.full_name,
            ),
            participant=ScannedPerson.of(participant).to_json(),
            extra={"kit": kit_json(kit), "reasons": question.reasons},
        )
    except KitError as refused:  # KitUnavailable, a removed participant, ...
        forget_scan(station)
        return ScanResult(
            Outcome.KIT_UNAVAILABLE,
            str(refused),
            participant=ScannedPerson.of(participant).to_json(),
            extra={"kit": kit_json(kit)},
        )
    forget_scan(station)
    return _handed_out(handout, kit, participant)


def scan_kit(
    actor: Actor,
    token: str,
    *,
    station: str,
    at: datetime,
    session: ScanSession | None = None,
    client_id: str | None = None,
    confirm: bool = False,
    handouts: bool = True,
) -> ScanResult:
    """A kit label scanned at ``station`` at ``at``.

    After a badge at the same station within the pairing window: a handout to that person.
    Alone: a kit that is out starts its return (the answer carries the checklist and the
    holder); a kit that is in waits for a badge. Without a station name nothing pairs, and
    with ``handouts`` False (a kiosk) a kit scan only says a trainer hands kits out.
    """
    kit = _kit(token)
    if kit is None:
        return ScanResult(
            Outcome.KIT_LABEL,
            _("This kit label is not one of this laptop's kits. Please ask a trainer."),
        )
    if not handouts:
        return ScanResult(
            Outcome.KIT_LABEL,
            _("This is a kit: a trainer hands out and takes back kits."),
            extra={"kit": kit_json(kit)},
        )
    partner = scan_partner(station, "badge", at) if station else None
    if partner is not None:
        participant = _person(partner)
        if participant is not None:
            return _pair(
                actor,
                kit,
                participant,
                station=station,
                at=at,
                session=session,
                confirm=confirm,
                partner=("badge", partner),
            )
    handout = kit.open_handout
    if handout is not None:
        if station:
            forget_scan(station)
        return _return_starts(kit, handout)
    try:
        refuse_if_retired(kit)  # said now: it must not wait to refuse the next badge
    except KitError as refused:
        if station:
            forget_scan(station)
        return ScanResult(Outcome.KIT_UNAVAILABLE, str(refused), extra={"kit": kit_json(kit)})
    if not station:
        return ScanResult(
            Outcome.KIT_NEEDS_STATION,
            _(
                "A kit scan needs a station name, so that it pairs with the badge scanned "
                "at the same station."
            ),
            extra={"kit": kit_json(kit)},
        )
    remember_scan(station, "kit", kit.id, at, client_id)
    return ScanResult(
        Outcome.KIT_WAITING,
        _("%(code)s: now scan the participant's badge.", code=kit.code),
        extra={"kit": kit_json(kit)},
    )


def _return_starts(kit: Kit, handout: KitHandout) -> ScanResult:
    participant = handout.participant
    zone = (
        participant.workshop.timezone
        if participant is not None
        else db.session.scalar(select(Workshop.timezone).where(Workshop.id == handout.workshop_id))
    )
    holder = _holder_name(handout)  # a team, or someone since removed, is named too
    return ScanResult(
        Outcome.KIT_RETURN,
        _("%(code)s is back from %(name)s: check its contents.", code=kit.code, name=holder),
        participant=ScannedPerson.of(participant).to_json() if participant is not None else None,
        extra={
            "kit": kit_json(kit, KitStatus.OUT),
            "holder": holder,
            "out_at": local_iso(handout.out_at, zone or "UTC"),
            "due_at": local_iso(handout.due_at, zone or "UTC") if handout.due_at else None,
            "checklist": _checklist(kit),
        },
    )


def after_badge(
    actor: Actor,
    person: ScannedPerson,
    badge_result: ScanResult,
    *,
    station: str,
    at: datetime,
    session: ScanSession | None = None,
    client_id: str | None = None,
    confirm: bool = False,
) -> ScanResult:
    """A badge scanned at ``station`` (already checked in as ``badge_result`` says): after a
    kit within the pairing window, a handout, whose answer also carries the check-in; else
    the badge waits at the station for a kit and ``badge_result`` is the answer."""
    partner = scan_partner(station, "kit", at)
    kit = db.session.get(Kit, partner) if partner is not None else None
    if kit is None:
        remember_scan(station, "badge", person.id, at, client_id)
        return badge_result
    participant = _person(person.id)
    assert participant is not None
    result = _pair(
        actor,
        kit,
        participant,
        station=station,
        at=at,
        session=session,
        confirm=confirm,
        partner=("kit", kit.id),
    )
    result.session = badge_result.session
    result.checked_in_at = badge_result.checked_in_at
    result.extra["check_in"] = {
        "outcome": badge_result.outcome.value,
        "message": badge_result.message,
    }
    return result


def forget_scan_of(client_id: str) -> None:
    """A scan taken back: if it still waits at its station for a partner, it pairs no more."""
    db.session.execute(delete(StationScan).where(StationScan.client_id == client_id))


def undo_handout(actor: Actor, handout_id: int) -> bool:
    """Take back a handout made by mistake (the station's undo): it never happened.

    False when it is no longer open (the kit came back since): a return is not undone.
    """
    handout = db.session.get(KitHandout, handout_id)
    if handout is None or handout.returned_at is not None:
        return False
    kit_id = handout.kit_id
    db.session.delete(handout)
    db.session.flush()
    kit = db.session.get(Kit, kit_id)
    if kit is not None:
        db.session.expire(kit, ["open_handout"])
    record_event(actor, "kit.handout_undone", "kit", kit_id, handout=handout_id)
    return True


def _returned(kit: Kit, result: ReturnResult) -> str:
    if result.incident is None:
        return _("%(code)s is back, complete: ready.", code=kit.code)
    parts = incident_text(result.incident)  # as the kit's pages and history word it
    if result.condition == KitCondition.READY:
        return _("%(code)s is back: %(parts)s. Still ready.", code=kit.code, parts=parts)
    return _("%(code)s is back: %(parts)s. It needs attention.", code=kit.code, parts=parts)


def record_return(
    actor: Actor,
    kit: Kit,
    *,
    missing: Mapping[int, int] | None = None,
    damaged: Mapping[int, int] | None = None,
    note: str = "",
    client_id: str | None = None,
    station: str = "",
    at: datetime | None = None,
) -> tuple[ScanResult, bool]:
    """The return checklist of ``kit`` as a station submits it; ``(result, replayed)``.

    Idempotent by ``client_id`` like a scan: sent again, nothing is applied twice and the
    first answer comes back. A kit that is not out is an answer (``kit_not_out``), not an
    error.
    :raise KitError: a component not in the kit or counts above its quantity (nothing stored).
    :raise ScanRaced: another copy of the same return was applied meanwhile (roll back).
    """

    def decide() -> ScanResult:
        try:
            result = return_kit(
                actor, kit, missing=missing, damaged=damaged, note=note, at=at, station=station
            )
        except KitNotOut as not_out:
            return ScanResult(Outcome.KIT_NOT_OUT, str(not_out), extra={"kit": kit_json(kit)})
        return ScanResult(
            Outcome.KIT_RETURNED,
            _returned(kit, result),
            extra={
                "kit": kit_json(kit, KitStatus(result.condition.value)),
                "condition": result.condition.value,
                "incident": result.incident.id if result.incident is not None else None,
            },
        )

    return apply_once(actor, client_id, decide)
