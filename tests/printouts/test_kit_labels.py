"""Kit labels: the code, the kit type and the parts list are printed and the QR opens the
label URL, on label sheets and on the Brother 62 mm roll."""

from __future__ import annotations

import pytest

from printouts import KitLabelData, PrintoutError, load_layout, render_kit_labels

from .reading import all_codes, read_pdf

PARTS = ["Arduino Uno R3", "USB cable A-B", "HC-SR04 ultrasonic sensor", "2 × DC motor"]


def _kits(count: int, parts=PARTS) -> list[KitLabelData]:
    return [
        KitLabelData(
            code=f"KIT-{i:03d}",
            url=f"https://kit.example.org/k/KIT-{i:03d}-Zq81",
            kit_type="Line-follower robot kit",
            components=parts,
        )
        for i in range(1, count + 1)
    ]


@pytest.mark.parametrize("layout", ["avery-l7160", "avery-l7163", "avery-5160", "brother-ql-62"])
def test_every_label_scans_and_shows_its_code_type_and_parts(layout):
    kits = _kits(4)
    result = render_kit_labels(kits, layout)
    pages = read_pdf(result.pdf, dpi=150 if layout != "brother-ql-62" else 200)
    assert sorted(all_codes(pages)) == sorted(k.url for k in kits)
    text = " ".join(p.flat_text for p in pages)
    for kit in kits:
        assert kit.code in text
    assert "Line-follower robot kit" in text
    for part in PARTS:
        assert part in text
    assert result.warnings == []
    lay = load_layout(layout)
    assert len(pages) == (4 if lay.slots_per_page == 1 else 1)


def test_a_label_sheet_places_each_kit_in_its_slot():
    lay = load_layout("avery-l7163")
    pages = read_pdf(render_kit_labels(_kits(5), lay).pdf, dpi=150)
    for slot in range(1, 6):
        assert f"KIT-{slot:03d}" in pages[0].chars_in(lay.slot_box(slot))


def test_too_many_parts_are_summed_up_and_reported():
    parts = [f"Part number {i}" for i in range(1, 31)]
    result = render_kit_labels(_kits(1, parts), "avery-l7160")
    (page,) = read_pdf(result.pdf, decode=False)
    assert "Part number 1 " in page.flat_text + " "
    assert "more" in page.flat_text and "Part number 30" not in page.flat_text
    assert any("do not fit on the label" in w for w in result.warnings)
    lay = load_layout("avery-l7160")
    _, y, _, h = lay.slot_box(1)
    parts_chars = [c for c in page.chars if c.box_mm[1] > y + 16]
    assert all(c.box_mm[3] <= y + h + 0.3 for c in parts_chars)


def test_a_label_without_parts_or_type_prints_code_and_qr_only():
    kit = KitLabelData(code="KIT-900", url="https://kit.example.org/k/KIT-900")
    (page,) = read_pdf(render_kit_labels([kit], "brother-ql-62").pdf, dpi=200)
    assert page.flat_text.strip() == "KIT-900"
    assert all_codes([page]) == [kit.url]


def test_parts_in_two_columns_do_not_touch():
    lay = load_layout("avery-l7163")
    widest_first = ["HC-SR04 ultrasonic distance sensor", "USB cable", "Motor", "Wheel"]
    (page,) = read_pdf(render_kit_labels(_kits(1, widest_first), lay).pdf, decode=False)
    (parts,) = [e for e in lay.elements["kit-label"] if e.type == "list"]
    x, y, _, _ = lay.slot_box(1)
    middle = x + parts.x + parts.width / 2
    bullets = [c for c in page.chars if c.ch == "•"]
    right_column = min(c.box_mm[0] for c in bullets if c.box_mm[0] > middle - 2)
    left_column_chars = [c for c in page.chars if c.box_mm[1] > y + parts.y - 0.5
                         and c.box_mm[0] < right_column - 0.1]  # fmt: skip
    assert max(c.box_mm[2] for c in left_column_chars) < right_column - 1.5


def test_labels_without_a_code_or_with_parts_as_one_string_are_refused():
    with pytest.raises(PrintoutError, match="kit label 1 has no code; give it one such as KIT-017"):
        render_kit_labels([KitLabelData(code=" ", url="https://k.org/k/1")])
    with pytest.raises(PrintoutError, match="components is one string; give a list"):
        render_kit_labels([KitLabelData("KIT-1", "https://k.org/k/1", components="motor, wheel")])


def test_a_very_long_part_name_is_shrunk_inside_the_label_and_reported():
    parts = ["Ultrasonic distance sensor HC-SR04 with mounting bracket and four screws"]
    result = render_kit_labels(_kits(1, parts), "avery-l7160")
    (page,) = read_pdf(result.pdf, decode=False)
    lay = load_layout("avery-l7160")
    x, _, w, _ = lay.slot_box(1)
    assert "mounting bracket" in page.flat_text
    assert all(c.box_mm[2] <= x + w + 0.3 for c in page.chars)
    assert any("component name is too long" in w for w in result.warnings)


def test_a_name_the_font_cannot_draw_says_to_respell_the_kit_not_a_badge_name():
    kits = [
        KitLabelData(
            code="KIT-001",
            url="https://kit.example.org/k/KIT-001-Zq81",
            kit_type="🤖 Robot kit",
            components=["🔋 battery"],
        )
    ]
    glyphs = [w for w in render_kit_labels(kits, "avery-l7160").warnings if "U+1F" in w]
    assert len(glyphs) == 2, glyphs
    for warning in glyphs:
        assert "spell the kit type or component in Latin script" in warning, warning
        assert "badge_name" not in warning
