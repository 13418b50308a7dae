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
from tests.web.helpers import add_people, make_workshop, post_workshop_form

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


def test_anonymous_visitor_of_a_badge_reads_their_browser_language(app, client):
    """A scanned badge page speaks the phone's language, whatever the workshop's."""
    make_workshop(app, slug="abidjan", title="Défi IA Abidjan", language="fr")
    make_workshop(app, slug="nairobi", title="Nairobi Robotics", language="en")
    add_people(app, "abidjan", "Aya Koné")
    add_people(app, "nairobi", "Wanjiru Mwangi")
    with app.app_context():
        tokens = dict(
            db.session.execute(select(Participant.full_name, Participant.badge_token)).all()
        )

    page = _text(client.get(f"/b/{tokens['Aya Koné']}", headers={"Accept-Language": "fr-CI"}))
    assert '<html lang="fr">' in page
    assert "Voici votre badge d'atelier." in page

    page = _text(client.get(f"/b/{tokens['Aya Koné']}", headers={"Accept-Language": "en-KE"}))
    assert '<html lang="en">' in page
    assert "This is your workshop badge." in page

    page = _text(client.get(f"/b/{tokens['Wanjiru Mwangi']}", headers={"Accept-Language": "fr"}))
    assert '<html lang="fr">' in page
    assert "Voici votre badge d'atelier." in page


def test_the_workshop_on_the_page_never_changes_the_reader_language(app, organiser):
    """An account without a stored language, an English browser, a French workshop: the
    flash message set before the redirect and the page after it are both English."""
    make_workshop(app, slug="abidjan", title="Défi IA Abidjan", language="fr")
    english = {"Accept-Language": "en-GB,en;q=0.9"}
    response = post_workshop_form(organiser, "/workshops/abidjan/edit", english, slug="abidjan")
    assert response.status_code == 302
    page = _text(organiser.get(response.headers["Location"], headers=english))
    assert '<html lang="en">' in page
    assert "Workshop saved." in page and "Atelier enregistré" not in page
    assert "<h2>Sessions</h2>" in page

    # The same pages for a French browser are French throughout.
    french = {"Accept-Language": "fr"}
    token = csrf_token(organiser, "/workshops/abidjan/")
    response = organiser.post(
        "/workshops/abidjan/archive", data={"csrf_token": token}, headers=french
    )
    page = _text(organiser.get(response.headers["Location"], headers=french))
    assert '<html lang="fr">' in page and "Atelier archivé." in page


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
    assert response.get_json() == {"error": "aucun atelier avec le nom court « nowhere »"}
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


# --- CSV import messages ------------------------------------------------------------------------

# A French sign-up sheet with one problem per row below the first: a mistyped email, a role the
# app does not know, and a value holding the separator (so the row has one cell too many).
FRENCH_SIGNUP_WITH_PROBLEMS = (
    "Nom;Courriel;Rôle\n"
    "Aya Koné;aya@example.org;formatrice\n"
    "Kofi Mensah;kofi@@example;participant\n"
    "Yao Kouassi;yao@example.org;chef\n"
    "Awa Traoré;awa@example.org;invitée;Plateau\n"
)
PDF_NAMED_CSV = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


