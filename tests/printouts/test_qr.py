"""The package's own QR encoder: the same symbols as the reference encoder, and codes a
scanner reads, drawn as vector rectangles."""

from __future__ import annotations

import io
import random
import string

import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_M, ERROR_CORRECT_Q
from reportlab.pdfgen.canvas import Canvas

from printouts import BadgeData, PrintoutError, render_badges
from printouts.qr import FIXED_MASK, encode_qr, qr_path_operators

from .reading import read_pdf

LEVELS = {"M": ERROR_CORRECT_M, "Q": ERROR_CORRECT_Q, "H": ERROR_CORRECT_H}


def _reference(text: str, level: str) -> tuple[bytes, ...]:
    code = qrcode.QRCode(error_correction=LEVELS[level], border=0, mask_pattern=FIXED_MASK)
    code.add_data(text.encode("utf-8"), optimize=0)
    code.make(fit=True)
    return tuple(bytes(int(v) for v in row) for row in code.get_matrix())


def _urls(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_/é"
    lengths = [1, 10, 25, 40, 58, 80, 120, 200, 320, 500]
    return [
        "https://kit.example.org/" + "".join(rng.choice(alphabet) for _ in range(lengths[i % 10]))
        for i in range(count)
    ]


@pytest.mark.parametrize("level", ["M", "Q", "H"])
def test_symbols_equal_the_reference_encoder_from_version_1_to_over_10(level):
    versions = set()
    for url in _urls(60, seed=len(level) + ord(level)):
        symbol = encode_qr(url, level)
        versions.add(symbol.version)
        assert symbol.rows == _reference(url, level), url
    assert min(versions) <= 4 and max(versions) >= 10  # covers version information too


def test_vector_codes_of_every_size_decode_from_a_printed_page():
    urls = _urls(30, seed=7)
    canvas_buffer = io.BytesIO()
    canvas = Canvas(canvas_buffer, pagesize=(595, 842))
    size_pt = 130.0
    for i, url in enumerate(urls):
        col, row = i % 4, (i // 4) % 6
        if i and i % 24 == 0:
            canvas.showPage()
        operators = qr_path_operators(encode_qr(url), 20 + col * 140, 20 + row * 135, size_pt)
        canvas.addLiteral(operators)
    canvas.save()
    pages = read_pdf(canvas_buffer.getvalue(), dpi=200)
    decoded = [code.text for page in pages for code in page.codes]
    assert sorted(decoded) == sorted(urls)
    assert {code.ec_level for page in pages for code in page.codes} == {"M"}


def test_every_badge_code_decodes_at_the_smallest_module_size():
    # avery-5160 has the smallest QR box (23 mm, about 0.5 mm modules): 120 random tokens
    rng = random.Random(2026)
    alphabet = string.ascii_letters + string.digits + "-_"
    urls = [
        "https://kit.example.org/b/" + "".join(rng.choice(alphabet) for _ in range(32))
        for _ in range(120)
    ]
    badges = [BadgeData(f"Participant {i}", url) for i, url in enumerate(urls)]
    pages = read_pdf(render_badges(badges, "avery-5160").pdf, dpi=200)
    assert sorted(code.text for page in pages for code in page.codes) == sorted(urls)


def test_codes_are_rectangles_in_the_content_stream_not_images():
    operators = qr_path_operators(encode_qr("https://kit.example.org/b/x"), 0, 0, 100)
    assert " re" in operators and "Do" not in operators and "BI" not in operators
    assert operators.startswith("q 1 g")  # quiet zone painted white first


@pytest.mark.parametrize(
    ("text", "level", "message"),
    [
        ("", "M", "non-empty URL"),
        ("https://x.org/" + "a" * 3000, "M", "too long"),
        ("https://x.org", "Z", "L, M, Q, H"),
    ],
)
def test_impossible_codes_are_refused_with_what_to_do(text, level, message):
    with pytest.raises(PrintoutError, match=message):
        encode_qr(text, level)
