"""Badge sheets as a trainer sees them: every QR scans to its participant's URL, every name
is there in its own script, long names stay inside their box, options do what they say."""

from __future__ import annotations

import io
import re
import unicodedata

import pytest
from PIL import Image

from printouts import (
    ROLE_COLOURS,
    BadgeData,
    ImageError,
    LayoutError,
    PrintoutError,
    load_layout,
    render_badges,
)

from .conftest import UNICODE_NAMES
from .reading import all_codes, inside, mapped_characters, read_pdf

BADGE_LAYOUTS = ["avery-l7160", "avery-l7163", "avery-5160", "avery-5395", "a6-badge",
                 "cr80-badge", "brother-ql-62"]  # fmt: skip


def _element_box(layout_id: str, slot: int, field: str) -> tuple[float, float, float, float]:
    lay = load_layout(layout_id)
    x, y, _, _ = lay.slot_box(slot)
    (el,) = [e for e in lay.elements["badge"] if getattr(e, "field", None) == field]
    return (x + el.x, y + el.y, el.width, el.height)


@pytest.mark.parametrize("layout", BADGE_LAYOUTS)
def test_every_code_scans_and_every_name_is_printed(layout, unicode_badges):
    result = render_badges(unicode_badges, layout)
    pages = read_pdf(result.pdf, dpi=150 if layout != "brother-ql-62" else 200)
    assert sorted(all_codes(pages)) == sorted(b.url for b in unicode_badges)
    text = " ".join(p.flat_text for p in pages)
    for badge in unicode_badges:
        assert unicodedata.normalize("NFC", badge.name) in text
    assert result.warnings == []
    assert b"/Subtype /Image" not in result.pdf  # codes are vector paths, not pictures
    fonts = re.findall(rb"/BaseFont /([\w+-]+)", result.pdf)
    assert fonts and all(b"+DejaVuSans" in f for f in fonts)  # only embedded subsets
    assert result.pdf.count(b"/FontFile2") == len(fonts)


def test_names_stay_inside_their_box_and_codes_sit_in_their_slot(unicode_badges):
    lay = load_layout("avery-l7160")
    (page,) = read_pdf(render_badges(unicode_badges, lay).pdf, dpi=150)
    for slot, badge in enumerate(unicode_badges, start=1):
        box = _element_box(lay.id, slot, "name")
        name_chars = [c for c in page.chars if inside(c.box_mm, box, tolerance=0.2)]
        assert unicodedata.normalize("NFC", "".join(c.ch for c in name_chars)).replace(
            " ", ""
        ) == unicodedata.normalize("NFC", badge.name).replace(" ", "")
        x, y, w, h = lay.slot_box(slot)
        (code,) = [c for c in page.codes if c.text == badge.url]
        assert x < code.centre_mm[0] < x + w and y < code.centre_mm[1] < y + h
        assert code.ec_level in {"M", "Q", "H"}


def _line_count(chars) -> int:
    """Lines of text: distinct baselines."""
    return len({round(c.baseline_mm, 1) for c in chars})


@pytest.mark.parametrize(
    "name",
    [
        "Maximilian Alexander Rivera-Washington de la Cruz Oyelaran",
        "Oluwadamilarẹ Adébáyọ̀-Ọlápọ̀ Ogunleye Babátúndé",
        "Supercalifragilisticexpialidociousandevenlongername",
    ],
)
def test_long_names_shrink_then_wrap_and_never_leave_their_box(name):
    badge = BadgeData(name=name, url="https://kit.example.org/b/long")
    result = render_badges([badge], "avery-l7160")
    (page,) = read_pdf(result.pdf, decode=False)
    x, y, w, h = _element_box("avery-l7160", 1, "name")
    drawn = page.chars[len("PARTICIPANT") :]  # the role band is drawn before the name
    shown = "".join(c.ch for c in drawn).replace("\ufffe", "-")  # pdfium marks a line-end hyphen
    assert shown == unicodedata.normalize("NFC", name).replace(" ", "")
    assert all(inside(c.box_mm, (x, y, w, h), tolerance=0.3) for c in drawn)
    assert _line_count(drawn) == (2 if " " in name else 1)
    # even two lines at the minimum size are not enough here: made smaller, user told
    assert any("too long for its box" in w and "shorten it" in w for w in result.warnings)


def _name_chars(name: str, layout: str = "avery-l7160"):
    (page,) = read_pdf(render_badges([BadgeData(name, "https://k.org/b/1")], layout).pdf,
                       decode=False)  # fmt: skip
    return page.chars[len("PARTICIPANT") :]


def test_a_name_too_long_for_one_line_at_the_minimum_size_wraps_to_two():
    assert _line_count(_name_chars("Nguyễn Thị Hồng Nhung")) == 2


def test_a_name_that_fits_at_the_minimum_size_is_shrunk_but_stays_on_one_line():
    short = _name_chars("Ann")
    name = _name_chars("Wanjiru Kamau")
    assert _line_count(name) == 1
    height = max(c.box_mm[3] - c.box_mm[1] for c in name if c.ch == "W")
    assert height < 0.95 * max(c.box_mm[3] - c.box_mm[1] for c in short if c.ch == "A")


