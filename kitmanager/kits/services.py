"""Kits: kit types and their bill of materials, kits, handouts, returns and incidents.

One service layer for the pages, the API, the scan station and the CLI. Services take an
explicit actor, flush, never commit; the caller commits once. Uniqueness that protects the user
is the database's: one open handout per kit is a partial unique index, and a handout is an
INSERT ... ON CONFLICT DO NOTHING against it, so of two stations handing out the same kit at the
same instant exactly one wins and the other gets a clear message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, selectinload

from kitmanager.audit import Actor, record_event
from kitmanager.database import insert_ignoring_conflicts
from kitmanager.extensions import db
from kitmanager.models import (
    Kit,
    KitComponent,
    KitCondition,
    KitHandout,
    KitIncident,
    KitIncidentItem,
    KitStatus,
    KitType,
    Participant,
    StationScan,
    Workshop,
    WorkshopSession,
    utcnow,
)
from kitmanager.scans.codes import KIT_CODE
from kitmanager.scans.codes import kit_label_url as label_url
from kitmanager.scans.subjects import EARLY_ARRIVAL
from kitmanager.text import clean_for_column, column_limit, safe_text, sort_key
from kitmanager.unit_of_work import UserError

__all__ = [
    "MAX_BULK",
    "MAX_QUANTITY",
    "PAIR_WINDOW",
    "BoardRecord",
    "ComponentLine",
    "HistoryEntry",
    "KitError",
    "KitNotOut",
    "KitUnavailable",
    "NeedsConfirmation",
    "RestockLine",
    "ReturnResult",
    "attention_reasons",
    "board_families",
    "board_family",
    "checked_kit_code",
    "create_kit",
    "create_kit_type",
    "create_kits",
    "default_due_at",
    "delete_kit_type",
    "field_limit",
    "find_participants",
    "forget_scan",
    "hand_out",
    "handout_holder_name",
    "handout_reasons",
    "highest_kit_number",
    "incident_text",
    "kit_by_code",
    "kit_by_token",
    "kit_history",
    "kit_label_url",
    "kit_type_by_name",
    "kits_held_by",
    "kits_needing_attention",
    "kits_out",
    "list_kit_types",
    "list_kits",
    "open_incidents",
    "overdue_handouts",
    "phone_station",
    "refuse_if_out",
    "refuse_if_retired",
    "register_history_source",
    "remember_scan",
    "resolve_incident",
    "restock_list",
    "return_kit",
    "scan_partner",
    "set_condition",
    "update_kit",
    "update_kit_type",
]

CODE_PREFIX = "KIT-"
# Enough for the largest programme's store room; a typo of 3000 instead of 30 is refused.
MAX_BULK = 500
# The most of one component a kit holds (the database checks the same bound).
MAX_QUANTITY = 1000


class KitError(UserError):
    """A kit request the user can fix; the message says how."""


class KitUnavailable(KitError):
    """The kit cannot go out: retired, or already out with someone."""


class KitNotOut(KitError):
    """A return of a kit that is not out."""


class NeedsConfirmation(KitError):
    """The handout is possible but a trainer must confirm it first; ``reasons`` say why."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(" ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class ComponentLine:
    """One line of a bill of materials as a form, an import or the CLI gives it."""

    name: str
    quantity: int = 1
    must_return: bool = True


_COMPONENT_TOO_LONG = _l(
    "The component name “%(start)s…” is %(length)s characters long; the limit is %(limit)s. "
    "Shorten it."
)
_TYPE_NAME_TOO_LONG = _l(
    "The kit type's name is %(length)s characters long; the limit is %(limit)s. Shorten it."
)
_DESCRIPTION_TOO_LONG = _l(
    "The description is %(length)s characters long; the limit is %(limit)s. Shorten it."
)


def _clean_components(lines: Iterable[ComponentLine]) -> list[ComponentLine]:
    seen: set[str] = set()
    cleaned = []
    for line in lines:
        name = clean_for_column(
            line.name, KitComponent.__table__.c.name, _COMPONENT_TOO_LONG, refuse=KitError
        )
        if not name:
            continue
        if name.casefold() in seen:
            raise KitError(_("The component '%(name)s' is listed twice.", name=name))
        if not 0 < line.quantity <= MAX_QUANTITY:
            raise KitError(
                _(
                    "The quantity of '%(name)s' must be between 1 and %(max)s.",
                    name=name,
                    max=MAX_QUANTITY,
                )
            )
        seen.add(name.casefold())
        cleaned.append(ComponentLine(name, line.quantity, line.must_return))
    if not cleaned:
        # A kit with nothing on its checklist could never be found incomplete at its return.
        raise KitError(
            _("Give the bill of materials: at least one component, such as Arduino Nano × 1.")
        )
    return cleaned


