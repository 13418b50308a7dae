"""Layouts: page and grid geometry plus the elements of each kind of printout, read from
JSON data files and validated on load. Every length is in millimetres; element positions
are measured from the top-left corner of their label (or page, for one-per-page layouts)."""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import LayoutError
from .messages import LANGUAGES, supported_language
from .qr import MIN_MODULE_MM, QUIET_ZONE_MODULES

__all__ = [
    "DEFAULT_LAYOUTS",
    "ELEMENT_TYPES",
    "KINDS",
    "ROLE_COLOURS",
    "BandElement",
    "BoxElement",
    "ChecklistElement",
    "Element",
    "ElementType",
    "ImageElement",
    "Layout",
    "LineElement",
    "ListElement",
    "QrElement",
    "SignaturesElement",
    "TextElement",
    "layout_names",
    "list_layouts",
    "load_layout",
]

KINDS = ("badge", "kit-label", "kit-card", "certificate")
# The layout each kind prints on when none is chosen (the app offers it first).
DEFAULT_LAYOUTS = {
    "badge": "avery-l7160",
    "kit-label": "brother-ql-62",
    "kit-card": "a6-kit-card",
    "certificate": "certificate-a4",
}
ROLE_COLOURS = {
    "participant": "#1f6fb2",
    "trainer": "#c0392b",
    "mentor": "#1e8449",
    "guest": "#6c6c6c",
}
# Fields each kind of printout offers to its layout's elements.
FIELDS = {
    "badge": {
        "text": {"name", "full_name", "organisation", "role", "team", "workshop", "url"},
        "qr": {"url"},
        "image": {"logo", "background"},
        "list": set(),
        "checklist": set(),
    },
    "kit-label": {
        "text": {"code", "kit_type", "url"},
        "qr": {"url"},
        "image": {"logo"},
        "list": {"components"},
        "checklist": set(),
    },
    "kit-card": {
        "text": {"code", "kit_type", "url"},
        "qr": {"url"},
        "image": {"logo"},
        "list": set(),
        "checklist": {"components"},
    },
    "certificate": {
        "text": {
            "name",
            "workshop_title",
            "dates_text",
            "hours",
            "hours_attended",
            "body_text",
            "code",
            "verification_url",
            "verification_page",
        },
        "qr": {"verification_url"},
        "image": {"logo"},
        "list": set(),
        "checklist": set(),
    },
}
ALIGNMENTS = ("left", "center", "right")
FONT_STYLES = ("regular", "bold")
# The smallest QR symbol (version 1, 21 modules) with its quiet zone at the minimum module.
MIN_QR_MM = (21 + 2 * QUIET_ZONE_MODULES) * MIN_MODULE_MM


@dataclass(frozen=True)
class Element:
    """Base of all layout elements: a box in mm from the label's top-left corner."""

    type: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class TextElement(Element):
    field: str | None = None
    text: str | None = None  # a template such as "Code: {code}"
    # the template in other languages, e.g. (("fr", "Code : {code}"),); English is ``text``
    texts: tuple[tuple[str, str], ...] = ()
    font: str = "regular"
    size: float = 10.0
    min_size: float = 6.0
    align: str = "center"
    max_lines: int = 1
    colour: str = "#000000"

    def fields_used(self, language: str = "en") -> tuple[str, ...]:
        if self.field:
            return (self.field,)
        return _template_fields(self.text_in(language) or "")

    def text_in(self, language: str) -> str | None:
        """The template in ``language``, else the English one."""
        return dict(self.texts).get(supported_language(language), self.text)


@dataclass(frozen=True)
class QrElement(Element):
    field: str = "url"
    error_correction: str = "M"


@dataclass(frozen=True)
class ImageElement(Element):
    field: str = "logo"


@dataclass(frozen=True)
class LineElement(Element):
    """A straight line across its box; ``rising`` lines go from bottom-left to top-right."""

    thickness: float = 0.3
    colour: str = "#000000"
    rising: bool = False


@dataclass(frozen=True)
class BoxElement(Element):
    thickness: float = 0.3
    colour: str = "#000000"
    fill: str | None = None
    radius: float = 0.0


