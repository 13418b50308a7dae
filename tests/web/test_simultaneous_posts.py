"""One form sent several times at once: ten *Replace badge* posts make one new badge, and a
walk-in sent from several tabs at the same instant is registered once.

Real threads post together (released by a barrier) to a real `kitmanager serve` on loopback,
on the real SQLite file and on PostgreSQL; the counts are read from the database itself.
"""

from __future__ import annotations

import html
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from kitmanager.audit import cli_actor
from kitmanager.auth.services import create_user
from kitmanager.config import DATABASE_FILE
from kitmanager.extensions import db
from kitmanager.models import utcnow
from tests.web.conftest import PASSWORDS, csrf_token
from tests.web.e2e import CSRF_PATTERN, Browser, Reply, Server
from tests.web.helpers import add_people, make_workshop
from tests.web.test_checkin import _badge, _session
from tests.web.test_postgres import pg_app, postgres_url  # noqa: F401  (fixtures)

AT_ONCE = 10  # posts released together
NEW_BADGE = "Amina Yusuf has a new badge; the old one no longer works. Print the new one now."
ALREADY_REPLACED = "This badge was already replaced: Amina Yusuf has a new one. Print it now."
REGISTERED = "Nia Achieng is registered and checked in. Print their badge now."
SAME_FORM_AGAIN = "Already registered: Nia Achieng, checked in. Print their badge now."


def _field(page: str, name: str) -> str:
    """The value of the hidden field ``name`` of a page, as a browser would send it."""
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no field {name} on the page"
    return html.unescape(match.group(1))


def _trainer(url: str) -> Browser:
    """A browser signed in as Tom, a trainer (each its own login: its own messages)."""
    browser = Browser(url, timeout=120)
    assert browser.login("tom", PASSWORDS["tom"]).status == 200
    return browser


def _form(browser: Browser, page_url: str, *names: str, **typed: str) -> dict[str, str]:
    """The form on ``page_url`` as its page shows it: the hidden ``names`` and what was typed."""
    page = browser.get(page_url).body
    token = CSRF_PATTERN.search(page)
    assert token, f"no CSRF token on {page_url}"
    return {"csrf_token": token.group(1), **{n: _field(page, n) for n in names}, **typed}


def _at_once(posts: list[Callable[[], Reply]]) -> list[Reply]:
    """Send every post from its own thread, all released at the same instant."""
    start = threading.Barrier(len(posts))
    replies: list[Reply | None] = [None] * len(posts)
    errors: list[BaseException] = []

    def send(index: int) -> None:
        try:
            start.wait(timeout=60)
            replies[index] = posts[index]()
        except BaseException as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert errors == []
    assert all(reply is not None for reply in replies)
    return replies  # type: ignore[return-value]


class Rows:
    """What the database holds, read with plain SQL outside the app."""

    def __init__(self, query: Callable[[str, tuple], list[tuple]]) -> None:
        self.query = query

    def badge(self, participant: int) -> str:
        return self.query("SELECT badge_token FROM participant WHERE id = %s", (participant,))[0][0]

    def retired(self) -> list[tuple]:
        return self.query("SELECT token, participant_id FROM retired_badge_token", ())

    def audit(self, action: str, participant: int) -> int:
        return self.query(
            "SELECT count(*) FROM audit_event WHERE action = %s AND object_type = 'participant' "
            "AND object_id = %s",
            (action, participant),
        )[0][0]

    def people_named(self, slug: str, like: str) -> list[int]:
        return [
            row[0]
            for row in self.query(
                "SELECT participant.id FROM participant JOIN workshop "
                "ON workshop.id = participant.workshop_id "
                "WHERE workshop.slug = %s AND lower(full_name) LIKE %s",
                (slug, like),
            )
        ]

    def check_ins(self, participant: int) -> list[tuple]:
        return self.query(
            "SELECT session_id, source, station FROM check_in WHERE participant_id = %s",
            (participant,),
        )


def _sqlite_rows(data_dir: Path) -> Rows:
    def query(sql: str, values: tuple) -> list[tuple]:
        with sqlite3.connect(data_dir / DATABASE_FILE) as conn:
            return conn.execute(sql.replace("%s", "?"), values).fetchall()

    return Rows(query)


def _postgres_rows(url: str) -> Rows:
    import psycopg

    def query(sql: str, values: tuple) -> list[tuple]:
        with psycopg.connect(url) as conn:
            return conn.execute(sql, values).fetchall()

    return Rows(query)


