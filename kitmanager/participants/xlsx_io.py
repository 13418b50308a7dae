"""Read one sheet of an Excel workbook (.xlsx) into the same :class:`Table` a CSV file gives.

Everything after reading (mapping, review, the all-or-nothing import) is shared with CSV
files: :func:`kitmanager.participants.csv_io.read_table` hands a workbook here, and the header,
title-line, blank-row and size rules are those of :func:`csv_io.table_rows`.

Cells come through as the trainer sees them in Excel, not as Excel stores them: a phone number
typed as a number stays its digits (``254712345678``, never ``2.547e+11`` or ``...0``), a date
is ISO (``2026-05-03``), text is kept as it is (leading zeros included).

The workbook is opened with openpyxl in read-only mode, which streams the sheet's XML: a sheet
that claims a huge size, or is huge, is refused early instead of being built in memory.

Before openpyxl sees the file, the workbook has a budget (:func:`_check_archive`): the ZIP's
declared sizes and part count are checked before anything is decompressed; each part is then
decompressed by a bounded reader that stops one byte past its declared size (a directory that
lies about a size is damage, not a bomb); a part that is itself an archive is refused; and the
XML is checked so the parser stays linear. That last check exists because Python's XML parser
(expat before 2.6, as here) reads a workbook in 16 KB pieces and starts a token it has not
finished again at each piece, so one long comment, tag or processing instruction costs the
square of its length (a 16 MB comment took 22 s; the 250 MB one of a 260 KB upload, hours).
Text and CDATA are read in pieces and stay linear.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import itertools
import math
import operator
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from openpyxl import load_workbook
from openpyxl.cell.read_only import EMPTY_CELL
from openpyxl.workbook import Workbook

from kitmanager.participants.csv_io import (
    MAX_COLUMNS,
    NO_DELIMITER,
    CsvError,
    Table,
    table_rows,
    too_many_rows,
)

__all__ = ["read_workbook"]

# The budget of a workbook, sized for a sign-up sheet. A 5,000-row sheet of 30 columns unpacks
# to 6 MB and 0.7 million tags as Excel writes it (text shared), 8 MB and 0.8 million as
# openpyxl does (text in the cells); 50,000 kits of 3 columns, to 10 MB and 1.1 million tags.
# openpyxl's work grows with the tags (6-7 us each, and up to 150 bytes for one it never
# clears), so the tag cap bounds the worst file that passes: 1.5 million empty tags took 10 s
# and 220 MB here, where the 5,000-row sheet takes 3 s.
MAX_UNPACKED_BYTES = 32 * 1024 * 1024  # all parts together, declared and then checked
MAX_MARKUP = 1_500_000  # "<" in all XML parts: tags, the unit of openpyxl's work
MAX_PARTS = 1_000  # a workbook has 10-30 parts; each sheet, image or chart adds 2-4
# No stretch of a part's XML this long may lack a "<": so no tag, reference or whitespace run
# that expat reads as one token is longer than twice this (32 MB of such 127 KB tags: 2 s). A
# cell of Excel's most, 32,767 characters, passes unless most take 4 bytes or are escaped.
XML_RUN_BYTES = 128 * 1024
XML_DECLARED_MOST = 1_000  # comments, processing instructions and CDATA sections in a part
_XML_ENCODINGS = frozenset({"utf-8", "us-ascii", "iso-8859-1"})  # expat's own: "<" is "<"
_ZIP_CENTRAL_HEADER = b"PK\x01\x02"  # one per part in the directory (a bound zipfile reads)
_ZIP_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length
# Parts that are archives themselves: ZIP (an embedded workbook or document), OLE2 (macros, an
# embedded object), gzip, 7-Zip, RAR, xz.
_ARCHIVE_SIGNATURES = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"PK\x07\x08",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"\x1f\x8b",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\xfd7zXZ\x00",
)
_XML_SPACE = b" \t\r\n"
_XML_DECLARATION_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]*)["']""")
# Blank rows cost time to parse too: a sheet whose rows run on this far past the participant
# limit is refused, however empty they are.
_BLANK_ROW_ALLOWANCE = 2