@dataclass(frozen=True)
class BandElement(Element):
    """A filled strip in the colour of the badge's role, with the role printed in it."""

    field: str = "role"
    font: str = "bold"
    size: float = 9.0
    min_size: float = 5.0
    colours: tuple[tuple[str, str], ...] = tuple(ROLE_COLOURS.items())


@dataclass(frozen=True)
class ListElement(Element):
    """One line per entry (a kit's components), shrunk to fit, in one or more columns."""

    field: str = "components"
    font: str = "regular"
    size: float = 8.0
    min_size: float = 5.0
    columns: int = 1
    bullet: str = "• "


@dataclass(frozen=True)
class ChecklistElement(Element):
    """A contents checklist: a heading, then one line per component with an empty box to
    tick, its quantity and name, consumables marked. Long lists take a smaller font, then
    up to ``columns`` columns; what still does not fit becomes "+ N more", with a warning."""

    field: str = "components"
    font: str = "regular"
    size: float = 10.0
    min_size: float = 6.0
    columns: int = 2


@dataclass(frozen=True)
class SignaturesElement(Element):
    """Up to three signatories side by side: signature image, a line, name and title."""

    font: str = "regular"
    name_size: float = 10.0
    title_size: float = 8.0
    min_size: float = 6.0
    max_signatories: int = 3


