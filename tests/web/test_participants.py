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
    assert {row["Full name"] for row in rows} == set(NAMES)
    assert all(row["Team"] == "Baobabs" for row in rows)
    assert all(re.fullmatch(r"http://kit\.test/b/[A-Za-z0-9_-]{32}", r["Badge link"]) for r in rows)


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
    assert rows[0]["Full name"].startswith("'=")
    assert rows[0]["Organisation or school"].startswith("'@")


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
        assert (person.role, person.sort_key, person.team) == ("mentor", "", None)  # counts
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


# --- one source of truth for the fields ------------------------------------------------------


def _edit_form(client, pid: int, **fields) -> dict:
    url = f"/workshops/nairobi/participants/{pid}"
    data = {"csrf_token": csrf_token(client, url), "photo_consent": "", "role": "participant"}
    data.update(fields)
    return data


def test_editing_in_the_web_form_keeps_the_sign_up_id(trainer, app):
    make_workshop(app)
    [pid] = add_people(app, "nairobi", "Wanjiru Mwangi", external_id="REG-0042")
    url = f"/workshops/nairobi/participants/{pid}"
    response = trainer.post(url, data=_edit_form(trainer, pid, full_name="Wanjiru M. Mwangi"))
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        person = db.session.get(Participant, pid)
        assert (person.full_name, person.external_id) == ("Wanjiru M. Mwangi", "REG-0042")


def test_an_edit_post_without_the_team_field_keeps_the_team(trainer, app):
    make_workshop(app)
    [pid] = add_people(app, "nairobi", "Kamau Njoroge", team="Lions", photo_consent=True)
    url = f"/workshops/nairobi/participants/{pid}"
    data = _edit_form(trainer, pid, full_name="Kamau Njoroge", badge_name="Kamau")
    del data["photo_consent"]  # an older page, a script: fields left out stay as they are
    response = trainer.post(url, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        person = db.session.get(Participant, pid)
        assert (person.team.name, person.badge_name, person.photo_consent) == (
            "Lions",
            "Kamau",
            True,
        )


def test_every_text_limit_of_the_form_is_the_database_column(trainer, app):
    from kitmanager.participants.fields import TEXT_FIELDS, max_length

    make_workshop(app)
    url = "/workshops/nairobi/participants/new"
    token = csrf_token(trainer, url)
    assert max_length("external_id") == Participant.__table__.c.external_id.type.length
    for name in TEXT_FIELDS:
        if name in ("full_name", "email", "external_id"):  # no form field / own checks
            continue
        limit = max_length(name)
        data = {"csrf_token": token, "full_name": "Ama Owusu", "role": "participant"}
        data[name] = "x" * (limit + 1)
        page = trainer.post(url, data=data).get_data(as_text=True)
        assert f"the limit is {limit}" in page, name
    too_long = trainer.post(
        url, data={"csrf_token": token, "full_name": "y" * 201, "role": "participant"}
    )
    assert "the limit is 200" in too_long.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Participant).count() == 0


def test_the_api_refuses_a_too_long_sign_up_id_with_422(app, client, runner):
    make_workshop(app)
    headers = _token_headers(runner)
    response = client.post(
        "/api/v1/workshops/nairobi/participants",
        json={"full_name": "Aya Koné", "external_id": "R" * 150},
        headers=headers,
    )
    assert response.status_code == 422
    assert "limit is 100" in response.json["error"]
    ok = client.post(
        "/api/v1/workshops/nairobi/participants",
        json={"full_name": "Aya Koné", "external_id": "R" * 100, "photo_consent": False},
        headers=headers,
    )
    assert ok.status_code == 201, ok.json
    with app.app_context():
        person = db.session.scalar(select(Participant))
        assert (person.external_id, person.photo_consent) == ("R" * 100, False)


# --- text hygiene at every entry -------------------------------------------------------------


def _token_headers(runner) -> dict[str, str]:
    made = runner.invoke(args=["tokens", "create", "script", "--role", "organiser"])
    return {"Authorization": f"Bearer {made.output.strip().splitlines()[-1]}"}