def test_arabic_names_are_shaped_and_run_right_to_left():
    name = UNICODE_NAMES["arabic"]
    result = render_badges([BadgeData(name, "https://k.org/b/ar")], "avery-l7163")
    (page,) = read_pdf(result.pdf, decode=False)
    assert name in page.text
    glyphs = mapped_characters(result.pdf)
    # initial and medial forms of meem and the final form of dal: joined letters, not isolated
    assert {"\ufee3", "\ufee4", "\ufeaa"} <= glyphs
    first_letter = next(c for c in page.chars if c.ch == name[0])
    last_letter = [c for c in page.chars if c.ch == name[-1]][-1]
    assert first_letter.box_mm[0] > last_letter.box_mm[0]  # first letter is rightmost


def test_left_aligned_arabic_starts_at_the_right_of_its_box():
    name = UNICODE_NAMES["arabic"]
    (page,) = read_pdf(render_badges([BadgeData(name, "https://k.org/b/ar")], "cr80-badge").pdf,
                       decode=False)  # fmt: skip
    x, _, w, _ = _element_box("cr80-badge", 1, "name")
    letters = [c for c in page.chars if c.ch in name and c.ch != " "]
    assert x + w - 1.0 < max(c.box_mm[2] for c in letters) <= x + w + 0.3
    assert min(c.box_mm[0] for c in letters) > x + 5


def test_a_character_the_font_lacks_is_named_in_a_warning():
    badge = BadgeData("李小龍", "https://k.org/b/zh", organisation="Nairobi Makers")
    result = render_badges([badge])
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    for ch in "李小龍":
        assert f"'{ch}' (U+{ord(ch):04X})" in warning
    assert "badge 1" in warning and "empty boxes" in warning
    good = BadgeData("李小龍", "https://k.org/b/zh", badge_name="Li Xiaolong")
    assert render_badges([good]).warnings == []


def test_badge_name_is_printed_instead_of_the_full_name():
    badge = BadgeData("Adébáyọ̀ Oluwaseun Ọlápọ̀", "https://k.org/b/1", badge_name="Seun")
    (page,) = read_pdf(render_badges([badge]).pdf, decode=False)
    assert "Seun" in page.text and "Oluwaseun" not in page.text


def test_start_slot_fills_a_partly_used_sheet(unicode_badges):
    lay = load_layout("avery-l7160")
    result = render_badges(unicode_badges, lay, start_slot=19)
    pages = read_pdf(result.pdf, dpi=150)
    assert len(pages) == 2 and result.pages == 2
    first = pages[0]
    for slot in range(1, 19):
        assert first.chars_in(lay.slot_box(slot)) == ""
    assert unicode_badges[0].url in [c.text for c in first.codes]
    assert {c.text for c in pages[1].codes} == {b.url for b in unicode_badges[3:]}
    x, y, w, h = lay.slot_box(19)
    (code,) = [c for c in first.codes if c.text == unicode_badges[0].url]
    assert x < code.centre_mm[0] < x + w and y < code.centre_mm[1] < y + h
    with pytest.raises(PrintoutError, match="use 1 to 21"):
        render_badges(unicode_badges, lay, start_slot=22)


def _dark_pixels(page, x_mm, y_mm, size_mm=1.0) -> int:
    scale = page.dpi / 25.4
    crop = page.image.crop(
        (int(x_mm * scale), int(y_mm * scale), int((x_mm + size_mm) * scale),
         int((y_mm + size_mm) * scale))
    ).convert("L")  # fmt: skip
    return sum(1 for v in crop.tobytes() if v < 128)


def test_cut_marks_follow_the_layout_and_can_be_switched(unicode_badges):
    lay = load_layout("cr80-badge")
    x_cut = lay.slot_box(2)[0]  # the vertical cut between the two columns
    mark = (x_cut - 0.5, lay.margin_top - 4)  # in the top margin, on the cut line
    with_marks = read_pdf(render_badges(unicode_badges, lay).pdf, dpi=200)[0]
    without = read_pdf(render_badges(unicode_badges, lay, cut_marks=False).pdf, dpi=200)[0]
    assert _dark_pixels(with_marks, *mark) > 0
    assert _dark_pixels(without, *mark) == 0
    l7160 = load_layout("avery-l7160")
    forced = read_pdf(render_badges(unicode_badges, l7160, cut_marks=True).pdf, dpi=200)[0]
    assert _dark_pixels(forced, l7160.slot_box(2)[0] - 0.5, l7160.margin_top - 4) > 0


