"""Fonts shipped with the package, glyph coverage, right-to-left shaping and fitting text
into a box (shrink to the minimum size, then wrap)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import arabic_reshaper
from bidi.algorithm import get_display
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

__all__ = [
    "FONT_DIR",
    "FONT_FILES",
    "FittedText",
    "fit_text",
    "font_name",
    "has_hidden_controls",
    "missing_glyphs",
    "normalise",
    "register_fonts",
    "starts_right_to_left",
    "visual_line",
]

FONT_DIR = Path(__file__).with_name("fonts")
FONT_FILES = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}
_PDF_NAMES = {"regular": "KitSans", "bold": "KitSans-Bold"}
# DejaVu Sans vertical metrics (hhea), in ems: accents of Vietnamese and Yorùbá stay inside.
ASCENT = 0.93
DESCENT = 0.24
LINE_GAP = 0.08
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_SPACES = re.compile(r"\s+")
# Invisible direction controls (marks, embeddings, overrides, isolates): the font has no
# glyph for them and python-bidi refuses some of them inside right-to-left text, so a name
# that carries one (often pasted from a phone) is printed without them.
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Other control characters (C0, DEL, C1) never print; white space is folded separately.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BREAKS = re.compile(r"[^ \-]*-+|[^ \-]+ ?| ")
_SMALLEST = 2.0  # points; below this nothing is legible anyway
_EPSILON = 0.05  # points; rounding, not a real shortfall


def font_name(style: str) -> str:
    """The PDF font name of a style ('regular' or 'bold'), registering the fonts if needed."""
    register_fonts()
    return _PDF_NAMES[style]


@lru_cache(maxsize=1)
def register_fonts() -> None:
    """Register the shipped TrueType fonts with reportlab (embedded, subset, on use)."""
    for style, filename in FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(_PDF_NAMES[style], str(FONT_DIR / filename)))


@lru_cache(maxsize=2)
def _charmap(style: str) -> frozenset[int]:
    register_fonts()
    face = pdfmetrics.getFont(_PDF_NAMES[style]).face
    return frozenset(face.charToGlyph)


@lru_cache(maxsize=1)
def _reshaper() -> arabic_reshaper.ArabicReshaper:
    """A reshaper that only forms the ligatures the shipped font can draw."""
    cmap = _charmap("regular")
    config = {"delete_harakat": False}
    for name, (_, forms) in arabic_reshaper.ligatures.LIGATURES:
        drawable = all(ord(ch) in cmap for form in forms for ch in form)
        config[name] = drawable
    return arabic_reshaper.ArabicReshaper(configuration=config)


def missing_glyphs(text: str, style: str = "regular") -> list[str]:
    """The distinct characters of ``text`` the font cannot draw, in order of appearance."""
    cmap = _charmap(style)
    seen: list[str] = []
    for ch in text:
        if ord(ch) not in cmap and not ch.isspace() and ch not in seen:
            seen.append(ch)
    return seen


def has_hidden_controls(text: str) -> bool:
    """True when ``text`` holds direction or control characters that ``normalise`` removes."""
    return bool(_BIDI_CONTROLS.search(text) or _CONTROLS.search(text))


def normalise(text: str) -> str:
    """NFC form without direction or other control characters, white space folded."""
    text = _CONTROLS.sub("", _BIDI_CONTROLS.sub("", text))
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def starts_right_to_left(text: str) -> bool:
    """True when the first letter of ``text`` belongs to a right-to-left script."""
    for ch in text:
        if ch.isalpha():
            return bool(_RTL.match(ch))
    return False


@lru_cache(maxsize=4096)
def visual_line(line: str) -> str:
    """The glyph order to draw one line in: Arabic is shaped and right-to-left text reversed."""
    if not _RTL.search(line):
        return line
    line = _BIDI_CONTROLS.sub("", line)
    try:
        return get_display(_reshaper().reshape(line))
    except (AssertionError, ValueError, IndexError, KeyError):
        # python-bidi asserts on some odd input; logical order still prints every letter
        return line


@dataclass(frozen=True)
class FittedText:
    """Lines (in drawing order) at one font size; ``shrunk_below_min`` means the text did
    not fit at the layout's minimum size and was made smaller to stay inside its box."""

    lines: tuple[str, ...]
    size: float
    shrunk_below_min: bool = False

    @property
    def line_height(self) -> float:
        return self.size * (ASCENT + DESCENT + LINE_GAP)