@dataclass(frozen=True)
class Layout:
    """A validated layout. Slots are numbered 1..slots_per_page, left to right, top down."""

    id: str
    title: str
    kinds: tuple[str, ...]
    page_width: float
    page_height: float
    columns: int
    rows: int
    label_width: float
    label_height: float
    margin_left: float
    margin_top: float
    gap_x: float
    gap_y: float
    corner_radius: float
    cut_marks: bool
    elements: dict[str, tuple[Element, ...]]
    source: str = ""
    path: str = ""
    # the title in the other languages printouts speak ({"fr": "..."}); English is ``title``
    titles: tuple[tuple[str, str], ...] = ()

    def title_in(self, language: str) -> str:
        """The layout's title in ``language``, or in English when it has none in it."""
        return dict(self.titles).get(supported_language(language), self.title)

    @property
    def slots_per_page(self) -> int:
        return self.columns * self.rows

    @property
    def is_sheet(self) -> bool:
        """True for sheets of several labels (a calibration page makes sense for them)."""
        return self.slots_per_page > 1

    def slot_box(self, slot: int) -> tuple[float, float, float, float]:
        """(x, y, width, height) in mm of ``slot`` (1-based) from the page's top-left."""
        index = slot - 1
        col, row = index % self.columns, index // self.columns
        x = self.margin_left + col * (self.label_width + self.gap_x)
        y = self.margin_top + row * (self.label_height + self.gap_y)
        return (x, y, self.label_width, self.label_height)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary for listings."""
        return {
            "id": self.id,
            "title": self.title,
            "kinds": list(self.kinds),
            "page_mm": [round(self.page_width, 2), round(self.page_height, 2)],
            "label_mm": [round(self.label_width, 2), round(self.label_height, 2)],
            "columns": self.columns,
            "rows": self.rows,
            "per_page": self.slots_per_page,
            "cut_marks": self.cut_marks,
        }


# --- validation --------------------------------------------------------------------------


class _Reader:
    """Reads typed values from a JSON object, raising a LayoutError naming file and field."""

    def __init__(self, path: str, data: Any, where: str) -> None:
        self.path, self.where = path, where
        if not isinstance(data, dict):
            self.fail(where, "must be a JSON object")
        self.data: dict[str, Any] = data

    def fail(self, key: str, problem: str) -> None:
        raise LayoutError(f"layout file {self.path}: field '{key}' {problem}; fix the file")

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def number(self, key: str, default: float | None = None, minimum: float = 0.0) -> float:
        value = self.data.get(key, default)
        if value is None:
            self.fail(self.name(key), "is missing (a number in mm or points)")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(self.name(key), f"must be a number, not {value!r}")
        if value < minimum:
            self.fail(self.name(key), f"must be at least {minimum:g}, not {value!r}")
        return float(value)

    def integer(self, key: str, default: int | None = None, minimum: int = 1) -> int:
        value = self.number(key, default, minimum)
        if value != int(value):
            self.fail(self.name(key), f"must be a whole number, not {value!r}")
        return int(value)

    def text(self, key: str, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value:
            self.fail(self.name(key), "must be a non-empty string")
        if choices and value not in choices:
            self.fail(self.name(key), f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def colour(self, key: str, default: str | None) -> str | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if not (
            isinstance(value, str)
            and len(value) == 7
            and value[0] == "#"
            and all(c in string.hexdigits for c in value[1:])
        ):
            self.fail(self.name(key), f"must be a colour like '#1f6fb2', not {value!r}")
        return value


def _check_keys(reader: _Reader, allowed: AbstractSet[str], what: str) -> None:
    """Refuse settings the renderer would ignore (a typo such as 'min_szie')."""
    for key in reader.data:
        if key not in allowed:
            reader.fail(
                reader.name(key), f"is not a setting of {what}; use {', '.join(sorted(allowed))}"
            )


# --- element types: the table of what each element reads ----------------------------------
# One row per type of element: its class, the settings it accepts, how its box is read, how
# its own settings are read and checked, and the one kind of printout it belongs to, if any.
# render.py's _DRAWERS draws each class; a new type of element is a row here and a drawer there.

_Box = tuple[float, float, float, float]  # x, y, width, height in mm


def _rect_box(reader: _Reader) -> _Box:
    return (
        reader.number("x"),
        reader.number("y"),
        reader.number("width", minimum=0.1),
        reader.number("height", minimum=0.1),
    )


def _qr_box(reader: _Reader) -> _Box:
    """A QR code is square, never smaller than the smallest symbol that still scans."""
    size = reader.number("size", minimum=MIN_QR_MM)
    return (reader.number("x"), reader.number("y"), size, size)


def _line_box(reader: _Reader) -> _Box:
    """A line is given by its two ends; its box spans them."""
    x1, y1 = reader.number("x1"), reader.number("y1")
    x2, y2 = reader.number("x2"), reader.number("y2")
    return (min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1))


def _check_on_label(reader: _Reader, box: _Box, label_w: float, label_h: float) -> None:
    x, y, w, h = box
    tolerance = 0.01
    if x + w > label_w + tolerance or y + h > label_h + tolerance:
        reader.fail(
            reader.where,
            f"reaches {x + w:.1f} x {y + h:.1f} mm, outside the {label_w:g} x {label_h:g} mm label",
        )


def _field(reader: _Reader, kind: str, etype: str, default: str | None = None) -> str:
    """The element's ``field``: one that a ``kind`` printout offers to ``etype`` elements."""
    offered = FIELDS[kind][etype]
    value = reader.text("field", default)
    if value not in offered:
        allowed = ", ".join(sorted(offered)) or "none"
        reader.fail(reader.name("field"), f"must be one of {allowed} for a {kind}")
    return value


def _template_fields(template: str) -> tuple[str, ...]:
    """The fields a text template such as ``"Code: {code}"`` fills in.

    :raise ValueError: a broken template, such as ``"{code"``.
    """
    return tuple(f for _, f, _, _ in string.Formatter().parse(template) if f)


def _text_settings(reader: _Reader, kind: str) -> dict[str, Any]:
    has_field, has_text = "field" in reader.data, "text" in reader.data
    if has_field == has_text:
        reader.fail(reader.where, "needs exactly one of 'field' or 'text'")
    size = reader.number("size", minimum=2)
    texts = _translations(reader, "texts") if has_text else ()
    settings = {
        "field": _field(reader, kind, "text") if has_field else None,
        "text": reader.text("text") if has_text else None,
        "texts": texts,
        "font": reader.text("font", "regular", FONT_STYLES),
        "size": size,
        "min_size": min(size, reader.number("min_size", size, minimum=2)),
        "align": reader.text("align", "center", ALIGNMENTS),
        "max_lines": reader.integer("max_lines", 1),
        "colour": reader.colour("colour", "#000000") or "#000000",
    }
    if has_text:
        _check_templates(reader, kind, (settings["text"], *dict(texts).values()))
    return settings


