"""`kitmanager demo`: a full workshop for today, so a new user sees a real screen at once."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import click
from flask.cli import with_appcontext

from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.participants.csv_io import ParseResult, ParticipantRow
from kitmanager.participants.services import apply_import, plan_import
from kitmanager.workshops.services import (
    WorkshopFields,
    add_session,
    create_workshop,
    get_workshop,
    local_timezone_name,
)

__all__ = ["seed_demo"]

DEMO_SLUG = "demo"

# Given names and family names from the places these workshops run, in their own spelling.
GIVEN = [
    "Wanjiru",
    "Otieno",
    "Akinyi",
    "Kamau",
    "Njeri",
    "Kiprono",
    "Amani",
    "Zawadi",
    "Kouassi",
    "Aya",
    "Yao",
    "Adjoa",
    "Koffi",
    "Mariam",
    "Ibrahim",
    "Fatoumata",
    "Adébáyọ̀",
    "Ọlápọ̀",
    "Chiamaka",
    "Oluwaseun",
    "Ngozi",
    "Tunde",
    "Awa",
    "Moussa",
    "Nguyễn Thị",
    "Trần Văn",
    "Lê Minh",
    "Phạm Thu",
    "Amira",
    "Youssef",
    "Layla",
    "Omar",
    "María José",
    "João",
    "Chloé",
    "Zoë",
    "Siobhán",
    "Søren",
    "Anaïs",
    "Li Wei",
]
FAMILY = [
    "Mwangi",
    "Odhiambo",
    "Wambui",
    "Cherono",
    "Kariuki",
    "Achieng",
    "Mutua",
    "Njoroge",
    "Koné",
    "Traoré",
    "Ouattara",
    "Bamba",
    "Yao",
    "Kouadio",
    "Diabaté",
    "N'Guessan",
    "Adéyẹmí",
    "Okonkwo",
    "Balogun",
    "Eze",
    "Diallo",
    "Ndiaye",
    "Sow",
    "Mensah",
    "Hồng Nhung",
    "Quang",
    "Anh",
    "Hà",
    "El-Amin",
    "Haddad",
    "Benali",
    "Mansour",
    "González",
    "Gonçalves",
    "Lefèvre",
    "Müller",
    "Ó Briain",
    "Kierkegaard",
    "Dubois",
    "Zhang",
]
SCHOOLS = [
    "Starehe Boys' Centre",
    "Alliance Girls High School",
    "Lycée Classique d'Abidjan",
    "Collège Moderne de Cocody",
    "Kings College Lagos",
    "Lycée Sainte-Marie",
    "Moi Forces Academy",
    "Lycée Technique de Yamoussoukro",
    "UN Mission Youth Programme",
    "Nairobi Robotics Club",
]
TEAMS = ["Lions", "Baobabs", "Éléphants", "Cheetahs", "Kilimanjaro", "Niger", "Sahel", "Volta"]
SESSIONS = [
    ("Welcome and first robot", time(9, 0), time(10, 30), "Hall A"),
    ("Sensors and line following", time(11, 0), time(12, 30), "Lab 1"),
    ("Team challenge", time(14, 0), time(16, 0), "Hall A"),
]


def seed_demo(participants: int = 40, seed: int = 2026) -> int:
    """Create the demo workshop for today; returns its number of participants."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    actor = cli_actor()
    today = date.today()
    workshop = create_workshop(
        actor,
        WorkshopFields(
            title="Robotics & AI Youth Challenge (demo)",
            slug=DEMO_SLUG,
            starts_on=today,
            ends_on=today + timedelta(days=1),
            venue="Innovation Hub, Nairobi",
            timezone=local_timezone_name(),
            capacity=max(participants, 40),
        ),
    )
    for title, start, end, room in SESSIONS:
        add_session(
            actor,
            workshop,
            title,
            datetime.combine(today, start),
            datetime.combine(today, end),
            room,
        )
    rows = []
    used: set[str] = set()
    for index in range(participants):
        while True:
            name = f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}"
            if name not in used or len(used) >= len(GIVEN) * len(FAMILY):
                break
        used.add(name)
        role = "mentor" if index % 12 == 11 else "participant"
        rows.append(
            ParticipantRow(
                line=index + 2,
                full_name=name,
                badge_name=name.split(" ")[0],
                email=f"demo{index + 1}@example.org",
                organisation=rng.choice(SCHOOLS),
                role=role,
                team=TEAMS[index % len(TEAMS)],
                guardian_contact=""
                if role == "mentor"
                else f"+254 700 {rng.randint(100000, 999999)}",
                photo_consent=rng.random() > 0.2,
                notes="",
                external_id=None,
            )
        )
    plan = plan_import(workshop, ParseResult(rows=rows, errors=[]))
    summary = apply_import(actor, workshop, plan)
    return summary.created


@click.command("demo")
@click.option(
    "--participants", "count", default=40, show_default=True, type=click.IntRange(1, 20000)
)
@click.option("--replace", is_flag=True, help="Delete an existing demo workshop first.")
@with_appcontext
def demo_command(count: int, replace: bool) -> None:
    """Seed the 'demo' workshop: three sessions today and COUNT participants in teams."""
    existing = get_workshop(DEMO_SLUG)
    if existing is not None:
        if not replace:
            raise click.ClickException(
                "A 'demo' workshop already exists. Use --replace to make a fresh one."
            )
        db.session.delete(existing)
        db.session.flush()
    created = seed_demo(count)
    db.session.commit()
    click.echo(f"Demo workshop 'demo' ready: 3 sessions today, {created} participants.")
