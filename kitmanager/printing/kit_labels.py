"""Kit labels and contents cards: kits -> printouts.KitLabelData / KitCardData -> PDF.

A label's QR carries ``<badge address>/k/<label_token>`` (:func:`kit_label_url`), so the scan
station, ``/k/<token>`` and the API all recognise it. What is printed speaks the workshop's
language where printouts speak it (English, French).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select

from kitmanager.audit import Actor, record_event
from kitmanager.extensions import db
from kitmanager.kits.services import kit_label_url, list_kits
from kitmanager.models import Kit, KitCondition, KitType, Workshop
from kitmanager.unit_of_work import UserError
from printouts import (
    DEFAULT_LAYOUTS,
    LANGUAGES,
    KitCardData,
    KitCardLine,
    KitLabelData,
    Layout,
    PrintoutError,
    list_layouts,
    render_kit_cards,
    render_kit_labels,
)

__all__ = [
    "KitPrint",
    "KitPrintError",
    "card_layouts",
    "kit_card_data",
    "kit_label_data",
    "label_layouts",
    "print_kit_labels",
    "print_language",
]


class KitPrintError(UserError):
    """The labels or cards cannot be printed as asked; the message says what to change."""


@dataclass
class KitPrint:
    """A PDF of kit labels or contents cards and what the user should know about it."""

    pdf: bytes
    count: int
    pages: int
    layout: Layout
    language: str
    warnings: list[str]
    codes: list[str]
    cards: bool


def label_layouts() -> list[Layout]:
    """Layouts that print kit labels (the Brother 62 mm roll, L7160 sheets, ...)."""
    return list_layouts("kit-label")


def card_layouts() -> list[Layout]:
    """Layouts that print kit contents cards."""
    return list_layouts("kit-card")


def print_language(today: date | None = None) -> str:
    """The language kit printouts speak: that of the workshop running ``today``, else of the
    latest workshop started, else the app's default (English when printouts lack it)."""
    today = today or date.today()
    running = db.session.scalar(
        select(Workshop.language)
        .where(Workshop.starts_on <= today, Workshop.ends_on >= today)
        .order_by(Workshop.starts_on.desc())
        .limit(1)
    )
    language = running or db.session.scalar(
        select(Workshop.language).order_by(Workshop.starts_on.desc()).limit(1)
    )
    language = language or current_app.config["BABEL_DEFAULT_LOCALE"]
    return language if language in LANGUAGES else "en"


def kit_label_data(kit: Kit, base_url: str) -> KitLabelData:
    return KitLabelData(
        code=kit.code,
        url=kit_label_url(kit, base_url),
        kit_type=kit.kit_type.name,
        components=[
            f"{c.quantity} × {c.name}" if c.quantity > 1 else c.name
            for c in kit.kit_type.components
        ],
    )


def kit_card_data(kit: Kit, base_url: str) -> KitCardData:
    return KitCardData(
        code=kit.code,
        url=kit_label_url(kit, base_url),
        kit_type=kit.kit_type.name,
        components=[
            KitCardLine(c.name, c.quantity, c.must_return) for c in kit.kit_type.components
        ],
    )


def _choose(codes: Sequence[str] | None, kit_type: KitType | None) -> list[Kit]:
    kits = list_kits(kit_type_id=kit_type.id if kit_type is not None else None)
    if not codes:  # retired kits are printed only when chosen by code
        return [kit for kit in kits if kit.condition != KitCondition.RETIRED.value]
    wanted = [code.strip().upper() for code in codes if code.strip()]
    by_code = {kit.code: kit for kit in kits}
    unknown = [code for code in wanted if code not in by_code]
    if unknown and kit_type is not None:
        raise KitPrintError(
            gettext(
                "No kit %(codes)s of type %(type)s: check the codes (kitmanager kits list) "
                "and choose again.",
                codes=", ".join(unknown),
                type=kit_type.name,
            )
        )
    if unknown:
        raise KitPrintError(
            gettext(
                "No kit %(codes)s: check the codes (kitmanager kits list) and choose again.",
                codes=", ".join(unknown),
            )
        )
    return [by_code[code] for code in dict.fromkeys(wanted)]


def print_kit_labels(
    actor: Actor,
    base_url: str,
    *,
    layout: str | None = None,
    codes: Sequence[str] | None = None,
    kit_type: KitType | None = None,
    cards: bool = False,
    start_slot: int = 1,
    language: str | None = None,
) -> KitPrint:
    """Render the labels (or, with ``cards``, the A6 contents cards) of every kit not
    retired, of the kits of ``kit_type``, or of the kits with ``codes`` (in that order), and
    write one audit row. ``language`` defaults to :func:`print_language`.

    :raise KitPrintError: no kit to print, an unknown code, a layout that does not print
        labels (or cards), a start slot off the sheet, or a printout error, each with a
        message that says what to do.
    """
    kits = _choose(codes, kit_type)
    if not kits:
        raise KitPrintError(gettext("No kit to print: create kits first (kitmanager kits create)."))
    valid = {lay.id: lay for lay in (card_layouts() if cards else label_layouts())}
    layout = layout or DEFAULT_LAYOUTS["kit-card" if cards else "kit-label"]
    if layout not in valid:
        message = (
            gettext(
                "Layout '%(layout)s' does not print contents cards: choose one of %(choices)s.",
                layout=layout,
                choices=", ".join(sorted(valid)),
            )
            if cards
            else gettext(
                "Layout '%(layout)s' does not print kit labels: choose one of %(choices)s.",
                layout=layout,
                choices=", ".join(sorted(valid)),
            )
        )
        raise KitPrintError(message)
    chosen = valid[layout]
    if not 1 <= start_slot <= chosen.slots_per_page:
        raise KitPrintError(
            gettext(
                "Start slot %(slot)s is not on a %(layout)s sheet: choose 1 to %(last)s.",
                slot=start_slot,
                layout=chosen.title,
                last=chosen.slots_per_page,
            )
        )
    language = language if language in LANGUAGES else print_language()
    try:
        if cards:
            result = render_kit_cards(
                [kit_card_data(kit, base_url) for kit in kits],
                chosen,
                start_slot=start_slot,
                language=language,
            )
        else:
            result = render_kit_labels(
                [kit_label_data(kit, base_url) for kit in kits],
                chosen,
                start_slot=start_slot,
                language=language,
            )
    except PrintoutError as exc:
        raise KitPrintError(str(exc)) from None
    record_event(
        actor,
        "kit_cards.printed" if cards else "kit_labels.printed",
        "kit",
        None,
        count=len(kits),
        layout=layout,
        base_url=base_url,
        codes=[kit.code for kit in kits] if codes else None,
        kit_type=kit_type.id if kit_type is not None else None,
    )
    db.session.flush()
    return KitPrint(
        pdf=result.pdf,
        count=len(kits),
        pages=result.pages,
        layout=chosen,
        language=language,
        warnings=list(result.warnings),
        codes=[kit.code for kit in kits],
        cards=cards,
    )
