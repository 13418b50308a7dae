"""The participant list as a trainer meets it with a real workshop: hundreds or thousands of
people, names from many languages, searching, paging, choosing whose badges to print."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.participants.csv_io import ParseResult, ParticipantRow
from kitmanager.participants.services import apply_import, plan_import
from kitmanager.workshops.services import get_workshop
from tests.web.helpers import add_people, make_workshop

LIST = "/workshops/nairobi/participants/"


def import_people(app, count: int, *, teams: tuple[str, ...] = ("Lions", "Baobabs")) -> None:
    """``count`` people with a team each, through the import (fast, and the real write path)."""
    with app.app_context():
        workshop = get_workshop("nairobi")
        rows = [
            ParticipantRow(
                line=i + 2,
                full_name=f"Person {i:04d}",
                email=f"p{i}@example.org",
                organisation="Starehe Boys Centre",
                team=teams[i % len(teams)],
            )
            for i in range(count)
        ]
        apply_import(cli_actor(), workshop, plan_import(workshop, ParseResult(rows, [])))
        db.session.commit()


def listed_names(page: str) -> list[str]:
    return re.findall(r'<td class="name"><a href="[^"]+">([^<]+)</a>', page)


def test_names_sort_like_a_reader_expects_not_by_code_point(trainer, app):
    make_workshop(app)
    add_people(app, "nairobi", "Zanele Mokoena", "Éloïse Kouassi", "awa Traoré", "Aïssatou Bâ")
    add_people(app, "nairobi", "Łukasz Nowak", "Émile Diop", "Lamine Sow", "Ngozi Eze")
    page = trainer.get(LIST).get_data(as_text=True)
    assert listed_names(page) == [
        "Aïssatou Bâ",
        "awa Traoré",
        "Éloïse Kouassi",
        "Émile Diop",
        "Lamine Sow",
        "Łukasz Nowak",
        "Ngozi Eze",
        "Zanele Mokoena",
    ]


def test_a_renamed_person_moves_to_their_new_place(trainer, app):
    from tests.web.conftest import csrf_token

    make_workshop(app)
    [pid] = add_people(app, "nairobi", "Zodwa Dlamini")
    add_people(app, "nairobi", "Moussa Traoré")
    url = f"/workshops/nairobi/participants/{pid}"
    data = {"csrf_token": csrf_token(trainer, url), "full_name": "Ábena Dlamini"}
    assert trainer.post(url, data=data).status_code == 302
    assert listed_names(trainer.get(LIST).get_data(as_text=True)) == [
        "Ábena Dlamini",
        "Moussa Traoré",
    ]


def test_the_list_of_2000_people_is_a_small_page_with_the_count_and_page_links(trainer, app):
    make_workshop(app)
    import_people(app, 2000)
    response = trainer.get(LIST)
    page = response.get_data(as_text=True)
    assert len(response.data) < 100_000  # the whole list was 687 KB
    assert '<span class="count" id="total">2000</span>' in page
    assert "Showing 1–100 of 2000." in page
    assert "Page 1 of 20" in page
    assert listed_names(page) == [f"Person {i:04d}" for i in range(100)]
    assert 'href="/workshops/nairobi/participants/?page=2" rel="next"' in page
    assert 'href="/workshops/nairobi/participants/?page=20"' in page

    last = trainer.get(f"{LIST}?page=20").get_data(as_text=True)
    assert listed_names(last)[-1] == "Person 1999"
    assert 'rel="next"' not in last
    beyond = trainer.get(f"{LIST}?page=999").get_data(as_text=True)  # an old link: last page
    assert listed_names(beyond) == listed_names(last)
    assert trainer.get(f"{LIST}?page=-1").status_code == 200


def test_search_covers_team_and_ignores_accents_and_keeps_the_search_across_pages(trainer, app):
    make_workshop(app)
    import_people(app, 250, teams=("Lions", "Baobabs"))
    add_people(app, "nairobi", "Éloïse Kouassi", organisation="Lycée Moderne")
    by_team = trainer.get(f"{LIST}?q=baobab").get_data(as_text=True)
    assert "125 people match “baobab”." in by_team
    assert 'href="/workshops/nairobi/participants/?page=2&amp;q=baobab"' in by_team
    assert listed_names(trainer.get(f"{LIST}?q=eloise").get_data(as_text=True)) == [
        "Éloïse Kouassi"
    ]
    literal = trainer.get(f"{LIST}?q=100%25").get_data(as_text=True)  # % is no wildcard
    assert "Nobody matches" in literal


def test_print_for_the_ticked_people_with_nobody_ticked_says_so(trainer, app):
    make_workshop(app)
    add_people(app, "nairobi", "Awa Koné", "Moussa Traoré")
    response = trainer.get(f"{LIST}print?q=Awa", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.request.path == LIST
    assert "Nobody is ticked" in page


def test_ticked_people_and_everyone_matching_the_search_go_to_the_print_page(trainer, app):
    make_workshop(app)
    import_people(app, 250, teams=("Lions", "Baobabs"))
    ticked = add_people(app, "nairobi", "Awa Koné", "Moussa Traoré")
    response = trainer.get(f"{LIST}print?id={ticked[0]}&id={ticked[1]}")
    assert response.status_code == 302
    chosen = trainer.get(response.headers["Location"]).get_data(as_text=True)
    assert "Badges for 2 chosen people: Awa Koné, Moussa Traoré" in chosen

    # Every Lion, on all three pages of the search, not only the hundred shown.
    response = trainer.get(f"{LIST}print?all=1&q=Lions")
    lions = trainer.get(response.headers["Location"]).get_data(as_text=True)
    assert "Badges for 125 chosen people" in lions
    assert "Person 0000" in lions and "Person 0248" in lions and "Person 0001" not in lions

    everyone = trainer.get(f"{LIST}print?all=1")
    assert everyone.headers["Location"].endswith("/workshops/nairobi/badges")
    assert "252 people" in trainer.get(everyone.headers["Location"]).get_data(as_text=True)


@contextmanager
def counted_statements(app) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_list_export_and_api_load_teams_in_a_constant_number_of_queries(trainer, app, runner):
    make_workshop(app)
    import_people(app, 300, teams=tuple(f"Team {n}" for n in range(30)))
    made = runner.invoke(args=["tokens", "create", "script", "--role", "organiser"])
    api = {"Authorization": f"Bearer {made.output.strip().splitlines()[-1]}"}
    trainer.get(LIST)  # warm up the login

    with counted_statements(app) as statements:
        page = trainer.get(f"{LIST}?page=2").get_data(as_text=True)
    assert "Team 10" in page
    assert len(statements) <= 8, statements  # was 44: one query per team

    with counted_statements(app) as statements:
        export = trainer.get(f"{LIST}export.csv")
    rows = list(csv.DictReader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert len(rows) == 300 and rows[0]["Team"] == "Team 0"
    assert len(statements) <= 8, statements

    with counted_statements(app) as statements:
        listing = app.test_client().get("/api/v1/workshops/nairobi/participants", headers=api)
    assert len(listing.json["participants"]) == 300
    assert listing.json["participants"][1]["team"] == "Team 1"
    assert len(statements) <= 8, statements


def test_the_migration_gives_people_already_stored_their_sort_key(tmp_path):
    from flask_migrate import upgrade

    from kitmanager import create_app

    app = create_app({"DATA_DIR": tmp_path})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision="0003_app_settings")
    database = tmp_path / "kitmanager.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute(
            "INSERT INTO workshop (id, slug, title, venue, starts_on, ends_on, language, "
            "timezone, notes, created_at) VALUES (1, 'w', 'W', '', '2026-12-01', '2026-12-01', "
            "'en', 'UTC', '', '2026-11-30 00:00:00')"
        )
        for pid, name in ((1, "Zanele Mokoena"), (2, "Éloïse Kouassi")):
            conn.execute(
                "INSERT INTO participant (id, workshop_id, full_name, badge_name, organisation, "
                "role, guardian_contact, notes, badge_token, created_at, updated_at) VALUES "
                "(?, 1, ?, '', '', 'participant', '', '', ?, '2026-11-30', '2026-11-30')",
                (pid, name, f"token-{pid}"),
            )
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()
    with sqlite3.connect(database) as conn:
        keys = conn.execute(
            "SELECT full_name, sort_key FROM participant ORDER BY sort_key"
        ).fetchall()
    assert keys == [("Éloïse Kouassi", "eloise kouassi"), ("Zanele Mokoena", "zanele mokoena")]
