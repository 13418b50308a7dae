"""PNG previews and sample PDFs of a layout, filled with sample data."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pypdfium2 as pdfium

from .data import RenderResult
from .errors import LayoutError, PrintoutError
from .layout import Layout, load_layout
from .render import render_badges, render_certificates, render_kit_cards, render_kit_labels
from .samples import (
    sample_badges,
    sample_certificates,
    sample_kit_cards,
    sample_kit_labels,
    sample_logo_png,
)

__all__ = ["pdf_page_to_png", "render_preview_png", "render_sample"]


def render_sample(
    layout: str | Path | Layout, kind: str | None = None, language: str = "en"
) -> RenderResult:
    """A PDF of ``layout`` (its first kind unless ``kind`` is given) with sample data,
    filling the first sheet, in ``language``.

    :raise LayoutError: unknown layout, or a kind the layout does not print.
    """
    lay = load_layout(layout)
    kind = kind or lay.kinds[0]
    if kind not in lay.kinds:
        raise LayoutError(
            f"layout {lay.id!r} prints {', '.join(lay.kinds)}, not {kind}s; pick one of those"
        )
    count = min(lay.slots_per_page, 8) if lay.slots_per_page > 1 else 1
    if kind == "certificate":
        return render_certificates(sample_certificates(1), lay, language=language)
    shows_logo = any(getattr(el, "field", None) == "logo" for el in lay.elements[kind])
    logo = sample_logo_png() if shows_logo else None
    if kind == "badge":
        return render_badges(sample_badges(count), lay, logo=logo, language=language)
    if kind == "kit-card":
        return render_kit_cards(sample_kit_cards(count), lay, logo=logo, language=language)
    return render_kit_labels(sample_kit_labels(count), lay, logo=logo, language=language)


def pdf_page_to_png(pdf: bytes, page_index: int = 0, dpi: float = 96) -> bytes:
    """Rasterise one page of a PDF to PNG bytes at ``dpi``."""
    if not 10 <= dpi <= 600:
        raise PrintoutError(f"preview dpi {dpi:g} is out of range; use 10 to 600")
    document = pdfium.PdfDocument(pdf)
    try:
        bitmap = document[page_index].render(scale=dpi / 72)
        out = BytesIO()
        bitmap.to_pil().save(out, format="PNG")
        return out.getvalue()
    finally:
        document.close()


def render_preview_png(
    layout: str | Path | Layout, dpi: float = 96, kind: str | None = None
) -> bytes:
    """PNG of the first page of ``layout`` filled with sample data.

    :raise PrintoutError: unknown layout, a kind it does not print, dpi outside 10-600.
    """
    return pdf_page_to_png(render_sample(layout, kind).pdf, 0, dpi)
