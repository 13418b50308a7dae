"""The kit handlers of the scan core: what a kit label or a kit's code does when scanned, the
pairing rule with a badge, the return's checklist, and the undo of handouts and returns.

Nothing goes out that a person did not confirm: a kit scanned alone waits for a badge
(``kit_waiting``, nothing recorded); a kit and a badge that a station pairs (the scan's
``partner``) answer the question "Hand KIT-010 to …?" with the reasons to think twice; only the
same pair sent with ``confirm`` makes the handout. A kit that is out starts its return,
whatever was scanned before it. The rules themselves are :mod:`kitmanager.kits.services`'.

Services take an explicit actor, flush, never commit; the caller commits once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from kitmanager.audit import Actor, record_event
from kitmanager.extensions import db
from kitmanager.kits.services import (
    KitError,
    KitNotOut,
    ReturnResult,
    hand_out,
    handout_holder_name,
    handout_reasons,
    incident_text,
    list_kits,
    refuse_if_out,
    refuse_if_retired,
    return_kit,
)
from kitmanager.models import (
    Kit,
    KitCondition,
    KitHandout,
    KitIncident,
    KitStatus,
    Participant,
    Workshop,
    WorkshopSession,
)
from kitmanager.scans import (
    CodeKind,
    Outcome,
    Scan,
    ScannedCode,
    ScanResult,
    apply_once,
    register_follower,
    register_handler,
    register_undo,
)
from kitmanager.scans.codes import token_digest
from kitmanager.scans.subjects import ScannedPerson, local_clock, local_iso

__all__ = [
    "PAIRABLE",
    "follow_badge",
    "kit_json",
    "kits_roster_copy",
    "record_return",
    "scan_kit",
]

# A badge scan that identified someone of the workshop may pair with a kit.
PAIRABLE = frozenset({Outcome.CHECKED_IN, Outcome.ALREADY_CHECKED_IN, Outcome.NO_SESSION})
_KIT_KINDS = (CodeKind.KIT, CodeKind.KIT_CODE)


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
_KIT_BY_CODE = select(Kit).options(joinedload(Kit.kit_type)).where(Kit.code == bindparam("code"))


def _kit(code: ScannedCode) -> Kit | None:
    """The kit a label's token or a typed code names, with its type loaded (the answer names
    it)."""
    if code.kind is CodeKind.KIT:
        return db.session.scalar(_KIT_BY_TOKEN, {"token": code.value})
    return db.session.scalar(_KIT_BY_CODE, {"code": code.value})


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


def _pair(actor: Actor, kit: Kit, participant: Participant, scan: Scan) -> ScanResult:
    """The kit and the person a station paired: the question, or with ``confirm`` the
    handout. A confirmation that did not see a reason that holds now (``seen_reasons``, sent
    by a station that asked offline) asks again with the reasons."""
    person = ScannedPerson.of(participant).to_json()
    try:
        refuse_if_retired(kit)
        refuse_if_out(kit)
    except KitError as refused:
        return ScanResult(
            Outcome.KIT_UNAVAILABLE, str(refused), participant=person, extra={"kit": kit_json(kit)}
        )
    reasons = handout_reasons(kit, participant)
    seen = scan.seen_reasons
    unseen = [reason for reason in reasons if seen is not None and reason not in seen]
    if not scan.confirm or unseen:
        return ScanResult(
            Outcome.KIT_NEEDS_CONFIRMATION,
            _("Hand %(code)s to %(name)s?", code=kit.code, name=participant.full_name),
            participant=person,
            extra={"kit": kit_json(kit), "reasons": reasons},
        )
    chosen = None
    if scan.session is not None and scan.session.workshop_id == participant.workshop_id:
        chosen = db.session.get(WorkshopSession, scan.session.id)
    try:
        handout = hand_out(
            actor,
            kit,
            participant,
            session=chosen,
            at=scan.at,
            station=scan.station,
            confirmed=True,
        )
    except KitError as refused:  # won by another station an instant earlier, a removed person
        return ScanResult(
            Outcome.KIT_UNAVAILABLE, str(refused), participant=person, extra={"kit": kit_json(kit)}
        )
    return _handed_out(handout, kit, participant)


def _partner_person(scan: Scan) -> Participant | None:
    """The registered person whose badge the station paired with this kit scan, if the badge
    belongs to the station's workshop."""
    if scan.partner is None or scan.partner.kind is not CodeKind.BADGE:
        return None
    participant = db.session.scalar(
        select(Participant)
        .options(joinedload(Participant.workshop), joinedload(Participant.team))
        .where(
            Participant.badge_token == scan.partner.value,
            Participant.not_deleted,
        )
    )
    if participant is None:
        return None
    scope = scan.session.workshop_id if scan.session is not None else scan.workshop_id
    if scope is not None and participant.workshop_id != scope:
        return None
    return participant


