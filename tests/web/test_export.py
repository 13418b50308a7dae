"""Exporting participants: comma or semicolon, headers in the page's language, and the file
imports back into another workshop with every field intact."""

from __future__ import annotations

import csv
import io

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from kitmanager.extensions import db
from kitmanager.models import Participant
from kitmanager.participants.csv_io import guess_mapping, read_table
from kitmanager.participants.fields import FIELD_LABELS, FIELD_NAMES
from kitmanager.participants.services import BADGE_LINK_LABEL
from kitmanager.workshops.services import get_workshop
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people, make_workshop
from tests.web.imports import guessed_form, press_import, upload

FRENCH_HEADER = (
    "Nom complet;Nom sur le badge;E-mail;Organisation ou école;Rôle;Équipe;"
    "Contact du parent ou tuteur;Accord pour les photos;Notes;N° d'inscription;Lien du badge"
)
PEOPLE = {
    "Aya Koné": dict(
        badge_name="Aya",
        email="aya@example.org",
        organisation="Lycée Sainte-Marie; Cocody",
        role="mentor",
        team="Baobabs",
        guardian_contact="+225 07 12 34 56 78",
        photo_consent=True,
        notes="Allergie : arachides\nVient en bus",
        external_id="000123",
    ),
    "Kofi Mensah": dict(organisation="=HYPERLINK(1)", photo_consent=False, team="Lions"),
    "Éloïse N'Guessan": dict(email="eloise@example.org", role="guest", external_id="42"),
}


def _speak_french(client) -> None:
    token = csrf_token(client, "/workshops/nairobi/participants/new")
    client.post("/language", data={"csrf_token": token, "language": "fr"})


def _fields(app, slug: str) -> dict[str, tuple]:
    names = ("badge_name", "email", "organisation", "role", "guardian_contact", "photo_consent")
    with app.app_context():
        workshop = get_workshop(slug)
        people = db.session.scalars(
            select(Participant).where(Participant.workshop_id == workshop.id)
        ).all()
        return {
            p.full_name: (
                *(getattr(p, name) for name in names),
                p.notes,
                p.external_id,
                p.team.name if p.team else None,
            )
            for p in people
        }


def test_french_semicolon_export_imports_back_into_another_workshop(trainer, app):
    make_workshop(app)
    make_workshop(app, slug="abidjan", title="Abidjan Robotique")
    for name, fields in PEOPLE.items():
        add_people(app, "nairobi", name, **fields)
    _speak_french(trainer)

    page = trainer.get("/workshops/nairobi/participants/export").get_data(as_text=True)
    assert 'value="semicolon" checked' in page  # French Excel expects semicolons
    assert "Télécharger le fichier CSV" in page

    export = trainer.get(
        "/workshops/nairobi/participants/export.csv", query_string={"delimiter": "semicolon"}
    )
    assert export.mimetype == "text/csv"
    body = export.data
    assert body.startswith(b"\xef\xbb\xbf" + FRENCH_HEADER.encode() + b"\r\n")
    assert b";'=HYPERLINK(1);" in body  # still neutralised for the spreadsheet

    review_url = upload(trainer, body, "export.csv", slug="abidjan").headers["Location"]
    review = trainer.get(review_url).get_data(as_text=True)
    done = press_import(trainer, review_url, guessed_form(review))
    assert "Import terminé : 3 ajout(s), 0 mise(s) à jour" in done.get_data(as_text=True)
    assert _fields(app, "abidjan") == _fields(app, "nairobi")
    assert len(_fields(app, "abidjan")) == 3


def test_the_export_page_offers_comma_in_english_and_refuses_other_separators(trainer, app):
    make_workshop(app)
    add_people(app, "nairobi", "Ada Lovelace", organisation="Analytical, Engines")
    page = trainer.get("/workshops/nairobi/participants/export").get_data(as_text=True)
    assert 'value="comma" checked' in page
    body = trainer.get("/workshops/nairobi/participants/export.csv?delimiter=comma").data
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Full name", "Name on badge", "Email"]
    assert rows[1][3] == "Analytical, Engines"
    bad = trainer.get("/workshops/nairobi/participants/export.csv?delimiter=tab")
    assert bad.status_code == 400


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_export_header_maps_back_to_its_own_field(app, language):
    with app.test_request_context(), force_locale(language):
        header = [*(str(FIELD_LABELS[name]) for name in FIELD_NAMES), str(BADGE_LINK_LABEL)]
    assert guess_mapping(header) == {name: index for index, name in enumerate(FIELD_NAMES)}


def test_cli_export_with_semicolons_imports_back(runner, app, tmp_path):
    make_workshop(app)
    make_workshop(app, slug="abidjan", title="Abidjan Robotique")
    for name, fields in PEOPLE.items():
        add_people(app, "nairobi", name, **fields)
    out = tmp_path / "export.csv"
    result = runner.invoke(
        args=["participants", "export", "nairobi", "-o", str(out), "--delimiter", "semicolon"]
    )
    assert result.exit_code == 0, result.output
    table = read_table(out.read_bytes())
    assert table.delimiter == ";" and table.headers[0] == "Full name"
    result = runner.invoke(args=["participants", "import", "abidjan", str(out)])
    assert result.exit_code == 0 and "3 added" in result.output, result.output
    assert _fields(app, "abidjan") == _fields(app, "nairobi")
    wrong = runner.invoke(args=["participants", "export", "nairobi", "--delimiter", "tab"])
    assert wrong.exit_code == 2 and "'tab' is not one of 'comma', 'semicolon'" in wrong.output