def test_the_api_answers_a_lone_surrogate_with_422_naming_the_field(app, client, runner):
    make_workshop(app)
    headers = {**_token_headers(runner), "Content-Type": "application/json"}
    for field in ("full_name", "team", "notes"):
        # The JSON escape a JavaScript client sends for half of an emoji.
        body = '{"full_name": "Awa", "' + field + '": "Awa \\ud800 Kon\\u00e9"}'
        response = client.post("/api/v1/workshops/nairobi/participants", data=body, headers=headers)
        assert response.status_code == 422, (field, response.status_code)
        assert f"'{field}'" in response.json["error"]
    search = client.get("/api/v1/workshops/nairobi/participants?q=%ED%A0%80", headers=headers)
    assert search.status_code == 200
    with app.app_context():
        assert db.session.query(Participant).count() == 0


def test_a_lone_surrogate_in_the_web_form_is_a_form_error_never_a_500(trainer, app):
    from werkzeug.datastructures import MultiDict

    from kitmanager.participants.forms import ParticipantForm

    make_workshop(app)
    url = "/workshops/nairobi/participants/new"
    token = csrf_token(trainer, url)
    # The bytes of an encoded surrogate, raw and in a multipart part: refused or replaced.
    raw = trainer.post(
        url,
        data=f"csrf_token={token}&role=participant&full_name=".encode() + b"Awa \xed\xa0\x80",
        content_type="application/x-www-form-urlencoded",
    )
    assert raw.status_code == 400
    # Werkzeug 3 decodes form data without surrogates; the form still refuses one that
    # another server or decoder lets through, with a message next to the field.
    with app.test_request_context(url, method="POST"):
        form = ParticipantForm(
            formdata=MultiDict(
                {"full_name": "Awa \ud800 Koné", "team": "\udfff", "role": "participant"}
            ),
            meta={"csrf": False},
        )
        assert not form.validate()
        assert "broken character" in form.full_name.errors[0]
        assert "broken character" in form.team.errors[0]
    with app.app_context():
        assert db.session.query(Participant).count() == 0


def test_control_and_bidi_characters_are_removed_at_every_entry(trainer, app, runner):
    make_workshop(app)
    dirty = "Awa\x1b[31m\tKon\u00e9\u2067\x07\x9b"
    url = "/workshops/nairobi/participants/new"
    form = {"csrf_token": csrf_token(trainer, url), "role": "participant", "full_name": dirty}
    assert trainer.post(url, data=form).status_code == 302
    response = app.test_client().post(
        "/api/v1/workshops/nairobi/participants",
        json={"full_name": dirty, "team": "Lions\u202e", "notes": "line 1\r\nline\x002"},
        headers=_token_headers(runner),
    )
    assert response.status_code == 201, response.json
    result = runner.invoke(args=["participants", "add", "nairobi", dirty])
    assert result.exit_code == 0, result.output
    with app.app_context():
        people = list(db.session.scalars(select(Participant)))
        assert [p.full_name for p in people] == ["Awa[31m Koné"] * 3
        assert people[1].team.name == "Lions"
        assert people[1].notes == "line 1\nline2"


def test_names_stored_before_cleaning_never_reach_the_terminal_or_the_export_raw(app, runner):
    from sqlalchemy import update

    make_workshop(app)
    [pid] = add_people(app, "nairobi", "Placeholder", team="Lions")
    with app.app_context():  # as an older version stored it, straight into the database
        db.session.execute(
            update(Participant)
            .where(Participant.id == pid)
            .values(full_name="Evil\x1b]0;pwned\x07 Name\u202e", organisation="\x1b[2JSchool")
        )
        db.session.commit()
    listed = runner.invoke(args=["participants", "list", "nairobi"])
    assert listed.exit_code == 0
    assert "Evil]0;pwned Name [Lions]" in listed.output
    assert not any(ch in listed.output for ch in "\x1b\x07\u202e")
    export = runner.invoke(args=["participants", "export", "nairobi"])
    rows = list(csv.DictReader(io.StringIO(export.stdout_bytes.decode("utf-8-sig"))))
    assert rows[0]["Full name"] == "Evil]0;pwned Name"
    assert rows[0]["Organisation or school"] == "[2JSchool"