def scan_kit(actor: Actor, scan: Scan) -> ScanResult:
    """A kit label (or a kit's code) scanned.

    Out: its return starts (the answer carries the checklist and the holder), whatever was
    scanned before. In, with a paired badge: the handout question (or, with ``confirm``, the
    handout). In and alone: it waits for a badge; nothing is recorded. At a kiosk a kit scan
    only says that a trainer hands kits out.
    """
    kit = _kit(scan.code)
    if kit is None:
        if scan.code.kind is CodeKind.KIT_CODE:
            return ScanResult(
                Outcome.UNKNOWN_CODE,
                _(
                    "“%(code)s” is neither a badge nor a kit of this laptop. Please ask a trainer.",
                    code=scan.code.text[:40],
                ),
            )
        return ScanResult(
            Outcome.KIT_LABEL,
            _("This kit label is not one of this laptop's kits. Please ask a trainer."),
        )
    if scan.kiosk:
        return ScanResult(
            Outcome.KIT_LABEL,
            _("This is a kit: a trainer hands out and takes back kits."),
            extra={"kit": kit_json(kit)},
        )
    handout = kit.open_handout
    if handout is not None and not scan.confirm:  # a confirmation says it went elsewhere
        return _return_starts(kit, handout)
    try:
        refuse_if_retired(kit)  # said now: it must not wait to refuse the next badge
    except KitError as refused:
        return ScanResult(Outcome.KIT_UNAVAILABLE, str(refused), extra={"kit": kit_json(kit)})
    participant = _partner_person(scan)
    if participant is not None:
        return _pair(actor, kit, participant, scan)
    return ScanResult(
        Outcome.KIT_WAITING,
        _("%(code)s waits for a badge: scan the participant's badge.", code=kit.code),
        extra={"kit": kit_json(kit)},
    )


def _return_starts(kit: Kit, handout: KitHandout) -> ScanResult:
    participant = handout.participant
    zone = (
        participant.workshop.timezone
        if participant is not None
        else db.session.scalar(select(Workshop.timezone).where(Workshop.id == handout.workshop_id))
    ) or "UTC"
    holder = handout_holder_name(handout)  # a team, or someone since removed, is named too
    return ScanResult(
        Outcome.KIT_RETURN,
        _("%(code)s is back from %(name)s: check its contents.", code=kit.code, name=holder),
        participant=ScannedPerson.of(participant).to_json() if participant is not None else None,
        extra={
            "kit": kit_json(kit, KitStatus.OUT),
            "holder": holder,
            "out_at": local_iso(handout.out_at, zone),
            "due_at": local_iso(handout.due_at, zone) if handout.due_at else None,
            "checklist": _checklist(kit),
        },
    )


def follow_badge(actor: Actor, scan: Scan, badge_result: ScanResult) -> ScanResult:
    """A badge scanned with a kit the station paired it with: after the badge's own answer
    (its check-in), the handout question for that kit, carrying the check-in as
    ``check_in``. Without a paired kit, or for a badge that names nobody here, the badge's
    answer stands."""
    if (
        scan.kiosk
        or scan.partner is None
        or scan.partner.kind not in _KIT_KINDS
        or badge_result.outcome not in PAIRABLE
        or badge_result.participant is None
    ):
        return badge_result
    kit = _kit(scan.partner)
    participant = _person(badge_result.participant["id"])
    if kit is None or participant is None:
        return badge_result
    result = _pair(actor, kit, participant, scan)
    result.session = badge_result.session
    result.checked_in_at = badge_result.checked_in_at
    result.extra["check_in"] = {
        "outcome": badge_result.outcome.value,
        "message": badge_result.message,
    }
    return result


def undo_scanned_handout(actor: Actor, answer: dict[str, Any]) -> str | None:
    """Take back a handout made by mistake (the station's undo): it never happened.

    None when it is no longer open (the kit came back since): a return is not undone here.
    """
    handout = db.session.get(KitHandout, answer.get("handout") or 0)
    if handout is None or handout.returned_at is not None:
        return None
    kit_id = handout.kit_id
    db.session.delete(handout)
    db.session.flush()
    kit = db.session.get(Kit, kit_id)
    if kit is not None:
        db.session.expire(kit, ["open_handout"])
    record_event(actor, "kit.handout_undone", "kit", kit_id, handout=handout.id)
    return _(
        "Handout of %(code)s to %(name)s undone.",
        code=(answer.get("kit") or {}).get("code", ""),
        name=(answer.get("participant") or {}).get("name", ""),
    )


def undo_scanned_return(actor: Actor, answer: dict[str, Any]) -> str | None:
    """Take back a return recorded by mistake: the handout is open again, the incident the
    return opened goes, and the kit's condition is what it was. None when the kit went out
    again since (that handout stays)."""
    handout = db.session.get(KitHandout, answer.get("handout") or 0)
    if handout is None or handout.returned_at is None:
        return None
    kit = db.session.get(Kit, handout.kit_id)
    if kit is None or kit.open_handout is not None:
        return None
    if answer.get("incident"):
        incident = db.session.get(KitIncident, answer["incident"])
        if incident is not None:
            db.session.delete(incident)
    handout.returned_at = None
    handout.returned_by = ""
    if answer.get("was") in {condition.value for condition in KitCondition}:
        kit.condition = answer["was"]
    db.session.flush()
    db.session.expire(kit, ["open_handout"])
    record_event(actor, "kit.return_undone", "kit", kit.id, handout=handout.id)
    return _(
        "Return of %(code)s undone: it is out with %(name)s again.",
        code=kit.code,
        name=handout_holder_name(handout),
    )


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
        handout = kit.open_handout
        was = kit.condition
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
                "handout": handout.id if handout is not None else None,
                "was": was,
            },
        )

    return apply_once(actor, client_id, decide)


def kits_roster_copy() -> list[dict[str, Any]]:
    """What a scan station keeps to name kits offline: a digest of each label's token, the
    code, the type and whether it is out."""
    return [
        {
            "h": token_digest(kit.label_token),
            "code": kit.code,
            "type": kit.kit_type.name,
            "out": kit.status is KitStatus.OUT,
        }
        for kit in list_kits()
    ]


register_handler(CodeKind.KIT, scan_kit)
register_handler(CodeKind.KIT_CODE, scan_kit)
register_follower(CodeKind.BADGE, follow_badge)
register_undo(Outcome.KIT_HANDED_OUT, undo_scanned_handout)
register_undo(Outcome.KIT_RETURNED, undo_scanned_return)
