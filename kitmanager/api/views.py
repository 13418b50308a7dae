from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import abort, jsonify, request
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from kitmanager.api import bp
from kitmanager.api.parsing import json_body, text_field, workshop_or_404
from kitmanager.auth.services import TokenPrincipal
from kitmanager.models import Participant, ParticipantRole, Role, Workshop
from kitmanager.network import base_url
from kitmanager.participants.fields import FIELD_NAMES, ParticipantFields
from kitmanager.participants.services import (
    badge_url,
    create_participant,
    list_participants,
)
from kitmanager.security import current_actor, require_role
from kitmanager.storage import is_database_busy, storage_error_page
from kitmanager.text import safe_text
from kitmanager.unit_of_work import discard_work
from kitmanager.web import api_unit_of_work, refusal_message, workshop_route
from kitmanager.workshops.services import (
    MAX_CAPACITY,
    WorkshopFields,
    create_workshop,
    list_workshops,
    utc_to_local,
)

# Writes a logged-in browser page may make with a CSRF header instead of a token.
BROWSER_WRITES = frozenset({"api.scan", "api.scan_undo", "api.kit_return"})


@bp.before_request
def _writes_need_a_token():
    # A browser's session cookie must never be enough to write here (no CSRF on the API):
    # the request itself has to be authenticated by a valid token.
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if isinstance(current_user._get_current_object(), TokenPrincipal):
        return None
    if request.endpoint in BROWSER_WRITES and current_user.is_authenticated:
        # The scan station page posts with its login cookie; the CSRF token it sends in a
        # header is what a forged cross-site request cannot have.
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except ValidationError:
            pass
        else:
            return None
    response = jsonify(error=gettext("writes to the API need 'Authorization: Bearer <token>'"))
    response.status_code = 401
    return response


@bp.errorhandler(HTTPException)
def _json_error(exc: HTTPException):
    message = refusal_message(exc)
    response = jsonify(error=message)
    response.status_code = exc.code or 500
    return response


# Seconds a client is told to wait before sending a refused write again.
BUSY_RETRY_AFTER_S = 2


@bp.errorhandler(OperationalError)
def _database_busy(exc: OperationalError):
    """503 with Retry-After when another writer held the database longer than SQLite's busy
    timeout (10 s) lets a write wait: the last resort, a request waits that long first. The
    write was rolled back whole, and the station sends it again (same ``client_id``, so it
    counts once). A full disk stays a 507, anything else a 500."""
    if not is_database_busy(exc):
        return storage_error_page(exc)
    discard_work()
    response = jsonify(
        error=gettext("The database is busy with another change: send this again in a moment.")
    )
    response.status_code = 503
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
    return response


def _flag(data: dict[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        abort(422, description=gettext("'%(field)s' must be true, false or null", field=key))
    return value


def _count(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_CAPACITY:
        abort(
            422,
            description=gettext(
                "'%(field)s' must be a whole number from 1 to %(max)s", field=key, max=MAX_CAPACITY
            ),
        )
    return value


def _day(data: dict[str, Any], key: str, required: bool = False) -> date | None:
    value = text_field(data, key, None)
    if value is None and not required:
        return None
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        abort(422, description=gettext("'%(field)s' must be a date like 2026-12-01", field=key))


def _workshop_json(workshop: Workshop, participants: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": workshop.slug,
        "title": workshop.title,
        "venue": workshop.venue,
        "starts_on": workshop.starts_on.isoformat(),
        "ends_on": workshop.ends_on.isoformat(),
        "language": workshop.language,
        "timezone": workshop.timezone,
        "capacity": workshop.capacity,
        "archived": workshop.archived,
    }
    if participants is not None:
        data["participants"] = participants
    return data


def _participant_json(participant: Participant, base: str) -> dict[str, Any]:
    return {
        "id": participant.id,
        "full_name": participant.full_name,
        "badge_name": participant.display_badge_name,
        "email": participant.email,
        "organisation": participant.organisation,
        "role": participant.role,
        "team": participant.team.name if participant.team else None,
        "badge_url": badge_url(base, participant),
    }


@bp.get("/me")
def me():
    actor = current_actor()
    return jsonify(actor=actor.name, role=actor.role.value)


@bp.get("/workshops")
def workshops():
    rows = list_workshops(include_archived=request.args.get("archived") == "1")
    return jsonify(workshops=[_workshop_json(w, n) for w, n in rows])


@bp.post("/workshops")
@require_role(Role.ORGANISER)
def workshop_create():
    data = json_body()
    fields = WorkshopFields(
        title=text_field(data, "title") or "",
        slug=text_field(data, "slug", None),
        starts_on=_day(data, "starts_on", required=True),  # type: ignore[arg-type]
        ends_on=_day(data, "ends_on"),
        venue=text_field(data, "venue") or "",
        language=text_field(data, "language") or "en",
        timezone=text_field(data, "timezone", None),
        capacity=_count(data, "capacity"),
    )
    with api_unit_of_work():
        workshop = create_workshop(current_actor(), fields)
    return jsonify(_workshop_json(workshop)), 201


@bp.get(workshop_route())
def workshop_detail(slug: str):
    workshop = workshop_or_404(slug)
    data = _workshop_json(workshop)

    def local(value: datetime) -> str:
        return utc_to_local(value, workshop.timezone).isoformat(timespec="minutes")

    data["sessions"] = [
        {
            "id": s.id,
            "title": s.title,
            "starts": local(s.starts_at),
            "ends": local(s.ends_at),
            "room": s.room,
        }
        for s in workshop.sessions
    ]
    return jsonify(data)


@bp.get(workshop_route("/participants"))
@require_role(Role.TRAINER)
def participants(slug: str):
    workshop = workshop_or_404(slug)
    base = base_url()
    return jsonify(
        participants=[
            _participant_json(p, base)
            for p in list_participants(workshop, safe_text(request.args.get("q", "")))
        ]
    )


@bp.post(workshop_route("/participants"))
@require_role(Role.TRAINER)
def participant_create(slug: str):
    workshop = workshop_or_404(slug)
    data = json_body()
    values: dict[str, Any] = {
        name: text_field(data, name, None) for name in FIELD_NAMES if name != "photo_consent"
    }
    values["photo_consent"] = _flag(data, "photo_consent")
    values["role"] = values["role"] or ParticipantRole.PARTICIPANT.value
    fields = ParticipantFields(**values)
    with api_unit_of_work():
        participant = create_participant(current_actor(), workshop, fields)
    return jsonify(_participant_json(participant, base_url())), 201
