"""Badge sheets from the app: every QR on the PDF decodes to a participant's badge URL."""

from __future__ import annotations

import html
import re
from pathlib import Path

from sqlalchemy import select

import printouts
from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.models import AppSetting, AuditEvent, Participant
from kitmanager.network import lan_ip, lan_url
from kitmanager.printing.services import badge_layouts
from kitmanager.settings.services import set_badge_base_url
from tests.printouts.reading import all_codes, read_pdf
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people, make_workshop, post_workshop_form

PEOPLE = ["Wanjiru Mwangi", "Kouassi Yao", "Nguyễn Thị Hồng Nhung", "Adébáyọ̀ Ọlápọ̀"]


def _badge_urls(app, *names: str) -> dict[str, str]:
    with app.app_context():
        rows = db.session.execute(select(Participant.full_name, Participant.badge_token)).all()
    return {
        name: f"http://kit.test/b/{token}" for name, token in rows if not names or name in names
    }


def test_print_badges_for_everyone_from_the_web(trainer, app):
    make_workshop(app)
    add_people(app, "nairobi", *PEOPLE, team="Baobabs")
    page = trainer.get("/workshops/nairobi/badges")
    assert page.status_code == 200
    assert "avery-l7160" in page.get_data(as_text=True)
    token = csrf_token(trainer, "/workshops/nairobi/badges")
    response = trainer.post(
        "/workshops/nairobi/badges",
        data={"csrf_token": token, "layout": "avery-l7160", "start_slot": "1"},
        follow_redirects=True,
    )
    text = response.get_data(as_text=True)
    assert "4 badges ready on 1 page(s)." in text
    pdf_url = re.search(r'href="(/workshops/nairobi/badges/[0-9a-f]+\.pdf)"', text).group(1)
    pdf = trainer.get(pdf_url)
    assert pdf.mimetype == "application/pdf"
    pages = read_pdf(pdf.data)
    assert sorted(all_codes(pages)) == sorted(_badge_urls(app).values())
    for name in PEOPLE:
        assert name in pages[0].flat_text
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "badges.printed"))
        assert event.details["count"] == 4


def test_reprint_one_badge_on_a_partly_used_sheet(trainer, app):
    make_workshop(app)
    ids = add_people(app, "nairobi", *PEOPLE)
    token = csrf_token(trainer, f"/workshops/nairobi/badges?id={ids[1]}")
    response = trainer.post(
        f"/workshops/nairobi/badges?id={ids[1]}",
        data={"csrf_token": token, "layout": "avery-l7160", "start_slot": "20", "id": str(ids[1])},
        follow_redirects=True,
    )
    text = response.get_data(as_text=True)
    assert "1 badges ready" in text
    pdf_url = re.search(r'href="(/workshops/nairobi/badges/[0-9a-f]+\.pdf)"', text).group(1)
    [page] = read_pdf(trainer.get(pdf_url).data)
    [code] = page.codes
    assert code.text == _badge_urls(app, "Kouassi Yao")["Kouassi Yao"]
    # Slot 20 of L7160 (3 x 7) is row 7, column 2: bottom row, middle column.
    assert 70 < code.centre_mm[0] < 140 and code.centre_mm[1] > 240


