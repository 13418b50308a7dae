"""A workbook (.xlsx) has a budget: hostile ones are refused in well under a second, with a
message that says what to do, in the page and the command line; a large sign-up sheet still
imports. The workbooks are made in tests/web/hostile_workbooks.py.

The time bound (5 s) only catches the old behaviour (a comment bomb parsed for hours, a lying
directory inflated to hundreds of megabytes); benchmarks/hostile.py prints the real figures.
The memory bound is tracemalloc's peak: what the reader allocated, zlib's buffers included.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from kitmanager.kits.importing import read_kit_table
from kitmanager.participants.csv_io import CsvError, read_table
from tests.web import hostile_workbooks as hostile
from tests.web.helpers import make_workshop
from tests.web.imports import upload

pytestmark = pytest.mark.timeout(120)

SECONDS = 5
MIB = 1 << 20
SAVE_AGAIN = (
    r"was not saved the way Excel or LibreOffice save one \({part}\), so it is not read\. "
    r"Open it in Excel or LibreOffice, save it again as \.xlsx \(or choose \"Save as\" > "
    r"\"CSV UTF-8\"\) and import that file\."
)
TOO_LARGE = r"too large to import \({size} MB once unpacked\)\. Keep only the sheet"
DAMAGED = r"workbook is damaged and cannot be read\. Open it in Excel, save it again"
NESTED = (
    r"has another file packed inside it \({part}: an embedded object, macros or an "
    r"archive\), so it is not read\. Copy the sheet into a new workbook"
)


def refused_within_budget(
    read: Callable[[bytes], object], data: bytes, message: str, most_mib: float = 16
) -> None:
    """``read(data)`` raises CsvError matching ``message`` in under SECONDS, having allocated
    at most ``most_mib`` MiB at its peak."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(CsvError, match=message):
            read(data)
    finally:
        took = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / MIB
        tracemalloc.stop()
    assert took < SECONDS, f"refused after {took:.1f} s"
    assert peak < most_mib, f"{peak:.0f} MiB allocated before the refusal"


def test_the_comment_bomb_that_held_a_core_for_minutes_is_refused_from_its_directory():
    data = hostile.comment_bomb(250)  # 250 MiB of comment in a 255 KB upload
    assert len(data) < 300 * 1024
    refused_within_budget(read_table, data, TOO_LARGE.format(size=250))
    # The kit import reads workbooks with the same reader.
    refused_within_budget(read_kit_table, data, TOO_LARGE.format(size=250))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: hostile.comment_bomb(24), id="a 24 MiB comment"),
        pytest.param(lambda: hostile.long_tag(24), id="a 24 MiB attribute"),
    ],
)
def test_one_long_xml_token_under_the_size_cap_is_refused_before_it_is_parsed(make):
    """Parsed, each would cost about a minute: expat reads the token again at every 16 KB."""
    refused_within_budget(
        read_table, make(), SAVE_AGAIN.format(part="xl/worksheets/sheet1.xml"), most_mib=64
    )


def test_a_document_type_or_entity_is_refused():
    message = SAVE_AGAIN.format(part="xl/sharedStrings.xml")
    refused_within_budget(read_table, hostile.doctype_workbook(), message)


def test_a_zip_bomb_declared_honestly_is_refused_before_anything_is_decompressed():
    data = hostile.honest_bomb(200)  # one shared text of 200 MiB, in a 205 KB upload
    refused_within_budget(read_table, data, TOO_LARGE.format(size=200), most_mib=1)


def test_a_directory_that_understates_a_size_is_damage_not_a_bomb():
    # [Content_Types].xml declared at its true 0.7 KB, checksum included; its data inflates
    # 256 MiB further. zipfile's read() inflated all of it before cutting to the declared size.
    data = hostile.lying_directory(256)
    refused_within_budget(read_table, data, DAMAGED)


@pytest.mark.parametrize(
    ("part", "content"),
    [
        ("xl/embeddings/Microsoft_Excel_Worksheet.xlsx", None),
        ("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088)),
        ("xl/media/image1.png", b"\x1f\x8b\x08\x00" + bytes(60)),  # gzip, whatever its name
    ],
    ids=["a workbook", "macros (OLE2)", "gzip named .png"],
)
def test_an_archive_inside_the_workbook_is_refused(part: str, content: bytes | None):
    parts = hostile.signup_parts()
    parts[part] = hostile.normal_zip(hostile.signup_parts()) if content is None else content
    refused_within_budget(
        read_table, hostile.normal_zip(parts), NESTED.format(part=part.replace(".", r"\."))
    )


def test_a_workbook_of_thousands_of_parts_is_refused_before_its_directory_is_read():
    message = SAVE_AGAIN.format(part="5006 parts")  # the sign-up sheet's 6, and 5,000 more
    refused_within_budget(read_table, hostile.many_parts(5_000), message)


def test_a_large_sign_up_sheet_still_imports():
    """5,000 people and 30 questions, as Excel saves them: within every cap."""
    table = read_table(hostile.signup_workbook(5_000, 30))
    assert len(table.rows) == 5_000 and len(table.headers) == 30
    assert table.rows[-1].cells[:3] == ["Wanjiru Kamau 5000", "person5000@example.org",
                                        "254712005000"]  # fmt: skip


def test_the_refusal_is_on_the_import_page(trainer, app):
    make_workshop(app)
    response = upload(trainer, hostile.nested_workbook(), "inscriptions.xlsx")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "This workbook has another file packed inside it" in page
    assert "Copy the sheet into a new workbook" in page


def test_the_refusal_is_on_the_command_line(runner, app, tmp_path: Path):
    make_workshop(app)
    path = tmp_path / "inscriptions.xlsx"
    path.write_bytes(hostile.comment_bomb(24))
    started = time.perf_counter()
    result = runner.invoke(args=["participants", "import", "nairobi", str(path)])
    assert time.perf_counter() - started < SECONDS
    assert result.exit_code == 1
    assert "was not saved the way Excel or LibreOffice save one" in result.output
    assert "Traceback" not in result.output
