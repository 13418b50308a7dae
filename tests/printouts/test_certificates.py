"""Certificates: everything the organiser gave is printed, the QR opens the verification
URL, signatures and logo are drawn."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from printouts import CertificateData, PrintoutError, Signatory, load_layout, render_certificates

from .conftest import UNICODE_NAMES
from .reading import all_codes, read_pdf


def _png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 100), colour).save(out, format="PNG")
    return out.getvalue()


def _certificate(name: str, index: int, **changes) -> CertificateData:
    values = dict(
        name=name,
        workshop_title="Robotics & AI Bootcamp 2026",
        dates_text="3–7 August 2026, Nairobi",
        hours=31.5,
        verification_url=f"https://kit.example.org/verify/C26-{index:05d}",
        code=f"C26-{index:05d}",
        body_text="Built a line-following robot and trained an image classifier.",
        signatories=(
            Signatory("Grace Wanjiku", "Lead trainer", _png((20, 20, 120))),
            Signatory("Koffi N'Guessan", "Organiser"),
            Signatory("Ana Lima", "Mentor"),
        ),
        logo=_png((200, 30, 30)),
    )
    values.update(changes)
    return CertificateData(**values)


@pytest.mark.parametrize("layout", ["certificate-a4", "certificate-letter"])
def test_each_certificate_shows_its_data_and_its_code_verifies(layout):
    certificates = [_certificate(n, i) for i, n in enumerate(UNICODE_NAMES.values())]
    result = render_certificates(certificates, layout)
    pages = read_pdf(result.pdf, dpi=72)
    assert len(pages) == len(certificates) == result.pages
    for page, cert in zip(pages, certificates, strict=True):
        text = page.flat_text
        for part in (cert.name, cert.workshop_title, cert.dates_text, cert.code, cert.body_text):
            assert part in text
        assert "31.5 hours attended" in text
        for person in cert.signatories:
            assert person.name in text and person.title in text
        assert [c.text for c in page.codes] == [cert.verification_url]
    assert result.warnings == []
    lay = load_layout(layout)
    assert (pages[0].width_mm, pages[0].height_mm) == pytest.approx(
        (lay.page_width, lay.page_height), abs=0.1
    )


def test_logo_and_signature_images_are_drawn():
    (page,) = read_pdf(render_certificates([_certificate("Ana", 1)]).pdf, dpi=72)
    lay = load_layout("certificate-a4")
    (logo,) = [e for e in lay.elements["certificate"] if getattr(e, "field", "") == "logo"]
    r, g, b = page.pixel(logo.x + logo.width / 2, logo.y + logo.height / 2)
    assert r > 150 and g < 80 and b < 80
    (signatures,) = [e for e in lay.elements["certificate"] if e.type == "signatures"]
    block = signatures.width / 3
    r, g, b = page.pixel(signatures.x + block / 2, signatures.y + 10)
    assert b > 90 and r < 60  # the first signatory's (blue) signature


def test_hours_left_out_when_unknown_and_few_signatories_are_fine():
    cert = _certificate("Ana Lima", 2, hours=None, signatories=(Signatory("Grace Wanjiku"),))
    (page,) = read_pdf(render_certificates([cert], "certificate-letter").pdf, dpi=72)
    assert "hours attended" not in page.flat_text
    assert "Grace Wanjiku" in page.flat_text
    assert all_codes([page]) == [cert.verification_url]


def test_more_signatories_than_the_layout_holds_is_refused():
    people = tuple(Signatory(f"Person {i}") for i in range(4))
    with pytest.raises(PrintoutError, match=r"4 signatories given .* give at most 3"):
        render_certificates([_certificate("Ana", 3, signatories=people)])


def test_a_certificate_without_a_name_is_refused():
    with pytest.raises(PrintoutError, match=r"certificate 1 \(C26-00009\) has no name"):
        render_certificates([_certificate("", 9)])


def test_a_very_long_body_text_is_wrapped_inside_its_box():
    body = "Took part in every session and helped other teams debug their robots. " * 6
    result = render_certificates([_certificate("Ana", 4, body_text=body)])
    (page,) = read_pdf(result.pdf, decode=False)
    lay = load_layout("certificate-a4")
    (el,) = [e for e in lay.elements["certificate"] if getattr(e, "field", "") == "body_text"]
    body_chars = [c for c in page.chars if el.y - 1 < c.box_mm[1] < el.y + el.height]
    assert body_chars
    assert all(
        el.x - 0.3 <= c.box_mm[0] and c.box_mm[2] <= el.x + el.width + 0.3 for c in body_chars
    )
    assert max(c.box_mm[3] for c in body_chars) <= el.y + el.height + 0.3


def test_one_logo_given_as_a_path_and_as_bytes_is_embedded_once(tmp_path):
    logo = _png((200, 30, 30))
    path = tmp_path / "logo.png"
    path.write_bytes(logo)
    certificates = [_certificate("Ana", 5, logo=logo), _certificate("Ben", 6, logo=path)]
    result = render_certificates(certificates)
    pages = read_pdf(result.pdf, dpi=72)
    assert [c.text for p in pages for c in p.codes] == [c.verification_url for c in certificates]
    # the logo and one signature image, each stored once for both certificates
    assert result.pdf.count(b"/Subtype /Image") == 2


@pytest.mark.parametrize("layout", ["certificate-a4", "certificate-letter"])
def test_the_fixed_texts_print_in_the_language_asked(layout):
    cert = _certificate("Awa Koné", 4, verification_page="kit.example.org/verify")
    (english,) = read_pdf(render_certificates([cert], layout).pdf, dpi=72)
    (french,) = read_pdf(render_certificates([cert], layout, language="fr").pdf, dpi=72)
    assert "Certificate of participation" in english.flat_text
    assert "Check it at kit.example.org/verify" in english.flat_text
    for text in (
        "Attestation de participation",
        "Nous attestons que",
        "a participé à l'atelier",
        "31,5 heures de présence",
        "Attestation C26-00004",
        "Vérifiez-la sur kit.example.org/verify",
    ):
        assert text in french.flat_text
    assert "Certificate of participation" not in french.flat_text
    assert [c.text for c in french.codes] == [cert.verification_url]


def test_a_text_in_a_language_printouts_does_not_speak_is_refused(tmp_path):
    import json

    from printouts import LayoutError, load_layout

    data = json.loads(Path(load_layout("certificate-a4").path).read_text(encoding="utf-8"))
    data["elements"]["certificate"][3]["texts"] = {"de": "Teilnahmebescheinigung"}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(LayoutError, match=r"texts\.de' is not a language besides English"):
        load_layout(path)


@pytest.mark.parametrize(
    ("hours", "language", "line"),
    [
        (1, "en", "1 hour attended"),
        (1.5, "en", "1.5 hours attended"),
        (1.5, "fr", "1,5 heure de présence"),
        (2, "fr", "2 heures de présence"),
    ],
)
def test_the_hours_line_is_singular_or_plural_and_uses_the_languages_decimal_mark(
    hours, language, line
):
    cert = _certificate("Awa Koné", 4, hours=hours)
    (page,) = read_pdf(render_certificates([cert], "certificate-a4", language=language).pdf, dpi=72)
    assert line in page.flat_text