def _upload_signup(client: FlaskClient, slug: str, data: bytes, filename: str = "inscrits.csv"):
    url = f"/workshops/{slug}/participants/import"
    token = csrf_token(client, url)
    return client.post(
        url,
        data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def _row(line: int, column: str, value: str, message: str) -> str:
    """One row of the review page's problem table, as the reader sees it."""
    return f"<tr><td>{line}</td><td>{column}</td><td>{value}</td><td>{message}</td></tr>"


def test_french_trainer_reads_each_import_row_error_in_french(app, runner):
    _create_user(runner, "aminata", "trainer", "fr")
    make_workshop(app, slug="bouake", title="Robotique Bouaké", language="fr")
    client = app.test_client()
    _log_in(client, "aminata")

    response = _upload_signup(client, "bouake", FRENCH_SIGNUP_WITH_PROBLEMS.encode("utf-8"))
    assert response.status_code == 302
    page = _text(client.get(response.headers["Location"]))

    assert "<h2>3 problèmes</h2>" in page
    # The column names are the file's own headers; only the explanations are translated.
    assert (
        _row(
            3,
            "Courriel",
            "kofi@@example",
            "« kofi@@example » n'est pas une adresse e-mail valide. Corrigez-la (comme "
            "nom@example.org) ou laissez la cellule vide.",
        )
        in page
    )
    assert (
        _row(
            4,
            "Rôle",
            "chef",
            "Rôle inconnu « chef ». Utilisez participant(e), formateur/formatrice, mentor(e) ou "
            "invité(e) (ou en anglais participant, trainer, mentor, guest), ou laissez la cellule "
            "vide pour participant.",
        )
        in page
    )
    assert (
        _row(
            5,
            "colonne 4 (sans en-tête)",
            "Plateau",
            "Cette ligne a 4 cellules mais l'en-tête en a 3 : une valeur contient probablement un "
            "séparateur (point-virgule). Mettez cette valeur entre guillemets ou retirez ce "
            "séparateur.",
        )
        in page
    )
    for english in ("not a valid email address", "Unknown role", "no header", "semicolon"):
        assert english not in page


def test_french_trainer_is_told_in_french_that_a_file_is_not_csv(app, runner):
    _create_user(runner, "aminata", "trainer", "fr")
    _create_user(runner, "john", "trainer", "en")
    make_workshop(app, slug="bouake", title="Robotique Bouaké", language="fr")
    french, english = app.test_client(), app.test_client()
    _log_in(french, "aminata")
    _log_in(english, "john")
    save_as_csv_fr = (
        "Dans votre tableur, choisissez « Enregistrer sous » > « CSV UTF-8 » et importez ce "
        "fichier."
    )

    # A PDF renamed to .csv: refused on the upload page, nothing kept for review.
    response = _upload_signup(french, "bouake", PDF_NAMED_CSV)
    assert response.status_code == 200
    page = _text(response)
    assert 'class="flash flash-error"' in page
    assert f"Ce fichier est un document PDF, pas un fichier CSV. {save_as_csv_fr}" in page
    assert "not a CSV file" not in page

    # A damaged Excel workbook, whatever its name.
    workbook = b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64
    page = _text(_upload_signup(french, "bouake", workbook))
    assert (
        "Ce classeur Excel est endommagé et ne peut pas être lu. Ouvrez-le dans Excel, "
        "enregistrez-le à nouveau (ou choisissez « Enregistrer sous » > « CSV UTF-8 ») et "
        "importez ce fichier." in page
    )

    # Random bytes: binary data, whatever the file is called.
    page = _text(_upload_signup(french, "bouake", bytes(range(256)) * 8))
    assert (
        f"Ce fichier n'est pas un fichier CSV (il contient des données binaires). {save_as_csv_fr}"
        in page
    )

    # The same PDF, the same French workshop: an English account reads English.
    page = _text(_upload_signup(english, "bouake", PDF_NAMED_CSV))
    assert (
        'This file is a PDF document, not a CSV file. In your spreadsheet choose "Save as" > '
        '"CSV UTF-8" and import that file.' in page
    )


def test_whole_file_import_errors_use_french_numbers_and_words(app):
    """Every CsvError is translated where it is raised, with French digit grouping."""
    from kitmanager.participants.csv_io import CsvError, parse_participants, read_table

    too_many = b"Nom\n" + b"".join(b"Personne %d\n" % i for i in range(1_001))
    unclosed = b'Nom;Notes\nAya;"ok"\nYao;"jamais ferm\xc3\xa9\nKofi;x\n'
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        with pytest.raises(CsvError) as caught:
            read_table(too_many, max_rows=1_000)
        assert str(caught.value) == (
            "Le fichier a plus de 1\u202f000 lignes. Découpez-le en fichiers plus petits et "
            "importez-les l'un après l'autre."
        )
        with pytest.raises(CsvError, match=r"^Ligne 3 : une cellule commence par un guillemet"):
            read_table(unclosed)
        with pytest.raises(CsvError, match=r"^Le fichier est vide\. Exportez à nouveau"):
            read_table(b"\r\n\r\n")

        # An empty header gets a French name; a mapping without any name column is refused.
        table = read_table("Nom;;Équipe\nAya;x;Lions\n".encode())
        assert table.headers == ["Nom", "Colonne 2", "Équipe"]
        with pytest.raises(CsvError) as caught:
            parse_participants(table, {"team": 2})
        assert str(caught.value).startswith("Aucune colonne ne contient le nom des participants.")

        long_team = read_table(("Nom,Équipe\nAya," + "L" * 101 + "\n").encode())
        errors = parse_participants(long_team, {"full_name": 0, "team": 1}).errors
        assert [e.message for e in errors] == [
            "Le nom de l'équipe fait 101 caractères ; la limite est de 100. Raccourcissez-le."
        ]

    # The same file outside any request (the command line): English, grouped the English way.
    with app.app_context(), pytest.raises(CsvError) as caught:
        read_table(too_many, max_rows=1_000)
    assert str(caught.value).startswith("The file has more than 1,000 rows. Split it")


def test_command_line_import_reports_row_errors_in_english_for_a_french_workshop(
    app, runner, tmp_path
):
    make_workshop(app, slug="bouake", title="Robotique Bouaké", language="fr")
    signup = tmp_path / "inscrits.csv"
    signup.write_text(FRENCH_SIGNUP_WITH_PROBLEMS, encoding="utf-8")
    result = runner.invoke(args=["participants", "import", "bouake", str(signup)])
    assert result.exit_code != 0
    assert (
        "line 3, column 'Courriel': \"kofi@@example\" is not a valid email address."
        in result.output
    )
    assert 'Unknown role "chef"' in result.output
    assert "n'est pas une adresse e-mail" not in result.output
