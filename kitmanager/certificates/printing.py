"""Certificates on paper: issued records -> printouts.CertificateData -> PDF (or a ZIP of PDFs).

Everything printed comes from the signed facts, so the paper says exactly what the QR code
vouches for. Text is in the workshop's language; the organiser's logo and signature image
are files in the data folder (``certificate_images``), checked when uploaded.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import unicodedata
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import pypdfium2 as pdfium
from babel import Locale
from babel.dates import format_date, parse_pattern
from flask import current_app
from flask_babel import force_locale, gettext
from PIL import Image, UnidentifiedImageError

from kitmanager.certificates.services import CertificateError, rule_for
from kitmanager.certificates.verification import verify_url
from kitmanager.models import Certificate, CertificateRule, Workshop
from kitmanager.signing import b64url_decode
from kitmanager.storage import write_file
from printouts import CertificateData, Layout, PrintoutError, Signatory, list_layouts
from printouts import render_certificates as render_pdf
from printouts.layout import QrElement, TextElement
from printouts.qr import MIN_MODULE_MM, encode_qr
from printouts.text import missing_glyphs, normalise, visual_line

__all__ = [
    "IMAGE_KINDS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "CertificatePdf",
    "certificate_data",
    "certificate_datas",
    "certificate_file_name",
    "certificate_layouts",
    "certificate_url",
    "certificates_pdf",
    "certificates_zip",
    "delete_image",
    "fits_every_layout",
    "image_bytes",
    "save_image",
    "unprintable_characters",
]

IMAGE_KINDS = ("logo", "signature")
# A logo or a scanned signature is well under this; printouts scales images to 2,000 px anyway.
MAX_IMAGE_BYTES = 2 * 1024 * 1024
# A few kilobytes of PNG can hold a huge blank picture that takes gigabytes to print: a
# 6000 x 4000 camera photo is the most that is accepted.
MAX_IMAGE_PIXELS = 24_000_000
_IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg"}
IMAGES_FOLDER = "certificate_images"


def certificate_layouts() -> list[Layout]:
    return list_layouts("certificate")


def certificate_url(base_url: str, certificate: Certificate) -> str:
    """The verify URL the certificate's QR holds (facts and signature included)."""
    return verify_url(
        base_url,
        certificate.code,
        certificate.facts.encode("utf-8"),
        b64url_decode(certificate.signature),
    )


def fits_every_layout(url: str) -> bool:
    """Whether the QR code of ``url`` prints on every certificate layout (modules of at least
    the smallest size printers and phone cameras handle)."""
    smallest = min(
        el.width
        for lay in certificate_layouts()
        for el in lay.elements["certificate"]
        if isinstance(el, QrElement)
    )
    symbol = encode_qr(url, "M")
    return smallest / symbol.size_with_quiet_zone >= MIN_MODULE_MM


def unprintable_characters(name: str, layout_id: str) -> list[str]:
    """The characters of a person's ``name`` that the certificate layout ``layout_id`` cannot
    draw (they would print as empty boxes, e.g. an emoji), in order; empty when all print."""
    fonts = {
        el.font
        for lay in certificate_layouts()
        if lay.id == layout_id
        for el in lay.elements["certificate"]
        if isinstance(el, TextElement) and el.field == "name"
    }
    shaped = visual_line(normalise(name))
    missing: list[str] = []
    for font in sorted(fonts):
        missing += [ch for ch in missing_glyphs(shaped, font) if ch not in missing]
    return missing


def _images_dir() -> Path:
    return Path(current_app.config["DATA_DIR"]) / IMAGES_FOLDER


def save_image(workshop: Workshop, kind: str, data: bytes) -> str:
    """Check an uploaded logo or signature (PNG or JPEG, at most 2 MB, really an image) and
    keep it in the data folder (0600); returns the file name to store on the rule.

    :raise CertificateError: too large (in bytes or in pixels), not PNG/JPEG, or not readable
        as an image.
    """
    if kind not in IMAGE_KINDS:
        raise ValueError(kind)
    if not data:
        raise CertificateError(gettext("Choose an image file to upload."))
    if len(data) > MAX_IMAGE_BYTES:
        raise CertificateError(
            gettext(
                "This image is larger than %(mb)s MB: save it smaller (a logo needs about "
                "1000 pixels across) and upload it again.",
                mb=MAX_IMAGE_BYTES // (1024 * 1024),
            )
        )
    pixels = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind_of, pixels = image.format, image.width * image.height
                if pixels <= MAX_IMAGE_PIXELS:
                    image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        kind_of, pixels = None, MAX_IMAGE_PIXELS + 1
    except (UnidentifiedImageError, OSError, ValueError):
        kind_of = None
    if pixels > MAX_IMAGE_PIXELS:
        raise CertificateError(
            gettext(
                "This image has too many pixels to print: save it at about 1000 pixels "
                "across and upload it again."
            )
        )
    if kind_of not in _IMAGE_FORMATS:
        raise CertificateError(
            gettext("Upload a PNG or JPEG image; this file is not one (or it is damaged).")
        )
    folder = _images_dir()
    folder.mkdir(mode=0o700, exist_ok=True)
    name = f"{workshop.id}-{kind}-{secrets.token_hex(8)}.{_IMAGE_FORMATS[kind_of]}"
    write_file(folder / name, data)
    return name


def _image_path(name: str | None) -> Path | None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    return _images_dir() / name


def image_bytes(name: str | None) -> bytes | None:
    """The stored image ``name`` (as the rule holds it), or None when unset or gone."""
    path = _image_path(name)
    try:
        return path.read_bytes() if path else None
    except OSError:
        return None


