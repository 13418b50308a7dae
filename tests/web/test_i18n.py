"""English and French from the start: complete catalogs, and every page in the reader's language.

The catalog tests extract the strings from the code and templates as they are now, so a UI
string added later without a French translation fails here. The page tests use the real
catalogs: no mocks.
"""

from __future__ import annotations

import html
import io
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import CommandLineInterface, parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy import select

from kitmanager.extensions import db
from kitmanager.models import Participant, User
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people, make_workshop

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "kitmanager" / "translations"
TRANSLATED_LANGUAGES = ("fr",)
FRENCH_PASSWORD = "mot-de-passe-long-1"
# %(name)s placeholders, an escaped %% and a lone % (which would break the formatting).
PLACEHOLDER_RE = re.compile(r"%\([^)]*\)[a-z]|%%|%")
ADVICE = "run scripts/update-translations.sh, translate the entries, run it again"


def extracted_messages() -> dict[str | tuple[str, ...], list[str]]:
    """Every msgid babel.cfg finds in the code and templates now, with where it was found."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, "babel.cfg")
    found: dict[str | tuple[str, ...], list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def load_po(language: str) -> Catalog:
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=language)


def placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER_RE.findall(text))


def test_extraction_finds_strings_from_python_forms_and_templates():
    found = extracted_messages()
    assert "Wrong user name or password." in found  # gettext in a view
    assert "Lowercase letters, digits and dashes." in found  # lazy_gettext in a form
    assert "The workshop needs a title." in found  # gettext in a service
    assert ("%(num)s participant", "%(num)s participants") in found  # ngettext in a template
    assert any(where.startswith("templates/") for wheres in found.values() for where in wheres)


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_every_ui_string_is_translated_with_the_same_placeholders(language):
    catalog = load_po(language)
    assert not catalog.fuzzy, "a fuzzy catalog header makes pybabel compile skip the whole file"
    assert catalog.num_plurals == 2 and catalog.plural_expr == "(n > 1)"
    problems = []
    for msgid, where in sorted(extracted_messages().items(), key=str):
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        entry = catalog.get(key)
        if entry is None:
            problems.append(f"{where[0]}: not in the catalog: {msgid!r}")
            continue
        if entry.fuzzy:
            problems.append(f"{where[0]}: fuzzy: {msgid!r}")
        if isinstance(msgid, tuple):
            forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            if entry.id != msgid:
                problems.append(f"{where[0]}: plural changed in the catalog: {msgid!r}")
            if len(forms) != catalog.num_plurals or not all(f.strip() for f in forms):
                problems.append(f"{where[0]}: a plural form is untranslated: {msgid!r}")
            expected = set(placeholders(msgid[0])) | set(placeholders(msgid[1]))
            for form in forms:
                if form and set(placeholders(form)) != expected:
                    problems.append(f"{where[0]}: placeholders differ: {msgid!r} -> {form!r}")
        else:
            if not isinstance(entry.string, str) or not entry.string.strip():
                problems.append(f"{where[0]}: untranslated: {msgid!r}")
            elif placeholders(entry.string) != placeholders(msgid):
                problems.append(f"{where[0]}: placeholders differ: {msgid!r} -> {entry.string!r}")
    assert not problems, f"{language}: {len(problems)} problem(s); {ADVICE}:\n" + "\n".join(
        problems
    )


def _messages(catalog: Catalog) -> dict[tuple[object, object], object]:
    def frozen(value):  # read_mo gives plural ids and strings as lists
        return tuple(value) if isinstance(value, list) else value

    return {(frozen(m.id), m.context): frozen(m.string) for m in catalog if m.id}


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_committed_mo_matches_its_po(language, tmp_path):
    """pip installs need no build step, so the .mo is committed; it must say what the .po says."""
    folder = TRANSLATIONS / language / "LC_MESSAGES"
    fresh = tmp_path / "messages.mo"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "compile",
            "-l",
            language,
            "-i",
            str(folder / "messages.po"),
            "-o",
            str(fresh),
        ]
    )
    with open(fresh, "rb") as handle:
        expected = read_mo(handle)
    with open(folder / "messages.mo", "rb") as handle:
        committed = read_mo(handle)
    assert expected.plural_forms == committed.plural_forms
    assert _messages(committed) == _messages(expected), f"the .mo is stale; {ADVICE}"


# --- pages in the reader's language -------------------------------------------------------------


def _create_user(runner, name: str, role: str, language: str) -> None:
    result = runner.invoke(
        args=["users", "create", name, "--role", role, "--language", language, "--password-stdin"],
        input=FRENCH_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output


def _log_in(client: FlaskClient, name: str, **headers: str):
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"username": name, "password": FRENCH_PASSWORD, "csrf_token": token},
        headers=headers,
        follow_redirects=True,
    )


def _text(response) -> str:
    """The page as a reader sees it: HTML entities such as &#39; decoded."""
    return html.unescape(response.get_data(as_text=True))


