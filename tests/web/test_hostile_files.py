"""Files shaped to exhaust the server are refused while they are read, with a clear message.

A million columns used to take 150 s and 4.9 GB for the review page; 20,000 repeated headers
35 s. The timings are in benchmarks/import_csv.py; here a generous timeout only stops a
regression from hanging the suite.
"""

from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pytest

from kitmanager.participants.csv_io import MAX_COLUMNS, CsvError, read_table
from kitmanager.participants.xlsx_io import read_workbook
from tests.web.helpers import make_workshop
from tests.web.imports import upload, workbook_bytes

pytestmark = pytest.mark.timeout(60)

TOO_WIDE = (
    r"Line 1 has {columns} columns; a participant list can have at most 500\. Check this is "
    r"the sign-up list, delete the columns you do not need and import again\."
)


def million_columns() -> bytes:
    header = ",".join(f"Question {i}" for i in range(1_000_000))
    return f"{header}\n{',' * 999_999}x\n".encode()


def repeated_headers(count: int = 20_000) -> bytes:
    return (",".join(["Email"] * count) + "\n" + ",".join(["a@example.org"] * count)).encode()


def test_a_million_columns_are_refused_with_the_count():
    with pytest.raises(CsvError, match=TOO_WIDE.format(columns="1,000,000")):
        read_table(million_columns())


def test_twenty_thousand_repeated_headers_are_refused_and_renaming_is_linear():
    with pytest.raises(CsvError, match=TOO_WIDE.format(columns="20,000")):
        read_table(repeated_headers())
    # Within the limit, repeats are numbered left to right, around a literal "Email (3)".
    table = read_table(b"Email,Email,Email (3),email,Name\nx,y,z,w,Ada\n")
    assert table.headers == ["Email", "Email (2)", "Email (3)", "email (4)", "Name"]


def test_a_wide_data_line_under_a_short_header_is_refused_too():
    data = b"Name,Email\nAda,ada@example.org\n" + b"x," * 800 + b"x\n"
    with pytest.raises(CsvError, match=r"Line 3 has 801 columns"):
        read_table(data)


def test_trailing_empty_cells_do_not_count_as_columns():
    table = read_table(b"Name,Email" + b"," * 100_000 + b"\nAda,ada@example.org\n")
    assert table.headers == ["Name", "Email"]


def test_the_limit_itself_is_accepted():
    header = ",".join(f"Q{i}" for i in range(MAX_COLUMNS - 1))
    table = read_table(f"Name,{header}\nAda{',' * (MAX_COLUMNS - 1)}\n".encode())
    assert len(table.headers) == MAX_COLUMNS


def test_the_upload_page_refuses_a_million_columns_with_the_message(trainer, app):
    make_workshop(app)
    response = upload(trainer, million_columns(), "a.csv")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(TOO_WIDE.format(columns="1,000,000"), page)


# --- Workbooks ----------------------------------------------------------------------------------


def _with_dimension(data: bytes, ref: str) -> bytes:
    """``data`` with its first sheet claiming to span ``ref``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(
                    rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), content
                )
                assert ref.encode() in content
            target.writestr(item, content)
    return out.getvalue()


def _small_list() -> openpyxl.Workbook:
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name", "Email"])
    workbook.active.append(["Ada", "ada@example.org"])
    return workbook


def test_a_sheet_claiming_the_largest_size_is_read_for_what_it_holds():
    table = read_table(_with_dimension(workbook_bytes(_small_list()), "A1:XFD1048576"))
    assert table.headers == ["Name", "Email"]
    assert [row.cells for row in table.rows] == [["Ada", "ada@example.org"]]


def test_a_sheet_with_too_many_columns_is_refused():
    workbook = openpyxl.Workbook()
    workbook.active.append([f"Question {i}" for i in range(600)])
    workbook.active.append(["x"] * 600)
    with pytest.raises(CsvError, match=TOO_WIDE.format(columns="600")):
        read_table(workbook_bytes(workbook))

    far = _small_list()
    far.active["XFD1"] = "Hidden far away"
    with pytest.raises(CsvError, match=TOO_WIDE.format(columns="16,384")):
        read_table(workbook_bytes(far))

    formatted = _small_list()
    formatted.active["XFD2"].number_format = "0.00"  # formatted but empty: not a column
    formatted.active["XFD2"].value = None
    assert read_table(workbook_bytes(formatted)).headers == ["Name", "Email"]


def test_a_sheet_with_too_many_rows_is_refused_even_when_they_are_far_down():
    workbook = _small_list()
    for i in range(120):
        workbook.active.append([f"Person {i}", None])
    with pytest.raises(CsvError, match=r"more than 100 rows\. Split it"):
        read_workbook(workbook_bytes(workbook), max_rows=100)

    far = _small_list()
    far.active["A1000000"] = "A cell a million rows down"
    with pytest.raises(CsvError, match=r"more than 100 rows\. Split it"):
        read_workbook(workbook_bytes(far), max_rows=100)
    assert len(read_workbook(workbook_bytes(_small_list()), max_rows=100).rows) == 1


def test_a_workbook_that_unpacks_to_too_much_is_refused_before_it_is_parsed():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/sharedStrings.xml", b" " * (300 * 1024 * 1024))
    assert len(out.getvalue()) < 1024 * 1024
    with pytest.raises(CsvError, match=r"too large to import \(300 MB once unpacked\)"):
        read_table(out.getvalue())
