"""Participants by hand: Unicode names round-trip, badge tokens, deletion, export, badge page."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from kitmanager.extensions import db
from kitmanager.models import Participant
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people, make_workshop

NAMES = [
    "Adébáyọ̀ Ọlápọ̀",
    "Nguyễn Thị Hồng Nhung",
    "محمد عبد الله",
    "王小明",
    "Ngũgĩ wa Thiong'o",
    "Zoë N'Guessan-Kouassi",
]


def _add(client, name: str, **fields) -> None:
    token = csrf_token(client, "/workshops/nairobi/participants/new")
    data = {"csrf_token": token, "full_name": name, "role": "participant", "photo_consent": ""}
    data.update(fields)
    response = client.post("/workshops/nairobi/participants/new", data=data, follow_redirects=True)
    assert response.status_code == 200
    assert "added" in response.get_data(as_text=True)


def test_unicode_names_round_trip_exactly_through_form_list_and_export(trainer, app):
    make_workshop(app)
    for name in NAMES:
        _add(trainer, name, team="Baobabs", organisation="École Sainte-Thérèse")
    page = trainer.get("/workshops/nairobi/participants/").get_data(as_text=True)
    for name in NAMES:
        assert name.replace("'", "&#39;") in page
    with app.app_context():
        stored = set(db.session.scalars(select(Participant.full_name)))
    assert stored == set(NAMES)

    export = trainer.get("/workshops/nairobi/participants/export.csv")
    assert export.mimetype == "text/csv"
    body = export.data
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM so Excel shows the accents
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert {row["full_name"] for row in rows} == set(NAMES)
    assert all(row["team"] == "Baobabs" for row in rows)
    assert all(re.fullmatch(r"http://kit\.test/b/[A-Za-z0-9_-]{32}", r["badge_url"]) for r in rows)


def test_badge_tokens_are_unique_random_and_long(app):
    make_workshop(app)
    add_people(app, "nairobi", *[f"Person {i}" for i in range(50)])
    with app.app_context():
        tokens = list(db.session.scalars(select(Participant.badge_token)))
    assert len(set(tokens)) == 50
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert len(token) * 6 >= 128  # URL-safe base64: 6 bits a character


def test_export_neutralises_formulas(runner, app, tmp_path):
    make_workshop(app)
    add_people(app, "nairobi", '=HYPERLINK("http://evil")', organisation="@SUM(A1)")
    out = tmp_path / "export.csv"
    result = runner.invoke(args=["participants", "export", "nairobi", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert rows[0]["full_name"].startswith("'=")
    assert rows[0]["organisation"].startswith("'@")


def test_edit_and_delete_remove_personal_data_but_keep_the_count(organiser, app, client):
    make_workshop(app)
    [pid] = add_people(app, "nairobi", "Akinyi Odhiambo", email="akinyi@example.org")
    with app.app_context():
        old_token = db.session.get(Participant, pid).badge_token
    url = f"/workshops/nairobi/participants/{pid}"
    token = csrf_token(organiser, url)
    organiser.post(
        url,
        data={
            "csrf_token": token,
            "full_name": "Akinyi Odhiambo",
            "badge_name": "Akinyi",
            "email": "akinyi@example.org",
            "role": "mentor",
            "photo_consent": "no",
            "guardian_contact": "+254 700 000000",
        },
    )
    with app.app_context():
        person = db.session.get(Participant, pid)
        assert (person.role, person.badge_name, person.photo_consent) == ("mentor", "Akinyi", False)

    response = organiser.post(f"{url}/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "personal data is gone" in response.get_data(as_text=True)
    with app.app_context():
        person = db.session.get(Participant, pid)
        assert person.deleted_at is not None
        assert person.full_name == "" and person.email is None and person.guardian_contact == ""
        assert person.badge_token != old_token
        assert db.session.query(Participant).count() == 1  # the anonymous row stays for counts
    assert "Akinyi" not in organiser.get("/workshops/nairobi/participants/").get_data(as_text=True)
    assert organiser.get(f"/b/{old_token}").status_code == 404


def test_only_organisers_delete(trainer, app):
    make_workshop(app)
    [pid] = add_people(app, "nairobi", "Kamau Njoroge")
    token = csrf_token(trainer, f"/workshops/nairobi/participants/{pid}")
    response = trainer.post(
        f"/workshops/nairobi/participants/{pid}/delete", data={"csrf_token": token}
    )
    assert response.status_code == 403


def test_invalid_participant_input_is_explained(trainer, app):
    make_workshop(app)
    url = "/workshops/nairobi/participants/new"
    token = csrf_token(trainer, url)
    no_name = trainer.post(url, data={"csrf_token": token, "full_name": "", "role": "participant"})
    assert "This field is required." in no_name.get_data(as_text=True)
    bad_email = trainer.post(
        url,
        data={
            "csrf_token": token,
            "full_name": "Moussa Traoré",
            "email": "moussa@",
            "role": "guest",
        },
    )
    assert "&#39;moussa@&#39; is not an email address" in bad_email.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Participant).count() == 0


def test_public_badge_page_shows_little_to_strangers_and_more_to_staff(app, client, trainer):
    make_workshop(app)
    [pid] = add_people(app, "nairobi", "Fatoumata Diallo", organisation="Lycée Moderne")
    with app.app_context():
        token = db.session.get(Participant, pid).badge_token
    staff_page = trainer.get(f"/b/{token}").get_data(as_text=True)
    assert "Lycée Moderne" in staff_page
    stranger = app.test_client()
    response = stranger.get(f"/b/{token}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Fatoumata Diallo" in page
    assert "Lycée Moderne" not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_search_finds_by_name_email_or_organisation(trainer, app):
    make_workshop(app)
    add_people(app, "nairobi", "Otieno Kariuki", organisation="Starehe")
    add_people(app, "nairobi", "Aya Koné", email="aya@example.org")
    page = trainer.get("/workshops/nairobi/participants/?q=starehe").get_data(as_text=True)
    assert "Otieno Kariuki" in page and "Aya Koné" not in page
    page = trainer.get("/workshops/nairobi/participants/?q=aya@").get_data(as_text=True)
    assert "Aya Koné" in page and "Otieno" not in page