def _width(text: str, pdf_font: str) -> float:
    """Width of ``text`` at 1 pt."""
    return pdfmetrics.stringWidth(text, pdf_font, 1.0)


def _block_height(lines: int, size: float) -> float:
    return size * ((ASCENT + DESCENT) * lines + LINE_GAP * (lines - 1))


def _tokens(text: str) -> list[str]:
    """Break opportunities: each token keeps its trailing space, or the hyphen it ends on."""
    return _BREAKS.findall(text)


def _wrap(tokens: list[str], pdf_font: str, limit: float) -> list[str]:
    """Greedy wrap of tokens into lines no wider than ``limit`` (at 1 pt)."""
    lines: list[str] = []
    current = ""
    for token in tokens:
        candidate = current + token
        if current and _width(visual_line(candidate.rstrip()), pdf_font) > limit:
            lines.append(current.rstrip())
            current = token
        else:
            current = candidate
    if current.strip():
        lines.append(current.rstrip())
    return lines


def _balanced_two_lines(tokens: list[str], pdf_font: str) -> tuple[str, str] | None:
    """The split into two lines whose longer line is shortest (names read better balanced)."""
    best: tuple[float, tuple[str, str]] | None = None
    for i in range(1, len(tokens)):
        first, second = "".join(tokens[:i]).rstrip(), "".join(tokens[i:]).rstrip()
        widest = max(_width(visual_line(first), pdf_font), _width(visual_line(second), pdf_font))
        if best is None or widest < best[0]:
            best = (widest, (first, second))
    return best[1] if best else None


def _fit_lines(lines: list[str], pdf_font: str, width: float, height: float) -> float:
    """Largest size at which ``lines`` fit in width x height (points)."""
    widest = max(_width(visual_line(line), pdf_font) for line in lines) or 1e-9
    return min(width / widest, height / _block_height(len(lines), 1.0))


@lru_cache(maxsize=8192)
def fit_text(
    text: str,
    style: str,
    width: float,
    height: float,
    size: float,
    min_size: float,
    max_lines: int = 1,
) -> FittedText:
    """Fit ``text`` into a width x height box (points).

    One line at ``size``, shrunk down to ``min_size``; if that is not enough, wrapped to up
    to ``max_lines`` lines at the largest size from ``size`` down to ``min_size``. If it
    still does not fit, the text is made smaller than ``min_size`` (``shrunk_below_min``)
    so that it never leaves its box. Lines are returned in logical order.
    """
    pdf_font = font_name(style)
    text = normalise(text)
    one_line = min(size, _fit_lines([text], pdf_font, width, height))
    if one_line >= min_size or max_lines == 1:
        return FittedText((text,), one_line, shrunk_below_min=one_line < min_size - _EPSILON)
    words = _tokens(text)
    if max_lines == 2:
        pair = _balanced_two_lines(words, pdf_font)
        if pair is not None:
            two = min(size, _fit_lines(list(pair), pdf_font, width, height))
            if two >= min_size or two > one_line:
                return FittedText(pair, two, shrunk_below_min=two < min_size - _EPSILON)
        return FittedText((text,), one_line, shrunk_below_min=True)
    # paragraphs: try sizes from large to small, wrapping at each; below the minimum too,
    # because text must never leave its box
    step = max(0.25, (size - min_size) / 24)
    current = size
    while True:
        lines = _wrap(words, pdf_font, width / current)
        fits = len(lines) <= max_lines and _block_height(len(lines), current) <= height
        if fits or current <= _SMALLEST:
            fitted = min(current, _fit_lines(lines, pdf_font, width, height))
            return FittedText(tuple(lines), fitted, shrunk_below_min=fitted < min_size - _EPSILON)
        current = max(_SMALLEST, current - step)
