"""Badge sheets for a workshop: participants -> printouts.BadgeData -> PDF, with an audit row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext
from sqlalchemy import select

from kitmanager.audit import Actor, record_event
from kitmanager.extensions import db
from kitmanager.models import Participant, Workshop
from kitmanager.participants.services import badge_url, list_participants
from kitmanager.unit_of_work import UserError
from printouts import (
    DEFAULT_LAYOUTS,
    BadgeData,
    Layout,
    PrintoutError,
    RenderResult,
    list_layouts,
    render_badges,
)

__all__ = [
    "BadgePrintError",
    "BadgeSheet",
    "badge_data",
    "badge_layouts",
    "badge_title",
    "print_badges",
]


class BadgePrintError(UserError):
    """The badges cannot be printed as asked; the message says what to change."""


@dataclass
class BadgeSheet:
    pdf: bytes
    count: int
    pages: int
    layout: Layout
    warnings: list[str]
    participant_ids: list[int]


def badge_layouts() -> list[Layout]:
    return list_layouts("badge")


def badge_title(workshop: Workshop) -> str:
    """What badges print for the workshop: its short badge title, else its title."""
    return workshop.badge_title or workshop.title


def badge_data(participant: Participant, base_url: str, workshop_title: str) -> BadgeData:
    return BadgeData(
        name=participant.full_name,
        url=badge_url(base_url, participant),
        badge_name=participant.badge_name or None,
        organisation=participant.organisation,
        role=participant.role,
        team=participant.team.name if participant.team else "",
        workshop=workshop_title,
    )


def _select(workshop: Workshop, ids: Sequence[int] | None) -> list[Participant]:
    if not ids:
        return list_participants(workshop)
    chosen = list(
        db.session.scalars(
            select(Participant)
            .where(
                Participant.workshop_id == workshop.id,
                Participant.id.in_(ids),
                Participant.not_deleted,
            )
            .order_by(Participant.full_name, Participant.id)
        )
    )
    missing = set(ids) - {p.id for p in chosen}
    if missing:
        raise BadgePrintError(
            gettext(
                "No participant with id %(ids)s in this workshop: check the list and choose again.",
                ids=", ".join(map(str, sorted(missing))),
            )
        )
    return chosen


def print_badges(
    actor: Actor,
    workshop: Workshop,
    base_url: str,
    *,
    layout: str = DEFAULT_LAYOUTS["badge"],
    start_slot: int = 1,
    cut_marks: bool | None = None,
    participant_ids: Sequence[int] | None = None,
) -> BadgeSheet:
    """Render badges for everyone (or the chosen participants) of a workshop.

    :raise BadgePrintError: nobody to print, unknown ids, or a printout error (bad layout,
        start slot off the sheet), with a message that says what to do.
    """
    participants = _select(workshop, participant_ids)
    if not participants:
        raise BadgePrintError(gettext("Nobody to print: add or import participants first."))
    valid = {lay.id: lay for lay in badge_layouts()}
    if layout not in valid:
        raise BadgePrintError(
            gettext(
                "Unknown badge layout '%(layout)s': choose one of %(choices)s.",
                layout=layout,
                choices=", ".join(sorted(valid)),
            )
        )
    chosen = valid[layout]
    if not 1 <= start_slot <= chosen.slots_per_page:
        raise BadgePrintError(
            gettext(
                "Start slot %(slot)s is not on a %(layout)s sheet: choose 1 to %(last)s.",
                slot=start_slot,
                layout=chosen.title,
                last=chosen.slots_per_page,
            )
        )
    title = badge_title(workshop)
    data = [badge_data(p, base_url, title) for p in participants]
    try:
        result: RenderResult = render_badges(
            data, chosen, start_slot=start_slot, cut_marks=cut_marks, language=workshop.language
        )
    except PrintoutError as exc:
        raise BadgePrintError(str(exc)) from None
    record_event(
        actor,
        "badges.printed",
        "workshop",
        workshop.id,
        count=len(data),
        layout=layout,
        start_slot=start_slot,
        base_url=base_url,
        participant_ids=[p.id for p in participants] if participant_ids else None,
    )
    db.session.flush()
    return BadgeSheet(
        pdf=result.pdf,
        count=len(data),
        pages=result.pages,
        layout=chosen,
        warnings=list(result.warnings),
        participant_ids=[p.id for p in participants],
    )
