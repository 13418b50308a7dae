"""Certificates on paper: issued records -> printouts.CertificateData -> PDF (or a ZIP of PDFs).

Everything printed comes from the signed facts, so the paper says exactly what the QR code
vouches for. Text is in the workshop's language; the organiser's logo and signature image
are files in the data folder (``certificate_images``), decoded in full and scaled to print
size when uploaded.

One person's certificate (their badge page offers it to anyone holding the badge link) is
made once and kept in the data folder under a key of everything printed on it: the next
request is a file read, and a change of anything printed (re-issue, revocation, logo,
signature, rule, layout, language, the renderer itself) makes a new key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import math
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
from PIL import Image, ImageOps, UnidentifiedImageError

import printouts
from kitmanager.certificates.services import CertificateError, rule_for
from kitmanager.certificates.verification import verify_url
from kitmanager.models import Certificate, CertificateRule, Workshop
from kitmanager.signing import b64url_decode
from kitmanager.storage import StorageError, forget_generated, kept_file, write_file
from printouts import (
    CertificateData,
    Layout,
    PrintoutError,
    Signatory,
    image_boxes,
    list_layouts,
)
from printouts import render_certificates as render_pdf
from printouts.layout import QrElement, TextElement
from printouts.qr import MIN_MODULE_MM, encode_qr
from printouts.text import missing_glyphs, normalise, visual_line

__all__ = [
    "IMAGE_KINDS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "PRINT_DPI",
    "CertificatePdf",
    "KeptCertificate",
    "certificate_data",
    "certificate_datas",
    "certificate_file_name",
    "certificate_layouts",
    "certificate_url",
    "certificates_pdf",
    "certificates_zip",
    "delete_image",
    "fits_every_layout",
    "forget_certificate_pdfs",
    "image_bytes",
    "kept_certificate_pdf",
    "print_size",
    "printable_image",
    "save_image",
    "unprintable_characters",
]

logger = logging.getLogger(__name__)

IMAGE_KINDS = ("logo", "signature")  # also the names printouts gives their boxes
# A logo or a scanned signature is well under this.
MAX_IMAGE_BYTES = 2 * 1024 * 1024
# A few kilobytes of PNG can hold a huge blank picture that takes gigabytes to print: a
# 6000 x 4000 camera photo is the most that is accepted.
MAX_IMAGE_PIXELS = 24_000_000
# An image is kept with at most the pixels its box holds at this resolution: what a laser
# printer prints; more only makes every certificate slower to make (a 24-megapixel logo took
# 0.63 s a certificate, a logo at print size takes a few milliseconds).
PRINT_DPI = 300
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


@lru_cache(maxsize=len(IMAGE_KINDS))
def print_size(kind: str) -> tuple[int, int]:
    """The most pixels (width, height) a ``kind`` image can show: its largest box on any
    certificate layout at :data:`PRINT_DPI`. Scaled to fit inside it, an image prints at
    :data:`PRINT_DPI` or better on every layout, whatever its proportions."""
    width = height = 0.0
    for lay in certificate_layouts():
        box_w, box_h = image_boxes(lay).get(kind, (0.0, 0.0))
        width, height = max(width, box_w), max(height, box_h)
    return math.ceil(width / 25.4 * PRINT_DPI), math.ceil(height / 25.4 * PRINT_DPI)


def _too_many_pixels() -> CertificateError:
    return CertificateError(
        gettext(
            "This image has too many pixels to print: save it at about 1000 pixels "
            "across and upload it again."
        )
    )


def printable_image(kind: str, data: bytes) -> tuple[bytes, str]:
    """Check a logo or signature image (PNG or JPEG, at most 2 MB and 24 megapixels) by
    decoding every pixel, and make it print-ready: turned upright and scaled down to
    :func:`print_size` when it is larger. Returns the bytes to keep (``data`` itself when
    nothing needed changing) and their file extension.

    :raise CertificateError: empty, too large (in bytes or in pixels), not PNG/JPEG, or
        damaged (its pixels cannot all be decoded).
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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        image = None
    if image is None or image.format not in _IMAGE_FORMATS:
        raise CertificateError(
            gettext("Upload a PNG or JPEG image; this file is not one (or it is damaged).")
        )
    with image:
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise _too_many_pixels()
        box = print_size(kind)
        if image.format == "JPEG":
            # Decodes every block at the smallest scale still above the print size: the
            # whole file is read, at a fraction of the time and memory.
            image.draft(image.mode, (max(box), max(box)))
        try:
            image.load()  # every pixel: a file whose data is damaged is refused now
            return _fit(image, data, box)
        except Exception:  # zlib, struct, OSError...: a decoder has many ways to fail
            logger.info("certificate %s image refused: it does not decode", kind, exc_info=True)
            raise CertificateError(
                gettext(
                    "This image is damaged: its picture cannot be read to the end. Open it in "
                    "an image editor, save it again as PNG or JPEG and upload that file."
                )
            ) from None


