"""Scans and attendance in the JSON API: ``POST /api/v1/scans`` and the attendance list."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import abort, current_app, jsonify
from flask import session as browser_session
from flask_babel import gettext

from kitmanager.api import bp
from kitmanager.api.views import _body, _text, _workshop_or_404
from kitmanager.checkin.services import (
    ScanRaced,
    ScanSession,
    attendance,
    local_iso,
    record_scan,
    replayed_scan,
    roster_copy,
    scan_session,
    undo_scan,
)
from kitmanager.database import serialized_writes
from kitmanager.extensions import db
from kitmanager.security import current_actor, public
from kitmanager.workshops.services import get_workshop

# Longest scanned text worth reading: a badge URL is well under this.
MAX_CODE_LENGTH = 2000


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


@bp.post("/scans")
def scan():
    """Apply one scanned code; the same ``client_id`` again answers the same, applied once."""
    data = _body()
    code = _limited(data, "code", MAX_CODE_LENGTH)
    if not code:
        abort(422, description=gettext("'code' is missing: send the scanned text"))
    session = _session(data)
    workshop_id = _workshop_id(data)
    client_id = _limited(data, "client_id", 64, None) or None
    station = _limited(data, "station", 80) or ""
    scanned_at = _time(data)
    confirm = _flag(data, "confirm")
    actor = current_actor()
    with serialized_writes():
        try:
            result, replayed = record_scan(
                actor,
                code,
                session=session,
                workshop_id=workshop_id,
                client_id=client_id,
                station=station,
                scanned_at=scanned_at,
                confirm=confirm,
                # A kiosk (participants scan their own badge) never hands out kits.
                kits=not browser_session.get("kiosk"),
            )
        except ScanRaced as raced:
            db.session.rollback()
            result, replayed = replayed_scan(raced.client_id), True
        db.session.commit()
    response = jsonify(result.to_json())
    response.headers["X-Scan-Replayed"] = "1" if replayed else "0"
    return response


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
    """Take back a scan by its ``client_id`` (the station's undo button)."""
    data = _body()
    client_id = _limited(data, "client_id", 64, None)
    if not client_id:
        abort(422, description=gettext("'client_id' is missing: send the id of the scan to undo"))
    actor = current_actor()
    with serialized_writes():
        result = undo_scan(actor, client_id)
        db.session.commit()
    if result is None:
        abort(404, description=gettext("no scan with this client_id arrived"))
    return jsonify(result.to_json())


@bp.get("/workshops/<slug>/roster")
def workshop_roster(slug: str):
    """What a scan station keeps to name offline scans: names, teams, badge token digests."""
    workshop = _workshop_or_404(slug)
    return jsonify(people=roster_copy(workshop))


@bp.get("/openapi.json")
@public
def openapi():
    """The OpenAPI 3.1 description of this API (kitmanager/api/openapi.json)."""
    return current_app.response_class(
        (Path(__file__).parent / "openapi.json").read_bytes(), mimetype="application/json"
    )
