"""Read a rendered PDF the way a user meets it: pages rasterised with pdfium, QR codes
decoded with zxing-cpp from the pixels, text and character boxes from pdfium's text layer."""

from __future__ import annotations

import ctypes
import re
import unicodedata
import zlib
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import zxingcpp
from PIL import Image

MM = 72.0 / 25.4


@dataclass
class Code:
    text: str
    centre_mm: tuple[float, float]  # from the page's top-left corner
    ec_level: str


@dataclass
class Char:
    ch: str
    box_mm: tuple[float, float, float, float]  # left, top, right, bottom from top-left
    baseline_mm: float = 0.0  # from the top of the page


@dataclass
class PageView:
    width_mm: float
    height_mm: float
    text: str
    chars: list[Char]
    image: Image.Image | None = None
    dpi: float = 0
    codes: list[Code] = field(default_factory=list)

    @property
    def flat_text(self) -> str:
        """Text with line breaks inside wrapped names undone, NFC-normalised."""
        text = re.sub(r"-\r\n", "-", self.text)
        return unicodedata.normalize("NFC", text.replace("\r\n", " "))

    def chars_in(self, box: tuple[float, float, float, float]) -> str:
        """Characters whose centre lies in box (x, y, w, h mm), in text order."""
        x, y, w, h = box
        found = []
        for c in self.chars:
            cx, cy = (c.box_mm[0] + c.box_mm[2]) / 2, (c.box_mm[1] + c.box_mm[3]) / 2
            if x <= cx <= x + w and y <= cy <= y + h:
                found.append(c.ch)
        return unicodedata.normalize("NFC", "".join(found))

    def pixel(self, x_mm: float, y_mm: float) -> tuple[int, int, int]:
        assert self.image is not None
        scale = self.dpi / 25.4
        return self.image.getpixel((int(x_mm * scale), int(y_mm * scale)))[:3]


def read_pdf(pdf: bytes, dpi: float = 150, *, decode: bool = True) -> list[PageView]:
    """Every page of ``pdf``: text, character boxes and (if ``decode``) pixels and QR codes."""
    document = pdfium.PdfDocument(pdf)
    pages = []
    try:
        for page in document:
            width, height = page.get_size()
            textpage = page.get_textpage()
            count = textpage.count_chars()
            text = textpage.get_text_range()
            chars = []
            for i in range(count):
                ch = textpage.get_text_range(i, 1)
                if not ch.strip():
                    continue
                left, bottom, right, top = textpage.get_charbox(i)
                origin_x, origin_y = ctypes.c_double(), ctypes.c_double()
                pdfium_c.FPDFText_GetCharOrigin(textpage, i, origin_x, origin_y)
                box = (left / MM, (height - top) / MM, right / MM, (height - bottom) / MM)
                chars.append(Char(ch, box, (height - origin_y.value) / MM))
            view = PageView(width / MM, height / MM, text, chars)
            if decode:
                view.image = page.render(scale=dpi / 72).to_pil().convert("RGB")
                view.dpi = dpi
                px_per_mm = dpi / 25.4
                for code in zxingcpp.read_barcodes(
                    view.image, formats=zxingcpp.BarcodeFormat.QRCode
                ):
                    corners = [code.position.top_left, code.position.bottom_right]
                    cx = sum(p.x for p in corners) / 2 / px_per_mm
                    cy = sum(p.y for p in corners) / 2 / px_per_mm
                    view.codes.append(Code(code.text, (cx, cy), code.ec_level))
            pages.append(view)
    finally:
        document.close()
    return pages


def all_codes(pages: list[PageView]) -> list[str]:
    return [code.text for page in pages for code in page.codes]


def mapped_characters(pdf: bytes) -> set[str]:
    """Characters the embedded fonts' ToUnicode maps say were drawn (glyphs actually used)."""
    found: set[str] = set()
    for match in re.finditer(rb"/Length (\d+)[^>]*>>\s*stream\r?\n", pdf):
        start = match.end()
        try:
            data = zlib.decompress(pdf[start : start + int(match.group(1))])
        except zlib.error:
            continue
        if b"begincmap" not in data:
            continue
        for hexcode in re.findall(rb"<[0-9A-Fa-f]+> <([0-9A-Fa-f]{4,})>", data):
            found.add(chr(int(hexcode, 16)))
    return found


def inside(inner: tuple[float, float, float, float], outer, tolerance: float = 0.3) -> bool:
    """Is box ``inner`` (left, top, right, bottom) within ``outer`` (x, y, w, h)?"""
    x, y, w, h = outer
    left, top, right, bottom = inner
    return (
        left >= x - tolerance
        and top >= y - tolerance
        and right <= x + w + tolerance
        and bottom <= y + h + tolerance
    )