def _check_type_name(name: str, exclude_id: int | None = None) -> str:
    name = clean_for_column(name, KitType.__table__.c.name, _TYPE_NAME_TOO_LONG, refuse=KitError)
    if not name:
        raise KitError(_("Give the kit type a name."))
    clash = db.session.scalar(
        select(KitType.id).where(func.lower(KitType.name) == name.lower(), KitType.id != exclude_id)
    )
    if clash is not None:
        raise KitError(_("A kit type named '%(name)s' already exists.", name=name))
    return name


def _clean_description(description: str) -> str:
    column = KitType.__table__.c.description
    return clean_for_column(
        description, column, _DESCRIPTION_TOO_LONG, multiline=True, refuse=KitError
    )


def create_kit_type(
    actor: Actor, name: str, components: Iterable[ComponentLine], description: str = ""
) -> KitType:
    """A new kit type with its bill of materials (in the order given).

    :raise KitError: a missing or taken name, no component, a component listed twice, a bad
        quantity, a name or description too long or with a broken character.
    """
    kit_type = KitType(name=_check_type_name(name), description=_clean_description(description))
    kit_type.components = [
        KitComponent(
            name=line.name, quantity=line.quantity, must_return=line.must_return, position=index
        )
        for index, line in enumerate(_clean_components(components))
    ]
    db.session.add(kit_type)
    db.session.flush()
    record_event(actor, "kit_type.create", "kit_type", kit_type.id, name=kit_type.name)
    return kit_type


def update_kit_type(
    actor: Actor,
    kit_type: KitType,
    name: str,
    components: Iterable[ComponentLine],
    description: str = "",
) -> KitType:
    """Rename ``kit_type`` and replace its bill of materials; components keep their rows (and
    the incidents that name them) when their name stays.

    :raise KitError: as :func:`create_kit_type`.
    """
    kit_type.name = _check_type_name(name, exclude_id=kit_type.id)
    kit_type.description = _clean_description(description)
    existing = {component.name.casefold(): component for component in kit_type.components}
    kept = []
    for index, line in enumerate(_clean_components(components)):
        component = existing.pop(line.name.casefold(), None) or KitComponent(name=line.name)
        component.name = line.name
        component.quantity = line.quantity
        component.must_return = line.must_return
        component.position = index
        kept.append(component)
    kit_type.components = kept
    db.session.flush()
    record_event(actor, "kit_type.update", "kit_type", kit_type.id, name=kit_type.name)
    return kit_type


def delete_kit_type(actor: Actor, kit_type: KitType) -> None:
    """Delete ``kit_type`` and its bill of materials: a type made by mistake. A type that kits
    use stays (their history names it); retire those kits instead.

    :raise KitError: kits of this type exist.
    """
    used = db.session.scalar(select(func.count(Kit.id)).where(Kit.kit_type_id == kit_type.id))
    if used:
        raise KitError(
            _(
                "%(count)s kit(s) are of type “%(name)s”, so it stays: rename it, or retire "
                "those kits.",
                count=used,
                name=kit_type.name,
            )
        )
    record_event(actor, "kit_type.delete", "kit_type", kit_type.id, name=kit_type.name)
    db.session.delete(kit_type)
    db.session.flush()


def checked_kit_code(code: str) -> str:
    """``code`` as kits carry it (trimmed, upper case).

    :raise KitError: it is no usable kit code.
    """
    code = code.strip().upper()
    if not KIT_CODE.fullmatch(code):
        raise KitError(
            _(
                "'%(code)s' is not a usable kit code: use letters, digits and dashes, "
                "such as KIT-017.",
                code=code[:40],
            )
        )
    return code


def create_kit(actor: Actor, kit_type: KitType, code: str, notes: str = "") -> Kit:
    """One kit with the code printed on its box.

    :raise KitError: a malformed code or one another kit has.
    """
    code = checked_kit_code(code)
    if db.session.scalar(select(Kit.id).where(Kit.code == code)) is not None:
        raise KitError(_("There is already a kit %(code)s.", code=code))
    kit = Kit(code=code, kit_type=kit_type, notes=notes.strip())
    db.session.add(kit)
    db.session.flush()
    record_event(actor, "kit.create", "kit", kit.id, code=code, kit_type=kit_type.id)
    return kit


def highest_kit_number(prefix: str = CODE_PREFIX) -> int:
    """The highest number of the codes made of ``prefix`` and digits (30 for KIT-030); 0 for
    none. Kits added in bulk are numbered on from it."""
    prefix = prefix.strip().upper()
    taken = db.session.scalars(select(Kit.code).where(Kit.code.startswith(prefix))).all()
    numbers = [int(code[len(prefix) :]) for code in taken if code[len(prefix) :].isdigit()]
    return max(numbers, default=0)