def _ten_replace_badge_posts_at_once(url: str, slug: str, amina: int, rows: Rows) -> None:
    page_url = f"/workshops/{slug}/participants/{amina}"
    post_url = f"{page_url}/replace-badge"
    old = rows.badge(amina)
    browsers = [_trainer(url) for _ in range(AT_ONCE)]
    forms = [_form(browser, page_url, "replacing") for browser in browsers]
    assert {form["replacing"] for form in forms} == {old}  # every page shows the lost badge

    replies = _at_once(
        [
            lambda browser=browser, form=form: browser.request(post_url, data=form)
            for browser, form in zip(browsers, forms, strict=True)
        ]
    )

    assert [reply.status for reply in replies] == [200] * AT_ONCE  # no 500
    assert all(reply.url.endswith(f"/workshops/{slug}/badges?id={amina}") for reply in replies)
    assert sum(NEW_BADGE in reply.body for reply in replies) == 1
    assert sum(ALREADY_REPLACED in reply.body for reply in replies) == AT_ONCE - 1
    new = rows.badge(amina)
    assert new != old
    assert rows.retired() == [(old, amina)]
    assert rows.audit("participant.badge_replaced", amina) == 1

    # A page still showing the lost badge replaces nothing more.
    stale = browsers[0].request(post_url, data=forms[0])
    assert ALREADY_REPLACED in stale.body
    assert rows.badge(amina) == new and rows.retired() == [(old, amina)]


def _one_walk_in_form_sent_at_once(
    url: str, slug: str, session: int, rows: Rows, again: str = ""
) -> None:
    """A double click, a form sent again: the same form (one page, one login) many times."""
    roster = f"/workshops/{slug}/sessions/{session}/roster"
    post_url = f"/workshops/{slug}/sessions/{session}/walk-in"
    browser = _trainer(url)
    form = _form(browser, roster, "form_id", full_name="Nia Achieng", team="Lions", again=again)

    replies = _at_once([lambda: browser.request(post_url, data=form, follow=False)] * AT_ONCE)

    (nia,) = rows.people_named(slug, "nia%")
    assert [reply.status for reply in replies] == [302] * AT_ONCE  # no 500
    assert {reply.headers["Location"] for reply in replies} == {
        f"/workshops/{slug}/badges?id={nia}"
    }
    assert rows.check_ins(nia) == [(session, "manual", "walk-in")]
    assert rows.audit("participant.created", nia) == 1
    assert rows.audit("checkin.add", nia) == 1
    # Sent once more: the same person, said so.
    assert SAME_FORM_AGAIN in browser.request(post_url, data=form).body
    assert rows.people_named(slug, "nia%") == [nia]


def _one_walk_in_typed_in_three_tabs_at_once(url: str, slug: str, session: int, rows: Rows):
    """Three pages (three forms), the same name typed in each, sent at the same instant."""
    roster = f"/workshops/{slug}/sessions/{session}/roster"
    post_url = f"/workshops/{slug}/sessions/{session}/walk-in"
    browsers = [_trainer(url) for _ in range(3)]
    typed = ["Nia Achieng", "nia  achieng", "NIA ACHIENG"]
    forms = [
        _form(browser, roster, "form_id", full_name=name)
        for browser, name in zip(browsers, typed, strict=True)
    ]
    assert len({form["form_id"] for form in forms}) == 3

    replies = _at_once(
        [
            lambda browser=browser, form=form: browser.request(post_url, data=form)
            for browser, form in zip(browsers, forms, strict=True)
        ]
    )

    assert [reply.status for reply in replies] == [200] * 3  # no 500
    (nia,) = rows.people_named(slug, "nia%")
    assert rows.check_ins(nia) == [(session, "manual", "walk-in")]
    registered = [reply for reply in replies if "is registered and checked in" in reply.body]
    assert len(registered) == 1
    assert registered[0].url.endswith(f"/workshops/{slug}/badges?id={nia}")
    others = [reply for reply in replies if reply is not registered[0]]
    # The name as the first tab typed it, whichever won.
    assert all(
        re.search(r"is already registered and checked in\. For a different person", r.body)
        and "/roster?q=" in r.url
        for r in others
    )


@pytest.fixture
def door(app) -> dict[str, int]:
    """A workshop with a session running and one registered participant."""
    make_workshop(app)
    running = _session(app, "nairobi", "Premier robot", utcnow() - timedelta(minutes=10))
    (amina,) = add_people(app, "nairobi", "Amina Yusuf", team="Lions")
    return {"running": running, "amina": amina}


@pytest.fixture
def server(door, data_dir: Path) -> Iterator[Server]:
    with Server(data_dir, extra_args=("--threads", str(AT_ONCE + 2))) as running:
        yield running


