"""A holder's certificate PDF is made once and kept until something printed on it changes;
logo and signature images are decoded in full and scaled to print size when uploaded."""

from __future__ import annotations

import io
import math
import threading
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image

from kitmanager.audit import cli_actor
from kitmanager.certificates import printing
from kitmanager.certificates.printing import print_size, save_image
from kitmanager.certificates.services import (
    issue_certificates,
    reissue_certificate,
    revoke_certificate,
    rule_for,
    update_rule,
)
from kitmanager.extensions import db
from kitmanager.models import Certificate, Participant
from kitmanager.workshops.services import get_workshop
from tests.printouts.reading import read_pdf
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people
from tests.web.hostile_images import logo, undecodable_png
from tests.web.test_certificates import ISSUER, _attend, _sessions, _setup

LOGO_BOX_MM = (123.5, 16, 50, 22)  # x, y, width, height on the A4 layout


def _has_red(page) -> bool:
    """Whether the logo's box on the A4 layout shows some of the red of the test logos."""
    x, y, w, h = LOGO_BOX_MM
    for i in range(1, 20):
        for j in range(1, 10):
            red, green, blue = page.pixel(x + w * i / 20, y + h * j / 10)
            if red > 150 and green < 80 and blue < 80:
                return True
    return False


def _generated(data_dir: Path) -> list[str]:
    folder = data_dir / "generated"
    return sorted(p.name for p in folder.glob("certificate-*.pdf")) if folder.exists() else []


@pytest.fixture
def people(app: Flask) -> dict[str, int]:
    """Two sessions; Awa and Ben came to both (their certificates can be issued)."""
    _setup(app)
    sessions = _sessions(app, "nairobi", 2)
    ids = dict(
        zip(
            ("Awa Koné", "Ben Otieno"),
            add_people(app, "nairobi", "Awa Koné", "Ben Otieno"),
            strict=True,
        )
    )
    for person in ids.values():
        _attend(app, person, sessions)
    return ids


@pytest.fixture
def renders(monkeypatch) -> list[int]:
    """Counts the certificate renderings (one entry per call, its number of certificates)."""
    calls: list[int] = []
    real = printing.render_pdf

    def counting(data, *args, **kwargs):
        calls.append(len(list(data)))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(printing, "render_pdf", counting)
    return calls


def _issued_token(app: Flask, people: dict[str, int], name: str = "Awa Koné") -> str:
    with app.app_context():
        issue_certificates(cli_actor(), get_workshop("nairobi"))
        db.session.commit()
        return db.session.get(Participant, people[name]).badge_token


def _current_code(app: Flask, participant_id: int) -> str:
    with app.app_context():
        return (
            db.session.query(Certificate.code)
            .filter_by(participant_id=participant_id, revoked_at=None)
            .scalar()
        )


def test_the_holders_pdf_is_rendered_once_for_many_requests_and_answers_304_when_kept(
    app, people, data_dir, renders
):
    token = _issued_token(app, people)
    url = f"/b/{token}/certificate.pdf"
    # eight phones asking at the same moment: one rendering, the others wait for it
    barrier = threading.Barrier(8)
    answers: list[tuple[int, bytes, str]] = []

    def ask() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.get(url)
        answers.append((response.status_code, response.data, response.headers.get("ETag", "")))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [status for status, _, _ in answers] == [200] * 8
    assert len({data for _, data, _ in answers}) == 1 and len({etag for *_, etag in answers}) == 1
    client = app.test_client()
    for _ in range(20):
        again = client.get(url)
        assert again.status_code == 200 and again.data == answers[0][1]
    assert renders == [1]
    assert again.headers["Cache-Control"] == "private, no-cache"
    etag = again.headers["ETag"]
    kept = client.get(url, headers={"If-None-Match": etag})
    assert kept.status_code == 304 and kept.data == b""
    (page,) = read_pdf(again.data, dpi=72)
    assert "Awa Koné" in page.flat_text
    assert len(_generated(data_dir)) == 1
    assert renders == [1]