def create_kits(
    actor: Actor,
    kit_type: KitType,
    count: int,
    prefix: str = CODE_PREFIX,
    after: int | None = None,
) -> list[Kit]:
    """``count`` new kits of ``kit_type`` numbered after the highest code with ``prefix``
    (KIT-001, KIT-002, ... or on from KIT-030).

    ``after``, when given, is the highest number the person saw (:func:`highest_kit_number`
    when their page was made): if kits were numbered past it since, nothing is added, so a
    form sent twice (a double tap, a reload) does not add the kits twice.

    :raise KitError: a count outside 1 to 500, a malformed prefix, or kits added since
        ``after``.
    """
    if not 0 < count <= MAX_BULK:
        raise KitError(_("Create between 1 and %(max)s kits at a time.", max=MAX_BULK))
    prefix = prefix.strip().upper()
    if prefix and not KIT_CODE.fullmatch(prefix):
        raise KitError(_("Use letters, digits and dashes in the code prefix, such as KIT-."))
    highest = highest_kit_number(prefix)
    if after is not None and highest != after:
        raise KitError(
            _(
                "Kits were added since this page was opened (up to %(prefix)s%(number)03d), "
                "perhaps by a second tap: nothing more was added. Check the list, then add "
                "again if you need more.",
                prefix=prefix,
                number=highest,
            )
        )
    start = highest + 1
    width = max(3, len(str(start + count - 1)))
    kits = [
        Kit(code=f"{prefix}{number:0{width}d}", kit_type=kit_type)
        for number in range(start, start + count)
    ]
    db.session.add_all(kits)
    db.session.flush()
    for kit in kits:
        record_event(actor, "kit.create", "kit", kit.id, code=kit.code, kit_type=kit_type.id)
    return kits


def kit_by_token(token: str) -> Kit | None:
    """The kit whose label carries ``token``."""
    return db.session.scalar(select(Kit).where(Kit.label_token == token))


def kit_by_code(code: str) -> Kit | None:
    """The kit with ``code`` as printed (any case, spaces ignored)."""
    return db.session.scalar(select(Kit).where(Kit.code == code.strip().upper()))


def kit_label_url(kit: Kit, base_url: str) -> str:
    """What a kit's label QR carries: ``<badge address>/k/<token>``."""
    return label_url(base_url, kit.label_token)


def default_due_at(workshop_id: int, at: datetime) -> datetime | None:
    """When a kit handed out at ``at`` is due back: the end of the session running then, or
    of the last session that day; None when the workshop has no session that day."""
    running = db.session.scalar(
        select(WorkshopSession.ends_at)
        .where(
            WorkshopSession.workshop_id == workshop_id,
            WorkshopSession.starts_at <= at + EARLY_ARRIVAL,
            WorkshopSession.ends_at > at,
        )
        .order_by(WorkshopSession.starts_at.desc())
        .limit(1)
    )
    if running is not None:
        return running
    return db.session.scalar(
        select(func.max(WorkshopSession.ends_at)).where(
            WorkshopSession.workshop_id == workshop_id,
            WorkshopSession.ends_at > at,
            func.date(WorkshopSession.ends_at) == at.date(),
        )
    )


def handout_holder_name(handout: KitHandout) -> str:
    """Who holds the kit of ``handout``, as pages and scans name them: a person (and their team),
    a team, or someone since removed."""
    if handout.participant is not None and handout.participant.deleted_at is None:
        name = handout.participant.full_name
        if handout.team is not None:
            return _("%(name)s (team %(team)s)", name=name, team=handout.team.name)
        return name
    if handout.team is not None:
        return _("team %(team)s", team=handout.team.name)
    return _("a participant who was removed")


def _open_handouts_of(participant: Participant) -> list[KitHandout]:
    return list(
        db.session.scalars(
            select(KitHandout)
            .options(joinedload(KitHandout.kit))
            .where(KitHandout.participant_id == participant.id, KitHandout.returned_at.is_(None))
            .order_by(KitHandout.out_at)
        )
    )


def handout_reasons(kit: Kit, participant: Participant) -> list[str]:
    """Why a trainer should think twice before handing ``kit`` to ``participant``: the kit
    needs attention (with what its open incidents say is missing or damaged), its last board
    check failed, or the participant already holds a kit. Empty: nothing to think about."""
    reasons = []
    if kit.condition == KitCondition.NEEDS_ATTENTION.value:
        missing = "; ".join(incident_text(incident) for incident in open_incidents(kit))
        if missing:
            reasons.append(
                _(
                    "%(code)s is marked “needs attention”: %(what)s.",
                    code=kit.code,
                    what=missing,
                )
            )
        else:
            reasons.append(_("%(code)s is marked “needs attention”.", code=kit.code))
    if kit.last_check_ok is False:
        reasons.append(
            _(
                "The last board check of %(code)s failed: %(detail)s",
                code=kit.code,
                detail=kit.last_check_detail or _("no details"),
            )
        )
    held = _open_handouts_of(participant)
    if held:
        reasons.append(
            _(
                "%(name)s already holds %(codes)s.",
                name=participant.full_name,
                codes=", ".join(handout.kit.code for handout in held),
            )
        )
    return reasons


