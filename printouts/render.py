"""One renderer for every layout: it walks the layout's elements and dispatches on their
type, for badges, kit labels and certificates alike."""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from reportlab import rl_config
from reportlab.lib.colors import HexColor
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

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
    ROLE_COLOURS,
    BandElement,
    BoxElement,
    ChecklistElement,
    Element,
    ImageElement,
    Layout,
    LineElement,
    ListElement,
    QrElement,
    SignaturesElement,
    TextElement,
    list_layouts,
    load_layout,
)
from .messages import message, supported_language
from .qr import MIN_MODULE_MM, encode_qr, qr_path_operators
from .text import (
    ASCENT,
    DESCENT,
    fit_text,
    font_name,
    has_hidden_controls,
    missing_glyphs,
    normalise,
    starts_right_to_left,
    visual_line,
)

__all__ = [
    "image_boxes",
    "render_badges",
    "render_calibration",
    "render_certificates",
    "render_kit_cards",
    "render_kit_labels",
]

MM = 72.0 / 25.4  # points per millimetre
CUT_MARK_MM = 5.0
MAX_IMAGE_PIXELS = 2000  # longest side of an embedded image


_streams_lock = threading.Lock()
_streams_users = 0
_streams_previous: object = None


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Write compressed streams as binary, not ASCII85: reportlab's pure-Python ASCII85
    encoder was a third of the time of a 1,000-badge sheet and makes the file 25 % larger.
    The setting is global in reportlab, so it is restored when the last render ends."""
    global _streams_users, _streams_previous
    with _streams_lock:
        if _streams_users == 0:
            _streams_previous = rl_config.useA85
            rl_config.useA85 = 0
        _streams_users += 1
    try:
        yield
    finally:
        with _streams_lock:
            _streams_users -= 1
            if _streams_users == 0:
                rl_config.useA85 = _streams_previous


@dataclass
class _Item:
    """What one slot shows: text fields, lists, images, signatories, and a name for warnings."""

    label: str
    fields: Mapping[str, str]
    lists: Mapping[str, Sequence[str]] = field(default_factory=dict)
    checklists: Mapping[str, Sequence[KitCardLine]] = field(default_factory=dict)
    images: Mapping[str, ImageSource | None] = field(default_factory=dict)
    signatories: Sequence[Signatory] = ()
    # problems found before drawing: (message key, parameters)
    notes: Sequence[tuple[str, Mapping[str, object]]] = ()


class _Pdf:
    """The PDF being written: canvas, warnings, and images embedded once as forms."""

    def __init__(self, layout: Layout, title: str, kind: str = "", language: str = "en") -> None:
        self.layout = layout
        self.kind = kind
        self.language = supported_language(language)
        self.buffer = BytesIO()
        self.canvas = Canvas(
            self.buffer,
            pagesize=(layout.page_width * MM, layout.page_height * MM),
            pageCompression=1,
            invariant=1,
            # the shipped font from the start, so no page refers to a non-embedded Helvetica
            initialFontName=font_name("regular"),
        )
        self.canvas.setTitle(title)
        self.canvas.setCreator("kitmanager printouts")
        # (message key, its parameters) -> the items it concerns, so identical warnings
        # about many items become one line with a count
        self._warnings: dict[tuple[str, tuple[tuple[str, object], ...]], list[str]] = {}
        self.pages = 0
        self._forms: dict[object, tuple[str, float]] = {}
        self._colours: dict[str, HexColor] = {}

    def say(self, key: str, **params: object) -> str:
        return message(key, self.language, **params)

    def warn(self, item: _Item | None, key: str, **params: object) -> None:
        """Note a problem of ``item`` (or of the whole sheet when None) for the warnings."""
        labels = self._warnings.setdefault((key, tuple(params.items())), [])
        if item is not None and item.label not in labels:
            labels.append(item.label)

    @property
    def warnings(self) -> list[str]:
        """One line per distinct problem: the item it concerns, or how many items share it."""
        lines = []
        for (key, params), labels in self._warnings.items():
            text = self.say(key, **dict(params))
            if len(labels) == 1:
                text = labels[0] + self.say("separator") + text
            elif labels:
                count = self.say(f"items.{self.kind}", count=len(labels))
                text = count + self.say("separator") + text
            lines.append(text)
        return lines

    def colour(self, hex_code: str) -> HexColor:
        colour = self._colours.get(hex_code)
        if colour is None:
            colour = self._colours[hex_code] = HexColor(hex_code)
        return colour

    def box(self, origin: tuple[float, float], element: Element) -> tuple[float, ...]:
        """(left, bottom, width, height) in points of an element placed at ``origin`` (mm)."""
        left = (origin[0] + element.x) * MM
        bottom = (self.layout.page_height - origin[1] - element.y - element.height) * MM
        return left, bottom, element.width * MM, element.height * MM

    def image_form(self, source: ImageSource, what: str) -> tuple[str, float]:
        """The form name of an image (embedded once per PDF) and its width/height ratio.

        :raise ImageError: the image cannot be read.
        """
        key: object = source if isinstance(source, bytes) else ("path", str(source))
        cached = self._forms.get(key)
        if cached is not None:
            return cached
        image = _open_image(source, what)
        digest = hashlib.sha1(image.tobytes(), usedforsecurity=False).hexdigest()[:16]
        cached = self._forms.get(digest)  # the same picture given as a path and as bytes
        if cached is None:
            name = f"img{digest}"
            self.canvas.beginForm(name, 0, 0, 1, 1)
            self.canvas.drawImage(ImageReader(image), 0, 0, 1, 1, mask="auto")
            self.canvas.endForm()
            cached = self._forms[digest] = (name, image.width / image.height)
        self._forms[key] = cached
        return cached

    def finish(self) -> RenderResult:
        self.canvas.showPage()
        self.pages += 1
        self.canvas.save()
        return RenderResult(pdf=self.buffer.getvalue(), warnings=self.warnings, pages=self.pages)


def _draw_element(draw: Callable, pdf: _Pdf, el: Element, origin: tuple[float, float],
                  item: _Item) -> None:  # fmt: skip
    """Draw one element of one item; a value that cannot be drawn is left off with a
    warning naming the item, so one odd name never stops a whole sheet."""
    try:
        draw(pdf, el, origin, item)
    except PrintoutError:
        raise
    except Exception as exc:  # whatever a font or shaping library throws
        field = getattr(el, "field", None) or el.type
        pdf.warn(item, "warn.not_printable", field=field, problem=type(exc).__name__)


def _open_image(source: ImageSource, what: str) -> Image.Image:
    if isinstance(source, bytes):
        data, shown = source, f"{what} image ({len(source)} bytes)"
    else:
        shown = f"{what} image {source}"
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ImageError(f"{shown} cannot be read ({exc.strerror}); check the path") from None
    try:
        image = Image.open(BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ImageError(f"{shown} is not a readable PNG or JPEG; give a PNG or JPEG") from None
    image = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if max(image.size) > MAX_IMAGE_PIXELS:
        # 2,000 pixels is over 300 dpi on an A6 badge; more only makes the PDF heavy
        image.thumbnail((MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS), Image.Resampling.LANCZOS)
    return image


# --- element drawers ------------------------------------------------------------------------


def _draw_lines(
    pdf: _Pdf,
    lines: Sequence[str],
    style: str,
    size: float,
    box: tuple[float, ...],
    align: str,
    colour: str,
) -> None:
    """Draw lines centred vertically in ``box`` (points), aligned horizontally; left and
    right swap for Arabic and Hebrew, which start at the right."""
    left, bottom, width, height = box
    if align != "center" and lines and starts_right_to_left(lines[0]):
        align = "right" if align == "left" else "left"
    line_height = size * (ASCENT + DESCENT + 0.08)
    block = line_height * len(lines) - size * 0.08
    baseline = bottom + height - (height - block) / 2 - ASCENT * size
    pdf_font = font_name(style)
    canvas = pdf.canvas
    canvas.setFont(pdf_font, size)
    canvas.setFillColor(pdf.colour(colour))
    for line in lines:
        shown = visual_line(line)
        if align == "left":
            x = left
        else:
            spare = width - pdfmetrics.stringWidth(shown, pdf_font, size)
            x = left + (spare / 2 if align == "center" else spare)
        canvas.drawString(x, baseline, shown)
        baseline -= line_height


def _warn_missing_glyphs(pdf: _Pdf, item: _Item, text: str, style: str) -> None:
    """Name every character the font cannot draw (checked after Arabic shaping, since the
    shaped letter forms are what is drawn), so no empty box goes out unnoticed."""
    missing = missing_glyphs(visual_line(normalise(text)), style)
    if missing:
        listed = ", ".join(f"'{ch}' (U+{ord(ch):04X})" for ch in missing)
        # The fix is in what the item prints: a badge has its badge name, a kit its names.
        key = "warn.missing_glyphs.kit" if pdf.kind.startswith("kit-") else "warn.missing_glyphs"
        pdf.warn(item, key, chars=listed, text=repr(normalise(text)))


def _fit_and_draw(
    pdf: _Pdf,
    item: _Item,
    text: str,
    style: str,
    box: tuple[float, ...],
    size: float,
    min_size: float,
    max_lines: int,
    align: str,
    colour: str,
    field: str | None = None,
) -> None:
    """Fit ``text`` to ``box`` and draw it, warning about missing glyphs or tiny text."""
    _warn_missing_glyphs(pdf, item, text, style)
    fitted = fit_text(text, style, box[2], box[3], size, min_size, max_lines)
    if fitted.shrunk_below_min:
        if field == "workshop":  # the same title on every badge: one line, with its fix
            pdf.warn(item, "warn.workshop_too_long")
        else:
            pdf.warn(
                item,
                "warn.too_long",
                text=repr(normalise(text)),
                size=f"{fitted.size:.1f}",
                minimum=f"{min_size:g}",
            )
    _draw_lines(pdf, fitted.lines, style, fitted.size, box, align, colour)


def _draw_text(pdf: _Pdf, el: TextElement, origin: tuple[float, float], item: _Item) -> None:
    if el.field is not None:
        text = item.fields.get(el.field, "")
    else:
        if any(not item.fields.get(name) for name in el.fields_used(pdf.language)):
            return  # a sentence about a missing value is left out entirely
        text = (el.text_in(pdf.language) or "").format_map(item.fields)
    if not text or not text.strip():
        return
    box = pdf.box(origin, el)
    _fit_and_draw(
        pdf, item, text, el.font, box, el.size, el.min_size, el.max_lines, el.align, el.colour,
        el.field,
    )  # fmt: skip


def _draw_qr(pdf: _Pdf, el: QrElement, origin: tuple[float, float], item: _Item) -> None:
    value = item.fields.get(el.field, "")
    if not value:
        raise PrintoutError(f"{item.label}: the {el.field} for its QR code is empty; give one")
    symbol = encode_qr(value, el.error_correction)
    module = el.width / symbol.size_with_quiet_zone
    if module < MIN_MODULE_MM:
        need = symbol.size_with_quiet_zone * MIN_MODULE_MM
        raise LayoutError(
            f"{item.label}: the QR code of a {len(value)}-character {el.field} needs "
            f"{symbol.size_with_quiet_zone} modules with its quiet zone, so {need:.1f} mm, "
            f"but layout {pdf.layout.id} gives it {el.width:g} mm; shorten the URL or "
            "choose a layout with a larger QR box"
        )
    left, bottom, width, _ = pdf.box(origin, el)
    pdf.canvas.addLiteral(qr_path_operators(symbol, left, bottom, width))


def _place_form(
    pdf: _Pdf, name: str, ratio: float, box: tuple[float, ...], cover: bool = False
) -> None:
    """Draw an image form inside ``box`` keeping its proportions, centred; ``cover`` fills
    the box and crops what overflows instead of leaving margins."""
    left, bottom, width, height = box
    scale_by_width = (width / ratio >= height) if cover else (width / ratio <= height)
    w, h = (width, width / ratio) if scale_by_width else (height * ratio, height)
    canvas = pdf.canvas
    canvas.saveState()
    if cover:
        path = canvas.beginPath()
        path.rect(left, bottom, width, height)
        canvas.clipPath(path, stroke=0, fill=0)
    canvas.translate(left + (width - w) / 2, bottom + (height - h) / 2)
    canvas.scale(w, h)
    canvas.doForm(name)
    canvas.restoreState()


def _draw_image(pdf: _Pdf, el: ImageElement, origin: tuple[float, float], item: _Item) -> None:
    source = item.images.get(el.field)
    if source is None:
        return
    name, ratio = pdf.image_form(source, el.field)
    _place_form(pdf, name, ratio, pdf.box(origin, el), cover=el.field == "background")


def _draw_line(pdf: _Pdf, el: LineElement, origin: tuple[float, float], item: _Item) -> None:
    canvas = pdf.canvas
    canvas.setStrokeColor(pdf.colour(el.colour))
    canvas.setLineWidth(el.thickness * MM)
    left, bottom, width, height = pdf.box(origin, el)
    if el.rising:
        canvas.line(left, bottom, left + width, bottom + height)
    else:
        canvas.line(left, bottom + height, left + width, bottom)


def _draw_box(pdf: _Pdf, el: BoxElement, origin: tuple[float, float], item: _Item) -> None:
    canvas = pdf.canvas
    left, bottom, width, height = pdf.box(origin, el)
    canvas.setStrokeColor(pdf.colour(el.colour))
    canvas.setLineWidth(el.thickness * MM)
    if el.fill:
        canvas.setFillColor(pdf.colour(el.fill))
    stroke = 1 if el.thickness > 0 else 0
    canvas.roundRect(left, bottom, width, height, el.radius * MM, stroke=stroke, fill=bool(el.fill))


def _draw_band(pdf: _Pdf, el: BandElement, origin: tuple[float, float], item: _Item) -> None:
    role = item.fields.get("role", "participant")
    box = pdf.box(origin, el)
    pdf.canvas.setFillColor(pdf.colour(dict(el.colours)[role]))
    pdf.canvas.rect(*box, stroke=0, fill=1)
    inner = (box[0] + 1 * MM, box[1], box[2] - 2 * MM, box[3])
    text = pdf.say(f"role.{role}")
    fitted = fit_text(text, el.font, inner[2], inner[3], el.size, el.min_size, 1)
    _draw_lines(pdf, fitted.lines, el.font, fitted.size, inner, "center", "#ffffff")


def _draw_list(pdf: _Pdf, el: ListElement, origin: tuple[float, float], item: _Item) -> None:
    entries = [e.strip() for e in item.lists.get(el.field, ()) if e and e.strip()]
    if not entries:
        return
    left, bottom, width, height = pdf.box(origin, el)
    pdf_font = font_name(el.font)
    gutter = 2 * MM  # between columns, so a long entry never runs into the next column
    column_width = (width - gutter * (el.columns - 1)) / el.columns
    per_size = ASCENT + DESCENT + 0.08

    def rows_for(count: int) -> int:
        return math.ceil(count / el.columns)

    size = min(el.size, height / (rows_for(len(entries)) * per_size))
    if size < el.min_size:
        # keep what fits at the minimum size and say how many are left off
        capacity = max(1, int(height / (el.min_size * per_size))) * el.columns
        if capacity < len(entries):
            left_off = len(entries) - capacity + 1
            entries = [*entries[: capacity - 1], pdf.say("more", count=left_off)]
            pdf.warn(item, "warn.components_left_off", count=left_off)
        size = min(el.min_size, height / (rows_for(len(entries)) * per_size))
    shown = [el.bullet + e for e in entries]
    widest = max(pdfmetrics.stringWidth(visual_line(s), pdf_font, 1.0) for s in shown)
    size = min(size, column_width / widest)
    if size < el.min_size - 0.05:
        pdf.warn(item, "warn.component_too_long", size=f"{size:.1f}", minimum=f"{el.min_size:g}")
    for text in entries:
        _warn_missing_glyphs(pdf, item, text, el.font)
    rows = rows_for(len(shown))
    canvas = pdf.canvas
    canvas.setFont(pdf_font, size)
    canvas.setFillColor(pdf.colour("#000000"))
    top = bottom + height
    for index, text in enumerate(shown):
        col, row = index // rows, index % rows
        baseline = top - row * size * per_size - ASCENT * size
        canvas.drawString(left + col * (column_width + gutter), baseline, visual_line(text))


# A checklist row is this many times its font size high; the tick box is a square of
# _TICK times the size, drawn a little above the baseline so it sits beside the letters.
_ROW = 1.5
_TICK = 0.8
_CHECKLIST_STEP = 0.25  # points between the sizes tried


def _checklist_row_width(
    line: KitCardLine, quantity_width: float, suffix: str, pdf_font: str
) -> float:
    """Width at 1 pt of one row: tick box, quantity column, name and consumable mark."""
    width = _TICK + 0.6 + quantity_width + 0.4
    width += pdfmetrics.stringWidth(visual_line(normalise(line.name)), pdf_font, 1.0)
    if not line.must_return:
        width += pdfmetrics.stringWidth(" " + suffix, pdf_font, 1.0)
    return width


def _draw_checklist(
    pdf: _Pdf, el: ChecklistElement, origin: tuple[float, float], item: _Item
) -> None:
    """Heading, then every component with an empty tick box, at the largest size from
    ``size`` down to ``min_size`` in the fewest columns (up to ``columns``) that hold them
    all; else ``min_size`` in all columns, what is left over summed up as "+ N more"."""
    lines = [line for line in item.checklists.get(el.field, ()) if line.name.strip()]
    left, bottom, width, height = pdf.box(origin, el)
    canvas = pdf.canvas
    pdf_font = font_name(el.font)
    heading_height = el.size * 1.4
    heading = fit_text(
        pdf.say("checklist.heading"), "bold", width, heading_height, el.size, el.min_size, 1
    )
    _draw_lines(pdf, heading.lines, "bold", heading.size,
                (left, bottom + height - heading_height, width, heading_height), "left",
                "#000000")  # fmt: skip
    legend_size = (el.size + el.min_size) / 2
    legend_height = legend_size * 1.4
    legend = fit_text(
        pdf.say("checklist.legend"), el.font, width, legend_height, legend_size, el.min_size, 1
    )
    _draw_lines(pdf, legend.lines, el.font, legend.size, (left, bottom, width, legend_height),
                "left", "#555555")  # fmt: skip
    if not lines:
        return
    top = bottom + height - heading_height - 1 * MM
    available = top - (bottom + legend_height + 1 * MM)
    gutter = 3 * MM
    suffix = pdf.say("checklist.consumable")
    quantity_width = max(
        pdfmetrics.stringWidth(f"{line.quantity} ×", font_name("bold"), 1.0) for line in lines
    )
    widths = [_checklist_row_width(line, quantity_width, suffix, pdf_font) for line in lines]

    def column_width(columns: int) -> float:
        return (width - gutter * (columns - 1)) / columns

    chosen: tuple[float, int] | None = None
    size = el.size
    while chosen is None and size >= el.min_size - 1e-6:
        for columns in range(1, el.columns + 1):
            rows = math.ceil(len(lines) / columns)
            if rows * size * _ROW <= available and size * max(widths) <= column_width(columns):
                chosen = (size, columns)
                break
        size -= _CHECKLIST_STEP
    shown: list[KitCardLine | str] = list(lines)
    if chosen is None:
        # Smallest size, every column: keep what fits and say how many are left off.
        size, columns = el.min_size, el.columns
        capacity = max(1, int(available / (size * _ROW))) * columns
        if capacity < len(lines):
            left_off = len(lines) - capacity + 1
            shown = [*lines[: capacity - 1], pdf.say("more", count=left_off)]
            pdf.warn(item, "warn.checklist_left_off", count=left_off)
    else:
        size, columns = chosen
    for line in lines:
        _warn_missing_glyphs(pdf, item, line.name, el.font)
    rows = math.ceil(len(shown) / columns)
    cell = column_width(columns)
    canvas.setLineWidth(0.25 * MM)
    canvas.setStrokeColor(pdf.colour("#000000"))
    for index, entry in enumerate(shown):
        column, row = index // rows, index % rows
        x = left + column * (cell + gutter)
        baseline = top - row * size * _ROW - ASCENT * size
        if isinstance(entry, str):  # "+ N more"
            canvas.setFont(pdf_font, size)
            canvas.setFillColor(pdf.colour("#000000"))
            canvas.drawString(x, baseline, entry)
            continue
        row_size = size
        row_width = _checklist_row_width(entry, quantity_width, suffix, pdf_font)
        if row_size * row_width > cell:
            row_size = cell / row_width
            if row_size < el.min_size - 0.05:
                pdf.warn(item, "warn.card_component_too_long", minimum=f"{el.min_size:g}")
        tick = _TICK * row_size
        canvas.rect(x, baseline - 0.1 * row_size, tick, tick, stroke=1, fill=0)
        canvas.setFillColor(pdf.colour("#000000"))
        quantity = f"{entry.quantity} ×"
        quantity_x = x + (_TICK + 0.6 + quantity_width) * row_size
        canvas.setFont(font_name("bold"), row_size)
        canvas.drawRightString(quantity_x, baseline, quantity)
        name_x = quantity_x + 0.4 * row_size
        name = visual_line(normalise(entry.name))
        canvas.setFont(pdf_font, row_size)
        canvas.drawString(name_x, baseline, name)
        if not entry.must_return:
            canvas.setFillColor(pdf.colour("#555555"))
            after = name_x + pdfmetrics.stringWidth(name + " ", pdf_font, row_size)
            canvas.drawString(after, baseline, suffix)


SIGNATURE_PAD_MM = 3.0  # between a signatory's block and its neighbours


def _signature_image_size(el: SignaturesElement) -> tuple[float, float]:
    """(width, height) in points of the box one signature image is drawn in: its block less
    the padding, above the line, the name and the title."""
    inner = el.width * MM / el.max_signatories - 2 * SIGNATURE_PAD_MM * MM
    return inner, el.height * MM - (el.name_size + el.title_size) * 1.3 - 2 * MM


def image_boxes(layout: str | Path | Layout) -> dict[str, tuple[float, float]]:
    """The largest box, (width, height) in mm, each image of ``layout`` is printed in: by
    field (``logo``, ``background``) and ``signature`` for signatories' images. An image
    with more pixels than this box holds at the printer's resolution only makes the PDF
    heavier and slower to make.
    """
    lay = load_layout(layout)
    boxes: dict[str, tuple[float, float]] = {}

    def grow(name: str, width: float, height: float) -> None:
        old_w, old_h = boxes.get(name, (0.0, 0.0))
        boxes[name] = (max(old_w, width), max(old_h, height))

    for elements in lay.elements.values():
        for el in elements:
            if isinstance(el, ImageElement):
                grow(el.field, el.width, el.height)
            elif isinstance(el, SignaturesElement):
                width, height = _signature_image_size(el)
                grow("signature", width / MM, height / MM)
    return boxes


def _draw_signatures(
    pdf: _Pdf, el: SignaturesElement, origin: tuple[float, float], item: _Item
) -> None:
    people = list(item.signatories)
    if not people:
        return
    if len(people) > el.max_signatories:
        raise PrintoutError(
            f"{item.label}: {len(people)} signatories given but the layout has room for "
            f"{el.max_signatories}; give at most {el.max_signatories}"
        )
    left, bottom, width, _height = pdf.box(origin, el)
    block = width / el.max_signatories
    start = left + (width - block * len(people)) / 2  # centre the group
    name_h = el.name_size * 1.3
    title_h = el.title_size * 1.3
    line_y = bottom + name_h + title_h + 1 * MM
    inner, image_h = _signature_image_size(el)
    canvas = pdf.canvas
    for i, person in enumerate(people):
        x = start + i * block + SIGNATURE_PAD_MM * MM
        if person.signature is not None:
            name, ratio = pdf.image_form(person.signature, f"signature of {person.name}")
            _place_form(pdf, name, ratio, (x, line_y + 1 * MM, inner, image_h))
        canvas.setStrokeColor(pdf.colour("#000000"))
        canvas.setLineWidth(0.3 * MM)
        canvas.line(x, line_y, x + inner, line_y)
        name_box = (x, bottom + title_h, inner, name_h)
        _fit_and_draw(
            pdf, item, person.name, "bold", name_box, el.name_size, el.min_size, 1,
            "center", "#000000",
        )  # fmt: skip
        if person.title:
            title_box = (x, bottom, inner, title_h)
            _fit_and_draw(
                pdf, item, person.title, el.font, title_box, el.title_size, el.min_size, 1,
                "center", "#333333",
            )  # fmt: skip


# One drawer per element class, beside layout.py's ELEMENT_TYPES, which reads each from a file.
_DRAWERS: dict[type, Callable[[_Pdf, Element, tuple[float, float], _Item], None]] = {
    TextElement: _draw_text,
    QrElement: _draw_qr,
    ImageElement: _draw_image,
    LineElement: _draw_line,
    BoxElement: _draw_box,
    BandElement: _draw_band,
    ListElement: _draw_list,
    ChecklistElement: _draw_checklist,
    SignaturesElement: _draw_signatures,
}


# --- pages, slots, cut marks -----------------------------------------------------------------


def _draw_cut_marks(pdf: _Pdf) -> None:
    """Short lines on every cut line: in the page margin where there is one, else on the
    cut line itself 3 mm in from the page edge, and crosses where touching labels meet."""
    lay = pdf.layout
    lefts = [lay.slot_box(s)[0] for s in range(1, lay.columns + 1)]
    xs = sorted({round(x, 3) for x in lefts} | {round(x + lay.label_width, 3) for x in lefts})
    tops = [lay.slot_box(1 + r * lay.columns)[1] for r in range(lay.rows)]
    ys = sorted({round(y, 3) for y in tops} | {round(y + lay.label_height, 3) for y in tops})
    pw, ph = lay.page_width, lay.page_height
    right_margin = pw - xs[-1]
    bottom_margin = ph - ys[-1]
    segments: list[tuple[float, float, float, float]] = []

    def span(margin: float) -> tuple[float, float]:
        """Distance from the page edge where a mark starts and ends."""
        if margin >= 3:
            return max(0.5, margin - 1 - CUT_MARK_MM), margin - 1
        return 3.0, 3.0 + CUT_MARK_MM

    for x in xs:
        if 0.5 < x < pw - 0.5:
            a, b = span(lay.margin_top)
            segments.append((x, a, x, b))
            a, b = span(bottom_margin)
            segments.append((x, ph - a, x, ph - b))
    for y in ys:
        if 0.5 < y < ph - 0.5:
            a, b = span(lay.margin_left)
            segments.append((a, y, b, y))
            a, b = span(right_margin)
            segments.append((pw - a, y, pw - b, y))
    if lay.gap_x == 0 and lay.gap_y == 0:
        arm = 3.0
        for x in xs[1:-1]:
            for y in ys[1:-1]:
                segments.append((x - arm, y, x + arm, y))
                segments.append((x, y - arm, x, y + arm))
    canvas = pdf.canvas
    canvas.setStrokeColor(pdf.colour("#000000"))
    canvas.setLineWidth(0.25)
    canvas.lines([(a * MM, (ph - b) * MM, c * MM, (ph - d) * MM) for a, b, c, d in segments])


def _resolve(layout: str | Path | Layout, kind: str) -> Layout:
    lay = load_layout(layout)
    if kind not in lay.kinds:
        fitting = ", ".join(x.id for x in list_layouts(kind))
        raise LayoutError(
            f"layout {lay.id!r} prints {', '.join(lay.kinds)}, not {kind}s; use one of: {fitting}"
        )
    return lay


def _render(
    kind: str,
    items: Iterable[_Item],
    layout: str | Path | Layout,
    *,
    start_slot: int = 1,
    cut_marks: bool | None = None,
    title: str,
    images: Mapping[str, ImageSource | None] | None = None,
    language: str = "en",
) -> RenderResult:
    lay = _resolve(layout, kind)
    per_page = lay.slots_per_page
    if not 1 <= start_slot <= per_page:
        raise PrintoutError(
            f"start slot {start_slot} is not on a {lay.id} sheet; use 1 to {per_page}"
        )
    elements = [(_DRAWERS[type(el)], el) for el in lay.elements[kind]]
    marks = lay.cut_marks if cut_marks is None else cut_marks
    with _binary_streams():
        pdf = _Pdf(lay, title, kind, language)
        placed = {el.field for el in lay.elements[kind] if isinstance(el, ImageElement)}
        images = images or {}
        for name in sorted(set(images) - placed):
            if images[name] is not None:
                pdf.warn(None, "warn.image_no_place", layout=lay.id, image=name, kind=kind)
        slot = start_slot - 1
        count = 0
        for item in items:
            if slot == per_page:
                if marks:
                    _draw_cut_marks(pdf)
                pdf.canvas.showPage()
                pdf.pages += 1
                slot = 0
            for key, params in item.notes:
                pdf.warn(item, key, **params)
            x, y, _, _ = lay.slot_box(slot + 1)
            for draw, el in elements:
                _draw_element(draw, pdf, el, (x, y), item)
            slot += 1
            count += 1
        if count == 0:
            raise PrintoutError(f"nothing to print: give at least one {kind}")
        if marks:
            _draw_cut_marks(pdf)
        return pdf.finish()


def _check_type(items: Iterable[object], expected: type, what: str) -> list:
    listed = list(items)
    for index, obj in enumerate(listed, start=1):
        if not isinstance(obj, expected):
            raise PrintoutError(
                f"{what} {index} is a {type(obj).__name__}, not a {expected.__name__}; "
                f"build it with printouts.{expected.__name__}(...)"
            )
    return listed


def render_badges(
    badges: Iterable[BadgeData],
    layout: str | Path | Layout = DEFAULT_LAYOUTS["badge"],
    *,
    start_slot: int = 1,
    cut_marks: bool | None = None,
    logo: ImageSource | None = None,
    background: ImageSource | None = None,
    language: str = "en",
) -> RenderResult:
    """A PDF of badges, one per slot, starting at ``start_slot`` (1-based) of the first
    sheet so a partly used sheet can be finished. ``cut_marks`` None follows the layout.
    ``language`` (see ``printouts.LANGUAGES``) is that of the role bands and the warnings.

    :raise PrintoutError: unknown layout or role, unreadable image, QR box too small, ...
    """
    listed = _check_type(badges, BadgeData, "badge")
    images = {"logo": logo, "background": background}
    items = []
    for index, badge in enumerate(listed, start=1):
        label = message("item.badge", language, index=index, name=normalise(badge.name))
        if not (badge.badge_name or badge.name).strip():
            raise PrintoutError(f"badge {index} has no name; give it a name or a badge_name")
        if badge.role not in ROLE_COLOURS:
            raise PrintoutError(
                f"{label}: role {badge.role!r} is unknown; use one of {', '.join(ROLE_COLOURS)}"
            )
        hidden = [n for n in (badge.name, badge.badge_name or "") if has_hidden_controls(n)]
        notes = [("warn.controls_removed", {"text": repr(hidden[0])})] if hidden else []
        items.append(_Item(label, badge.fields(), images=images, notes=notes))
    return _render(
        "badge",
        items,
        layout,
        start_slot=start_slot,
        cut_marks=cut_marks,
        title="Badges",
        images=images,
        language=language,
    )


def render_kit_labels(
    labels: Iterable[KitLabelData],
    layout: str | Path | Layout = DEFAULT_LAYOUTS["kit-label"],
    *,
    start_slot: int = 1,
    cut_marks: bool | None = None,
    logo: ImageSource | None = None,
    language: str = "en",
) -> RenderResult:
    """A PDF of kit labels (code, kit type, QR of the label URL, components); ``language``
    is that of the warnings and of the "+ N more" line.

    :raise PrintoutError: unknown layout, QR box too small for a URL, unreadable logo, ...
    """
    listed = _check_type(labels, KitLabelData, "kit label")
    for index, kit in enumerate(listed, start=1):
        if not kit.code.strip():
            raise PrintoutError(f"kit label {index} has no code; give it one such as KIT-017")
        if isinstance(kit.components, str):
            raise PrintoutError(
                f"kit label {index} ({kit.code}): components is one string; give a list of "
                "component names"
            )
    items = [
        _Item(
            message("item.kit-label", language, index=i, name=normalise(kit.code)),
            kit.fields(),
            lists={"components": tuple(kit.components)},
            images={"logo": logo},
        )
        for i, kit in enumerate(listed, start=1)
    ]
    return _render(
        "kit-label",
        items,
        layout,
        start_slot=start_slot,
        cut_marks=cut_marks,
        title="Kit labels",
        images={"logo": logo},
        language=language,
    )


def render_kit_cards(
    cards: Iterable[KitCardData],
    layout: str | Path | Layout = DEFAULT_LAYOUTS["kit-card"],
    *,
    start_slot: int = 1,
    cut_marks: bool | None = None,
    logo: ImageSource | None = None,
    language: str = "en",
) -> RenderResult:
    """A PDF of kit contents cards: code, kit type, the QR of the label URL, and every
    component with its quantity and an empty box to tick, consumables marked. ``language``
    is that of the card's headings and of the warnings.

    :raise PrintoutError: unknown layout, a card without code, components not given as
        :class:`KitCardLine`, a quantity below 1, QR box too small for a URL, ...
    """
    listed = _check_type(cards, KitCardData, "kit card")
    for index, card in enumerate(listed, start=1):
        if not card.code.strip():
            raise PrintoutError(f"kit card {index} has no code; give it one such as KIT-017")
        for line in card.components:
            if not isinstance(line, KitCardLine):
                raise PrintoutError(
                    f"kit card {index} ({card.code}): give each component as "
                    "printouts.KitCardLine(name, quantity, must_return)"
                )
            if line.quantity < 1:
                raise PrintoutError(
                    f"kit card {index} ({card.code}): {line.name!r} has quantity "
                    f"{line.quantity}; give 1 or more"
                )
    items = [
        _Item(
            message("item.kit-card", language, index=i, name=normalise(card.code)),
            card.fields(),
            checklists={"components": tuple(card.components)},
            images={"logo": logo},
        )
        for i, card in enumerate(listed, start=1)
    ]
    return _render(
        "kit-card",
        items,
        layout,
        start_slot=start_slot,
        cut_marks=cut_marks,
        title="Kit contents cards",
        images={"logo": logo},
        language=language,
    )


def render_certificates(
    certificates: Iterable[CertificateData],
    layout: str | Path | Layout = DEFAULT_LAYOUTS["certificate"],
    *,
    language: str = "en",
) -> RenderResult:
    """A PDF with one certificate per page; ``language`` is that of the layout's fixed
    texts (where the layout translates them) and of the warnings.

    :raise PrintoutError: unknown layout, more signatories than the layout holds,
        unreadable logo or signature image, ...
    """
    listed = _check_type(certificates, CertificateData, "certificate")
    for index, cert in enumerate(listed, start=1):
        if not cert.name.strip():
            raise PrintoutError(f"certificate {index} ({cert.code}) has no name; give one")
    items = [
        _Item(
            message("item.certificate", language, index=i, name=normalise(cert.name)),
            cert.fields(language),
            images={"logo": cert.logo},
            signatories=tuple(cert.signatories),
        )
        for i, cert in enumerate(listed, start=1)
    ]
    return _render("certificate", items, layout, title="Certificates", language=language)


def render_calibration(layout: str | Path | Layout) -> RenderResult:
    """One page outlining every label of a sheet layout with its slot number and a 50 mm
    scale bar: print it on plain paper at 100 % and hold it over a label sheet."""
    lay = load_layout(layout)
    pdf = _Pdf(lay, f"Calibration {lay.id}")
    canvas = pdf.canvas
    ph = lay.page_height
    canvas.setLineWidth(0.3)
    for slot in range(1, lay.slots_per_page + 1):
        x, y, w, h = lay.slot_box(slot)
        canvas.setStrokeColor(pdf.colour("#000000"))
        canvas.roundRect(x * MM, (ph - y - h) * MM, w * MM, h * MM, lay.corner_radius * MM)
        number_box = (x * MM, (ph - y - h * 0.65) * MM, w * MM, h * 0.3 * MM)
        _draw_lines(pdf, [str(slot)], "bold", min(14.0, h * 0.3 * MM / 1.3), number_box,
                    "center", "#000000")  # fmt: skip
    x, y, w, h = lay.slot_box(1)
    if w >= 56:
        bar_y = (ph - y - h * 0.85) * MM
        canvas.setLineWidth(0.6)
        canvas.line((x + 3) * MM, bar_y, (x + 53) * MM, bar_y)
        for tick in range(0, 51, 10):
            canvas.line((x + 3 + tick) * MM, bar_y, (x + 3 + tick) * MM, bar_y + 1.5 * MM)
    if lay.cut_marks:
        _draw_cut_marks(pdf)
    return pdf.finish()
