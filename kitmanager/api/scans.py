"""Scans and attendance in the JSON API: ``POST /api/v1/scans``, its undo, the station's
offline roster and the attendance list. The scan core (:mod:`kitmanager.scans`) answers;
this module parses requests and sends answers.

A scan is bound to its sender and, at a kiosk, to the kiosk's scope: the kiosk's workshop and
session are the server's (:func:`~kitmanager.web.kiosk_scope`), the station name
is recorded under the login or token (:func:`~kitmanager.scans.station_name`), a stored
answer goes back only to its sender or a trainer, and ``scanned_at`` must be a time the
laptop's clock can believe (:func:`~kitmanager.scans.scan_time`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from flask import abort, current_app, jsonify
from flask_babel import gettext

from kitmanager.api import bp
from kitmanager.api.parsing import (
    json_body,
    limited_text,
    scanned_at,
    station_of,
    workshop_or_404,
)
from kitmanager.checkin.attendance import ATTENDANCE_ROLE
from kitmanager.checkin.services import attendance, roster_copy
from kitmanager.kits.scans import kits_roster_copy
from kitmanager.models import Role, utcnow
from kitmanager.scans import (
    CodeKind,
    Scan,
    ScanOfAnotherSender,
    ScanResult,
    answer_scan,
    classify_code,
    commit_once,
    undo_scan,
)
from kitmanager.scans.subjects import (
    ScanSession,
    local_clock,
    local_iso,
    running_scan_session,
    scan_session,
)
from kitmanager.security import current_actor, public, require_role
from kitmanager.web import KioskScope, kiosk_scope, workshop_route
from kitmanager.workshops.services import get_workshop

# Longest scanned text worth reading: a badge URL is well under this.
MAX_CODE_LENGTH = 2000
MAX_REASONS = 20


def _session(data: dict) -> ScanSession | None:
    value = data.get("session")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        abort(422, description=gettext("'session' must be a session id or null"))
    session = scan_session(value)
    if session is None:
        abort(422, description=gettext("no session with id %(id)s", id=value))
    return session


def _workshop_id(data: dict) -> int | None:
    """The id of the workshop a station scans for (``workshop``, its slug), or None."""
    slug = limited_text(data, "workshop", 80, None)
    if not slug:
        return None
    workshop = get_workshop(slug)
    if workshop is None:
        abort(422, description=gettext("no workshop with slug '%(slug)s'", slug=slug))
    return workshop.id


def _flag(data: dict, key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        abort(422, description=gettext("'%(field)s' must be true or false", field=key))
    return value


def _reasons(data: dict) -> tuple[str, ...] | None:
    value = data.get("seen_reasons")
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > MAX_REASONS
        or not all(isinstance(item, str) and len(item) <= MAX_CODE_LENGTH for item in value)
    ):
        abort(422, description=gettext("'seen_reasons' must be a list of the reasons shown"))
    return tuple(value)


def scan_answer(result: ScanResult, replayed: bool):
    """A scan's answer as the API sends it: 200 whatever the outcome, and whether it is a
    replay of a stored answer in ``X-Scan-Replayed``."""
    response = jsonify(result.to_json())
    response.headers["X-Scan-Replayed"] = "1" if replayed else "0"
    return response


def _on_the_sessions_day(session: ScanSession, at: datetime) -> None:
    """A scan's own time lies on its session's day (:meth:`ScanSession.on_its_day`): a time
    on another day is a device whose clock is wrong, or a scan sent for the wrong session."""
    if not session.on_its_day(at):
        abort(
            422,
            description=gettext(
                "This scan's time (%(time)s) is not on the day of %(session)s: the device's "
                "clock looks wrong, or the wrong session is chosen. Check both, then scan "
                "again.",
                time=local_iso(at, session.timezone)[:16].replace("T", " "),
                session=session.title,
            ),
        )


def _out_of_kiosk_scope(status: int) -> NoReturn:
    abort(
        status,
        description=gettext(
            "This kiosk scans only for the workshop and session it was started for. Ask a trainer."
        ),
    )


def _kiosk_scope(data: dict, kiosk: KioskScope, at: datetime) -> tuple[int, ScanSession | None]:
    """The workshop and session of a kiosk's scan: the kiosk's own, kept by the server. A
    posted other workshop or session is refused (422), and so is a session that takes no
    check-ins now (ended, or not yet open: :meth:`ScanSession.open_at`), chosen or running
    at the scan's time."""
    posted_workshop = _workshop_id(data)
    posted_session = _session(data)
    if (
        kiosk.workshop_id is None
        or posted_workshop not in (None, kiosk.workshop_id)
        or (posted_session is not None and posted_session.id != kiosk.session_id)
    ):
        _out_of_kiosk_scope(422)
    session = (
        scan_session(kiosk.session_id)
        if kiosk.session_id is not None
        else running_scan_session(kiosk.workshop_id, at)
    )
    if session is not None and not session.open_at(utcnow()):
        abort(
            422,
            description=gettext(
                "%(session)s takes check-ins from %(opens)s to %(ends)s: this kiosk cannot "
                "check anyone in to it now. Ask a trainer.",
                session=session.title,
                opens=local_clock(session.opens_at, session.timezone),
                ends=local_clock(session.ends_at, session.timezone),
            ),
        )
    return kiosk.workshop_id, session


