"""What a busy event throws at the app: double clicks, bursts, odd input, deleted people."""

from __future__ import annotations

import io
import os
import re
import threading
import time

from sqlalchemy import select

from kitmanager.extensions import db
from kitmanager.models import LoginThrottle, Participant, Team, Workshop
from tests.printouts.reading import read_pdf
from tests.web.conftest import PASSWORDS, csrf_token, login
from tests.web.helpers import add_people, make_workshop


def _together(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _clone(app, client):
    """A second browser tab: another client with the same session cookie."""
    twin = app.test_client()
    cookie = client.get_cookie("kitmanager_session")
    twin.set_cookie("kitmanager_session", cookie.value)
    return twin


def _count(app, model) -> int:
    with app.app_context():
        return db.session.query(model).count()


def test_a_double_clicked_import_imports_once(app, trainer):
    make_workshop(app)
    rows = "".join(f"Person {i},p{i}@example.org\n" for i in range(200))
    token = csrf_token(trainer, "/workshops/nairobi/participants/import")
    upload = trainer.post(
        "/workshops/nairobi/participants/import",
        data={"csrf_token": token, "file": (io.BytesIO(f"Name,Email\n{rows}".encode()), "a.csv")},
        content_type="multipart/form-data",
    )
    review = upload.headers["Location"]
    form = {
        "csrf_token": token,
        "action": "import",
        "on_duplicate": "skip",
        "map_full_name": "0",
        "map_email": "1",
    }
    tabs = [trainer, _clone(app, trainer)]
    statuses = _together(2, lambda i: tabs[i].post(review, data=form).status_code)
    # The slower tab is sent to the list ("already imported") or back to the upload page.
    assert sorted(statuses) == [302, 302]
    assert _count(app, Participant) == 200
    again = trainer.post(review, data=form)  # the file was used up by the import
    assert again.status_code == 302 and again.headers["Location"].endswith("/import")


def test_a_burst_of_wrong_passwords_is_counted_and_locks_the_account(app):
    """60 guesses at once from one address: no more than the limit reach a password check."""
    burst = 60
    clients = [app.test_client() for _ in range(burst)]
    tokens = [csrf_token(c, "/login") for c in clients]

    def guess(i: int) -> int:
        data = {"username": "tom", "password": f"guess-{i}", "csrf_token": tokens[i]}
        return clients[i].post("/login", data=data).status_code

    statuses = _together(burst, guess)
    assert statuses.count(401) == app.config["LOGIN_MAX_FAILURES"]
    assert statuses.count(429) == burst - app.config["LOGIN_MAX_FAILURES"]
    with app.app_context():
        row = db.session.scalar(select(LoginThrottle).where(LoginThrottle.username == "tom"))
        assert row.failures == app.config["LOGIN_MAX_FAILURES"]
        assert row.locked_until is not None


def test_api_writes_need_the_token_itself_not_a_cookie(app, organiser):
    make_workshop(app)
    response = organiser.post(
        "/api/v1/workshops/nairobi/participants",
        json={"full_name": "Forged"},
        headers={"Authorization": "Bearer garbage"},
    )
    assert response.status_code == 401
    assert _count(app, Participant) == 0


def test_api_answers_wrong_types_with_422_not_a_crash(app, client, runner):
    make_workshop(app)
    made = runner.invoke(args=["tokens", "create", "script", "--role", "organiser"])
    headers = {"Authorization": f"Bearer {made.output.strip().splitlines()[-1]}"}
    base = {"title": "X", "starts_on": "2026-12-01"}
    for extra in (
        {"capacity": "abc"},
        {"capacity": 10**30},
        {"capacity": True},
        {"slug": 5},
        {"timezone": 5},
        {"ends_on": 5},
        {"starts_on": "1st December"},
    ):
        response = client.post("/api/v1/workshops", json={**base, **extra}, headers=headers)
        assert response.status_code == 422, (extra, response.json)
        assert response.json["error"]
    for body in (
        {"full_name": "A", "email": 5},
        {"full_name": "A", "team": ["x"]},
        {"full_name": "A", "team": 5},
        {"full_name": 7},
    ):
        response = client.post("/api/v1/workshops/nairobi/participants", json=body, headers=headers)
        assert response.status_code == 422, (body, response.json)


def test_people_joining_one_new_team_at_once_all_get_in(app, client, runner):
    make_workshop(app)
    made = runner.invoke(args=["tokens", "create", "desk", "--role", "trainer"])
    headers = {"Authorization": f"Bearer {made.output.strip().splitlines()[-1]}"}
    clients = [app.test_client() for _ in range(6)]

    def join(i: int) -> int:
        return (
            clients[i]
            .post(
                "/api/v1/workshops/nairobi/participants",
                json={"full_name": f"Member {i}", "team": "Shared Team"},
                headers=headers,
            )
            .status_code
        )

    assert _together(6, join) == [201] * 6
    assert _count(app, Team) == 1


def test_two_workshops_with_one_slug_at_once_give_one_workshop_and_a_message(app, runner):
    made = runner.invoke(args=["tokens", "create", "boss", "--role", "organiser"])
    headers = {"Authorization": f"Bearer {made.output.strip().splitlines()[-1]}"}
    clients = [app.test_client() for _ in range(5)]

    def create(i: int):
        body = {"title": f"Race {i}", "slug": "race", "starts_on": "2026-12-01"}
        return clients[i].post("/api/v1/workshops", json=body, headers=headers)

    responses = _together(5, create)
    assert sorted(r.status_code for r in responses) == [201, 422, 422, 422, 422]
    assert all("already used" in r.json["error"] for r in responses if r.status_code == 422)
    assert _count(app, Workshop) == 1


def test_badge_sheets_go_with_the_people_on_them_and_with_time(app, organiser):
    make_workshop(app)
    [gone, *_] = add_people(app, "nairobi", "Zanele Secretname", "Kofi Mensah")
    token = csrf_token(organiser, "/workshops/nairobi/badges")
    made = organiser.post("/workshops/nairobi/badges", data={"csrf_token": token})
    sheet = made.headers["Location"]
    assert "Zanele Secretname" in read_pdf(organiser.get(sheet + ".pdf").data, decode=False)[0].text
    organiser.post(f"/workshops/nairobi/participants/{gone}/delete", data={"csrf_token": token})
    assert organiser.get(sheet + ".pdf").status_code == 404

    kept = organiser.post("/workshops/nairobi/badges", data={"csrf_token": token}).headers[
        "Location"
    ]
    pdf = app.config["DATA_DIR"] / "generated" / f"badges-{kept.rsplit('/', 1)[1]}.pdf"
    an_hour_ago = time.time() - 3601
    os.utime(pdf, (an_hour_ago, an_hour_ago))
    organiser.post("/workshops/nairobi/badges", data={"csrf_token": token})
    assert not pdf.exists()


def test_the_sheet_page_shows_the_printouts_warnings(app, trainer):
    make_workshop(app)
    add_people(app, "nairobi", "王小明")  # the embedded font has no Chinese glyphs
    token = csrf_token(trainer, "/workshops/nairobi/badges")
    page = trainer.post(
        "/workshops/nairobi/badges", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert 'id="print-warnings"' in page
    assert "王" in page.split('id="print-warnings"')[1]


def test_odd_ids_and_dates_get_404s_and_messages_not_crashes(app, organiser):
    make_workshop(app)
    huge = "99999999999999999999"
    assert organiser.get(f"/workshops/nairobi/participants/{huge}").status_code == 404
    assert organiser.get(f"/workshops/nairobi/sessions/{huge}/edit").status_code == 404
    token = csrf_token(organiser, "/workshops/nairobi/badges")
    assert (
        organiser.post(
            f"/workshops/nairobi/badges?id={huge}", data={"csrf_token": token}
        ).status_code
        == 400
    )
    early = organiser.post(
        "/workshops/nairobi/sessions/new",
        data={
            "csrf_token": token,
            "title": "Dawn of time",
            "starts": "0001-01-01T00:00",
            "ends": "0001-01-01T01:00",
        },
    )
    assert early.status_code == 200 and "check the year" in early.get_data(as_text=True)
    big = organiser.post(
        "/workshops/new",
        data={
            "csrf_token": token,
            "title": "Huge",
            "starts_on": "2026-12-01",
            "language": "en",
            "capacity": huge,
        },
    )
    assert big.status_code == 200
    assert _count(app, Workshop) == 1


def test_a_strange_column_number_in_the_mapping_is_ignored(app, trainer):
    make_workshop(app)
    token = csrf_token(trainer, "/workshops/nairobi/participants/import")
    upload = trainer.post(
        "/workshops/nairobi/participants/import",
        data={"csrf_token": token, "file": (io.BytesIO(b"Name\nAda\n"), "a.csv")},
        content_type="multipart/form-data",
    )
    response = trainer.post(
        upload.headers["Location"],
        data={"csrf_token": token, "action": "preview", "map_full_name": "\u00b2"},
    )
    assert response.status_code == 200


def test_an_internationalised_email_domain_imports(app, runner, tmp_path):
    make_workshop(app)
    path = tmp_path / "people.csv"
    path.write_text("Name,Email\nAyşe Yılmaz,ayse@İstanbul.org\n", encoding="utf-8")
    result = runner.invoke(args=["participants", "import", "nairobi", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(Participant.email)) == "ayse@İstanbul.org"


def test_the_first_login_of_many_at_once_all_work(app):
    """Serialised password checks must not turn a room of volunteers logging in into errors."""
    clients = [app.test_client() for _ in range(6)]
    tokens = [csrf_token(c, "/login") for c in clients]
    names = ["olga", "tom", "vera"] * 2

    def log_in(i: int) -> int:
        data = {"username": names[i], "password": PASSWORDS[names[i]], "csrf_token": tokens[i]}
        return clients[i].post("/login", data=data).status_code

    assert _together(6, log_in) == [302] * 6
    assert re.search("Vera", clients[2].get("/workshops/").get_data(as_text=True))
    login(app.test_client(), "olga")
