"""Layouts are data: the shipped ones match the manufacturers' sheets, broken files are
reported by file and field, and a calibration page puts every label where it belongs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from printouts import LayoutError, list_layouts, load_layout, render_badges, render_calibration
from printouts.layout import layout_names

from .reading import inside, read_pdf

IN = 25.4


def _inches(*values: float) -> tuple[float, ...]:
    return tuple(v * IN for v in values)


SHEETS = {
    # id: (page w, h, columns, rows, label w, h, first label left, top, pitch x, pitch y) in mm
    "avery-l7160": (210, 297, 3, 7, 63.5, 38.1, 7.25, 15.15, 66.0, 38.1),
    "avery-l7163": (210, 297, 2, 7, 99.1, 38.1, 4.65, 15.15, 101.6, 38.1),
    "avery-5160": (8.5 * IN, 11 * IN, 3, 10, 2.625 * IN, IN, 0.1875 * IN, 0.5 * IN, 2.75 * IN, IN),
    "avery-5395": (*_inches(8.5, 11), 2, 4, *_inches(3.375, 2.3333, 0.6875, 0.5833, 3.75, 2.5)),
    "a6-badge": (210, 297, 2, 2, 105, 148.5, 0, 0, 105, 148.5),
    "cr80-badge": (210, 297, 2, 5, 85.6, 54, 19.4, 13.5, 85.6, 54),
}
EXPECTED = {
    "avery-l7160", "avery-l7163", "avery-5160", "avery-5395", "a6-badge", "cr80-badge",
    "brother-ql-62", "certificate-a4", "certificate-letter",
}  # fmt: skip


def test_every_promised_layout_ships_and_validates():
    assert set(layout_names()) >= EXPECTED
    kinds = {lay.id: set(lay.kinds) for lay in list_layouts()}
    assert {"badge", "kit-label"} <= kinds["avery-l7160"]
    assert "kit-label" in kinds["brother-ql-62"]
    assert kinds["certificate-a4"] == {"certificate"}
    certificates = [lay.id for lay in list_layouts("certificate")]
    assert certificates == ["certificate-a4", "certificate-letter"]


@pytest.mark.parametrize("name", sorted(SHEETS))
def test_sheet_geometry_matches_the_manufacturer_template(name):
    page_w, page_h, cols, rows, w, h, left, top, pitch_x, pitch_y = SHEETS[name]
    lay = load_layout(name)
    assert (lay.columns, lay.rows) == (cols, rows)
    assert lay.page_width == pytest.approx(page_w, abs=0.01)
    assert lay.page_height == pytest.approx(page_h, abs=0.01)
    assert (lay.label_width, lay.label_height) == pytest.approx((w, h), abs=0.01)
    assert lay.slot_box(1)[:2] == pytest.approx((left, top), abs=0.01)
    second_row = lay.slot_box(cols + 1)
    assert lay.slot_box(2)[0] - lay.slot_box(1)[0] == pytest.approx(pitch_x, abs=0.01)
    assert second_row[1] - lay.slot_box(1)[1] == pytest.approx(pitch_y, abs=0.01)


def test_brother_and_certificates_are_one_per_page():
    brother = load_layout("brother-ql-62")
    assert (brother.page_width, brother.slots_per_page) == (62, 1)
    a4, letter = load_layout("certificate-a4"), load_layout("certificate-letter")
    assert (a4.page_width, a4.page_height) == (297, 210)
    assert (letter.page_width, letter.page_height) == pytest.approx((11 * IN, 8.5 * IN))


@pytest.mark.parametrize("name", sorted(SHEETS))
def test_calibration_page_puts_every_numbered_label_on_the_page(name):
    lay = load_layout(name)
    (page,) = read_pdf(render_calibration(name).pdf, decode=False)
    size = (page.width_mm, page.height_mm)
    assert size == pytest.approx((lay.page_width, lay.page_height), abs=0.1)
    for slot in range(1, lay.slots_per_page + 1):
        x, y, w, h = lay.slot_box(slot)
        assert x >= 0 and y >= 0
        assert x + w <= lay.page_width + 0.01 and y + h <= lay.page_height + 0.01
        assert page.chars_in((x, y, w, h)) == str(slot)
        number_boxes = [c.box_mm for c in page.chars if c.ch in str(slot)]
        assert any(inside(b, (x, y, w, h), tolerance=0) for b in number_boxes)


def test_unknown_layout_lists_the_valid_ones():
    with pytest.raises(LayoutError) as caught:
        load_layout("avery-l7161")
    message = str(caught.value)
    assert "avery-l7161" in message
    assert all(name in message for name in EXPECTED)


def _write_layout(tmp_path: Path, change) -> Path:
    data = json.loads(_shipped_text("avery-l7160"))
    change(data)
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _shipped_text(name: str) -> str:
    import printouts

    return (Path(printouts.__file__).parent / "layouts" / f"{name}.json").read_text("utf-8")


def test_a_custom_layout_file_is_loaded_by_path_and_prints(tmp_path):
    def smaller_margin(data):
        data["id"] = "my-sheet"
        data["grid"]["margin_top"] = 10

    path = _write_layout(tmp_path, smaller_margin)
    lay = load_layout(path)
    assert lay.id == "my-sheet" and lay.slot_box(1)[1] == 10
    from printouts import BadgeData

    result = render_badges([BadgeData("Wanjiru Kamau", "https://kit.example.org/b/1")], path)
    assert "Wanjiru Kamau" in read_pdf(result.pdf, decode=False)[0].text


def _replace_field_by_text(element: dict, text: str) -> None:
    del element["field"]
    element["text"] = text


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (lambda d: d["grid"].pop("label_width") and d["grid"].update(label_width="wide"),
         "grid.label_width", "must be a number"),
        (lambda d: d["elements"]["badge"][2].update(size=8), "elements.badge[2].size",
         "at least 11.6"),
        (lambda d: d["elements"]["badge"][3].update(x=60), "elements.badge[3]", "outside the"),
        (lambda d: d["elements"]["badge"][3].update(field="shoe_size"),
         "elements.badge[3].field", "must be one of"),
        (lambda d: d["elements"]["badge"][3].update(align="justify"),
         "elements.badge[3].align", "left, center, right"),
        (lambda d: d["elements"]["badge"][0].update(type="sticker"), "elements.badge[0].type",
         "must be one of"),
        (lambda d: d["grid"].update(rows=8), "grid", "beyond the 210 x 297 mm page"),
        (lambda d: d.update(kinds=["poster"]), "kinds", "badge, kit-label, kit-card, certificate"),
        (lambda d: d["elements"]["badge"][1].update(colours={"speaker": "#ff0000"}),
         "elements.badge[1].colours.speaker", "is not a role"),
        (lambda d: _replace_field_by_text(d["elements"]["badge"][4], "{organisation"),
         "elements.badge[4].text", "is not a valid template"),
        (lambda d: d["elements"]["badge"][3].update(min_szie=6),
         "elements.badge[3].min_szie", "is not a setting of a text element; use align"),
        (lambda d: d["grid"].update(gap=2), "grid.gap", "is not a setting of the grid"),
    ],
)  # fmt: skip
def test_a_broken_layout_file_is_reported_by_file_and_field(tmp_path, change, field, problem):
    path = _write_layout(tmp_path, change)
    with pytest.raises(LayoutError) as caught:
        load_layout(path)
    message = str(caught.value)
    assert str(path) in message and f"'{field}'" in message and problem in message
    assert message.endswith("fix the file")


def test_a_file_that_is_not_json_is_reported_with_its_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"id": "x",\n "kinds": [badge]}', encoding="utf-8")
    with pytest.raises(LayoutError, match=r"broken\.json is not valid JSON \(line 2"):
        load_layout(path)


def test_a_missing_layout_file_is_reported(tmp_path):
    with pytest.raises(LayoutError, match="cannot be read"):
        load_layout(tmp_path / "absent.json")


def test_a_line_element_goes_from_its_first_point_to_its_second(tmp_path):
    from printouts import KitLabelData, render_kit_labels

    data = json.loads(_shipped_text("brother-ql-62"))
    data["id"] = "diagonal"
    data["elements"]["kit-label"].append(
        {"type": "line", "x1": 5, "y1": 95, "x2": 55, "y2": 70, "thickness": 1}
    )
    path = tmp_path / "diagonal.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    kit = KitLabelData("KIT-1", "https://k.org/k/1")
    (page,) = read_pdf(render_kit_labels([kit], path).pdf, dpi=100)
    assert page.pixel(6, 94.5) < (100, 100, 100)  # near (x1, y1)
    assert page.pixel(54, 70.5) < (100, 100, 100)  # near (x2, y2)
    assert page.pixel(6, 70.5) > (200, 200, 200)  # the other diagonal stays blank