def _check_templates(reader: _Reader, kind: str, templates: tuple[str, ...]) -> None:
    """Every field the templates (one per language) fill in is one a ``kind`` offers."""
    try:
        used_fields = {f for template in templates for f in _template_fields(template)}
    except ValueError as exc:
        reader.fail(reader.name("text"), f"is not a valid template ({exc})")
    for used in used_fields:
        if used not in FIELDS[kind]["text"]:
            allowed = ", ".join(sorted(FIELDS[kind]["text"]))
            reader.fail(reader.name("text"), f"uses {{{used}}}; a {kind} offers {allowed}")


def _qr_settings(reader: _Reader, kind: str) -> dict[str, Any]:
    return {
        "field": _field(reader, kind, "qr", "url"),
        "error_correction": reader.text("error_correction", "M", ("M", "Q", "H")),
    }


def _image_settings(reader: _Reader, kind: str) -> dict[str, Any]:
    return {"field": _field(reader, kind, "image")}


def _line_settings(reader: _Reader, kind: str) -> dict[str, Any]:
    across = reader.number("x2") - reader.number("x1")
    down = reader.number("y2") - reader.number("y1")
    return {
        "thickness": reader.number("thickness", 0.3, minimum=0.05),
        "colour": reader.colour("colour", "#000000") or "#000000",
        "rising": across * down < 0,
    }


def _box_settings(reader: _Reader, kind: str) -> dict[str, Any]:
    return {
        "thickness": reader.number("thickness", 0.3),
        "colour": reader.colour("colour", "#000000") or "#000000",
        "fill": reader.colour("fill", None),
        "radius": reader.number("radius", 0.0),
    }


def _band_settings(reader: _Reader, kind: str) -> dict[str, Any]:
    colours = dict(ROLE_COLOURS)
    overrides = reader.data.get("colours", {})
    if not isinstance(overrides, dict):
        reader.fail(reader.name("colours"), "must map roles to colours")
    sub = _Reader(reader.path, overrides, reader.name("colours"))
    for role in overrides:
        if role not in ROLE_COLOURS:
            sub.fail(sub.name(role), f"is not a role; use {', '.join(ROLE_COLOURS)}")
        colours[role] = sub.colour(role, None) or colours[role]
    size = reader.number("size", 9.0, minimum=2)
    return {
        "font": reader.text("font", "bold", FONT_STYLES),
        "size": size,
        "min_size": min(size, reader.number("min_size", 5.0, minimum=2)),
        "colours": tuple(colours.items()),
    }


def _list_settings(reader: _Reader, kind: str) -> dict[str, Any]:
    size = reader.number("size", 8.0, minimum=2)
    return {
        "field": _field(reader, kind, "list", "components"),
        "font": reader.text("font", "regular", FONT_STYLES),
        "size": size,
        "min_size": min(size, reader.number("min_size", 5.0, minimum=2)),
        "columns": reader.integer("columns", 1),
    }


def _checklist_settings(reader: _Reader, kind: str) -> dict[str, Any]:
    size = reader.number("size", 10.0, minimum=2)
    return {
        "field": _field(reader, kind, "checklist", "components"),
        "font": reader.text("font", "regular", FONT_STYLES),
        "size": size,
        "min_size": min(size, reader.number("min_size", 6.0, minimum=2)),
        "columns": reader.integer("columns", 2),
    }


def _signatures_settings(reader: _Reader, kind: str) -> dict[str, Any]:
    return {
        "font": reader.text("font", "regular", FONT_STYLES),
        "name_size": reader.number("name_size", 10.0, minimum=2),
        "title_size": reader.number("title_size", 8.0, minimum=2),
        "min_size": reader.number("min_size", 6.0, minimum=2),
        "max_signatories": reader.integer("max_signatories", 3),
    }


@dataclass(frozen=True)
class ElementType:
    """How one type of element is read from a layout file."""

    cls: type[Element]
    keys: frozenset[str]  # the settings a layout may give it
    box: Callable[[_Reader], _Box]
    settings: Callable[[_Reader, str], dict[str, Any]]  # (reader, kind) -> keyword arguments
    # the one kind of printout it belongs to, and what to say when it is put on another
    only_on: tuple[str, str] | None = None