def test_french_user_sees_french_pages_and_english_user_english(app, runner):
    _create_user(runner, "awa", "trainer", "fr")
    _create_user(runner, "john", "trainer", "en")
    french, english = app.test_client(), app.test_client()

    page = _text(_log_in(french, "awa"))
    assert '<html lang="fr">' in page
    assert "<h1>Ateliers</h1>" in page
    assert "Bienvenue, awa." in page
    assert "Déconnexion" in page and "Log out" not in page

    # The account's language wins over the browser's.
    page = _text(_log_in(english, "john", **{"Accept-Language": "fr"}))
    assert "<h1>Workshops</h1>" in english.get("/workshops/").get_data(as_text=True)
    assert "Welcome, john." in page and "Ateliers" not in page


def test_language_switcher_changes_the_page_and_is_remembered_on_the_account(app, runner):
    _create_user(runner, "koffi", "trainer", "fr")
    client = app.test_client()
    _log_in(client, "koffi")
    token = csrf_token(client, "/workshops/")
    response = client.post(
        "/language",
        data={"language": "en", "next": "/workshops/", "csrf_token": token},
        follow_redirects=True,
    )
    assert "<h1>Workshops</h1>" in _text(response)
    with app.app_context():
        assert db.session.scalar(select(User.language).where(User.username == "koffi")) == "en"

    # A new browser (fresh session, French browser) still gets the account's choice.
    elsewhere = app.test_client()
    page = _text(_log_in(elsewhere, "koffi", **{"Accept-Language": "fr"}))
    assert "<h1>Workshops</h1>" in page


def test_anonymous_visitor_of_a_french_workshop_badge_reads_french(app, client):
    make_workshop(app, slug="abidjan", title="Défi IA Abidjan", language="fr")
    make_workshop(app, slug="nairobi", title="Nairobi Robotics", language="en")
    add_people(app, "abidjan", "Aya Koné")
    add_people(app, "nairobi", "Wanjiru Mwangi")
    with app.app_context():
        tokens = dict(
            db.session.execute(select(Participant.full_name, Participant.badge_token)).all()
        )

    page = _text(client.get(f"/b/{tokens['Aya Koné']}"))
    assert '<html lang="fr">' in page
    assert "Voici votre badge d'atelier." in page

    page = _text(client.get(f"/b/{tokens['Wanjiru Mwangi']}"))
    assert '<html lang="en">' in page
    assert "This is your workshop badge." in page


def test_browser_language_picks_french_on_the_login_page(client):
    page = _text(client.get("/login", headers={"Accept-Language": "fr-CI,fr;q=0.9,en;q=0.5"}))
    assert '<html lang="fr">' in page
    assert "<h1>Se connecter</h1>" in page
    assert "Mot de passe" in page
    page = _text(client.get("/login", headers={"Accept-Language": "en-KE,en;q=0.9"}))
    assert "<h1>Log in</h1>" in page


def test_login_errors_are_in_french_for_a_french_browser(client):
    french = {"Accept-Language": "fr"}
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        data={"username": "olga", "password": "not-her-password", "csrf_token": token},
        headers=french,
    )
    assert response.status_code == 401
    assert "Nom d'utilisateur ou mot de passe incorrect." in _text(response)

    # An empty form: the field errors come from WTForms' own French catalog.
    response = client.post("/login", data={"csrf_token": token}, headers=french)
    assert response.status_code == 400
    assert "Ce champ est requis." in _text(response)


def test_french_organiser_gets_flash_and_form_errors_in_french(app, runner):
    _create_user(runner, "mariam", "organiser", "fr")
    client = app.test_client()
    _log_in(client, "mariam")
    token = csrf_token(client, "/workshops/new")
    fields = {
        "csrf_token": token,
        "title": "Défi IA Jeunesse",
        "starts_on": "2026-12-01",
        "ends_on": "2026-12-03",
        "language": "fr",
        "timezone": "Africa/Abidjan",
    }

    page = _text(client.post("/workshops/new", data={**fields, "slug": "Défi IA"}))
    assert "Lettres minuscules, chiffres et tirets." in page  # a form validator's message

    page = _text(client.post("/workshops/new", data={**fields, "ends_on": "2026-11-30"}))
    assert "L'atelier se termine (2026-11-30) avant de commencer (2026-12-01)" in page

    page = _text(client.post("/workshops/new", data=fields, follow_redirects=True))
    assert "Atelier « Défi IA Jeunesse » créé." in page
    assert "<h2>Séances</h2>" in page and "Aucune séance pour l'instant." in page