def hand_out(
    actor: Actor,
    kit: Kit,
    participant: Participant,
    *,
    to_team: bool = False,
    session: WorkshopSession | None = None,
    due_at: datetime | None = None,
    at: datetime | None = None,
    station: str = "",
    confirmed: bool = False,
) -> KitHandout:
    """Hand ``kit`` to ``participant`` (to their team with ``to_team``), due back at
    ``due_at`` or by default at the end of the session running at ``at``.

    Without ``confirmed`` a handout that a trainer should think twice about is refused with
    the reasons: the kit needs attention (with what its open incidents say is missing or
    damaged), its last board check failed, or the participant already holds a kit (one each,
    unless the trainer confirms more).
    :raise KitUnavailable: the kit is retired, or out with someone (also when another station
        won the same kit an instant earlier).
    :raise NeedsConfirmation: as above; hand out again with ``confirmed=True``.
    :raise KitError: the participant was removed, or has no team while ``to_team``.
    """
    at = at or utcnow()
    if participant.deleted_at is not None:
        raise KitError(_("This participant was removed from the workshop."))
    if to_team and participant.team_id is None:
        raise KitError(
            _("%(name)s is in no team: hand the kit to them alone.", name=participant.full_name)
        )
    refuse_if_retired(kit)
    refuse_if_out(kit)
    if not confirmed:
        reasons = handout_reasons(kit, participant)
        if reasons:
            raise NeedsConfirmation(reasons)
    if due_at is None:
        due_at = (
            session.ends_at if session is not None else default_due_at(participant.workshop_id, at)
        )
    handout_id = insert_ignoring_conflicts(
        KitHandout,
        kit_id=kit.id,
        workshop_id=participant.workshop_id,
        participant_id=participant.id,
        team_id=participant.team_id if to_team else None,
        session_id=session.id if session is not None else None,
        out_at=at,
        due_at=due_at,
        out_by=actor.name[:120],
        station=station[:80],
        device=actor.device[:200],
        returned_by="",
    )
    if handout_id is None:
        # Another station handed this kit out between our check and our insert.
        db.session.expire(kit, ["open_handout"])
        refuse_if_out(kit)
        raise KitUnavailable(_("%(code)s was just handed out elsewhere.", code=kit.code))
    db.session.expire(kit, ["open_handout"])
    record_event(
        actor,
        "kit.handout",
        "kit",
        kit.id,
        handout=handout_id,
        participant=participant.id,
        team=participant.team_id if to_team else None,
        station=station,
    )
    handout = db.session.get(KitHandout, handout_id)
    assert handout is not None
    return handout


def refuse_if_retired(kit: Kit) -> None:
    """:raise KitUnavailable: ``kit`` is retired (it is never handed out)."""
    if kit.condition == KitCondition.RETIRED.value:
        raise KitUnavailable(
            _("%(code)s is retired and is not handed out. Take another kit.", code=kit.code)
        )


def refuse_if_out(kit: Kit) -> None:
    """:raise KitUnavailable: ``kit`` is out with someone."""
    handout = kit.open_handout
    if handout is not None:
        raise KitUnavailable(
            _(
                "%(code)s is already out with %(holder)s: take it back first.",
                code=kit.code,
                holder=handout_holder_name(handout),
            )
        )


@dataclass
class ReturnResult:
    """What a return did: the closed handout, the incident it opened (if anything was
    missing or damaged), and the kit's condition after it."""

    handout: KitHandout
    incident: KitIncident | None
    condition: KitCondition


