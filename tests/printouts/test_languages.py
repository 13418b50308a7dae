"""Printouts in the workshop's language, warnings that collapse, names that never stop a sheet."""

from __future__ import annotations

import re

import pytest

import printouts.render
from printouts import (
    LANGUAGES,
    ROLE_COLOURS,
    BadgeData,
    KitLabelData,
    list_layouts,
    render_badges,
    render_kit_labels,
)
from printouts.messages import MESSAGES
from printouts.text import normalise
from tests.printouts.reading import all_codes, read_pdf

LONG_TITLE = "Défi Intelligence Artificielle et Robotique des Jeunes de Côte d'Ivoire 2026"
# An invisible "right-to-left isolate" pasted with a name: python-bidi refuses it inside
# Arabic text, which once stopped every badge layout of the workshop.
BIDI_NAMES = ["Amina\u2067 Yusuf", "أمينة\u2067 يوسف", "\u202eYao Kouassi", "Aya\u200f Koné"]


def test_every_message_and_layout_title_exists_in_every_language():
    assert {"en", "fr"} <= set(LANGUAGES)
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), key
        fields = {frozenset(re.findall(r"{(\w+)}", text)) for text in texts.values()}
        assert len(fields) == 1, f"{key}: placeholders differ between languages"
    for role in ROLE_COLOURS:
        assert f"role.{role}" in MESSAGES
    for layout in list_layouts():
        for language in LANGUAGES:
            title = layout.title_in(language)
            assert title and (language == "en" or title != layout.title), (layout.id, language)


@pytest.mark.parametrize(
    ("language", "bands"),
    [
        ("en", ["PARTICIPANT", "TRAINER", "MENTOR", "GUEST"]),
        ("fr", ["PARTICIPANT", "FORMATEUR", "MENTOR", "INVITÉ"]),
    ],
)
def test_role_bands_are_printed_in_the_workshop_language(language, bands):
    roles = list(ROLE_COLOURS)
    badges = [
        BadgeData(f"Person {i}", f"https://k.org/b/{role}", role=role)
        for i, role in enumerate(roles)
    ]
    pages = read_pdf(render_badges(badges, "avery-l7163", language=language).pdf)
    text = pages[0].flat_text
    for band in bands:
        assert band in text
    assert sorted(all_codes(pages)) == sorted(f"https://k.org/b/{role}" for role in roles)
    if language == "fr":
        assert "TRAINER" not in text and "GUEST" not in text


def test_identical_warnings_collapse_into_one_line_with_a_count_and_the_fix():
    badges = [
        BadgeData(f"Participant {i}", f"https://k.org/b/{i}", workshop=LONG_TITLE)
        for i in range(37)
    ]
    english = render_badges(badges, "avery-l7160").warnings
    assert english == [
        "37 badges: the workshop title is too long for the badge; give the workshop a short "
        "name for badges"
    ]
    french = render_badges(badges, "avery-l7160", language="fr").warnings
    assert french == [
        "37 badges : le titre de l'atelier est trop long pour le badge ; donnez à l'atelier un "
        "nom court pour les badges"
    ]
    # A short title: no warning at all.
    short = [BadgeData(b.name, b.url, workshop="Défi IA 2026") for b in badges]
    assert render_badges(short, "avery-l7160").warnings == []


def test_warnings_about_one_person_still_name_that_person_in_french():
    badges = [
        BadgeData("李小龍", "https://k.org/b/zh"),
        BadgeData("Aya Koné", "https://k.org/b/aya"),
    ]
    [warning] = render_badges(badges, language="fr").warnings
    assert warning.startswith("badge 1 (李小龍) : la police n'a pas de glyphe pour '李' (U+674E)")


def test_kit_label_warnings_speak_french_too():
    label = KitLabelData(
        "KIT-017", "https://k.org/k/17", components=[f"part {i}" for i in range(40)]
    )
    [warning] = render_kit_labels([label], "avery-l7160", language="fr").warnings
    assert warning.startswith("étiquette de kit 1 (KIT-017) : ")
    assert "« + N autres »" in warning


@pytest.mark.parametrize("layout", [lay.id for lay in list_layouts("badge")])
def test_direction_controls_in_names_never_stop_a_sheet(layout):
    badges = [BadgeData(name, f"https://k.org/b/{i}") for i, name in enumerate(BIDI_NAMES)]
    badges.append(BadgeData("Wanjiru Mwangi", "https://k.org/b/plain"))
    result = render_badges(badges, layout)
    pages = read_pdf(result.pdf, dpi=200)
    assert sorted(all_codes(pages)) == sorted(b.url for b in badges)
    text = "".join(page.flat_text for page in pages)
    assert "Amina Yusuf" in text and "Wanjiru Mwangi" in text
    assert not re.search("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", text)
    # Each person whose name carried them is named in one warning that says what happened.
    for index, name in enumerate(BIDI_NAMES, start=1):
        [warning] = [w for w in result.warnings if w.startswith(f"badge {index} (")]
        assert f"badge {index} ({normalise(name)}): invisible direction" in warning


def test_a_name_a_library_cannot_draw_is_left_off_with_a_warning_and_the_sheet_prints(
    monkeypatch,
):
    """Whatever a font or shaping library throws for one name, the other badges print and
    that badge keeps its QR code; the warning names the person."""
    real_fit_text = printouts.render.fit_text

    def fussy_fit_text(text, *args, **kwargs):
        if "Kofi" in text:
            raise AssertionError("a library refused this text")
        return real_fit_text(text, *args, **kwargs)

    monkeypatch.setattr(printouts.render, "fit_text", fussy_fit_text)
    badges = [
        BadgeData("Aya Koné", "https://k.org/b/aya"),
        BadgeData("Kofi Mensah", "https://k.org/b/kofi"),
    ]
    result = render_badges(badges, "avery-l7160")
    pages = read_pdf(result.pdf)
    assert sorted(all_codes(pages)) == ["https://k.org/b/aya", "https://k.org/b/kofi"]
    assert "Aya Koné" in pages[0].flat_text and "Kofi" not in pages[0].flat_text
    assert result.warnings == [
        "badge 2 (Kofi Mensah): its name could not be printed as written (AssertionError), so "
        "it is left off; check how it is spelled"
    ]


def test_the_printouts_command_line_writes_french_samples(tmp_path):
    from printouts.cli import main

    out = tmp_path / "badges-fr.pdf"
    assert main(["sample", "avery-l7160", "--language", "fr", "-o", str(out)]) == 0
    text = read_pdf(out.read_bytes(), decode=False)[0].text
    assert "FORMATEUR" in text and "TRAINER" not in text
