"""Kit contents cards: an A6 card per kit with its code, type, the QR of its label and every
component with a box to tick, consumables marked, in English and French."""

from __future__ import annotations

import pytest

from printouts import (
    KitCardData,
    KitCardLine,
    PrintoutError,
    list_layouts,
    load_layout,
    render_kit_cards,
)

from .reading import all_codes, read_pdf

BOM = [
    KitCardLine("Arduino Nano"),
    KitCardLine("HC-SR04 ultrasonic sensor"),
    KitCardLine("DC motor", 2),
    KitCardLine("Jumper wires", 20, must_return=False),
]


def _cards(count: int, components=BOM) -> list[KitCardData]:
    return [
        KitCardData(
            code=f"KIT-{i:03d}",
            url=f"http://192.168.1.10:5000/k/token-{i:03d}-Zq81x",
            kit_type="Line-follower kit v2",
            components=components,
        )
        for i in range(1, count + 1)
    ]


def test_each_card_scans_to_its_kit_and_lists_every_component_in_its_slot():
    cards = _cards(5)
    result = render_kit_cards(cards)
    assert result.warnings == []
    pages = read_pdf(result.pdf, dpi=150)
    assert len(pages) == 2  # four A6 cards on an A4 sheet
    assert sorted(all_codes(pages)) == sorted(card.url for card in cards)
    layout = load_layout("a6-kit-card")
    for index, card in enumerate(cards):
        page = pages[index // 4]
        slot = page.chars_in(layout.slot_box(index % 4 + 1))  # without spaces
        assert card.code in slot
        assert "Line-followerkitv2" in slot
        for line in BOM:
            assert f"{line.quantity}×{line.name}".replace(" ", "") in slot
        assert slot.count("(consumable)") == 1
        # the QR of a card sits in its own slot
        x, y, w, h = layout.slot_box(index % 4 + 1)
        (code,) = [
            c for c in page.codes if x <= c.centre_mm[0] <= x + w and y <= c.centre_mm[1] <= y + h
        ]
        assert code.text == card.url


def test_every_component_has_an_empty_box_to_tick():
    (page,) = read_pdf(render_kit_cards(_cards(1)).pdf, dpi=200)
    layout = load_layout("a6-kit-card")
    for line in BOM:
        first = next(
            c
            for c in page.chars
            if c.ch == line.name[0] and c.box_mm[0] < layout.label_width and c.box_mm[1] > 40
        )
        # left of the quantity: a dark outline with white inside
        row_y = (first.box_mm[1] + first.box_mm[3]) / 2
        inks = [page.pixel(x / 10, row_y) for x in range(70, 100)]
        assert any(sum(px) < 200 for px in inks), f"no box outline before {line.name}"
        assert any(sum(px) > 700 for px in inks)


def test_cards_speak_french():
    result = render_kit_cards(_cards(1), language="fr")
    (page,) = read_pdf(result.pdf, decode=False)
    assert "cochez" in page.flat_text and "(consommable)" in page.flat_text
    assert "Tout doit être rendu" in page.flat_text


def test_a_long_bill_of_materials_takes_a_smaller_font_then_two_columns():
    parts = [KitCardLine(f"Part {i}", i % 3 + 1) for i in range(1, 41)]
    result = render_kit_cards(_cards(1, parts))
    assert result.warnings == []
    (page,) = read_pdf(result.pdf, decode=False)
    for i in range(1, 41):
        assert f"Part {i}\r" in page.text or page.text.rstrip().endswith(f"Part {i}")
    card_left = {c.box_mm[0] for c in page.chars if c.ch == "P" and c.box_mm[1] > 45}
    assert max(card_left) - min(card_left) > 30  # a second column


def test_a_list_too_long_for_the_card_is_summed_up_and_warned_in_the_users_language():
    parts = [KitCardLine(f"Spare part number {i}") for i in range(1, 121)]
    result = render_kit_cards(_cards(1, parts), language="fr")
    (page,) = read_pdf(result.pdf, decode=False)
    assert "autres" in page.flat_text and "Spare part number 120" not in page.flat_text
    assert any("ne tiennent pas sur la fiche" in w for w in result.warnings)


def test_the_card_layout_is_listed_for_its_kind_and_bad_input_is_refused():
    assert [lay.id for lay in list_layouts("kit-card")] == ["a6-kit-card"]
    with pytest.raises(PrintoutError, match="KitCardLine"):
        render_kit_cards([KitCardData("KIT-1", "http://x/k/a", components=["LED"])])
    with pytest.raises(PrintoutError, match="not kit-cards"):
        render_kit_cards(_cards(1), "avery-l7160")


def test_a_name_the_font_cannot_draw_says_to_respell_the_kit_in_french_too():
    cards = [
        KitCardData(
            code="KIT-001",
            url="http://192.168.1.10:5000/k/token-001-Zq81x",
            kit_type="🤖 Kit robot",
            components=[KitCardLine("🔋 pile", 4, must_return=False)],
        )
    ]
    glyphs = [w for w in render_kit_cards(cards, language="fr").warnings if "U+1F" in w]
    assert len(glyphs) == 2, glyphs
    for warning in glyphs:
        assert "donnez donc au type de kit ou au composant une orthographe" in warning, warning
        assert "badge_name" not in warning