def return_kit(
    actor: Actor,
    kit: Kit,
    *,
    missing: Mapping[int, int] | None = None,
    damaged: Mapping[int, int] | None = None,
    note: str = "",
    at: datetime | None = None,
    station: str = "",
) -> ReturnResult:
    """Take ``kit`` back. ``missing`` and ``damaged`` count, by component id, what did not
    come back whole (a partial return); anything there opens an incident for the restock
    list, and so does a ``note`` alone (it stays in the kit's history). The kit then needs
    attention when a component that must come back is missing, or anything is damaged;
    consumables used up leave it ready.

    :raise KitNotOut: the kit is not out (nothing to return).
    :raise KitError: a component not in the kit, or counts above its quantity.
    """
    at = at or utcnow()
    missing = {key: value for key, value in (missing or {}).items() if value}
    damaged = {key: value for key, value in (damaged or {}).items() if value}
    components = {component.id: component for component in kit.kit_type.components}
    for component_id in set(missing) | set(damaged):
        component = components.get(component_id)
        if component is None:
            raise KitError(_("That component is not part of %(code)s.", code=kit.code))
        counted = missing.get(component_id, 0) + damaged.get(component_id, 0)
        if min(missing.get(component_id, 0), damaged.get(component_id, 0)) < 0 or (
            counted > component.quantity
        ):
            raise KitError(
                _(
                    "%(code)s has %(quantity)s × %(name)s: missing and damaged cannot add up "
                    "to more.",
                    code=kit.code,
                    quantity=component.quantity,
                    name=component.name,
                )
            )
    handout = kit.open_handout
    if handout is None:
        raise KitNotOut(
            _(
                "%(code)s is not out, so there is nothing to return. To hand it out, scan a "
                "badge and then the kit.",
                code=kit.code,
            )
        )
    closed = db.session.execute(
        update(KitHandout)
        .where(KitHandout.id == handout.id, KitHandout.returned_at.is_(None))
        .values(returned_at=at, returned_by=actor.name[:120])
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:
        raise KitNotOut(_("%(code)s was just returned elsewhere.", code=kit.code))
    db.session.expire(handout)
    db.session.expire(kit, ["open_handout"])
    incident = None
    if missing or damaged or note.strip():  # a note alone is kept too: "left wheel bent"
        incident = KitIncident(
            kit_id=kit.id,
            handout_id=handout.id,
            opened_at=at,
            opened_by=actor.name[:120],
            note=note.strip(),
            items=[
                KitIncidentItem(
                    component_id=component_id,
                    component_name=components[component_id].name,
                    missing=missing.get(component_id, 0),
                    damaged=damaged.get(component_id, 0),
                )
                for component_id in components
                if component_id in missing or component_id in damaged
            ],
        )
        db.session.add(incident)
    serious = bool(damaged) or any(components[key].must_return for key in missing)
    if serious:
        kit.condition = KitCondition.NEEDS_ATTENTION.value
    elif kit.condition == KitCondition.NEEDS_ATTENTION.value and not _still_needs_attention(kit):
        kit.condition = KitCondition.READY.value
    db.session.flush()
    record_event(
        actor,
        "kit.return",
        "kit",
        kit.id,
        handout=handout.id,
        incident=incident.id if incident else None,
        missing={components[key].name: value for key, value in missing.items()},
        damaged={components[key].name: value for key, value in damaged.items()},
        station=station,
    )
    return ReturnResult(handout, incident, KitCondition(kit.condition))


def _still_needs_attention(kit: Kit, ignore_incident: int | None = None) -> bool:
    """Whether something recorded still keeps ``kit`` from being ready: an open incident with
    a component that must come back or a damaged one, or a failed board check."""
    if kit.last_check_ok is False or kit.needs_reflash:
        return True
    serious = db.session.scalar(
        select(func.count(KitIncidentItem.id))
        .join(KitIncident, KitIncident.id == KitIncidentItem.incident_id)
        .outerjoin(KitComponent, KitComponent.id == KitIncidentItem.component_id)
        .where(
            KitIncident.kit_id == kit.id,
            KitIncident.resolved_at.is_(None),
            KitIncident.id != (ignore_incident or 0),
            or_(KitIncidentItem.damaged > 0, KitComponent.must_return.is_not(False)),
        )
    )
    return bool(serious)


def resolve_incident(actor: Actor, incident: KitIncident, note: str = "") -> None:
    """Close ``incident`` (the parts were replaced or came back). The kit becomes ready again
    when nothing else recorded keeps it from being so."""
    if incident.resolved_at is not None:
        return
    incident.resolved_at = utcnow()
    incident.resolved_by = actor.name[:120]
    if note.strip():
        incident.note = f"{incident.note}\n{note.strip()}".strip()
    kit = incident.kit
    if kit.condition == KitCondition.NEEDS_ATTENTION.value and not _still_needs_attention(
        kit, ignore_incident=incident.id
    ):
        kit.condition = KitCondition.READY.value
    db.session.flush()
    record_event(actor, "kit.incident_resolved", "kit", kit.id, incident=incident.id, note=note)


def set_condition(actor: Actor, kit: Kit, condition: KitCondition, note: str = "") -> None:
    """Mark ``kit`` ready, needing attention or retired by hand (with an optional note).

    :raise KitError: retiring a kit that is out (take it back first).
    """
    if condition == KitCondition.RETIRED and kit.open_handout is not None:
        raise KitError(_("%(code)s is out: take it back before retiring it.", code=kit.code))
    before = kit.condition
    kit.condition = condition.value
    if note.strip():
        kit.notes = f"{kit.notes}\n{note.strip()}".strip()
    db.session.flush()
    record_event(
        actor, "kit.condition", "kit", kit.id, before=before, after=condition.value, note=note
    )


def _status_filter(status: KitStatus):
    is_out = Kit.id.in_(select(KitHandout.kit_id).where(KitHandout.returned_at.is_(None)))
    if status == KitStatus.OUT:
        return is_out
    return and_(~is_out, Kit.condition == status.value)


def list_kits(status: KitStatus | None = None, kit_type_id: int | None = None) -> list[Kit]:
    """Kits in code order, with their type, bill of materials and open handout loaded."""
    query = (
        select(Kit)
        .options(
            joinedload(Kit.kit_type).selectinload(KitType.components),
            selectinload(Kit.open_handout).options(
                joinedload(KitHandout.participant),
                joinedload(KitHandout.team),
                joinedload(KitHandout.workshop),
            ),
        )
        .order_by(Kit.code)
    )
    if status is not None:
        query = query.where(_status_filter(status))
    if kit_type_id is not None:
        query = query.where(Kit.kit_type_id == kit_type_id)
    return list(db.session.scalars(query).unique())


def _open_handouts_query():
    return (
        select(KitHandout)
        .options(
            joinedload(KitHandout.kit).joinedload(Kit.kit_type),
            joinedload(KitHandout.participant),
            joinedload(KitHandout.team),
            joinedload(KitHandout.workshop),
        )
        .where(KitHandout.returned_at.is_(None))
    )


def kits_out(workshop_id: int | None = None) -> list[KitHandout]:
    """Open handouts (who holds which kit), the soonest due first."""
    query = _open_handouts_query().order_by(KitHandout.due_at.is_(None), KitHandout.due_at)
    if workshop_id is not None:
        query = query.where(KitHandout.workshop_id == workshop_id)
    return list(db.session.scalars(query))


def overdue_handouts(now: datetime | None = None) -> list[KitHandout]:
    """Open handouts past their due time, the longest overdue first."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            _open_handouts_query().where(KitHandout.due_at < now).order_by(KitHandout.due_at)
        )
    )


def kits_needing_attention() -> list[Kit]:
    """Kits (not retired) marked "needs attention", failing their board check, or left
    half-written by a flash."""
    return list(
        db.session.scalars(
            select(Kit)
            .options(joinedload(Kit.kit_type))
            .where(
                Kit.condition != KitCondition.RETIRED.value,
                or_(
                    Kit.condition == KitCondition.NEEDS_ATTENTION.value,
                    Kit.last_check_ok.is_(False),
                    Kit.needs_reflash.is_(True),
                ),
            )
            .order_by(Kit.code)
        )
    )


@dataclass(frozen=True)
class RestockLine:
    """Parts to buy or find: one component of one kit type, summed over open incidents."""

    kit_type: str
    component: str
    missing: int
    damaged: int
    kits: int

    @property
    def total(self) -> int:
        return self.missing + self.damaged


def restock_list() -> list[RestockLine]:
    """Missing and damaged components summed over open incidents, by kit type and component."""
    rows = db.session.execute(
        select(
            KitType.name,
            KitIncidentItem.component_name,
            func.sum(KitIncidentItem.missing),
            func.sum(KitIncidentItem.damaged),
            func.count(func.distinct(KitIncident.kit_id)),
        )
        .join(KitIncident, KitIncident.id == KitIncidentItem.incident_id)
        .join(Kit, Kit.id == KitIncident.kit_id)
        .join(KitType, KitType.id == Kit.kit_type_id)
        .where(KitIncident.resolved_at.is_(None))
        .group_by(KitType.name, KitIncidentItem.component_name)
        .order_by(KitType.name, KitIncidentItem.component_name)
    )
    return [RestockLine(*row) for row in rows]


def kits_held_by(participant: Participant) -> list[KitHandout]:
    """Open handouts of ``participant``: kits handed to them, and to their team."""
    holder = KitHandout.participant_id == participant.id
    if participant.team_id is not None:
        holder = or_(holder, KitHandout.team_id == participant.team_id)
    return list(
        db.session.scalars(_open_handouts_query().where(holder).order_by(KitHandout.out_at))
    )


@dataclass
class HistoryEntry:
    """One line of a kit's history, newest first when listed."""

    at: datetime
    kind: str  # "handout", "return", "incident", "incident_resolved", ...
    summary: str
    by: str = ""
    details: dict = field(default_factory=dict)


# Features built on kits add lines to a kit's history without kits importing them.
_history_sources: list[Callable[[Kit], list[HistoryEntry]]] = []


def register_history_source(source: Callable[[Kit], list[HistoryEntry]]) -> None:
    """``source`` gives lines of a kit's history (boards: its flashes and checks)."""
    if source not in _history_sources:
        _history_sources.append(source)


def kit_history(kit: Kit) -> list[HistoryEntry]:
    """Everything that happened to ``kit``: handouts, returns, incidents, board flashes and
    checks; newest first."""
    entries: list[HistoryEntry] = []
    handouts = db.session.scalars(
        select(KitHandout)
        .options(joinedload(KitHandout.participant), joinedload(KitHandout.team))
        .where(KitHandout.kit_id == kit.id)
    )
    for handout in handouts:
        holder = handout_holder_name(handout)
        entries.append(
            HistoryEntry(
                handout.out_at,
                "handout",
                _("Handed out to %(holder)s", holder=holder),
                handout.out_by,
                {"handout": handout},
            )
        )
        if handout.returned_at is not None:
            entries.append(
                HistoryEntry(
                    handout.returned_at,
                    "return",
                    _("Returned by %(holder)s", holder=holder),
                    handout.returned_by,
                    {"handout": handout},
                )
            )
    incidents = db.session.scalars(
        select(KitIncident)
        .options(selectinload(KitIncident.items))
        .where(KitIncident.kit_id == kit.id)
    )
    for incident in incidents:
        parts = ", ".join(_incident_item_text(item) for item in incident.items)
        entries.append(
            HistoryEntry(
                incident.opened_at,
                "incident",
                parts or incident.note,
                incident.opened_by,
                {"incident": incident},
            )
        )
        if incident.resolved_at is not None:
            entries.append(
                HistoryEntry(
                    incident.resolved_at,
                    "incident_resolved",
                    _("Resolved: %(parts)s", parts=parts or incident.note),
                    incident.resolved_by,
                    {"incident": incident},
                )
            )
    for source in _history_sources:  # boards' flashes and checks, registered by boards
        entries += source(kit)
    # A return and the incident it opened share a time: the incident comes after the return.
    order = {"return": 0, "incident": 1}
    entries.sort(key=lambda entry: (entry.at, order.get(entry.kind, 0)), reverse=True)
    return entries


def _incident_item_text(item: KitIncidentItem) -> str:
    parts = []
    if item.missing:
        parts.append(
            _("%(count)s × %(name)s missing", count=item.missing, name=item.component_name)
        )
    if item.damaged:
        parts.append(
            _("%(count)s × %(name)s damaged", count=item.damaged, name=item.component_name)
        )
    return ", ".join(parts)


# A badge and a kit scanned at one station within this time make a handout.
PAIR_WINDOW = timedelta(seconds=Workshop.__table__.c.pair_window_seconds.default.arg)


def remember_scan(
    station: str, kind: str, subject_id: int, at: datetime, client_id: str | None = None
) -> None:
    """Keep ``kind`` ("badge" or "kit") ``subject_id`` as the last scan at ``station``, so that
    the next scan there can pair with it (replaces what was kept)."""
    values = {
        "station": station[:80],
        "kind": kind,
        "subject_id": subject_id,
        "scanned_at": at,
        "client_id": client_id,
    }
    table = StationScan.__table__
    connection = db.session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.station],
        set_={key: statement.excluded[key] for key in values if key != "station"},
    )
    connection.execute(statement)