def _fit(image: Image.Image, data: bytes, box: tuple[int, int]) -> tuple[bytes, str]:
    """``data`` (whose decoded ``image`` is given) scaled to fit ``box``, if it is larger."""
    extension = _IMAGE_FORMATS[image.format or ""]
    upright = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
    if upright.width <= box[0] and upright.height <= box[1]:
        return data, extension
    if upright.mode not in ("RGB", "RGBA", "L", "LA"):
        alpha = "A" in upright.getbands() or "transparency" in upright.info
        upright = upright.convert("RGBA" if alpha else "RGB")
    if extension == "jpg" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    upright.thumbnail(box, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if extension == "jpg":
        upright.save(out, format="JPEG", quality=90)
    else:
        upright.save(out, format="PNG")
    return out.getvalue(), extension


def save_image(workshop: Workshop, kind: str, data: bytes) -> str:
    """Check an uploaded logo or signature and keep it, print-ready (:func:`printable_image`),
    in the data folder (0600); returns the file name to store on the rule.

    :raise CertificateError: as :func:`printable_image`.
    :raise StorageError: the data folder cannot be written.
    """
    ready, extension = printable_image(kind, data)
    folder = _images_dir()
    folder.mkdir(mode=0o700, exist_ok=True)
    name = f"{workshop.id}-{kind}-{secrets.token_hex(8)}.{extension}"
    write_file(folder / name, ready)
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


def _stored_image(kind: str, name: str | None) -> bytes | None:
    """The rule's stored ``kind`` image, print-ready: one kept before uploads were scaled is
    scaled now (and kept so). None when unset, gone or damaged: the certificate prints
    without it rather than not at all, and the log says why."""
    data = image_bytes(name)
    if data is None:
        return None
    try:
        ready, _extension = printable_image(kind, data)
    except CertificateError as exc:
        logger.warning("certificate %s image %s left off: %s", kind, name, exc)
        return None
    path = _image_path(name)
    if ready is not data and path is not None:
        try:
            write_file(path, ready)
        except StorageError:
            logger.warning("certificate %s image %s: its print-size copy not saved", kind, name)
    return ready


def certificate_datas(
    workshop: Workshop, certificates: Sequence[Certificate], base_url: str
) -> list[CertificateData]:
    """What printouts draws for each of ``certificates``, in the workshop's language."""
    rule = rule_for(workshop)
    logo = _stored_image("logo", rule.logo_file)
    signature = _stored_image("signature", rule.signature_file)
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


@dataclass(frozen=True)
class KeptCertificate:
    """One certificate's PDF and its entity tag (the key of what is printed on it)."""

    pdf: bytes
    etag: str


@lru_cache(maxsize=1)
def _renderer_fingerprint() -> str:
    """What shapes a certificate besides its data: the printouts code, layouts and fonts (a
    new version of them makes every kept certificate again)."""
    root = Path(printouts.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json", ".ttf", ".otf"):
            digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _printed_key(data: CertificateData, layout: str, language: str) -> str:
    """A key of everything on the page: the certificate's text and QR address, the images
    (by their hash), the layout, the language and the renderer."""

    def plain(value: object) -> str:
        return hashlib.sha256(value).hexdigest() if isinstance(value, bytes) else str(value)

    printed = [dataclasses.asdict(data), layout, language, _renderer_fingerprint()]
    text = json.dumps(printed, sort_keys=True, default=plain)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _kept_prefix(workshop_id: int | str, participant_id: int | str) -> str:
    return f"certificate-{workshop_id}-{participant_id}-"


def kept_certificate_pdf(certificate: Certificate, base_url: str) -> KeptCertificate:
    """One person's certificate as a PDF, made the first time it is asked for and kept in the
    data folder until something printed on it changes. Requests for it at the same moment
    wait for one rendering; older versions of this person's certificate are deleted.

    :raise CertificateError: printouts refused (the message says why).
    """
    workshop = certificate.workshop
    rule = rule_for(workshop)
    names = {kind: getattr(rule, f"{kind}_file") for kind in IMAGE_KINDS}
    stored = {kind: image_bytes(name) for kind, name in names.items()}
    with force_locale(workshop.language):
        data = certificate_data(
            certificate, base_url, rule, logo=stored["logo"], signature=stored["signature"]
        )
    key = _printed_key(data, rule.layout, workshop.language)
    prefix = _kept_prefix(workshop.id, certificate.participant_id)
    name = f"{prefix}{key}.pdf"

    def make() -> bytes:
        ready = {kind: _stored_image(kind, names[kind]) for kind in IMAGE_KINDS}
        signatories = tuple(
            dataclasses.replace(person, signature=ready["signature"]) for person in data.signatories
        )
        printable = dataclasses.replace(data, logo=ready["logo"], signatories=signatories)
        return _render(workshop, [printable]).pdf

    pdf, made = kept_file(name, make, {"participant_ids": [certificate.participant_id]})
    if made:
        forget_generated(f"{prefix}*.pdf", keep=name)
    return KeptCertificate(pdf, key)


def forget_certificate_pdfs(workshop_id: int, participant_id: int | None = None) -> None:
    """Delete the kept PDFs of a workshop's certificates (of one participant's, when given):
    what is printed on them changed, or their holder was deleted."""
    forget_generated(f"{_kept_prefix(workshop_id, participant_id or '*')}*.pdf")


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