# A number format made only of zeros ("0000000000") pads a phone number to that many digits.
_ZERO_PADDED = re.compile(r"0+")


def _damaged() -> CsvError:
    return CsvError(
        _(
            "This Excel workbook is damaged and cannot be read. Open it in Excel, save it again "
            '(or choose "Save as" > "CSV UTF-8") and import that file.'
        )
    )


def _too_large(unpacked: int) -> CsvError:
    return CsvError(
        _(
            "This workbook is too large to import (%(size)s MB once unpacked). Keep only the "
            "sheet of participants, or split it into smaller files.",
            size=max(1, unpacked // (1024 * 1024)),
        )
    )


def _unusual(part: str) -> CsvError:
    return CsvError(
        _(
            "This workbook was not saved the way Excel or LibreOffice save one (%(part)s), so "
            "it is not read. Open it in Excel or LibreOffice, save it again as .xlsx (or choose "
            '"Save as" > "CSV UTF-8") and import that file.',
            part=part,
        )
    )


def _nested(part: str) -> CsvError:
    return CsvError(
        _(
            "This workbook has another file packed inside it (%(part)s: an embedded object, "
            "macros or an archive), so it is not read. Copy the sheet into a new workbook, save "
            'it as .xlsx (or choose "Save as" > "CSV UTF-8") and import that file.',
            part=part,
        )
    )


def _unpack(data: memoryview, info: zipfile.ZipInfo) -> bytes:
    """The bytes of one part, decompressed by a reader that stops one byte past the declared
    size, so a directory that understates a size costs no more than the size it states.

    :raise CsvError: encrypted, compressed in a way Excel never uses, or the bytes are not
        what the directory declares (size, end of the compressed stream, checksum).
    """
    if info.flag_bits & 0x1:
        raise _damaged()  # a password-protected .xlsx is an OLE2 file, never encrypted parts
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _unusual(info.filename)
    header = data[info.header_offset : info.header_offset + _ZIP_LOCAL_HEADER.size]
    if len(header) < _ZIP_LOCAL_HEADER.size:
        raise _damaged()
    signature, name_length, extra_length = _ZIP_LOCAL_HEADER.unpack(header)
    if signature != b"PK\x03\x04":
        raise _damaged()
    start = info.header_offset + _ZIP_LOCAL_HEADER.size + name_length + extra_length
    packed = data[start : start + info.compress_size]
    if len(packed) < info.compress_size:
        raise _damaged()
    if info.compress_type == zipfile.ZIP_STORED:
        content = bytes(packed)
    else:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            content = inflater.decompress(packed, info.file_size + 1)
        except zlib.error:
            raise _damaged() from None
        if not inflater.eof:
            raise _damaged()  # more than declared, or cut short
    if len(content) != info.file_size or zlib.crc32(content) != info.CRC:
        raise _damaged()
    return content


def _xml_markup(part: str, content: bytes) -> int:
    """How many tags the XML of ``content`` has (0 when it is not XML), once it is known that
    expat reads it in linear time: no token longer than about 2 x :data:`XML_RUN_BYTES`, no
    document type (entities), an encoding in which "<" is the byte "<".

    A part that does not start with "<" is not read as XML: expat stops at its first byte.

    :raise CsvError: the XML breaks one of those rules.
    """
    start = len(codecs.BOM_UTF8) if content.startswith(codecs.BOM_UTF8) else 0
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"<\x00", b"\x00<")):
        raise _unusual(part)  # UTF-16, which the checks below cannot read
    head = content[start : start + 4096].lstrip(_XML_SPACE)
    if head and not head.startswith(b"<"):
        return 0
    position = start
    if content.startswith(b"<?xml", start):
        end = content.find(b"?>", start, start + 1024)
        declared = _XML_DECLARATION_ENCODING.search(content, start, end)
        if end < 0 or (declared and declared[1].decode().lower() not in _XML_ENCODINGS):
            raise _unusual(part)
        position = end + 2
    # Comments, processing instructions and CDATA may hold any byte, "<" too: each is skipped
    # whole, and one that runs long, or a document type, is refused.
    seen = 0
    next_bang, next_question = content.find(b"<!", position), content.find(b"<?", position)
    while next_bang >= 0 or next_question >= 0:
        at = min(p for p in (next_bang, next_question) if p >= 0)
        seen += 1
        if seen > XML_DECLARED_MOST:
            raise _unusual(part)
        if content.startswith(b"<![CDATA[", at):
            end, closing = content.find(b"]]>", at), b"]]>"  # streamed by expat: any length
        elif content.startswith(b"<!--", at):
            end, closing = content.find(b"-->", at + 4, at + XML_RUN_BYTES), b"-->"
        elif at == next_bang:
            raise _unusual(part)  # <!DOCTYPE or <!ENTITY: Excel never declares a document type
        else:
            end, closing = content.find(b"?>", at + 2, at + XML_RUN_BYTES), b"?>"
        if end < 0:
            raise _unusual(part)
        position = end + len(closing)
        if 0 <= next_bang < position:
            next_bang = content.find(b"<!", position)
        if 0 <= next_question < position:
            next_question = content.find(b"<?", position)
    # A tag cannot hold "<", so every stretch without one bounds the tags in it: a window of
    # XML_RUN_BYTES every XML_RUN_BYTES with a "<" in each leaves no stretch of twice that.
    for window in range(start, len(content) - XML_RUN_BYTES + 1, XML_RUN_BYTES):
        if content.find(b"<", window, window + XML_RUN_BYTES) < 0:
            raise _unusual(part)
    return content.count(b"<", start)