def scan_partner(
    station: str, wanted: str, at: datetime, window: timedelta = PAIR_WINDOW
) -> int | None:
    """The id of the ``wanted`` kind ("badge" or "kit") scanned last at ``station`` at most
    ``window`` (the workshop's pairing window) before ``at``, or None. An older scan, or one
    of the other kind, does not pair."""
    row = db.session.execute(
        select(StationScan.kind, StationScan.subject_id, StationScan.scanned_at).where(
            StationScan.station == station[:80]
        )
    ).first()
    if row is None or row.kind != wanted:
        return None
    if not row.scanned_at <= at + timedelta(seconds=1) or at - row.scanned_at > window:
        return None
    return row.subject_id


def forget_scan(station: str) -> None:
    """Nothing at ``station`` waits for a partner any more (after a handout, or undo)."""
    db.session.execute(delete(StationScan).where(StationScan.station == station[:80]))


def kit_type_by_name(name: str) -> KitType | None:
    """The kit type named ``name`` (any case, cleaned and spaces folded as names are stored)."""
    name = " ".join(safe_text(name).split())
    return db.session.scalar(select(KitType).where(func.lower(KitType.name) == name.lower()))


def list_kit_types() -> list[KitType]:
    """Kit types by name, with their bill of materials loaded."""
    return list(
        db.session.scalars(
            select(KitType).options(selectinload(KitType.components)).order_by(KitType.name)
        )
    )