def test_ten_replace_badge_posts_at_once_make_one_new_badge_and_no_error(door, server, data_dir):
    _ten_replace_badge_posts_at_once(server.url, "nairobi", door["amina"], _sqlite_rows(data_dir))


@pytest.mark.parametrize("again", ["", "1"], ids=["name-checked", "register-anyway-ticked"])
def test_one_walk_in_form_sent_ten_times_at_once_registers_one_person(
    door, server, data_dir, again
):
    _one_walk_in_form_sent_at_once(
        server.url, "nairobi", door["running"], _sqlite_rows(data_dir), again
    )


def test_the_same_walk_in_typed_in_three_tabs_at_once_is_registered_once(door, server, data_dir):
    _one_walk_in_typed_in_three_tabs_at_once(
        server.url, "nairobi", door["running"], _sqlite_rows(data_dir)
    )


def test_simultaneous_replace_badge_and_walk_in_posts_on_postgresql(
    pg_app,  # noqa: F811
    postgres_url,  # noqa: F811
    tmp_path,
):
    app = pg_app
    with app.app_context():
        create_user(cli_actor(), "tom", "trainer", PASSWORDS["tom"])
        db.session.commit()
    sessions = {}
    for slug in ("central", "annex"):
        make_workshop(app, slug, slug.title())
        sessions[slug] = _session(app, slug, "Premier robot", utcnow() - timedelta(minutes=10))
    (amina,) = add_people(app, "central", "Amina Yusuf", team="Lions")
    rows = _postgres_rows(postgres_url)
    with Server(
        tmp_path / "serve",
        prefix=("env", f"DATABASE_URL={postgres_url}"),
        extra_args=("--threads", str(AT_ONCE + 2)),
    ) as server:
        _ten_replace_badge_posts_at_once(server.url, "central", amina, rows)
        _one_walk_in_form_sent_at_once(server.url, "central", sessions["central"], rows, "1")
        _one_walk_in_typed_in_three_tabs_at_once(server.url, "annex", sessions["annex"], rows)


# ------------------------------------------------------------------ one request at a time


def test_a_replace_badge_form_names_the_badge_it_replaces(app, trainer, door):
    page_url = f"/workshops/nairobi/participants/{door['amina']}"
    old = _badge(app, door["amina"])
    page = trainer.get(page_url).get_data(as_text=True)
    assert _field(page, "replacing") == old
    form = {"csrf_token": csrf_token(trainer, page_url), "replacing": old}
    first = trainer.post(f"{page_url}/replace-badge", data=form, follow_redirects=True)
    assert NEW_BADGE in first.get_data(as_text=True)
    new = _badge(app, door["amina"])
    assert _field(trainer.get(page_url).get_data(as_text=True), "replacing") == new
    again = trainer.post(f"{page_url}/replace-badge", data=form, follow_redirects=True)
    assert ALREADY_REPLACED in again.get_data(as_text=True)
    assert _badge(app, door["amina"]) == new


def test_a_walk_in_form_sent_again_lands_on_its_person_even_after_a_new_badge(
    app, trainer, door, data_dir
):
    roster = f"/workshops/nairobi/sessions/{door['running']}/roster"
    post_url = f"/workshops/nairobi/sessions/{door['running']}/walk-in"
    page = trainer.get(roster).get_data(as_text=True)
    form = {
        "csrf_token": csrf_token(trainer, roster),
        "form_id": _field(page, "form_id"),
        "full_name": "Nia Achieng",
    }
    rows = _sqlite_rows(data_dir)
    first = trainer.post(post_url, data=form, follow_redirects=True)
    assert REGISTERED in first.get_data(as_text=True)
    (nia,) = rows.people_named("nairobi", "nia%")
    # Her badge is lost and replaced; the old form sent again still finds her.
    trainer.post(
        f"/workshops/nairobi/participants/{nia}/replace-badge",
        data={"csrf_token": form["csrf_token"], "replacing": rows.badge(nia)},
    )
    again = trainer.post(post_url, data=form, follow_redirects=True)
    assert SAME_FORM_AGAIN in again.get_data(as_text=True)
    assert rows.people_named("nairobi", "nia%") == [nia]
    # The same form with another name typed in (the page kept after going back) is someone new.
    other = trainer.post(post_url, data={**form, "full_name": "Kwame Asante"})
    assert other.status_code == 302 and "/badges?id=" in other.headers["Location"]
    assert len(rows.people_named("nairobi", "kwame%")) == 1
    # Each roster shows a new form.
    assert _field(trainer.get(roster).get_data(as_text=True), "form_id") != form["form_id"]