def _check_archive(data: bytes) -> None:
    """Spend a bounded effort on ``data`` before openpyxl reads it; see the module docstring.

    :raise CsvError: not a workbook, too large, damaged, an archive inside, or XML that
        Excel and LibreOffice never write.
    """
    # zipfile reads its whole directory on opening (200,000 empty parts took 3 s here), one
    # entry per signature at most.
    listed = data.count(_ZIP_CENTRAL_HEADER)
    if listed > MAX_PARTS:
        raise _unusual(_("%(parts)s parts", parts=listed))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _damaged() from None
    names = {info.filename for info in parts}
    if len(names) != len(parts):
        raise _damaged()  # a name twice: which one a reader takes is up to the reader
    if "xl/workbook.xml" not in names:
        raise CsvError(
            _(
                "This file is a zip archive (perhaps a Word or OpenDocument file), not an Excel "
                'workbook. Open it in its program, choose "Save as" > "Excel Workbook (.xlsx)" '
                'or "CSV UTF-8" and import that file.'
            )
        )
    unpacked = sum(info.file_size for info in parts)
    if unpacked > MAX_UNPACKED_BYTES:
        raise _too_large(unpacked)
    view = memoryview(data)
    markup = 0
    for info in parts:
        content = _unpack(view, info)
        if content.startswith(_ARCHIVE_SIGNATURES):
            raise _nested(info.filename)
        markup += _xml_markup(info.filename, content)
        if markup > MAX_MARKUP:
            raise _too_large(unpacked)


def _open(data: bytes) -> Workbook:
    """The workbook, opened read-only with the values formulas last computed.

    :raise CsvError: not a workbook, beyond its budget (:func:`_check_archive`), or damaged.
    """
    _check_archive(data)
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds (KeyError, ParseError, ...) on a bad file
        raise _damaged() from None


def _number_text(value: float | int, number_format: str) -> str:
    """A number as Excel shows it in a General cell: no exponent, no ``.0``."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if "%" in number_format:
        return f"{(number * 100).normalize():f}%"
    if number == number.to_integral_value():
        text = str(int(number))
        if _ZERO_PADDED.fullmatch(number_format) and number >= 0:
            text = text.zfill(len(number_format))  # a phone number shown with its leading 0
        return text
    return f"{number.normalize():f}"


def _time_text(value: dt.time) -> str:
    return value.isoformat(timespec="seconds" if value.second else "minutes")


def cell_text(value: object, number_format: str = "General") -> str:
    """The text a trainer sees in a cell holding ``value`` shown with ``number_format``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("\x00", "")  # an escaped _x0000_ in the XML; no text holds one
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return f"{value.date().isoformat()} {_time_text(value.time())}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return _time_text(value)
    if isinstance(value, (int, float)):
        return _number_text(value, number_format)
    return str(value)