_BOX_KEYS = frozenset({"type", "x", "y", "width", "height"})
_LETTERING_KEYS = frozenset({"font", "size", "min_size"})
ELEMENT_TYPES: dict[str, ElementType] = {
    "text": ElementType(
        TextElement,
        _BOX_KEYS | _LETTERING_KEYS | {"field", "text", "texts", "align", "max_lines", "colour"},
        _rect_box,
        _text_settings,
    ),
    "qr": ElementType(
        QrElement,
        frozenset({"type", "x", "y", "size", "field", "error_correction"}),
        _qr_box,
        _qr_settings,
    ),
    "image": ElementType(ImageElement, _BOX_KEYS | {"field"}, _rect_box, _image_settings),
    "line": ElementType(
        LineElement,
        frozenset({"type", "x1", "y1", "x2", "y2", "thickness", "colour"}),
        _line_box,
        _line_settings,
    ),
    "box": ElementType(
        BoxElement,
        _BOX_KEYS | {"thickness", "colour", "fill", "radius"},
        _rect_box,
        _box_settings,
    ),
    "band": ElementType(
        BandElement,
        _BOX_KEYS | _LETTERING_KEYS | {"field", "colours"},
        _rect_box,
        _band_settings,
        only_on=("badge", "'band' shows a badge's role; only badges have one"),
    ),
    "list": ElementType(
        ListElement, _BOX_KEYS | _LETTERING_KEYS | {"field", "columns"}, _rect_box, _list_settings
    ),
    "checklist": ElementType(
        ChecklistElement,
        _BOX_KEYS | _LETTERING_KEYS | {"field", "columns"},
        _rect_box,
        _checklist_settings,
    ),
    "signatures": ElementType(
        SignaturesElement,
        _BOX_KEYS | {"font", "name_size", "title_size", "min_size", "max_signatories"},
        _rect_box,
        _signatures_settings,
        only_on=("certificate", "'signatures' belongs on certificates only"),
    ),
}


def _element(reader: _Reader, kind: str, label_w: float, label_h: float) -> Element:
    """One element of a ``kind`` printout, read as its row of :data:`ELEMENT_TYPES` says."""
    etype = reader.text("type", choices=tuple(ELEMENT_TYPES))
    row = ELEMENT_TYPES[etype]
    _check_keys(reader, row.keys, f"a {etype} element")
    box = row.box(reader)
    _check_on_label(reader, box, label_w, label_h)
    if row.only_on is not None and kind != row.only_on[0]:
        reader.fail(reader.name("type"), row.only_on[1])
    return row.cls(etype, *box, **row.settings(reader, kind))


def _translations(reader: _Reader, key: str) -> tuple[tuple[str, str], ...]:
    """``{"fr": "..."}``: the element's text in languages besides English."""
    if key not in reader.data:
        return ()
    texts = _Reader(reader.path, reader.data[key], reader.name(key))
    for language in texts.data:
        if language not in LANGUAGES or language == "en":
            texts.fail(
                texts.name(language),
                f"is not a language besides English; use {', '.join(LANGUAGES[1:])}",
            )
    return tuple((language, texts.text(language)) for language in texts.data)