@dataclass(frozen=True)
class BoardRecord:
    """What a trainer may type on a kit's page: its notes and its board as read by hand."""

    notes: str = ""
    board_family: str = ""
    board_serial: str = ""
    board_fingerprint: str = ""
    firmware_name: str = ""
    firmware_version: str = ""


def board_families() -> tuple[str, ...]:
    """The board families a kit's record takes: those the board tools flash and check."""
    from firmware_tools.drivers import families

    return families()


def board_family(text: str) -> str:
    """The board family ``text`` names: a family (avr, micropython, esp, any case) or a board
    name the board tools know (nano → avr, esp32 → esp, pico → micropython); empty for none.

    :raise KitError: a name the board tools do not know, saying which ones they do.
    """
    from firmware_tools.drivers import board_kinds

    name = text.strip().lower()
    if not name:
        return ""
    kind = board_kinds().get(name)
    if kind is None:
        raise KitError(
            _(
                "Unknown board family “%(name)s”: use one of %(families)s (or a board such "
                "as nano or esp32).",
                name=text.strip()[:40],
                families=", ".join(board_families()),
            )
        )
    return kind.family


def field_limit(name: str) -> int:
    """The most characters the kit's column ``name`` holds (from the model)."""
    return column_limit(Kit.__table__.c[name])


