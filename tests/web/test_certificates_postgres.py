"""Certificates on PostgreSQL: two organisers issuing at the same instant give each person one
certificate (the partial unique index decides), and they verify like on SQLite."""

from __future__ import annotations

import threading
from datetime import date, datetime

from sqlalchemy import func, select

from kitmanager.audit import cli_actor
from kitmanager.certificates.printing import certificate_url
from kitmanager.certificates.services import issue_certificates, update_rule
from kitmanager.checkin.services import check_in
from kitmanager.extensions import db
from kitmanager.models import Certificate, Participant
from kitmanager.workshops.services import (
    WorkshopFields,
    add_session,
    create_workshop,
    get_workshop,
)
from tests.web.test_postgres import pg_app, postgres_url  # noqa: F401  (fixtures)

PEOPLE = 30


def test_two_organisers_issuing_at_once_give_each_person_one_certificate(pg_app):  # noqa: F811
    with pg_app.app_context():
        actor = cli_actor()
        workshop = create_workshop(
            actor,
            WorkshopFields(
                title="Central server", slug="central", starts_on=date(2026, 12, 1),
                ends_on=date(2026, 12, 1), timezone="Africa/Nairobi",
            ),
        )  # fmt: skip
        session = add_session(
            actor, workshop, "Day 1", datetime(2026, 12, 1, 9), datetime(2026, 12, 1, 17)
        )
        people = [
            Participant(workshop_id=workshop.id, full_name=f"Person {i}") for i in range(PEOPLE)
        ]
        db.session.add_all(people)
        db.session.flush()
        for person in people:
            check_in(actor, person, session)
        update_rule(actor, workshop, issuer="Central Robotics")
        db.session.commit()

    issued: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def organiser() -> None:
        try:
            with pg_app.app_context():
                start.wait()
                result = issue_certificates(cli_actor(), get_workshop("central"))
                db.session.commit()
                issued.append(len(result.issued))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=organiser) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(issued) == PEOPLE
    with pg_app.app_context():
        per_person = db.session.execute(
            select(Certificate.participant_id, func.count()).group_by(Certificate.participant_id)
        ).all()
        assert len(per_person) == PEOPLE and {count for _, count in per_person} == {1}
        certificate = db.session.scalars(select(Certificate)).first()
        url = certificate_url("http://kit.test", certificate)
    client = pg_app.test_client()
    path = url.removeprefix("http://kit.test")
    assert "✓ Valid" in client.get(path).get_data(as_text=True)