def test_bad_print_requests_are_explained(trainer, app):
    make_workshop(app)
    token = csrf_token(trainer, "/workshops/nairobi/badges")
    nobody = trainer.post(
        "/workshops/nairobi/badges", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Nobody to print" in nobody.get_data(as_text=True)
    add_people(app, "nairobi", "Aya Koné")
    off_sheet = trainer.post(
        "/workshops/nairobi/badges",
        data={"csrf_token": token, "layout": "avery-l7160", "start_slot": "22"},
    )
    assert "choose 1 to 21" in off_sheet.get_data(as_text=True)
    unknown = trainer.post(
        "/workshops/nairobi/badges", data={"csrf_token": token, "layout": "no-such-sheet"}
    )
    assert "Unknown badge layout" in unknown.get_data(as_text=True)


def test_sheets_are_private_to_the_session_that_made_them(trainer, app):
    make_workshop(app)
    add_people(app, "nairobi", "Aya Koné")
    token = csrf_token(trainer, "/workshops/nairobi/badges")
    response = trainer.post(
        "/workshops/nairobi/badges", data={"csrf_token": token, "layout": "avery-l7160"}
    )
    sheet_url = response.headers["Location"]
    other = app.test_client()
    from tests.web.conftest import login

    login(other, "olga")
    assert other.get(sheet_url).status_code == 404
    assert other.get(sheet_url + ".pdf").status_code == 404


def test_layout_preview_is_a_png(volunteer):
    response = volunteer.get("/printouts/preview/avery-l7160.png")
    assert response.status_code == 200
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert volunteer.get("/printouts/preview/nope.png").status_code == 404


def test_cli_prints_badges_to_a_file(runner, app, tmp_path):
    make_workshop(app)
    add_people(app, "nairobi", *PEOPLE)
    out = tmp_path / "badges.pdf"
    result = runner.invoke(
        args=["badges", "nairobi", "--layout", "a6-badge", "--start-slot", "2", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 4 badges on 2 page(s)" in result.output
    pages = read_pdf(out.read_bytes())
    assert len(pages) == 2
    assert sorted(all_codes(pages)) == sorted(_badge_urls(app).values())
    listing = runner.invoke(args=["badges", "nairobi", "--list-layouts"])
    assert "avery-l7160" in listing.output and "a6-badge" in listing.output
    bad = runner.invoke(args=["badges", "nairobi", "--layout", "nope", "-o", str(out)])
    assert bad.exit_code != 0 and "choose one of" in bad.output and "Traceback" not in bad.output


# --- names that once broke printing -----------------------------------------------------------


def _print(client, slug: str, layout: str = "avery-l7160", **data):
    token = csrf_token(client, f"/workshops/{slug}/badges")
    response = client.post(
        f"/workshops/{slug}/badges",
        data={"csrf_token": token, "layout": layout, **data},
        follow_redirects=True,
    )
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    text = response.get_data(as_text=True)
    found = re.search(r'href="(/workshops/[\w-]+/badges/[0-9a-f]+\.pdf)"', text)
    assert found, text[-2000:]
    return html.unescape(text), read_pdf(client.get(found.group(1)).data, dpi=200)


def test_a_direction_mark_in_one_name_never_breaks_any_badge_layout(trainer, app):
    make_workshop(app)
    bidi = ["Amina\u2067 Yusuf", "أمينة\u2067 يوسف"]
    add_people(app, "nairobi", *bidi, "Wanjiru Mwangi", "Kouassi Yao")
    with app.app_context():
        stored = set(db.session.scalars(select(Participant.full_name)))
    for layout in (lay.id for lay in badge_layouts()):
        text, pages = _print(trainer, "nairobi", layout)
        assert sorted(all_codes(pages)) == sorted(_badge_urls(app).values()), layout
        printed = "".join(page.flat_text for page in pages)
        assert "Amina Yusuf" in printed and "Wanjiru Mwangi" in printed
        for name in bidi:
            if name in stored:  # the name reached the database with its mark
                assert f"({name.replace(chr(0x2067), '')}): invisible direction" in text


# --- the badge address ---------------------------------------------------------------------


def _store_address(app, url: str) -> None:
    with app.app_context():
        set_badge_base_url(cli_actor(), url)
        db.session.commit()


def test_print_page_shows_the_address_the_codes_carry_and_warns_when_phones_cannot_reach_it(
    trainer, app
):
    make_workshop(app)
    add_people(app, "nairobi", "Aya Koné")
    page = html.unescape(trainer.get("/workshops/nairobi/badges").get_data(as_text=True))
    assert 'The QR codes will open: <code class="url">http://kit.test/b/…</code>' in page

    _store_address(app, "http://127.0.0.1:5077")
    page = html.unescape(trainer.get("/workshops/nairobi/badges").get_data(as_text=True))
    assert "http://127.0.0.1:5077/b/…" in page
    assert 'id="address-warning"' in page and "Phones cannot open these badges." in page
    assert "Ask an organiser" in page  # a trainer cannot change it

    _store_address(app, "http://203.0.113.7:5077")  # TEST-NET: never an address of this laptop
    page = html.unescape(trainer.get("/workshops/nairobi/badges").get_data(as_text=True))
    assert "203.0.113.7 is not an address of this laptop right now" in page

    _store_address(app, lan_url(5077))
    page = html.unescape(trainer.get("/workshops/nairobi/badges").get_data(as_text=True))
    if lan_ip() != "127.0.0.1":
        assert 'id="address-warning"' not in page
    _text, pages = _print(trainer, "nairobi")
    [code] = all_codes(pages)
    assert code.startswith(lan_url(5077) + "/b/")


def test_organiser_sets_the_badge_address_in_the_app_and_the_badges_carry_it(
    organiser, app, tmp_path
):
    make_workshop(app)
    add_people(app, "nairobi", "Aya Koné")
    page = html.unescape(organiser.get("/settings/").get_data(as_text=True))
    assert 'value="http://kit.test"' in page and "Not stored yet" in page
    token = csrf_token(organiser, "/settings/")

    bad_addresses = ("kits.local", "ftp://10.42.0.1", "http://", "http://10.42.0.1:50x77/",
                     "http://0.0.0.0:5000")  # fmt: skip
    for bad in bad_addresses:
        response = organiser.post("/settings/", data={"csrf_token": token, "base_url": bad})
        page = html.unescape(response.get_data(as_text=True))
        assert response.status_code == 200
        # the message sits in the field's own block, next to the input
        field = re.search(r'<div class="field has-error">(.*?)</div>', page, re.S)
        assert field and 'name="base_url"' in field.group(1), page[-3000:]
        assert "is not a web address for badges" in field.group(1)
    with app.app_context():
        assert db.session.get(AppSetting, "badge_base_url") is None

    response = organiser.post(
        "/settings/",
        data={"csrf_token": token, "base_url": " http://10.42.0.1:5077/ "},
        follow_redirects=True,
    )
    page = html.unescape(response.get_data(as_text=True))
    assert "Badge address saved." in page and 'value="http://10.42.0.1:5077"' in page
    assert "Stored by user:olga" in page
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "setting.changed"))
        assert event.actor == "user:olga"
        assert event.details == {
            "key": "badge_base_url",
            "old": None,
            "new": "http://10.42.0.1:5077",
        }

    # The web and the command line now print the same address.
    sheet, pages = _print(organiser, "nairobi")
    assert 'The QR codes will open: <code class="url">http://10.42.0.1:5077/b/…</code>' in sheet
    [web_code] = all_codes(pages)
    runner = app.test_cli_runner()
    out = tmp_path / "cli.pdf"
    result = runner.invoke(args=["badges", "nairobi", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert all_codes(read_pdf(out.read_bytes())) == [web_code]
    assert web_code.startswith("http://10.42.0.1:5077/b/")

    # --base-url overrides it for one file only.
    result = runner.invoke(
        args=["badges", "nairobi", "-o", str(out), "--base-url", "https://kits.example.org"]
    )
    assert result.exit_code == 0, result.output
    [code] = all_codes(read_pdf(out.read_bytes()))
    assert code.startswith("https://kits.example.org/b/")
    export = runner.invoke(args=["participants", "export", "nairobi", "--base-url", "http://x:1"])
    assert "http://x:1/b/" in export.output
    export = runner.invoke(args=["participants", "export", "nairobi"])
    assert web_code in export.output
    bad = runner.invoke(args=["badges", "nairobi", "--base-url", "kits.local"])
    assert bad.exit_code != 0 and "is not a web address for badges" in bad.output


def test_only_organisers_change_the_badge_address(trainer, app):
    assert trainer.get("/settings/").status_code == 403
    assert "/settings/" not in trainer.get("/workshops/").get_data(as_text=True)


def test_cli_without_a_stored_address_says_how_to_set_one(data_dir, tmp_path):
    from kitmanager import create_app

    app = create_app({"DATA_DIR": data_dir, "TESTING": True, "BASE_URL": ""})
    make_workshop(app)
    add_people(app, "nairobi", "Aya Koné")
    runner = app.test_cli_runner()
    for args in (
        ["badges", "nairobi", "-o", str(tmp_path / "b.pdf")],
        ["participants", "export", "nairobi"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code != 0
        assert "No badge address is stored yet" in result.output
        assert "5000" not in result.output and "Traceback" not in result.output
    with app.app_context():
        db.engine.dispose()


# --- the workshop's language on paper --------------------------------------------------------


def test_a_french_workshop_prints_french_bands_layout_names_and_one_collapsed_warning(
    organiser, app
):
    long_title = "Défi Intelligence Artificielle et Robotique des Jeunes de Côte d'Ivoire"
    make_workshop(app, slug="abidjan", title=long_title, language="fr", timezone="Africa/Abidjan")
    names = [f"Participant {i:02d}" for i in range(36)]
    add_people(app, "abidjan", *names)
    add_people(app, "abidjan", "Awa Traoré", role="trainer")

    page = html.unescape(organiser.get("/workshops/abidjan/badges").get_data(as_text=True))
    assert '<span lang="fr">Étiquettes Avery L7160, A4, 3 × 7, 63,5 × 38,1 mm</span>' in page
    assert "<h1>Print badges</h1>" in page  # the page itself speaks the reader's language

    text, pages = _print(organiser, "abidjan")
    warnings = re.search(
        r'<section class="card problems" id="print-warnings" lang="fr">(.*?)</section>', text, re.S
    )
    assert warnings, text[-2000:]
    assert re.findall(r"<li>(.*?)</li>", warnings.group(1)) == [
        "37 badges : le titre de l'atelier est trop long pour le badge ; donnez à l'atelier "
        "un nom court pour les badges"
    ]
    printed = "".join(page.flat_text for page in pages)
    assert "FORMATEUR" in printed and "PARTICIPANT" in printed and "TRAINER" not in printed
    assert len(all_codes(pages)) == 37

    # The fix the warning names: a short badge title, which the badges then print.
    response = post_workshop_form(
        organiser,
        "/workshops/abidjan/edit",
        title=long_title,
        badge_title="Défi IA 2026",
        slug="abidjan",
    )
    assert response.status_code == 302
    text, pages = _print(organiser, "abidjan")
    assert 'id="print-warnings"' not in text
    assert "Défi IA 2026" in pages[0].flat_text


def test_cli_prints_a_french_workshop_in_french(runner, app, tmp_path):
    make_workshop(app, slug="abidjan", title="Atelier " + "très " * 20, language="fr")
    add_people(app, "abidjan", "Aya Koné", "Yao Kouassi", role="guest")
    out = tmp_path / "b.pdf"
    result = runner.invoke(args=["badges", "abidjan", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: 2 badges : le titre de l'atelier est trop long pour le badge" in result.output
    assert "Étiquettes Avery L7160" in result.output
    assert "INVITÉ" in read_pdf(out.read_bytes())[0].flat_text

    # The fix from the command line: a workshop created with a short badge title.
    made = runner.invoke(
        args=["workshops", "create", "Atelier " + "très " * 20, "--slug", "court",
              "--starts", "2026-12-01", "--language", "fr", "--badge-title", "Atelier court"]
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    add_people(app, "court", "Aya Koné")
    result = runner.invoke(args=["badges", "court", "-o", str(out)])
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert "Atelier court" in read_pdf(out.read_bytes())[0].flat_text


# --- layout previews ------------------------------------------------------------------------


def test_layout_preview_serves_only_shipped_layouts(volunteer, tmp_path, monkeypatch):
    # A valid layout file in the server's working directory must not be reachable by name.
    shipped = Path(printouts.__file__).with_name("layouts") / "avery-l7160.json"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "copy.json").write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    for bad in ("copy.json", "..%2Flayouts%2Favery-l7160.json", "avery-l7160.json", "nope"):
        assert volunteer.get(f"/printouts/preview/{bad}.png").status_code == 404, bad
    assert volunteer.get("/printouts/preview/avery-l7160.png?kind=nothing").status_code == 404
    assert volunteer.get("/printouts/preview/a6-badge.png?kind=badge").status_code == 200