def update_kit(actor: Actor, kit: Kit, record: BoardRecord) -> Kit:
    """Replace ``kit``'s notes and hand-typed board record (family, USB serial number or the
    fingerprint read from the board, firmware name and version). An empty serial or
    fingerprint is stored as none; a board name is stored as its family (:func:`board_family`).

    :raise KitError: a value too long, an unknown board family, or a serial or fingerprint
        another kit already has.
    """
    values: dict[str, str | None] = {}
    for name in (item.name for item in fields(BoardRecord)):
        value = getattr(record, name).strip()
        if name != "notes":
            value = " ".join(value.split())
        if len(value) > field_limit(name):
            raise KitError(
                _("That is too long: keep it under %(max)s characters.", max=field_limit(name))
            )
        values[name] = value
    values["board_family"] = board_family(values["board_family"])
    for name in ("board_serial", "board_fingerprint"):
        values[name] = values[name] or None
        if values[name] is not None:
            other = db.session.scalar(
                select(Kit.code).where(getattr(Kit, name) == values[name], Kit.id != kit.id)
            )
            if other is not None:
                raise KitError(
                    _(
                        "%(code)s already has this board. Check the number, or clear it "
                        "on %(code)s first.",
                        code=other,
                    )
                )
    changed = {name: value for name, value in values.items() if getattr(kit, name) != value}
    for name, value in changed.items():
        setattr(kit, name, value)
    db.session.flush()
    if changed:
        record_event(actor, "kit.update", "kit", kit.id, fields=sorted(changed))
    return kit


def find_participants(search: str, limit: int = 20) -> list[Participant]:
    """People (not removed) of the workshops still running whose name matches ``search``
    (case and accents ignored), in name order, at most ``limit``; none for an empty search."""
    text = safe_text(search).strip()
    if not text:
        return []
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    matches = [Participant.full_name.ilike(f"%{escaped}%", escape="\\")]
    key = sort_key(text)
    if key:
        key = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        matches.append(Participant.sort_key.like(f"%{key}%", escape="\\"))
    return list(
        db.session.scalars(
            select(Participant)
            .join(Workshop, Workshop.id == Participant.workshop_id)
            .options(joinedload(Participant.team), joinedload(Participant.workshop))
            .where(
                Participant.not_deleted,
                Workshop.archived_at.is_(None),
                or_(*matches),
            )
            .order_by(Participant.sort_key, Participant.full_name, Participant.id)
            .limit(limit)
        )
    )


def open_incidents(kit: Kit | None = None) -> list[KitIncident]:
    """Incidents not resolved yet (of ``kit`` alone when given), oldest first, with their
    items and kit loaded."""
    query = (
        select(KitIncident)
        .options(selectinload(KitIncident.items), joinedload(KitIncident.kit))
        .where(KitIncident.resolved_at.is_(None))
        .order_by(KitIncident.opened_at, KitIncident.id)
    )
    if kit is not None:
        query = query.where(KitIncident.kit_id == kit.id)
    return list(db.session.scalars(query))


def incident_text(incident: KitIncident) -> str:
    """What an incident says is missing or damaged, or its note when it lists nothing."""
    return ", ".join(_incident_item_text(item) for item in incident.items) or incident.note


def attention_reasons(kit: Kit, incidents: Iterable[KitIncident] | None = None) -> list[str]:
    """Why ``kit`` needs attention, in words: its open incidents, a failed board check, a
    board left half-flashed, or a trainer's mark. ``incidents`` (its open ones) saves a query
    when the caller has them."""
    reasons = []
    for incident in open_incidents(kit) if incidents is None else incidents:
        reasons.append(_("Incident: %(what)s", what=incident_text(incident)))
    if kit.last_check_ok is False:
        reasons.append(
            _(
                "Board check failed: %(detail)s",
                detail=kit.last_check_detail or _("no details"),
            )
        )
    if kit.needs_reflash:
        reasons.append(_("The board needs flashing again."))
    if not reasons and kit.condition == KitCondition.NEEDS_ATTENTION.value:
        reasons.append(_("Marked by a trainer; see the notes."))
    return reasons


def phone_station(user_id: int) -> str:
    """The station name under which a trainer's own phone pairs a badge and a kit scanned
    with its camera app (one per account, so two trainers never pair each other's scans)."""
    return f"phone:{user_id}"