def delete_image(name: str | None) -> None:
    """Remove a stored image nothing refers to any more (replaced, removed, or never saved)."""
    path = _image_path(name)
    if path is not None:
        path.unlink(missing_ok=True)


@lru_cache(maxsize=256)
def _long_date(day: date, language: str) -> str:
    return format_date(day, format="long", locale=language)


# The month, abbreviated in CLDR's day-range patterns ("1–3 déc. 2026"), spelled out as on
# the issue date printed below it ("30 novembre 2026").
_SHORT_MONTH = re.compile(r"(?<!M)MMM(?!M)")


@lru_cache(maxsize=256)  # a workshop's certificates share their dates: format them once
def dates_text(first: date, last: date, language: str) -> str:
    """ "1–3 December 2026" ("1–3 décembre 2026") in the workshop's language: the locale's
    own way of writing a range of days, with the month spelled out."""
    if first == last:
        return _long_date(first, language)
    locale = Locale.parse(language)
    ranges = locale.interval_formats["yMMMd"]
    differs = "y" if first.year != last.year else "M" if first.month != last.month else "d"
    start, end = (_SHORT_MONTH.sub("MMMM", part) for part in ranges[differs])
    return parse_pattern(start).apply(first, locale) + parse_pattern(end).apply(last, locale)


def certificate_data(
    certificate: Certificate,
    base_url: str,
    rule: CertificateRule,
    *,
    logo: bytes | None = None,
    signature: bytes | None = None,
) -> CertificateData:
    """What printouts draws for one certificate, all from its signed facts; call inside
    ``force_locale(workshop.language)`` so the sentence about the issuer is in that language."""
    facts = json.loads(certificate.facts)
    language = certificate.workshop.language
    issued = date.fromisoformat(facts["issued"])
    signatories = ()
    if rule.signatory_name:
        signatories = (Signatory(rule.signatory_name, rule.signatory_title, signature),)
    return CertificateData(
        name=facts["name"],
        workshop_title=facts["workshop"],
        dates_text=dates_text(
            date.fromisoformat(facts["first_date"]),
            date.fromisoformat(facts["last_date"]),
            language,
        ),
        hours=facts.get("hours"),
        verification_url=certificate_url(base_url, certificate),
        verification_page=f"{base_url.rstrip('/')}/verify",
        code=certificate.code,
        body_text=gettext(
            "Issued by %(issuer)s on %(date)s.",
            issuer=facts["issuer"],
            date=_long_date(issued, language),
        ),
        signatories=signatories,
        logo=logo,
    )


@dataclass
class CertificatePdf:
    pdf: bytes
    count: int
    pages: int
    warnings: list[str]


def certificate_datas(
    workshop: Workshop, certificates: Sequence[Certificate], base_url: str
) -> list[CertificateData]:
    """What printouts draws for each of ``certificates``, in the workshop's language."""
    rule = rule_for(workshop)
    logo, signature = image_bytes(rule.logo_file), image_bytes(rule.signature_file)
    with force_locale(workshop.language):
        return [
            certificate_data(c, base_url, rule, logo=logo, signature=signature)
            for c in certificates
        ]


def _render(workshop: Workshop, data: Sequence[CertificateData]):
    try:
        return render_pdf(data, rule_for(workshop).layout, language=workshop.language)
    except PrintoutError as exc:
        raise CertificateError(str(exc)) from None


def certificates_pdf(
    workshop: Workshop, certificates: Sequence[Certificate], base_url: str
) -> CertificatePdf:
    """One PDF, one page per certificate, in the workshop's layout and language.

    :raise CertificateError: nothing to print, or printouts refused (the message says why).
    """
    if not certificates:
        raise CertificateError(gettext("No certificate issued yet: issue them first."))
    result = _render(workshop, certificate_datas(workshop, certificates, base_url))
    return CertificatePdf(result.pdf, len(certificates), result.pages, list(result.warnings))


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def certificate_file_name(name: str, code: str) -> str:
    """A file name after the person, safe on Windows, macOS and Linux: ``Awa Koné.pdf``."""
    clean = _UNSAFE.sub(" ", unicodedata.normalize("NFC", name))
    clean = " ".join(clean.split()).strip(" .")[:80] or code
    return f"{clean}.pdf"


def certificates_zip(
    workshop: Workshop, certificates: Sequence[Certificate], base_url: str
) -> tuple[bytes, list[str]]:
    """A ZIP with one PDF per certificate named after its holder (the code is added when two
    people share a name); returns the ZIP and the warnings.

    The certificates are rendered once, as one PDF, then split page by page (pdfium copies a
    page with the fonts it uses): several times faster than one rendering per person.

    :raise CertificateError: nothing to print, or printouts refused.
    """
    if not certificates:
        raise CertificateError(gettext("No certificate issued yet: issue them first."))
    datas = certificate_datas(workshop, certificates, base_url)
    result = _render(workshop, datas)
    buffer = io.BytesIO()
    used: set[str] = set()
    source = pdfium.PdfDocument(result.pdf)
    try:
        if len(source) != len(datas):  # one page per certificate is what the layouts promise
            raise RuntimeError(f"{len(datas)} certificates rendered on {len(source)} pages")
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            for index, data in enumerate(datas):
                name = certificate_file_name(data.name, data.code)
                if name.casefold() in used:
                    name = f"{name[:-4]} {data.code}.pdf"
                used.add(name.casefold())
                archive.writestr(name, _page_pdf(source, index))
    finally:
        source.close()
    return buffer.getvalue(), list(result.warnings)


def _page_pdf(source: pdfium.PdfDocument, index: int) -> bytes:
    single = pdfium.PdfDocument.new()
    try:
        single.import_pages(source, [index])
        out = io.BytesIO()
        single.save(out)
        return out.getvalue()
    finally:
        single.close()