def parse_layout(data: Any, path: str) -> Layout:
    """Validate a layout's JSON data. :raise LayoutError: naming ``path`` and the field."""
    top = _Reader(path, data, "")
    _check_keys(top, {"id", "title", "titles", "kinds", "source", "page", "grid", "cut_marks",
                      "elements"}, "a layout")  # fmt: skip
    layout_id = top.text("id")
    titles = _translations(top, "titles")
    kinds = data.get("kinds")
    if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
        top.fail("kinds", f"must be a non-empty list of {', '.join(KINDS)}")
    page = _Reader(path, data.get("page"), "page")
    _check_keys(page, {"width", "height"}, "the page")
    page_w, page_h = page.number("width", minimum=10), page.number("height", minimum=10)
    grid = _Reader(path, data.get("grid", {}), "grid")
    grid_keys = {"columns", "rows", "label_width", "label_height", "margin_left", "margin_top"}
    _check_keys(grid, grid_keys | {"gap_x", "gap_y", "corner_radius"}, "the grid")
    columns, rows = grid.integer("columns", 1), grid.integer("rows", 1)
    label_w = grid.number("label_width", page_w, minimum=1)
    label_h = grid.number("label_height", page_h, minimum=1)
    margin_left, margin_top = grid.number("margin_left", 0.0), grid.number("margin_top", 0.0)
    gap_x, gap_y = grid.number("gap_x", 0.0), grid.number("gap_y", 0.0)
    right = margin_left + columns * label_w + (columns - 1) * gap_x
    bottom = margin_top + rows * label_h + (rows - 1) * gap_y
    if right > page_w + 0.01 or bottom > page_h + 0.01:
        grid.fail(
            "grid",
            f"ends at {right:.2f} x {bottom:.2f} mm, beyond the {page_w:g} x {page_h:g} mm page",
        )
    raw_elements = data.get("elements")
    if not isinstance(raw_elements, dict):
        top.fail("elements", "must map each kind to a list of elements")
    elements: dict[str, tuple[Element, ...]] = {}
    for kind in kinds:
        items = raw_elements.get(kind)
        if not isinstance(items, list) or not items:
            top.fail(f"elements.{kind}", f"must list the elements of a {kind}")
        elements[kind] = tuple(
            _element(_Reader(path, item, f"elements.{kind}[{i}]"), kind, label_w, label_h)
            for i, item in enumerate(items)
        )
    return Layout(
        id=layout_id,
        title=top.text("title"),
        kinds=tuple(kinds),
        page_width=page_w,
        page_height=page_h,
        columns=columns,
        rows=rows,
        label_width=label_w,
        label_height=label_h,
        margin_left=margin_left,
        margin_top=margin_top,
        gap_x=gap_x,
        gap_y=gap_y,
        corner_radius=grid.number("corner_radius", 0.0),
        cut_marks=bool(data.get("cut_marks", False)),
        elements=elements,
        source=str(data.get("source", "")),
        path=path,
        titles=titles,
    )


def _read_file(path: Path, display: str) -> Layout:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LayoutError(f"layout file {display} cannot be read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise LayoutError(
            f"layout file {display} is not valid JSON (line {exc.lineno}: {exc.msg}); fix the file"
        ) from None
    return parse_layout(data, display)


def _layout_dir() -> Path:
    return Path(str(resources.files(__package__) / "layouts"))


@lru_cache(maxsize=1)
def _shipped() -> dict[str, Path]:
    return {p.stem: p for p in sorted(_layout_dir().glob("*.json"))}


def layout_names() -> list[str]:
    """Ids of the layouts shipped with the package."""
    return list(_shipped())


@lru_cache(maxsize=64)
def _load_shipped(name: str) -> Layout:
    path = _shipped()[name]
    layout = _read_file(path, f"printouts/layouts/{path.name}")
    if layout.id != name:
        raise LayoutError(
            f"layout file printouts/layouts/{path.name}: field 'id' is {layout.id!r} but the "
            f"file is named {name}.json; make them equal"
        )
    return layout


def load_layout(name: str | Path | Layout) -> Layout:
    """A shipped layout by id (e.g. ``"avery-l7160"``) or a layout JSON file by path.

    :raise LayoutError: unknown name (the message lists the valid ones) or a broken file
        (the message names the file and the field).
    """
    if isinstance(name, Layout):
        return name
    if isinstance(name, Path) or str(name).endswith(".json"):
        path = Path(name)
        return _read_file(path, str(path))
    if name not in _shipped():
        raise LayoutError(
            f"unknown layout {name!r}; use one of: {', '.join(layout_names())} "
            "(or the path of a layout .json file)"
        )
    return _load_shipped(name)


def list_layouts(kind: str | None = None) -> list[Layout]:
    """All shipped layouts, or those that can print ``kind`` (badge, kit-label, certificate)."""
    if kind is not None and kind not in KINDS:
        raise LayoutError(f"unknown kind {kind!r}; use one of: {', '.join(KINDS)}")
    layouts = [_load_shipped(name) for name in layout_names()]
    return [lay for lay in layouts if kind is None or kind in lay.kinds]
