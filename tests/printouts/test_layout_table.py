"""Every type of layout element is a row of one table: each row reads a valid element, refuses a
broken one with a message naming the file and the field, and has a drawer that prints it.
Each kind of printout has a default layout that ships, loads and prints that kind."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from printouts import (
    DEFAULT_LAYOUTS,
    KINDS,
    LayoutError,
    load_layout,
    render_badges,
    render_certificates,
    render_kit_cards,
    render_kit_labels,
)
from printouts.layout import ELEMENT_TYPES, parse_layout
from printouts.preview import render_sample
from printouts.samples import (
    sample_badges,
    sample_certificates,
    sample_kit_cards,
    sample_kit_labels,
)

from .reading import read_pdf

PATH = "my-label.json"
BOX = {"x": 2, "y": 2, "width": 40, "height": 20}

# type -> (kind it is put on, a valid element, a broken one, the message the broken one gets)
EXAMPLES: dict[str, tuple[str, dict[str, Any], dict[str, Any], str]] = {
    "text": (
        "badge",
        {"type": "text", **BOX, "text": "Hello {name}", "texts": {"fr": "Bonjour {name}"},
         "size": 12, "min_size": 8, "align": "left", "max_lines": 2, "colour": "#1f6fb2"},
        {"type": "text", **BOX, "text": "Shoe size {shoe_size}", "size": 12},
        "field 'elements.badge[0].text' uses {shoe_size}; a badge offers full_name, name, "
        "organisation, role, team, url, workshop",
    ),
    "qr": (
        "kit-label",
        {"type": "qr", "x": 2, "y": 2, "size": 20, "field": "url", "error_correction": "Q"},
        {"type": "qr", "x": 2, "y": 2, "size": 8},
        "field 'elements.kit-label[0].size' must be at least 11.6, not 8",
    ),
    "image": (
        "badge",
        {"type": "image", **BOX, "field": "background"},
        {"type": "image", **BOX, "field": "photo"},
        "field 'elements.badge[0].field' must be one of background, logo for a badge",
    ),
    "line": (
        "kit-label",
        {"type": "line", "x1": 2, "y1": 30, "x2": 40, "y2": 5, "thickness": 0.5},
        {"type": "line", "x1": 2, "y1": 30, "x2": 40, "y2": 5, "thickness": 0.01},
        "field 'elements.kit-label[0].thickness' must be at least 0.05, not 0.01",
    ),
    "box": (
        "certificate",
        {"type": "box", **BOX, "thickness": 1, "fill": "#eeeeee", "radius": 2},
        {"type": "box", **BOX, "fill": "grey"},
        "field 'elements.certificate[0].fill' must be a colour like '#1f6fb2', not 'grey'",
    ),
    "band": (
        "badge",
        {"type": "band", **BOX, "size": 10, "colours": {"trainer": "#000000"}},
        {"type": "band", **BOX, "colours": {"speaker": "#ff0000"}},
        "field 'elements.badge[0].colours.speaker' is not a role; use participant, trainer, "
        "mentor, guest",
    ),
    "list": (
        "kit-label",
        {"type": "list", **BOX, "field": "components", "size": 7, "columns": 2},
        {"type": "list", **BOX, "columns": 1.5},
        "field 'elements.kit-label[0].columns' must be a whole number, not 1.5",
    ),
    "checklist": (
        "kit-card",
        {"type": "checklist", **BOX, "size": 9, "min_size": 6, "columns": 1},
        {"type": "checklist", **BOX, "font": "italic"},
        "field 'elements.kit-card[0].font' must be one of regular, bold, not 'italic'",
    ),
    "signatures": (
        "certificate",
        {"type": "signatures", **BOX, "name_size": 9, "max_signatories": 2},
        {"type": "signatures", **BOX, "max_signatures": 2},
        "field 'elements.certificate[0].max_signatures' is not a setting of a signatures "
        "element; use font, height, max_signatories, min_size, name_size, title_size, type, "
        "width, x, y",
    ),
}  # fmt: skip

# Refusals every row shares, whatever its type.
COMMON_REFUSALS = [
    ("badge", {"type": "sticker", **BOX},
     "field 'elements.badge[0].type' must be one of text, qr, image, line, box, band, list, "
     "checklist, signatures, not 'sticker'"),
    ("badge", {"type": "image", "x": 30, "y": 2, "width": 40, "height": 20, "field": "logo"},
     "field 'elements.badge[0]' reaches 70.0 x 22.0 mm, outside the 60 x 40 mm label"),
    ("badge", {"type": "text", **BOX, "field": "name", "text": "{name}", "size": 10},
     "field 'elements.badge[0]' needs exactly one of 'field' or 'text'"),
    ("kit-label", {"type": "band", **BOX},
     "field 'elements.kit-label[0].type' 'band' shows a badge's role; only badges have one"),
    ("badge", {"type": "signatures", **BOX},
     "field 'elements.badge[0].type' 'signatures' belongs on certificates only"),
    ("badge", {"type": "checklist", **BOX},
     "field 'elements.badge[0].field' must be one of none for a badge"),
]  # fmt: skip


def _layout(kind: str, element: dict[str, Any]) -> dict[str, Any]:
    """A one-label-per-page layout of 60 x 40 mm holding ``element`` alone."""
    return {
        "id": "my-label",
        "title": "My label",
        "kinds": [kind],
        "page": {"width": 60, "height": 40},
        "elements": {kind: [copy.deepcopy(element)]},
    }


def test_every_type_of_element_has_an_example_here():
    assert set(EXAMPLES) == set(ELEMENT_TYPES)


@pytest.mark.parametrize("etype", sorted(ELEMENT_TYPES))
def test_each_type_reads_a_valid_element_with_its_settings(etype: str):
    kind, valid, _, _ = EXAMPLES[etype]
    (element,) = parse_layout(_layout(kind, valid), PATH).elements[kind]
    assert type(element) is ELEMENT_TYPES[etype].cls and element.type == etype
    for key, value in valid.items():
        if key in ("type", "text", "texts", "colours") or key not in vars(element):
            continue
        assert getattr(element, key) == value, key


def test_settings_that_need_reading_are_read_as_meant():
    _, text, _, _ = EXAMPLES["text"]
    element = parse_layout(_layout("badge", text), PATH).elements["badge"][0]
    assert element.text_in("fr") == "Bonjour {name}" and element.fields_used("en") == ("name",)
    _, line, _, _ = EXAMPLES["line"]
    element = parse_layout(_layout("kit-label", line), PATH).elements["kit-label"][0]
    assert (element.x, element.y, element.width, element.height) == (2, 5, 38, 25)
    assert element.rising  # from bottom-left (2, 30) up to (40, 5)
    _, band, _, _ = EXAMPLES["band"]
    element = parse_layout(_layout("badge", band), PATH).elements["badge"][0]
    assert dict(element.colours)["trainer"] == "#000000"
    assert dict(element.colours)["participant"] == "#1f6fb2"


@pytest.mark.parametrize("etype", sorted(ELEMENT_TYPES))
def test_each_type_refuses_a_broken_element_naming_the_file_and_the_field(etype: str):
    kind, _, broken, problem = EXAMPLES[etype]
    with pytest.raises(LayoutError) as caught:
        parse_layout(_layout(kind, broken), PATH)
    assert str(caught.value) == f"layout file {PATH}: {problem}; fix the file"


@pytest.mark.parametrize(("kind", "broken", "problem"), COMMON_REFUSALS)
def test_what_every_type_checks_is_refused_the_same_way(kind, broken, problem):
    with pytest.raises(LayoutError) as caught:
        parse_layout(_layout(kind, broken), PATH)
    assert str(caught.value) == f"layout file {PATH}: {problem}; fix the file"


@pytest.mark.parametrize("etype", sorted(ELEMENT_TYPES))
def test_each_type_has_a_drawer_that_prints_it(etype: str):
    kind, valid, _, _ = EXAMPLES[etype]
    layout = parse_layout(_layout(kind, valid), PATH)
    result = render_sample(layout, kind)
    assert result.pages >= 1
    assert not [w for w in result.warnings if "could not be printed" in w]


def test_every_kind_has_a_default_layout_that_ships_and_prints_it():
    assert set(DEFAULT_LAYOUTS) == set(KINDS)
    for kind, layout_id in DEFAULT_LAYOUTS.items():
        layout = load_layout(layout_id)
        assert layout.id == layout_id and kind in layout.kinds
        assert render_sample(layout_id, kind).pages >= 1


# each kind's render function and sample data
RENDERS = {
    "badge": (render_badges, sample_badges),
    "kit-label": (render_kit_labels, sample_kit_labels),
    "kit-card": (render_kit_cards, sample_kit_cards),
    "certificate": (render_certificates, sample_certificates),
}


@pytest.mark.parametrize("kind", KINDS)
def test_a_printout_without_a_layout_is_printed_on_its_kinds_default(kind: str):
    assert set(RENDERS) == set(KINDS)
    render, samples = RENDERS[kind]
    default = render(samples(1))
    assert default.pdf == render(samples(1), DEFAULT_LAYOUTS[kind]).pdf
    (page, *_) = read_pdf(default.pdf, decode=False)
    layout = load_layout(DEFAULT_LAYOUTS[kind])
    assert (page.width_mm, page.height_mm) == pytest.approx(
        (layout.page_width, layout.page_height), abs=0.1
    )
