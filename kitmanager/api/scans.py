"""Scans and attendance in the JSON API: ``POST /api/v1/scans``, its undo, the station's
offline roster and the attendance list. The scan core (:mod:`kitmanager.scans`) answers;
this module parses requests and sends answers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import abort, current_app, jsonify
from flask import session as browser_session
from flask_babel import gettext

from kitmanager.api import bp
from kitmanager.api.views import _body, _text, _workshop_or_404
from kitmanager.checkin.services import attendance, roster_copy
from kitmanager.kits.scans import kits_roster_copy
from kitmanager.scans import (
    CodeKind,
    Scan,
    ScanResult,
    answer_scan,
    classify_code,
    commit_once,
    scan_time,
    undo_scan,
)
from kitmanager.scans.subjects import ScanSession, local_iso, scan_session
from kitmanager.security import current_actor, public
from kitmanager.workshops.services import get_workshop

# Longest scanned text worth reading: a badge URL is well under this.
MAX_CODE_LENGTH = 2000
MAX_REASONS = 20


def _limited(data: dict, key: str, limit: int, default: str | None = "") -> str | None:
    value = _text(data, key, default)
    if value is not None and len(value) > limit:
        abort(
            422,
            description=gettext(
                "'%(field)s' is too long: at most %(max)s characters", field=key, max=limit
            ),
        )
    return value


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
    slug = _limited(data, "workshop", 80, None)
    if not slug:
        return None
    workshop = get_workshop(slug)
    if workshop is None:
        abort(422, description=gettext("no workshop with slug '%(slug)s'", slug=slug))
    return workshop.id


def _time(data: dict) -> datetime | None:
    value = _text(data, "scanned_at", None)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        abort(
            422,
            description=gettext("'scanned_at' must be a time like 2026-12-01T09:14:00+03:00"),
        )


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


@bp.post("/scans")
def scan():
    """Apply one scanned code; the same ``client_id`` again answers the same, applied once."""
    data = _body()
    code = _limited(data, "code", MAX_CODE_LENGTH)
    if not code:
        abort(422, description=gettext("'code' is missing: send the scanned text"))
    partner = _limited(data, "with", MAX_CODE_LENGTH, None)
    paired = classify_code(partner) if partner else None
    if paired is not None and paired.kind is CodeKind.UNKNOWN:
        abort(422, description=gettext("'with' must be the code of a badge or a kit"))
    request_scan = Scan(
        code=classify_code(code),
        at=scan_time(_time(data)),
        partner=paired,
        session=_session(data),
        workshop_id=_workshop_id(data),
        station=_limited(data, "station", 80) or "",
        client_id=_limited(data, "client_id", 64, None) or None,
        confirm=_flag(data, "confirm"),
        seen_reasons=_reasons(data),
        # A kiosk (participants scan their own badge) never hands out kits.
        kiosk=bool(browser_session.get("kiosk")),
    )
    actor = current_actor()
    return scan_answer(*commit_once(lambda: answer_scan(actor, request_scan)))


@bp.get("/workshops/<slug>/attendance")
def workshop_attendance(slug: str):
    """Every check-in of the workshop: who, which session, when (workshop's time), how."""
    workshop = _workshop_or_404(slug)
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
    """Take back what a scan changed, by its ``client_id`` (the station's undo button).
    A kiosk cannot: the next participant would take back the last one's check-in."""
    if browser_session.get("kiosk"):
        abort(403, description=gettext("A kiosk cannot take back scans: ask a trainer."))
    data = _body()
    client_id = _limited(data, "client_id", 64, None)
    if not client_id:
        abort(422, description=gettext("'client_id' is missing: send the id of the scan to undo"))
    actor = current_actor()
    result = commit_once(lambda: (undo_scan(actor, client_id), False))[0]
    if result is None:
        abort(404, description=gettext("no scan with this client_id arrived"))
    return jsonify(result.to_json())


@bp.get("/workshops/<slug>/roster")
def workshop_roster(slug: str):
    """What a scan station keeps to name offline scans: names, teams and kits, by digests of
    their tokens."""
    workshop = _workshop_or_404(slug)
    return jsonify(people=roster_copy(workshop), kits=kits_roster_copy())


@bp.get("/openapi.json")
@public
def openapi():
    """The OpenAPI 3.1 description of this API (kitmanager/api/openapi.json)."""
    return current_app.response_class(
        (Path(__file__).parent / "openapi.json").read_bytes(), mimetype="application/json"
    )
