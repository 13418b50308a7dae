"""Badge sheets from the app: every QR on the PDF decodes to a participant's badge URL."""

from __future__ import annotations

import re

from sqlalchemy import select

from kitmanager.extensions import db
from kitmanager.models import AuditEvent, Participant
from tests.printouts.reading import all_codes, read_pdf
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people, make_workshop

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
