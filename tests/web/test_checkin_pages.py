"""Check-in pages: a badge's own page, one-tap check-in, the roster, a lost badge replaced."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from kitmanager.models import utcnow
from tests.web.conftest import csrf_token, login
from tests.web.helpers import add_people, make_workshop
from tests.web.test_checkin import _badge, _session


def _rows(data_dir, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "kitmanager.sqlite3") as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def day(app):
    make_workshop(app)
    running = _session(app, "nairobi", "Premier robot", utcnow() - timedelta(minutes=10))
    (amina,) = add_people(app, "nairobi", "Amina Yusuf", email="amina@example.org", team="Lions")
    (kofi,) = add_people(app, "nairobi", "Kofi Mensah", team="Zèbres")
    return {"running": running, "amina": amina, "kofi": kofi}


def test_a_badge_opened_without_login_shows_the_persons_own_sessions_and_nothing_else(
    app, client, day
):
    page = client.get(f"/b/{_badge(app, day['amina'])}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Amina Yusuf" in text and "Premier robot" in text
    assert "amina@example.org" not in text and "Kofi" not in text
    assert "Check in to" not in text
    assert page.headers["Cache-Control"].startswith("no-store")


@pytest.mark.parametrize("code", ["nonsense", "A" * 32, "a/b", "x" * 300])
def test_an_unknown_or_malformed_badge_is_a_plain_404_asking_for_a_trainer(client, code):
    page = client.get(f"/b/{code}")
    assert page.status_code == 404
    assert "This badge is not valid" in page.get_data(as_text=True)
    assert "Please ask a trainer." in page.get_data(as_text=True)


def test_one_tap_on_a_badge_checks_in_and_a_second_tap_says_already(app, volunteer, day):
    token = _badge(app, day["amina"])
    page = volunteer.get(f"/b/{token}").get_data(as_text=True)
    assert "Check in to Premier robot" in page
    form = {"csrf_token": csrf_token(volunteer, f"/b/{token}"), "session": str(day["running"])}
    first = volunteer.post(f"/b/{token}/check-in", data=form, follow_redirects=True)
    assert "Amina Yusuf — checked in to Premier robot" in first.get_data(as_text=True)
    second = volunteer.post(f"/b/{token}/check-in", data=form, follow_redirects=True)
    assert "Amina Yusuf was already checked in at" in second.get_data(as_text=True)
    assert _rows(app.config["DATA_DIR"], "SELECT participant_id, source FROM check_in") == [
        (day["amina"], "scan")
    ]
    assert "✓" in second.get_data(as_text=True)


def test_the_one_tap_without_its_csrf_token_is_refused(app, volunteer, day):
    token = _badge(app, day["amina"])
    assert volunteer.post(f"/b/{token}/check-in", data={}).status_code == 400
    assert _rows(app.config["DATA_DIR"], "SELECT * FROM check_in") == []


def test_the_roster_marks_and_unmarks_by_hand_and_searches_teams(app, volunteer, day):
    url = f"/workshops/nairobi/sessions/{day['running']}/roster"
    page = volunteer.get(url).get_data(as_text=True)
    assert "0 of 2 present" in page
    token = csrf_token(volunteer, url)
    mark = volunteer.post(
        f"{url}/{day['kofi']}", data={"csrf_token": token, "action": "in"}, follow_redirects=True
    )
    text = mark.get_data(as_text=True)
    assert "Kofi Mensah marked present." in text and "1 of 2 present" in text
    assert _rows(app.config["DATA_DIR"], "SELECT participant_id, source FROM check_in") == [
        (day["kofi"], "manual")
    ]
    missing = volunteer.get(f"{url}?show=missing").get_data(as_text=True)
    assert "Amina Yusuf" in missing and "Kofi Mensah" not in missing
    by_team = volunteer.get(f"{url}?q=zèbres").get_data(as_text=True)
    assert "Kofi Mensah" in by_team and "Amina Yusuf" not in by_team
    volunteer.post(f"{url}/{day['kofi']}", data={"csrf_token": token, "action": "out"})
    assert _rows(app.config["DATA_DIR"], "SELECT * FROM check_in") == []
    actions = [r[0] for r in _rows(app.config["DATA_DIR"], "SELECT action FROM audit_event")]
    assert actions.count("checkin.add") == 1 and actions.count("checkin.remove") == 1


def test_a_roster_of_another_workshops_session_is_a_404(app, volunteer, day):
    make_workshop(app, "abidjan", "Abidjan")
    assert volunteer.get(f"/workshops/abidjan/sessions/{day['running']}/roster").status_code == 404


def test_a_lost_badge_is_replaced_the_old_one_stops_and_the_new_one_prints(app, client, day):
    old = _badge(app, day["amina"])
    login(client, "vera")
    url = f"/workshops/nairobi/participants/{day['amina']}/replace-badge"
    token = csrf_token(client, f"/b/{old}")
    assert client.post(url, data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login(client, "tom")
    # A form that does not name the badge it replaces (an old page, a script) replaces none:
    # ten such posts at once would each replace the one the last made.
    unnamed = client.post(url, data={"csrf_token": csrf_token(client, "/workshops/")})
    assert unnamed.status_code == 302 and _badge(app, day["amina"]) == old
    reply = client.post(
        url, data={"csrf_token": csrf_token(client, "/workshops/"), "replacing": old}
    )
    assert reply.status_code == 302
    assert reply.headers["Location"].endswith(f"/workshops/nairobi/badges?id={day['amina']}")
    new = _badge(app, day["amina"])
    assert new != old
    gone = client.get(f"/b/{old}")
    assert gone.status_code == 404 and "replaced by a new badge" in gone.get_data(as_text=True)
    assert client.get(f"/b/{new}").status_code == 200


def test_a_badge_url_with_a_trailing_slash_opens_the_same_page(app, client, day):
    page = client.get(f"/b/{_badge(app, day['amina'])}/")
    assert page.status_code == 200 and "Amina Yusuf" in page.get_data(as_text=True)


def test_a_trainer_replaces_a_lost_badge_from_the_participant_page(app, trainer, day):
    url = f"/workshops/nairobi/participants/{day['amina']}"
    page = trainer.get(url).get_data(as_text=True)
    assert f"{url}/replace-badge" in page and "Replace badge (lost)" in page
