from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import abort, jsonify, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from kitmanager.api import bp
from kitmanager.extensions import db
from kitmanager.models import Participant, Role, Workshop
from kitmanager.network import base_url
from kitmanager.participants.services import (
    ParticipantError,
    ParticipantFields,
    badge_url,
    create_participant,
    list_participants,
)
from kitmanager.security import current_actor, require_role
from kitmanager.workshops.services import (
    WorkshopError,
    WorkshopFields,
    create_workshop,
    get_workshop,
    list_workshops,
    utc_to_local,
)


@bp.before_request
def _writes_need_a_token():
    if request.method not in ("GET", "HEAD", "OPTIONS") and not request.headers.get(
        "Authorization", ""
    ).startswith("Bearer "):
        response = jsonify(error=gettext("writes to the API need 'Authorization: Bearer <token>'"))
        response.status_code = 401
        return response
    return None


@bp.errorhandler(HTTPException)
def _json_error(exc: HTTPException):
    response = jsonify(error=exc.description or exc.name)
    response.status_code = exc.code or 500
    return response


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description=gettext("send a JSON object with Content-Type: application/json"))
    return data


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


def _workshop_or_404(slug: str) -> Workshop:
    workshop = get_workshop(slug)
    if workshop is None:
        abort(404, description=gettext("no workshop with slug '%(slug)s'", slug=slug))
    return workshop


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
    data = _body()
    try:
        fields = WorkshopFields(
            title=str(data.get("title", "")),
            slug=data.get("slug"),
            starts_on=date.fromisoformat(str(data.get("starts_on", ""))),
            ends_on=date.fromisoformat(data["ends_on"]) if data.get("ends_on") else None,
            venue=str(data.get("venue", "")),
            language=str(data.get("language", "en")),
            timezone=data.get("timezone"),
            capacity=data.get("capacity"),
        )
        workshop = create_workshop(current_actor(), fields)
    except (WorkshopError, ValueError) as exc:
        db.session.rollback()
        abort(422, description=str(exc))
    db.session.commit()
    return jsonify(_workshop_json(workshop)), 201


@bp.get("/workshops/<slug>")
def workshop_detail(slug: str):
    workshop = _workshop_or_404(slug)
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


@bp.get("/workshops/<slug>/participants")
def participants(slug: str):
    workshop = _workshop_or_404(slug)
    base = base_url()
    return jsonify(
        participants=[
            _participant_json(p, base)
            for p in list_participants(workshop, request.args.get("q", ""))
        ]
    )


@bp.post("/workshops/<slug>/participants")
@require_role(Role.TRAINER)
def participant_create(slug: str):
    workshop = _workshop_or_404(slug)
    data = _body()
    fields = ParticipantFields(
        full_name=str(data.get("full_name", "")),
        badge_name=str(data.get("badge_name", "") or ""),
        email=data.get("email"),
        organisation=str(data.get("organisation", "") or ""),
        role=str(data.get("role", "participant")),
        team=data.get("team"),
    )
    try:
        participant = create_participant(current_actor(), workshop, fields)
    except ParticipantError as exc:
        db.session.rollback()
        abort(422, description=str(exc))
    db.session.commit()
    return jsonify(_participant_json(participant, base_url())), 201
