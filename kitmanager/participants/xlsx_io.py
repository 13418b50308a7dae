"""Read one sheet of an Excel workbook (.xlsx) into the same :class:`Table` a CSV file gives.

Everything after reading (mapping, review, the all-or-nothing import) is shared with CSV
files: :func:`kitmanager.participants.csv_io.read_table` hands a workbook here, and the header,
title-line, blank-row and size rules are those of :func:`csv_io.table_rows`.

Cells come through as the trainer sees them in Excel, not as Excel stores them: a phone number
typed as a number stays its digits (``254712345678``, never ``2.547e+11`` or ``...0``), a date
is ISO (``2026-05-03``), text is kept as it is (leading zeros included).

The workbook is opened with openpyxl in read-only mode, which streams the sheet's XML: a sheet
that claims a huge size, or is huge, is refused early instead of being built in memory.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import math
import operator
import re
import zipfile
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

# Unpacked size above which a workbook is refused before it is parsed (a zip bomb would
# otherwise fill the memory). 50,000 rows of 20 columns unpack to about 40 MB.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
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


def _open(data: bytes) -> Workbook:
    """The workbook, opened read-only with the values formulas last computed.

    :raise CsvError: not a workbook, unpacks to too much, or damaged.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _damaged() from None
    if "xl/workbook.xml" not in names:
        raise CsvError(
            _(
                "This file is a zip archive (perhaps a Word or OpenDocument file), not an Excel "
                'workbook. Open it in its program, choose "Save as" > "Excel Workbook (.xlsx)" '
                'or "CSV UTF-8" and import that file.'
            )
        )
    if unpacked > MAX_UNPACKED_BYTES:
        raise CsvError(
            _(
                "This workbook is too large to import (%(size)s MB once unpacked). Keep only the "
                "sheet of participants, or split it into smaller files.",
                size=unpacked // (1024 * 1024),
            )
        )
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


def _has_values(sheet: Any, max_rows: int) -> bool:
    return any(any(cell.strip() for cell in cells) for _line, cells in _records(sheet, max_rows))


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
                chosen = next((ws for ws in sheets if _has_values(ws, max_rows)), None)
                if chosen is None:
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
                if not _has_values(chosen, max_rows):
                    raise CsvError(
                        _(
                            'The sheet "%(sheet)s" is empty. Choose another sheet of the workbook.',
                            sheet=sheet,
                        )
                    )
            headers, rows, _last = table_rows(
                _records(chosen, max_rows), max_rows=max_rows, widen=True
            )
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