def test_french_import_review_refusal_and_summary(app, runner):
    _create_user(runner, "adjoa", "trainer", "fr")
    make_workshop(app, slug="abidjan", title="Défi IA Abidjan", language="fr")
    client = app.test_client()
    _log_in(client, "adjoa")
    signup = (
        "Prénom\tNom\tCourriel\n"
        "Aya\tKoné\taya@example.org\n"
        "Yao\tKouassi\tyao@example.org\n"
        "Kofi\tMensah\tkofi@@example\n"
    )
    token = csrf_token(client, "/workshops/abidjan/participants/import")
    response = client.post(
        "/workshops/abidjan/participants/import",
        data={"csrf_token": token, "file": (io.BytesIO(signup.encode()), "inscriptions.csv")},
        content_type="multipart/form-data",
    )
    review_url = response.headers["Location"]
    page = _text(client.get(review_url))
    assert "<h1>Vérifier l'import</h1>" in page
    assert "3 lignes" in page and "séparateur <code>tabulation</code>" in page
    assert "<h2>1 problème</h2>" in page and "<h2>2 nouveaux participants</h2>" in page

    mapping = {"map_first_name": "0", "map_last_name": "1", "map_email": "2"}
    refused = _text(
        client.post(review_url, data={"csrf_token": token, "action": "import", **mapping})
    )
    # French takes the singular for one row (and for none), in a message raised by a service.
    assert "1 ligne contient des erreurs, donc rien n'a été importé." in refused

    done = client.post(
        review_url,
        data={"csrf_token": token, "action": "import", "only_valid": "y", **mapping},
        follow_redirects=True,
    )
    assert "Import terminé : 2 ajout(s), 0 mise(s) à jour, 1 ignoré(s)." in _text(done)


def test_badge_printing_errors_are_in_french(app, runner):
    _create_user(runner, "ibrahim", "trainer", "fr")
    make_workshop(app, slug="vide", title="Atelier vide", language="fr")
    client = app.test_client()
    _log_in(client, "ibrahim")
    token = csrf_token(client, "/workshops/vide/badges")
    page = _text(client.post("/workshops/vide/badges", data={"csrf_token": token}))
    assert "Personne à imprimer : ajoutez ou importez d'abord des participants." in page


def test_plural_forms_follow_french_rules(app, runner):
    """French uses the singular for 0 and 1, English only for 1."""
    _create_user(runner, "yao", "trainer", "fr")
    make_workshop(app, slug="vide", title="Atelier vide", language="fr")
    make_workshop(app, slug="plein", title="Atelier plein", language="fr")
    add_people(app, "plein", "Adjoa Mensah", "Kouassi Yao")
    client = app.test_client()
    page = _text(_log_in(client, "yao"))
    assert "<p>0 participant</p>" in page
    assert "<p>2 participants</p>" in page


def test_api_errors_follow_the_accept_language_header(client, runner):
    result = runner.invoke(args=["tokens", "create", "door-scanner", "--role", "trainer"])
    secret = result.output.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {secret}"}
    response = client.get("/api/v1/workshops/nowhere", headers={**headers, "Accept-Language": "fr"})
    assert response.status_code == 404
    assert response.get_json() == {"error": "aucun atelier avec le nom court 'nowhere'"}
    response = client.get("/api/v1/workshops/nowhere", headers=headers)
    assert response.get_json() == {"error": "no workshop with slug 'nowhere'"}


def test_command_line_stays_english(runner):
    result = runner.invoke(
        args=["users", "create", "bad name", "--role", "trainer", "--password-stdin"],
        input=FRENCH_PASSWORD + "\n",
    )
    assert result.exit_code != 0
    assert "is not a valid user name" in result.output


def test_logging_out_keeps_the_language_of_the_page(client, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "awa",
            "--role",
            "volunteer",
            "--language",
            "fr",
            "--password-stdin",
        ],
        input="mot-de-passe-long-1\n",
    )
    assert result.exit_code == 0, result.output
    token = csrf_token(client, "/login")
    client.post(
        "/login", data={"username": "awa", "password": "mot-de-passe-long-1", "csrf_token": token}
    )
    token = csrf_token(client, "/workshops/")
    page = client.post("/logout", data={"csrf_token": token}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert 'lang="fr"' in text
    assert "Se connecter" in text