@bp.post("/scans")
def scan():
    """Apply one scanned code; the same ``client_id`` again answers the same, applied once
    (to the login or token that sent it first, or a trainer: 409 for anyone else)."""
    data = json_body()
    code = limited_text(data, "code", MAX_CODE_LENGTH)
    if not code:
        abort(422, description=gettext("'code' is missing: send the scanned text"))
    partner = limited_text(data, "with", MAX_CODE_LENGTH, None)
    paired = classify_code(partner) if partner else None
    if paired is not None and paired.kind is CodeKind.UNKNOWN:
        abort(422, description=gettext("'with' must be the code of a badge or a kit"))
    at = scanned_at(data)
    actor = current_actor()
    kiosk = kiosk_scope()
    if kiosk is None:
        workshop_id, session = _workshop_id(data), _session(data)
    else:
        workshop_id, session = _kiosk_scope(data, kiosk, at)
        # Participants scan at a kiosk: it acts with a volunteer's rights, whoever started it.
        actor = replace(actor, role=Role.VOLUNTEER)
    if session is not None and data.get("scanned_at") is not None:
        _on_the_sessions_day(session, at)
    request_scan = Scan(
        code=classify_code(code),
        at=at,
        partner=paired,
        session=session,
        workshop_id=workshop_id,
        station=station_of(data, actor),
        client_id=limited_text(data, "client_id", 64, None) or None,
        confirm=_flag(data, "confirm"),
        seen_reasons=_reasons(data),
        # A kiosk (participants scan their own badge) never hands out kits.
        kiosk=kiosk is not None,
    )
    return scan_answer(*commit_once(lambda: answer_scan(actor, request_scan)))


@bp.get(workshop_route("/attendance"))
@require_role(ATTENDANCE_ROLE)
def workshop_attendance(slug: str):
    """Every check-in of the workshop: who, which session, when (workshop's time), how."""
    workshop = workshop_or_404(slug)
    return jsonify(
        check_ins=[
            {
                "participant": row.participant_id,
                "name": row.participant.full_name,
                "team": row.participant.team.name if row.participant.team else None,
                "session": row.session_id,
                "at": local_iso(row.at, workshop.timezone),
                "by": row.by,
                "station": row.station,
                "source": row.source,
            }
            for row in attendance(workshop)
        ]
    )


@bp.post("/scans/undo")
def scan_undo():
    """Take back what a scan changed, by its ``client_id`` (the station's undo button): only
    the login or token that sent it, or a trainer (403 for anyone else). A kiosk cannot: the
    next participant would take back the last one's check-in."""
    if kiosk_scope() is not None:
        abort(403, description=gettext("A kiosk cannot take back scans: ask a trainer."))
    data = json_body()
    client_id = limited_text(data, "client_id", 64, None)
    if not client_id:
        abort(422, description=gettext("'client_id' is missing: send the id of the scan to undo"))
    actor = current_actor()
    try:
        result = commit_once(lambda: (undo_scan(actor, client_id), False))[0]
    except ScanOfAnotherSender:
        abort(
            403,
            description=gettext(
                "Another login sent this scan: only that login or a trainer can take it back."
            ),
        )
    if result is None:
        abort(404, description=gettext("no scan with this client_id arrived"))
    return jsonify(result.to_json())


@bp.get(workshop_route("/roster"))
def workshop_roster(slug: str):
    """What a scan station keeps to name offline scans: names, teams and kits, by digests of
    their tokens."""
    workshop = workshop_or_404(slug)
    kiosk = kiosk_scope()
    if kiosk is not None and kiosk.workshop_id != workshop.id:
        # A kiosk names only its own workshop's people.
        _out_of_kiosk_scope(403)
    return jsonify(people=roster_copy(workshop), kits=kits_roster_copy())


@bp.get("/openapi.json")
@public
def openapi():
    """The OpenAPI 3.1 description of this API (kitmanager/api/openapi.json)."""
    return current_app.response_class(
        (Path(__file__).parent / "openapi.json").read_bytes(), mimetype="application/json"
    )