def _records(sheet: Any, max_rows: int) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(row number, cell texts)`` for every row of ``sheet``, blank ones included.

    A row's cells end at its last cell in the file, whatever size the sheet claims.

    :raise CsvError: a cell with a value beyond :data:`MAX_COLUMNS`, or rows running far past
        ``max_rows``.
    """
    sheet.reset_dimensions()  # the stored size may be a lie ("A1:XFD1048576")
    last_row = _BLANK_ROW_ALLOWANCE * max_rows + 10
    for number, cells in enumerate(sheet.iter_rows(min_row=1), start=1):
        if number > last_row:
            raise too_many_rows(max_rows)
        if len(cells) > MAX_COLUMNS:
            # Cells the file does not hold are one shared filler, skipped in C: a row may
            # reach column XFD with a single formatted cell.
            tail = cells[MAX_COLUMNS:]
            held = itertools.compress(
                tail, map(operator.is_not, tail, itertools.repeat(EMPTY_CELL))
            )
            if any(cell.value not in (None, "") for cell in held):
                yield number, [cell_text(cell.value) for cell in cells]  # refused as too wide
                return
            cells = cells[:MAX_COLUMNS]
        yield (
            number,
            [
                "" if cell is EMPTY_CELL else cell_text(cell.value, cell.number_format)
                for cell in cells
            ],
        )


def _records_with_values(sheet: Any, max_rows: int) -> Iterator[tuple[int, list[str]]] | None:
    """:func:`_records` of ``sheet``, or None when no cell of it holds anything.

    The sheet is read once: the rows looked at to find a value are handed on with the rest.
    """
    records = _records(sheet, max_rows)
    looked_at = []
    for line, cells in records:
        looked_at.append((line, cells))
        if any(cell.strip() for cell in cells):
            return itertools.chain(looked_at, records)
    return None


def read_workbook(data: bytes, *, sheet: str | None = None, max_rows: int = 50_000) -> Table:
    """Read the sheet named ``sheet`` (default: the first one with anything in it).

    :raise CsvError: not a workbook, damaged, no such sheet, every sheet empty, or the sheet
        breaks a rule of :func:`csv_io.table_rows` (too wide, too long, no rows).
    """
    workbook = _open(data)
    try:
        sheets = workbook.worksheets  # chart sheets hold no cells and are not listed
        names = tuple(ws.title for ws in sheets)
        try:
            if sheet is None:
                chosen, records = next(
                    (
                        (ws, found)
                        for ws in sheets
                        if (found := _records_with_values(ws, max_rows)) is not None
                    ),
                    (None, None),
                )
                if chosen is None or records is None:
                    raise CsvError(
                        _(
                            "Every sheet of this workbook is empty. Export the sign-up list "
                            "again and import that file."
                        )
                    )
            else:
                chosen = next((ws for ws in sheets if ws.title == sheet), None)
                if chosen is None:
                    raise CsvError(
                        _(
                            'This workbook has no sheet named "%(sheet)s". Choose one of: '
                            "%(sheets)s.",
                            sheet=sheet,
                            sheets=", ".join(names),
                        )
                    )
                records = _records_with_values(chosen, max_rows)
                if records is None:
                    raise CsvError(
                        _(
                            'The sheet "%(sheet)s" is empty. Choose another sheet of the workbook.',
                            sheet=sheet,
                        )
                    )
            headers, rows, _last = table_rows(records, max_rows=max_rows, widen=True)
        except CsvError:
            raise
        except Exception:  # a damaged sheet fails while it streams
            raise _damaged() from None
    finally:
        workbook.close()
    return Table(
        headers=headers,
        rows=rows,
        encoding="xlsx",
        delimiter=NO_DELIMITER,
        sheet=chosen.title,
        sheets=names,
    )