def _image_bytes(colour, fmt) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 60), colour).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_logo_and_background_images_are_printed(fmt, tmp_path):
    logo = _image_bytes((0, 160, 0), fmt)
    background_path = tmp_path / f"background.{fmt.lower()}"
    background_path.write_bytes(_image_bytes((255, 220, 0), fmt))
    badge = BadgeData("Wanjiru Kamau", "https://k.org/b/1", organisation="Nairobi")
    result = render_badges([badge] * 3, "avery-5395", logo=logo, background=background_path)
    (page,) = read_pdf(result.pdf, dpi=100)
    x, y, w, h = _element_box("avery-5395", 1, "logo")
    r, g, b = page.pixel(x + w / 2, y + h / 2)
    assert g > 120 and r < 60 and b < 60  # green logo
    slot_x, slot_y, slot_w, _ = load_layout("avery-5395").slot_box(1)
    r, g, b = page.pixel(slot_x + slot_w - 1.5, slot_y + 20)  # right edge, beside the band
    assert r > 200 and g > 180 and b < 80  # yellow background
    assert sorted(all_codes([page])) == ["https://k.org/b/1"] * 3  # quiet zone kept white
    assert result.pdf.count(b"/Subtype /Image") == 2  # each image embedded once


def test_a_huge_photo_background_is_scaled_down_before_embedding():
    photo = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    out = io.BytesIO()
    photo.save(out, format="JPEG")
    badge = BadgeData("Wanjiru Kamau", "https://k.org/b/1")
    result = render_badges([badge], "a6-badge", background=out.getvalue())
    sizes = re.findall(rb"/Height (\d+)[^>]*/Width (\d+)", result.pdf)
    assert sizes == [(b"1500", b"2000")]
    assert all_codes(read_pdf(result.pdf, dpi=100)) == ["https://k.org/b/1"]


def test_a_logo_the_layout_cannot_show_is_reported():
    badge = BadgeData("Wanjiru Kamau", "https://k.org/b/1")
    result = render_badges([badge], "avery-l7160", logo=_image_bytes((0, 160, 0), "PNG"))
    assert result.warnings == [
        "layout avery-l7160 has no place for a logo image on a badge, so it is left out; "
        "choose a layout that shows one"
    ]


def test_an_unreadable_image_is_named_in_the_error(tmp_path):
    badge = BadgeData("Wanjiru Kamau", "https://k.org/b/1")
    broken = tmp_path / "logo.png"
    broken.write_bytes(b"not a png at all")
    with pytest.raises(ImageError, match=r"logo image .*logo\.png is not a readable PNG or JPEG"):
        render_badges([badge], "avery-5395", logo=broken)
    with pytest.raises(ImageError, match=r"background image .*missing\.jpg cannot be read"):
        render_badges([badge], "avery-5395", background=tmp_path / "missing.jpg")


@pytest.mark.parametrize("role", sorted(ROLE_COLOURS))
def test_the_role_band_has_the_role_colour_and_name(role):
    badge = BadgeData("Wanjiru Kamau", "https://k.org/b/1", role=role)
    (page,) = read_pdf(render_badges([badge], "a6-badge").pdf, dpi=72)
    x, y, _, h = _element_box("a6-badge", 1, "role")
    expected = tuple(int(ROLE_COLOURS[role][i : i + 2], 16) for i in (1, 3, 5))
    assert all(abs(a - b) <= 3 for a, b in zip(page.pixel(x + 2, y + h / 2), expected, strict=True))
    assert role.upper() in page.text


def test_bad_input_gets_one_line_errors_that_say_what_to_do():
    with pytest.raises(PrintoutError, match="role 'speaker' is unknown; use one of participant"):
        render_badges([BadgeData("A", "https://k.org/b/1", role="speaker")])
    with pytest.raises(PrintoutError, match="prints certificate, not badges; use one of: a6-badge"):
        render_badges([BadgeData("A", "https://k.org/b/1")], "certificate-a4")
    with pytest.raises(LayoutError, match="unknown layout 'avery-9999'; use one of"):
        render_badges([BadgeData("A", "https://k.org/b/1")], "avery-9999")
    with pytest.raises(PrintoutError, match="nothing to print"):
        render_badges([])
    with pytest.raises(PrintoutError, match="QR code is empty"):
        render_badges([BadgeData("A", "")])
    with pytest.raises(PrintoutError, match="badge 1 has no name; give it a name or a badge_name"):
        render_badges([BadgeData(" ", "https://k.org/b/1")])
    with pytest.raises(PrintoutError, match="badge 1 is a dict, not a BadgeData"):
        render_badges([{"name": "A"}])


def test_a_url_too_long_for_the_qr_box_is_refused_with_the_sizes():
    badge = BadgeData("A", "https://kit.example.org/b/" + "x" * 400)
    with pytest.raises(LayoutError) as caught:
        render_badges([badge], "avery-5160")
    message = str(caught.value)
    assert "avery-5160 gives it 23 mm" in message and "shorten the URL" in message


def test_reportlab_settings_are_left_as_found():
    from reportlab import rl_config

    before = rl_config.useA85
    render_badges([BadgeData("A", "https://k.org/b/1")])
    assert rl_config.useA85 == before