def test_the_pdf_is_made_again_after_a_rule_change_a_new_logo_a_reissue_and_goes_on_revoke(
    app, people, data_dir, renders
):
    token = _issued_token(app, people)
    url = f"/b/{token}/certificate.pdf"
    client = app.test_client()
    first = client.get(url)
    assert renders == [1]

    def etag() -> str:
        response = client.get(url)
        assert response.status_code == 200
        return response.headers["ETag"]

    assert etag() == first.headers["ETag"] and renders == [1]
    with app.app_context():  # who signs is printed: a new PDF
        update_rule(cli_actor(), get_workshop("nairobi"), signatory_name="Wanjiru Kamau")
        db.session.commit()
    assert _generated(data_dir) == []  # the rule change let the kept PDFs go at once
    signed = etag()
    assert signed != first.headers["ETag"] and len(renders) == 2
    (page,) = read_pdf(client.get(url).data, dpi=72)
    assert "Wanjiru Kamau" in page.flat_text and len(renders) == 2

    with app.app_context():  # a new logo: a new PDF, with the logo on it
        workshop = get_workshop("nairobi")
        logo = io.BytesIO()
        Image.new("RGB", (400, 160), (200, 30, 30)).save(logo, format="PNG")
        update_rule(cli_actor(), workshop, logo_file=save_image(workshop, "logo", logo.getvalue()))
        db.session.commit()
    with_logo = etag()
    assert with_logo != signed and len(renders) == 3
    (page,) = read_pdf(client.get(url).data, dpi=100)
    assert _has_red(page)

    awa = people["Awa Koné"]
    old_code = _current_code(app, awa)
    with app.app_context():  # re-issued: a new code on a new PDF; the old file is gone
        reissue_certificate(cli_actor(), db.session.scalars(
            db.select(Certificate).where(Certificate.code == old_code)
        ).one(), "Name corrected")  # fmt: skip
        db.session.commit()
    new_code = _current_code(app, awa)
    assert new_code != old_code
    response = client.get(url)
    assert response.headers["ETag"] != with_logo and len(renders) == 4
    (page,) = read_pdf(response.data, dpi=72)
    assert new_code in page.flat_text and old_code not in page.flat_text
    assert len(_generated(data_dir)) == 1

    with app.app_context():  # revoked: nothing to download, nothing kept
        revoke_certificate(cli_actor(), new_code, "Issued by mistake")
        db.session.commit()
    assert client.get(url).status_code == 404
    assert _generated(data_dir) == []
    assert len(renders) == 4


def test_a_deleted_participants_kept_certificate_goes_with_their_data(
    app, people, organiser, data_dir
):
    token = _issued_token(app, people)
    assert organiser.get(f"/b/{token}/certificate.pdf").status_code == 200
    assert len(_generated(data_dir)) == 1
    awa = people["Awa Koné"]
    url = f"/workshops/nairobi/participants/{awa}/delete"
    organiser.post(
        url, data={"csrf_token": csrf_token(organiser, f"/workshops/nairobi/participants/{awa}")}
    )
    assert _generated(data_dir) == []
    assert not list((data_dir / "generated").glob("certificate-*.json"))


# ------------------------------------------------------------------ images at upload


def _post_rule(client, **files) -> str:
    url = "/workshops/nairobi/certificates"
    return client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "basis": "sessions",
            "min_percent": "75",
            "issuer": ISSUER,
            "layout": "certificate-a4",
            **{kind: (io.BytesIO(data), f"{kind}.png") for kind, data in files.items()},
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)


def test_an_image_whose_data_does_not_decode_is_refused_at_upload(app, organiser, data_dir):
    _setup(app)
    with Image.open(io.BytesIO(undecodable_png())) as image:
        image.verify()  # its chunks are sound: only decoding it finds the damage
    for kind in ("logo", "signature"):
        page = _post_rule(organiser, **{kind: undecodable_png()})
        assert "This image is damaged: its picture cannot be read to the end." in page
    images = data_dir / "certificate_images"
    assert not images.exists() or not any(images.iterdir())
    with app.app_context():
        rule = rule_for(get_workshop("nairobi"))
        assert rule.logo_file is None and rule.signature_file is None


