"""The badge handler of the scan core: a badge scanned checks its holder in.

Registered with :mod:`kitmanager.scans` when the app starts; knows nothing of kits (kits
follow badge scans through the core's followers).
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from kitmanager.audit import Actor
from kitmanager.checkin.services import check_in, is_retired_badge, undo_check_in
from kitmanager.scans import (
    CodeKind,
    Outcome,
    Scan,
    ScanResult,
    register_handler,
    register_undo,
)
from kitmanager.scans.subjects import (
    ScannedPerson,
    ScanSession,
    local_clock,
    local_iso,
    running_scan_session,
    scanned_person,
)

__all__ = ["scan_badge"]


def scan_badge(actor: Actor, scan: Scan) -> ScanResult:
    """A badge scanned: check its holder in to the chosen session, or the one running at the
    scan's time. A badge of another workshop than the station's is refused."""
    person = scanned_person(scan.code.value)
    if person is None:
        if is_retired_badge(scan.code.value):
            return ScanResult(
                Outcome.REVOKED,
                _("This badge was replaced by a new one. Ask for the new badge."),
            )
        return ScanResult(
            Outcome.UNKNOWN_CODE,
            _("Not a badge of this workshop. Please ask a trainer."),
        )
    scope = scan.session.workshop_id if scan.session is not None else scan.workshop_id
    if scope is not None and person.workshop_id != scope:
        return ScanResult(
            Outcome.WRONG_WORKSHOP,
            _(
                "%(name)s is registered for another workshop (%(workshop)s).",
                name=person.full_name,
                workshop=person.workshop_title,
            ),
            participant=person.to_json(),
        )
    session = scan.session or running_scan_session(person.workshop_id, scan.at)
    if session is None:
        return ScanResult(
            Outcome.NO_SESSION,
            _(
                "No session is running now. Choose the session to check %(name)s in to.",
                name=person.full_name,
            ),
            participant=person.to_json(),
        )
    return _checked_in(actor, person, session, scan)


def _checked_in(
    actor: Actor, person: ScannedPerson, session: ScanSession, scan: Scan
) -> ScanResult:
    added, checked_in_at = check_in(actor, person, session, at=scan.at, station=scan.station)
    details: dict[str, Any] = {
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


def undo_scanned_check_in(actor: Actor, answer: dict[str, Any]) -> str | None:
    """Take back the check-in a scan's answer records; the message names the person."""
    person = answer.get("participant") or {}
    session = answer.get("session") or {}
    if not person.get("id") or not session.get("id"):
        return None
    if not undo_check_in(actor, person["id"], session["id"]):
        return None
    return _("Check-in of %(name)s undone.", name=person.get("name", ""))


register_handler(CodeKind.BADGE, scan_badge)
register_undo(Outcome.CHECKED_IN, undo_scanned_check_in)
