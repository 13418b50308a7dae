"""Printouts for workshops: QR badges, kit labels, kit contents cards and certificates as PDF.

Plain data in, PDF bytes out; layouts are JSON files in ``printouts/layouts``. Every
render function returns a :class:`RenderResult` whose ``warnings`` list says what the
user should fix (characters the font lacks, text shrunk below its minimum size, ...).
"""

from __future__ import annotations

from .data import (
    BadgeData,
    CertificateData,
    ImageSource,
    KitCardData,
    KitCardLine,
    KitLabelData,
    RenderResult,
    Signatory,
)
from .errors import ImageError, LayoutError, PrintoutError
from .layout import (
    DEFAULT_LAYOUTS,
    KINDS,
    ROLE_COLOURS,
    Layout,
    layout_names,
    list_layouts,
    load_layout,
)
from .messages import LANGUAGES
from .preview import render_preview_png, render_sample
from .render import (
    image_boxes,
    render_badges,
    render_calibration,
    render_certificates,
    render_kit_cards,
    render_kit_labels,
)

__all__ = [
    "DEFAULT_LAYOUTS",
    "KINDS",
    "LANGUAGES",
    "ROLE_COLOURS",
    "BadgeData",
    "CertificateData",
    "ImageError",
    "ImageSource",
    "KitCardData",
    "KitCardLine",
    "KitLabelData",
    "Layout",
    "LayoutError",
    "PrintoutError",
    "RenderResult",
    "Signatory",
    "image_boxes",
    "layout_names",
    "list_layouts",
    "load_layout",
    "render_badges",
    "render_calibration",
    "render_certificates",
    "render_kit_cards",
    "render_kit_labels",
    "render_preview_png",
    "render_sample",
]