def test_a_damaged_logo_stored_before_this_check_leaves_the_certificate_printable(
    app, people, data_dir
):
    """A logo kept before uploads were decoded: the certificate prints without it, no 500."""
    token = _issued_token(app, people)
    images = data_dir / "certificate_images"
    images.mkdir(exist_ok=True)
    (images / "1-logo-0000000000000000.png").write_bytes(undecodable_png())
    with app.app_context():
        update_rule(cli_actor(), get_workshop("nairobi"), logo_file="1-logo-0000000000000000.png")
        db.session.commit()
    response = app.test_client().get(f"/b/{token}/certificate.pdf")
    assert response.status_code == 200
    (page,) = read_pdf(response.data, dpi=72)
    assert "Awa Koné" in page.flat_text


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_a_24_megapixel_logo_is_kept_at_print_size_and_still_prints(
    app, people, organiser, data_dir, image_format
):
    page = _post_rule(organiser, logo=logo(image_format, (6000, 4000)))
    assert "Certificate settings saved." in page
    with app.app_context():
        name = rule_for(get_workshop("nairobi")).logo_file
    assert name.endswith(".png" if image_format == "PNG" else ".jpg")
    width, height = print_size("logo")
    assert (width, height) == (591, 260)  # 50 × 22 mm at 300 dpi
    with Image.open(data_dir / "certificate_images" / name) as kept:
        assert kept.width <= width and kept.height <= height
        assert max(kept.width / width, kept.height / height) > 0.99  # not smaller than needed
    token = _issued_token(app, people)
    (view,) = read_pdf(app.test_client().get(f"/b/{token}/certificate.pdf").data, dpi=100)
    assert _has_red(view)


def test_a_huge_logo_stored_before_uploads_were_scaled_is_scaled_when_first_printed(
    app, people, data_dir
):
    images = data_dir / "certificate_images"
    images.mkdir(exist_ok=True)
    name = "1-logo-1111111111111111.png"
    (images / name).write_bytes(logo("PNG", (6000, 4000)))
    with app.app_context():
        update_rule(cli_actor(), get_workshop("nairobi"), logo_file=name)
        db.session.commit()
    token = _issued_token(app, people)
    assert app.test_client().get(f"/b/{token}/certificate.pdf").status_code == 200
    with Image.open(images / name) as kept:
        assert kept.size[0] <= print_size("logo")[0] and kept.size[1] <= print_size("logo")[1]


def test_the_signature_box_comes_from_the_layouts(app):
    # three signatories side by side in 197 mm, less 3 mm each side, at 300 dpi
    assert print_size("signature")[0] == math.ceil((197 / 3 - 6) / 25.4 * 300)


def test_the_organisers_download_of_one_certificate_is_the_kept_one(
    app, people, organiser, renders
):
    token = _issued_token(app, people)
    awa = people["Awa Koné"]
    mine = organiser.get(f"/workshops/nairobi/certificates/{awa}.pdf")
    assert mine.status_code == 200 and renders == [1]
    organiser.post("/logout", data={"csrf_token": csrf_token(organiser, "/workshops/")})
    theirs = app.test_client().get(f"/b/{token}/certificate.pdf")
    assert theirs.data == mine.data and renders == [1]


def test_a_second_workshop_and_person_get_their_own_kept_pdf(app, data_dir, renders):
    _setup(app, slug="mombasa")
    sessions = _sessions(app, "mombasa", 1)
    (zawadi,) = add_people(app, "mombasa", "Zawadi Achieng")
    _attend(app, zawadi, sessions)
    with app.app_context():
        issue_certificates(cli_actor(), get_workshop("mombasa"))
        db.session.commit()
        token = db.session.get(Participant, zawadi).badge_token
    client = app.test_client()
    assert client.get(f"/b/{token}/certificate.pdf").status_code == 200
    (name,) = _generated(data_dir)
    with app.app_context():
        workshop_id = get_workshop("mombasa").id
    assert name.startswith(f"certificate-{workshop_id}-{zawadi}-")
