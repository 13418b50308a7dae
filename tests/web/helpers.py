"""Small builders for the app tests: a workshop, participants, straight through the services."""

from __future__ import annotations

from datetime import date

from flask import Flask

from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.participants.services import ParticipantFields, create_participant
from kitmanager.workshops.services import WorkshopFields, create_workshop, get_workshop


def make_workshop(
    app: Flask, slug: str = "nairobi", title: str = "Nairobi Robotics", **kwargs
) -> str:
    with app.app_context():
        create_workshop(
            cli_actor(),
            WorkshopFields(
                title=title,
                slug=slug,
                starts_on=kwargs.pop("starts_on", date(2026, 12, 1)),
                ends_on=kwargs.pop("ends_on", date(2026, 12, 2)),
                timezone=kwargs.pop("timezone", "Africa/Nairobi"),
                **kwargs,
            ),
        )
        db.session.commit()
    return slug


def add_people(app: Flask, slug: str, *names: str, **fields) -> list[int]:
    ids = []
    with app.app_context():
        workshop = get_workshop(slug)
        for name in names:
            participant = create_participant(
                cli_actor(), workshop, ParticipantFields(full_name=name, **fields)
            )
            ids.append(participant.id)
        db.session.commit()
    return ids


def post_workshop_form(client, url: str, headers: dict[str, str] | None = None, **fields):
    """Send the workshop form at ``url`` (/workshops/new or .../edit) as a browser does, with
    its CSRF token: a French workshop in Abidjan unless ``fields`` say otherwise."""
    from tests.web.conftest import csrf_token

    data = {
        "title": "Défi IA Abidjan",
        "starts_on": "2026-12-01",
        "ends_on": "2026-12-02",
        "language": "fr",
        "timezone": "Africa/Abidjan",
        **fields,
    }
    token = csrf_token(client, url)
    return client.post(url, data={"csrf_token": token, **data}, headers=headers or {})
