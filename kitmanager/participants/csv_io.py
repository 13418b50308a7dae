"""Read participant lists from sign-up exports and write CSV files Excel opens correctly.

No database and no request needed. Every message a trainer reads is translated with
Flask-Babel into the language of the current request; outside a request (the command line, or
no app at all) it stays English. The import is two steps so a trainer can check the
column mapping in between:

1. ``read_table(data)`` decodes the bytes (BOM, UTF-8, cp1252), finds the delimiter and returns
   a :class:`Table` whose rows remember their physical line number in the file.
2. ``guess_mapping(table.headers)`` proposes which column feeds which participant field, and
   ``parse_participants(table, mapping)`` validates every row: valid rows become
   :class:`ParticipantRow`, each problem becomes a :class:`RowError` with line, column and a
   message that says what to do.

``write_csv`` produces UTF-8 with a BOM and CRLF line ends, with every cell neutralised
against spreadsheet formula injection.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from babel.numbers import format_decimal
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kitmanager.participants.fields import (
    FIELD_NAMES,
    MULTILINE_FIELDS,
    ROLES,
    ParticipantFields,
    too_long,
    unreadable_message,
)
from kitmanager.text import UnreadableText, clean_text, safe_text
from kitmanager.unit_of_work import UserError

__all__ = [
    "FIELDS",
    "MAX_COLUMNS",
    "NO_DELIMITER",
    "ROLES",
    "CsvError",
    "EmptyTableError",
    "ParseResult",
    "ParticipantRow",
    "RowError",
    "Table",
    "TableRow",
    "comparable_text",
    "guess_mapping",
    "is_email_address",
    "neutralise_cell",
    "normalise_email",
    "parse_participants",
    "read_table",
    "table_rows",
    "too_many_rows",
    "write_csv",
]


class CsvError(UserError):
    """The file as a whole cannot be imported; ``str(error)`` tells the user what to do, in the
    language of the current request (English outside one)."""


class EmptyTableError(CsvError):
    """The file holds no data row: it is empty, or has a header line and nothing below. (Other
    imports catch it to say so in their own words.)"""


@dataclass
class TableRow:
    """One non-blank record. ``line`` is the physical line where it starts (1 = header)."""

    line: int
    cells: list[str]


@dataclass
class Table:
    """A decoded CSV file or workbook sheet: unique headers and the non-blank rows below them.

    Every row has at least ``len(headers)`` cells (short rows are padded with ``""``); a row
    has more only when it holds non-empty cells beyond the last header (never in a workbook,
    where such a column gets a "Column N" header instead).

    A workbook sheet has ``encoding`` ``"xlsx"``, ``sheet`` its name, ``sheets`` the names of
    every sheet to choose from, and ``delimiter`` :data:`NO_DELIMITER`.
    """

    headers: list[str]
    rows: list[TableRow]
    encoding: str
    delimiter: str
    sheet: str | None = None
    sheets: tuple[str, ...] = ()


@dataclass(kw_only=True)
class ParticipantRow(ParticipantFields):
    """One valid participant read from the row starting at ``line``; text is cleaned as
    :func:`kitmanager.text.clean_text` says."""

    line: int


@dataclass
class RowError:
    """A problem in one cell (or one row when ``column`` names no single header).

    ``column`` is the file's own header; ``message`` is in the language of the current request.
    """

    line: int
    column: str
    value: str
    message: str


@dataclass
class ParseResult:
    """``rows`` holds only the rows without any error; ``errors`` every problem found."""

    rows: list[ParticipantRow]
    errors: list[RowError]


# The participant's fields, and the two columns a full name can also be made of.
FIELDS: tuple[str, ...] = (FIELD_NAMES[0], "first_name", "last_name", *FIELD_NAMES[1:])

_DELIMITERS = (",", ";", "\t")
# A workbook has no delimiter. Its Table says NUL, the one character no cell can hold (XML
# forbids it), so the checks for a delimiter misplaced in a CSV line never fire on a workbook.
NO_DELIMITER = "\x00"
# A sign-up list has a few dozen columns; a file far wider is a mistake or an attack, and
# refused while it is read (a million columns would otherwise fill a review page of gigabytes).
MAX_COLUMNS = 500
_SNIFF_CHARS = 64_000
_SNIFF_RECORDS = 40
_TITLE_LINES = 5

# ---------------------------------------------------------------------------------------------
# Reading bytes into a table
# ---------------------------------------------------------------------------------------------

# Longest BOM first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# A zip file: a workbook (.xlsx) is one. An OLE2 compound file: an old workbook (.xls), or an
# .xlsx protected by a password (Excel wraps the encrypted workbook in one).
ZIP_SIGNATURE = b"PK\x03\x04"
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_OLE_STREAM = "EncryptionInfo".encode("utf-16-le")

# Files people pick by mistake, recognised by their first bytes.
_NOT_CSV_SIGNATURES = (
    (b"%PDF", _l("a PDF document")),
    (b"\x89PNG", _l("a PNG image")),
    (b"\xff\xd8\xff", _l("a JPEG image")),
    (b"<!doctype html", _l("a web page (HTML)")),
    (b"<html", _l("a web page (HTML)")),
    (b"<?xml", _l("an XML file (perhaps an Excel XML spreadsheet)")),
)


def _number(value: int) -> str:
    """``value`` with the reader's digit grouping (50,000 in English, 50 000 in French)."""
    return format_decimal(value, locale=get_locale() or "en")


def _save_as_csv(problem: str) -> CsvError:
    """A whole-file error: ``problem`` followed by how to export the file again as CSV."""
    advice = _('In your spreadsheet choose "Save as" > "CSV UTF-8" and import that file.')
    return CsvError(f"{problem} {advice}")


def _empty_file() -> CsvError:
    return EmptyTableError(
        _("The file is empty. Export the sign-up list again and import that file.")
    )


def _decode(data: bytes) -> tuple[str, str]:
    """Return ``(text, encoding)``; :raise CsvError: when the bytes are not text."""
    start = data[:32].lstrip().lower()
    for signature, kind in _NOT_CSV_SIGNATURES:
        if start.startswith(signature.lower()):
            raise _save_as_csv(_("This file is %(kind)s, not a CSV file.", kind=kind))
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding.replace("-sig", "")), encoding
            except UnicodeDecodeError:
                family = encoding.upper().split("-")[1]  # "utf-16-le" -> "16"
                raise _save_as_csv(
                    _(
                        "The file starts like UTF-%(family)s text but is damaged further on.",
                        family=family,
                    )
                ) from None
    utf16 = _bomless_utf16(data)
    if utf16 is not None:
        return utf16
    if b"\x00" in data:
        raise _binary_error()
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise _save_as_csv(
            _(
                "The file is neither UTF-8 nor Windows (cp1252) text, so accents would come out "
                "wrong."
            )
        ) from None


def _bomless_utf16(data: bytes) -> tuple[str, str] | None:
    """Recognise UTF-16 without a BOM: mostly-ASCII text leaves every other byte zero."""
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2:
        return None
    even_zero = sample[0::2].count(0)
    odd_zero = sample[1::2].count(0)
    half = len(sample) // 2
    for zeros, other, encoding in (
        (odd_zero, even_zero, "utf-16-le"),
        (even_zero, odd_zero, "utf-16-be"),
    ):
        if zeros > 0.6 * half and other < 0.05 * half:
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                return None
    return None


def _check_is_text(text: str) -> None:
    """:raise CsvError: when decoded text holds control characters no CSV export contains."""
    sample = text[:_SNIFF_CHARS]
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n\f")
    if "\x00" in text or controls > max(3, len(sample) // 100):
        raise _binary_error()


def _binary_error() -> CsvError:
    return _save_as_csv(_("This file is not a CSV file (it contains binary data)."))


class _RecordError(Exception):
    """The csv module gave up on the record starting at ``line``."""

    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line = line


def _records(text: str, delimiter: str, *, strict: bool = False) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(start_line, cells)`` for every record, blank ones included.

    :raise _RecordError: the csv module cannot read a record.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=strict)
    previous_end = 0
    try:
        for cells in reader:
            yield previous_end + 1, cells
            previous_end = reader.line_num
    except csv.Error as error:
        raise _RecordError(previous_end + 1, str(error)) from None


def _strip_trailing_empty(cells: list[str], keep: int = 0) -> list[str]:
    end = len(cells)
    while end > keep and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def _header_index(records: Sequence[list[str]]) -> int:
    """Index of the header among the first non-blank records.

    A sheet made by hand often has a title above the header; exported, it is a line with one
    filled cell padded with separators ("Atelier robotique 3e B;;;"). Up to ``_TITLE_LINES``
    such lines are skipped. A line without padding is a header, so a one-column list stays one.
    """
    for index, cells in enumerate(records[: _TITLE_LINES + 1]):
        if len(cells) < 2 or sum(1 for cell in cells if cell.strip()) >= 2:
            return index
    return 0


def _sniff_delimiter(text: str, preferred: tuple[str, ...]) -> str:
    """Pick the delimiter under which the first records have the most consistent shape.

    A candidate must split the header into at least two columns; it scores one point per row
    with exactly the header's cell count, half a point per row that is merely shorter. When no
    candidate splits the header (a one-column list of names), pick the one that splits the
    fewest rows, so "Dupont, Jean" stays one name.
    """
    sample = text[:_SNIFF_CHARS]
    truncated = len(text) > len(sample)
    best: tuple[float, int, int] | None = None
    best_delimiter = preferred[0]
    fewest_splits: tuple[int, int] | None = None
    fewest_delimiter = preferred[0]
    for rank, delimiter in enumerate(preferred):
        try:
            records = [c for _line, c in _records(sample, delimiter) if not _is_blank(c)]
        except _RecordError:
            continue
        if truncated and len(records) > 1:
            records.pop()  # the sample may have cut the last record in half
        records = records[_header_index(records) :][:_SNIFF_RECORDS]
        if not records:
            continue
        header = records[0]
        width = len(_strip_trailing_empty(header))
        rows = records[1:]
        if width < 2:
            splits = sum(1 for row in rows if len(_strip_trailing_empty(row)) > 1)
            if fewest_splits is None or (splits, rank) < fewest_splits:
                fewest_splits, fewest_delimiter = (splits, rank), delimiter
            continue
        points = 0.0
        for row in rows:
            if len(row) == len(header):
                points += 1
            elif 2 <= len(_strip_trailing_empty(row)) <= width:
                points += 0.5
        score = (points / len(rows) if rows else 1.0, width, -rank)
        if best is None or score > best:
            best, best_delimiter = score, delimiter
    return best_delimiter if best is not None else fewest_delimiter


def _header_key(cell: str) -> str:
    return cell.strip().lstrip("\ufeff").strip()


def _unique_headers(raw: list[str]) -> list[str]:
    """Name empty headers "Column N" (in the reader's language) and number repeats "Email (2)",
    left to right, in time linear in the number of headers."""
    headers: list[str] = []
    seen: set[str] = set()
    last_copy: dict[str, int] = {}  # the last number given to repeats of a name
    for index, cell in enumerate(raw, start=1):
        name = unicodedata.normalize("NFC", _header_key(cell)) or _(
            "Column %(number)s", number=index
        )
        key = name.casefold()
        candidate = name
        if key in seen:
            copy = last_copy.get(key, 1)
            while candidate.casefold() in seen:
                copy += 1
                candidate = f"{name} ({copy})"
            last_copy[key] = copy
        seen.add(candidate.casefold())
        headers.append(candidate)
    return headers


def _excel_separator_hint(text: str) -> tuple[str | None, str]:
    """Honour Excel's optional first line ``sep=;``: return the delimiter and the text with that
    line blanked (kept as an empty line so line numbers stay physical)."""
    match = re.match(r"sep=(.)[ \t]*(\r\n|\r|\n)", text[:16], flags=re.IGNORECASE)
    if not match or match.group(1) not in _DELIMITERS:
        return None, text
    return match.group(1), match.group(2) + text[match.end() :]


def read_table(data: bytes, *, sheet: str | None = None, max_rows: int = 50_000) -> Table:
    """Read a sign-up list, a CSV export or an Excel workbook (.xlsx), into a header and rows.

    The kind is told by the content, not the file name. A CSV file may be UTF-8 (with or
    without BOM), UTF-16/UTF-32 with BOM (Excel "Unicode text") or cp1252 (Excel on Windows),
    delimited by comma, semicolon or tab (or as Excel's ``sep=`` first line says). A workbook is
    read by :func:`kitmanager.participants.xlsx_io.read_workbook`: the sheet named ``sheet``,
    else the first one with anything in it (``sheet`` is ignored for a CSV file). Either way
    the header is the first non-blank record, after at most a few title lines; blank rows and a
    header repeated further down are skipped; trailing empty columns are ignored.

    :raise CsvError: the file is empty, not a CSV file or workbook, has no data rows, more than
        ``max_rows`` rows or more than :data:`MAX_COLUMNS` columns, a quote that never closes,
        or (a workbook) no such sheet, a password, or damage.
    """
    if data.startswith(ZIP_SIGNATURE):
        # The workbook reader builds on this module's rules, so it is imported only here.
        from kitmanager.participants.xlsx_io import read_workbook

        return read_workbook(data, sheet=sheet, max_rows=max_rows)
    if data.startswith(_OLE_SIGNATURE):
        raise _old_or_protected_workbook(data)
    text, encoding = _decode(data)
    _check_is_text(text)
    if not text.strip():
        raise _empty_file()
    hinted, text = _excel_separator_hint(text)
    preferred = ("\t", ",", ";") if encoding.startswith("utf-16") else _DELIMITERS
    delimiter = hinted or _sniff_delimiter(text, preferred)
    try:
        headers, rows, (last_start, last_cells) = table_rows(
            _records(text, delimiter), max_rows=max_rows
        )
        if any("\n" in cell or "\r" in cell for cell in last_cells):
            _check_last_quote_closed(text, delimiter, last_start)
    except _RecordError as error:
        if "field larger than field limit" in str(error):
            raise CsvError(
                _(
                    'Line %(line)s: a cell is longer than %(limit)s characters, so a quote (") is '
                    "probably not closed. Fix that quote and import again.",
                    line=error.line,
                    limit=_number(csv.field_size_limit()),
                )
            ) from None
        # The csv module's own reason has no translation; it still names the exact fault.
        raise _save_as_csv(
            _(
                "Line %(line)s: the file cannot be read as CSV (%(reason)s).",
                line=error.line,
                reason=str(error),
            )
        ) from None
    return Table(headers=headers, rows=rows, encoding=encoding, delimiter=delimiter)


def _old_or_protected_workbook(data: bytes) -> CsvError:
    """The refusal for an OLE2 file: a workbook with a password, or an old .xls workbook."""
    if _ENCRYPTED_OLE_STREAM in data:
        return CsvError(
            _(
                "This workbook is protected by a password, so it cannot be read. Open it in "
                'Excel, remove the password ("File" > "Info" > "Protect Workbook" > "Encrypt '
                'with Password", empty the box), save it and import it again.'
            )
        )
    return CsvError(
        _(
            'This file is an old Excel workbook (.xls). Open it in Excel, choose "Save as" > '
            '"Excel Workbook (.xlsx)" or "CSV UTF-8" and import that file.'
        )
    )


def too_many_rows(max_rows: int) -> CsvError:
    """The refusal for a list longer than ``max_rows`` participants."""
    # Not %(num)s: ngettext fills that with the bare count, without digit grouping.
    return CsvError(
        ngettext(
            "The file has more than %(rows)s row. Split it into smaller files "
            "and import them one after the other.",
            "The file has more than %(rows)s rows. Split it into smaller files "
            "and import them one after the other.",
            max_rows,
            rows=_number(max_rows),
        )
    )


def _too_wide(line: int, columns: int) -> CsvError:
    return CsvError(
        _(
            "Line %(line)s has %(columns)s columns; a participant list can have at most "
            "%(limit)s. Check this is the sign-up list, delete the columns you do not need and "
            "import again.",
            line=line,
            columns=_number(columns),
            limit=_number(MAX_COLUMNS),
        )
    )


def _narrow_enough(
    records: Iterable[tuple[int, list[str]]],
) -> Iterator[tuple[int, list[str]]]:
    """``records`` without their trailing empty cells beyond :data:`MAX_COLUMNS`.

    :raise CsvError: a record fills more columns than that (checked as each record arrives,
        before any row is built, so a file a million columns wide is refused at once).
    """
    for line, cells in records:
        if len(cells) > MAX_COLUMNS:
            cells = _strip_trailing_empty(cells, keep=MAX_COLUMNS)
            if len(cells) > MAX_COLUMNS:
                raise _too_wide(line, len(cells))
        yield line, cells


def _pad_to_widest(records: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """``records`` padded with ``""`` to the widest one's filled width."""
    width = max(len(_strip_trailing_empty(cells)) for _line, cells in records)
    return [(line, cells + [""] * (width - len(cells))) for line, cells in records]


def table_rows(
    records: Iterable[tuple[int, list[str]]], *, max_rows: int, widen: bool = False
) -> tuple[list[str], list[TableRow], tuple[int, list[str]]]:
    """Find the header among ``records`` (``(line, cells)``, blank ones included) and return
    the unique headers, the data rows padded to the header's width, and the last record read.

    The rules every format shares: a few title lines above the header are skipped, blank
    records and a repeated header are not rows, at most ``max_rows`` rows and
    :data:`MAX_COLUMNS` columns. A CSV line with more cells than the header keeps them, so
    :func:`parse_participants` can report the misplaced delimiter; with ``widen`` (a workbook,
    whose cells cannot shift, and whose rows end at their last filled cell) such cells get
    "Column N" headers instead.

    :raise CsvError: no record at all, a record too wide, too many rows, or no row below the
        header.
    :raise _RecordError: the csv module cannot read a record (passed through from ``records``).
    """
    nonblank = ((line, cells) for line, cells in _narrow_enough(records) if not _is_blank(cells))
    head = list(itertools.islice(nonblank, _TITLE_LINES + 1))
    if not head:
        raise _empty_file()
    if widen:
        head = _pad_to_widest(head)  # a title in A1 alone is then "Title;;;" as in a CSV file
    header_at = _header_index([cells for _line, cells in head])
    header_cells = _strip_trailing_empty(head[header_at][1])
    width = len(header_cells)
    repeated_header = [_header_key(cell) for cell in header_cells]
    rows: list[TableRow] = []
    last = head[-1]
    widest = width
    for line, cells in itertools.chain(head[header_at + 1 :], nonblank):
        last = line, cells
        if (
            _header_key(cells[0]) == repeated_header[0]
            and [_header_key(cell) for cell in _strip_trailing_empty(cells)] == repeated_header
        ):
            continue  # two exports pasted one after the other
        if len(cells) > width:
            cells = _strip_trailing_empty(cells, keep=width)
            widest = max(widest, len(cells))
        elif len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        rows.append(TableRow(line=line, cells=cells))
        if len(rows) > max_rows:
            raise too_many_rows(max_rows)
    if not rows:
        raise EmptyTableError(
            _(
                "The file has a header line but no participants below it. "
                "Check you exported the responses, not just the form."
            )
        )
    if widen and widest > width:
        header_cells = header_cells + [""] * (widest - width)
        for row in rows:
            row.cells.extend([""] * (widest - len(row.cells)))
    return _unique_headers(header_cells), rows, last


def _check_last_quote_closed(text: str, delimiter: str, last_start: int) -> None:
    """:raise CsvError: when a quote opened in the last record never closes.

    The lenient reader then swallows the rest of the file into one cell, silently losing rows.
    """
    lines = io.StringIO(text, newline="").readlines()
    tail = "".join(lines[last_start - 1 :])
    try:
        for _record in _records(tail, delimiter, strict=True):
            pass
    except _RecordError as error:
        if "unexpected end of data" in str(error):
            raise CsvError(
                _(
                    'Line %(line)s: a cell starts with a quote (") that is never closed, so '
                    "everything after it would be read as one cell. Remove that quote or add the "
                    "closing one, then import again.",
                    line=last_start,
                )
            ) from None


# ---------------------------------------------------------------------------------------------
# Guessing which column is which field
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def comparable_text(text: str) -> str:
    """A header or answer reduced for comparison: lower-case, no accents, punctuation as
    spaces ("Adresse e-mail" -> "adresse e mail", "Invité(e)" -> "invite e")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", bare).split())


# field -> (synonyms matched only as the whole header, synonyms also matched inside a longer
# header such as a form question "Quel est votre nom complet ?")
_SYNONYMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "full_name": (
        ("name", "nom", "nom s", "noms", "participant", "student", "eleve"),
        (
            "full name", "nom complet", "nom et prenom", "nom et prenoms", "noms et prenoms",
            "prenom et nom", "prenoms et nom", "nom prenom", "prenom nom", "your name",
            "votre nom", "participant name", "nom du participant", "nom de la participante",
            "student name", "nom de l eleve", "attendee name", "name of participant",
        ),
    ),
    "first_name": (
        ("first", "firstname"),
        ("first name", "given name", "forename", "prenom", "prenoms"),
    ),
    "last_name": (
        ("last", "lastname"),
        ("last name", "family name", "surname", "nom de famille"),
    ),
    "badge_name": (
        ("pseudo", "nom d usage"),
        ("badge", "preferred name", "nickname", "surnom"),
    ),
    "email": (
        (
            "email address", "adresse email", "adresse e mail", "adresse mail",
            "adresse de messagerie",
        ),
        ("email", "e mail", "courriel", "adresse electronique", "mail"),
    ),
    "organisation": (
        ("societe", "structure"),
        (
            "organisation", "organization", "organisme", "school", "ecole", "company",
            "entreprise", "etablissement", "institution", "affiliation", "university",
            "universite", "college", "lycee",
        ),
    ),
    "role": (
        ("category", "categorie", "participant type", "type de participant"),
        ("role",),
    ),
    "team": (
        ("team name", "nom de l equipe"),
        ("team", "equipe", "group", "groupe"),
    ),
    "guardian_contact": (
        ("emergency contact", "contact d urgence"),
        (
            "guardian", "parent", "parents", "tuteur", "tutrice", "emergency", "urgence",
            "responsable legal",
        ),
    ),
    "photo_consent": (
        ("consent", "consentement"),
        ("photo", "photos", "droit a l image", "image rights", "photographed", "photographie"),
    ),
    "notes": (
        ("observations",),
        (
            "notes", "note", "remark", "remarks", "remarque", "remarques", "comment",
            "comments", "commentaire", "commentaires",
        ),
    ),
    "external_id": (
        (
            "id", "external id", "identifiant", "participant id", "registration id", "ticket id",
            "attendee id", "attendee", "numero", "no", "n", "ref", "reference", "response id",
            "sign up id", "n d inscription", "numero d inscription",
        ),
        (),
    ),
}  # fmt: skip

# A header naming a guardian ("Parent email") is about the guardian, not the participant.
_FIELD_BOOST = {"guardian_contact": 2}
# Bare "Nom"/"Name" next to a first-name column is the family name (French forms: Nom, Prénom).
_BARE_NAMES = frozenset({"name", "nom", "nom s", "noms", "your name", "votre nom"})


def _header_candidates(header: str) -> list[tuple[int, int, str, str]]:
    """Return ``(kind, weight, field, synonym)`` for every field this header could be.

    kind 2: the header is a synonym; kind 1: it contains one. weight: words in the synonym.
    """
    norm = comparable_text(header)
    padded = f" {norm} "
    found = []
    for field, (whole, inside) in _SYNONYMS.items():
        matches = [(2, len(s.split()), field, s) for s in (*whole, *inside) if s == norm]
        matches += [
            (1, len(s.split()) + _FIELD_BOOST.get(field, 0), field, s)
            for s in inside
            if f" {s} " in padded
        ]
        if norm == field.replace("_", " "):
            matches.append((2, len(norm.split()), field, norm))  # a kitmanager export
        if matches:
            found.append(max(matches))
    return found


_FORM_END_TIME = frozenset({"completion time", "heure de fin"})
_FORM_ACCOUNT = frozenset({"email", "name", "adresse de messagerie", "nom"})


def _form_account_columns(normalised: list[str]) -> set[int]:
    """Indices of the account columns right after a Microsoft Forms "Completion time"."""
    ends = [index for index, header in enumerate(normalised) if header in _FORM_END_TIME]
    if not ends:
        return set()
    after = range(ends[0] + 1, min(ends[0] + 3, len(normalised)))
    return {index for index in after if normalised[index] in _FORM_ACCOUNT}


def guess_mapping(headers: Sequence[str]) -> dict[str, int]:
    """Propose ``field -> column index`` from English or French headers.

    Matching ignores case, accents and punctuation. A header equal to a known name beats one
    that merely contains it ("Nom complet" beats "Quel est votre nom complet ?"); among those, the
    longer phrase wins; a remaining tie goes to the leftmost column, so duplicate headers map
    deterministically. Each column feeds at most one field. Unknown columns (timestamps, ...)
    are left out. The respondent-account "Email"/"Name" columns of a Microsoft Forms export
    only win when no question asks for the same thing (they say "anonymous" otherwise).
    """
    account = _form_account_columns([comparable_text(header) for header in headers])
    candidates = []
    for index, header in enumerate(headers):
        for kind, weight, field, synonym in _header_candidates(header):
            rank = 0 if index in account else kind
            candidates.append((-rank, -weight, index, FIELDS.index(field), field, synonym))
    candidates.sort()
    mapping: dict[str, int] = {}
    matched_by: dict[str, str] = {}
    used: set[int] = set()
    for _rank, _weight, index, _order, field, synonym in candidates:
        if field in mapping or index in used:
            continue
        mapping[field] = index
        matched_by[field] = synonym
        used.add(index)
    if (
        "first_name" in mapping
        and "last_name" not in mapping
        and matched_by.get("full_name") in _BARE_NAMES
    ):
        mapping["last_name"] = mapping.pop("full_name")
    return dict(sorted(mapping.items(), key=lambda item: FIELDS.index(item[0])))


# ---------------------------------------------------------------------------------------------
# Validating rows into participants
# ---------------------------------------------------------------------------------------------

_DELIMITER_NAMES = {"\t": _l("tab"), ",": _l("comma"), ";": _l("semicolon")}

_ROLE_WORDS = {
    "participant": "participant",
    "participante": "participant",
    "participant e": "participant",
    "participants": "participant",
    "trainer": "trainer",
    "formateur": "trainer",
    "formatrice": "trainer",
    "formateur trice": "trainer",
    "formateur rice": "trainer",
    "mentor": "mentor",
    "mentore": "mentor",
    "mentor e": "mentor",
    "guest": "guest",
    "invite": "guest",
    "invitee": "guest",
    "invite e": "guest",
}
_CONSENT_WORDS = {
    "yes": True, "y": True, "oui": True, "o": True, "true": True, "vrai": True, "1": True,
    "x": True, "no": False, "n": False, "non": False, "false": False, "faux": False, "0": False,
}  # fmt: skip
# A form checkbox exports its label ("Oui, j'accepte"); refusals are checked first so
# "I do not agree" is not read as "I ... agree".
_CONSENT_PHRASES: tuple[tuple[str, bool], ...] = (
    *((phrase, False) for phrase in (
        "no", "non", "je refuse", "refuse", "i do not", "i don t", "i refuse", "je n accepte pas",
        "je ne", "pas d accord",
    )),
    *((phrase, True) for phrase in (
        "yes", "oui", "j accepte", "accepte", "i agree", "i accept", "i consent", "d accord",
        "je consens", "j autorise", "i authorise", "i authorize",
    )),
)  # fmt: skip

# What write_csv adds in front of a risky cell; removed again on import so exports round-trip.
_NEUTRALISER = "'"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

_EMAIL = re.compile(
    r"[^\s@<>()\[\],;:\"]{1,64}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+"
    r"(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})"
)
_NAMED_EMAIL = re.compile(r"[^<>]*<([^<>]+)>")


def normalise_email(address: str) -> str:
    """The address with its domain in lower case (ASCII letters only: "İ".lower() is two
    characters, and would make a valid internationalised domain invalid)."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{''.join(c.lower() if c.isascii() else c for c in domain)}"


def is_email_address(address: str) -> bool:
    """True when ``address`` looks like one deliverable address (the one rule for the whole app)."""
    return _EMAIL.fullmatch(address) is not None


# MS Forms puts this in its own Email column for responses collected without sign-in.
_NO_EMAIL = frozenset({"anonymous", "anonyme"})


def _clean(value: str, *, multiline: bool = False) -> str:
    """The cell as :func:`kitmanager.text.clean_text` stores it, after removing the
    neutralising ``'`` an export put in front of a formula-like value.

    :raise UnreadableText: the cell holds a lone surrogate.
    """
    text = value.strip()
    if text.startswith(_NEUTRALISER) and text[1:].startswith(_FORMULA_STARTS):
        text = text[1:]
    return clean_text(text, multiline=multiline)


class _RowReader:
    """Reads the mapped cells of one row and collects that row's errors."""

    def __init__(self, table: Table, mapping: Mapping[str, int], row: TableRow):
        self.table, self.mapping, self.row = table, mapping, row
        self.errors: list[RowError] = []

    def column(self, field: str) -> str:
        return self.table.headers[self.mapping[field]]

    def raw(self, field: str) -> str:
        index = self.mapping.get(field)
        return "" if index is None else self.row.cells[index]

    def fail(self, field: str, value: str, message: str) -> None:
        self.fail_in(self.column(field), value, message)

    def fail_in(self, column: str, value: str, message: str) -> None:
        self.errors.append(RowError(self.row.line, column, value, message))

    def clean(self, field: str) -> str:
        """The field's cell cleaned; ``""`` and an error when it holds a broken character."""
        raw = self.raw(field)
        try:
            return _clean(raw, multiline=field in MULTILINE_FIELDS)
        except UnreadableText:
            self.fail(field, safe_text(raw), unreadable_message())
            return ""

    def text(self, field: str) -> str:
        raw = self.raw(field)
        multiline = field in MULTILINE_FIELDS
        value = self.clean(field)
        if not multiline and ("\n" in raw or "\r" in raw) and self.table.delimiter in raw:
            # Rows swallowed by a quote that closes much later, not a real one-line value.
            self.fail(
                field,
                value,
                _(
                    "This cell runs over several lines and contains the %(delimiter)s: "
                    'a quote (") is probably not closed. Fix the quotes and import again.',
                    delimiter=self.delimiter_name(),
                ),
            )
        elif too_long(field, value):
            self.fail(field, value, too_long(field, value))  # type: ignore[arg-type]
        return value

    def full_name(self) -> str:
        if "full_name" in self.mapping:
            name = self.text("full_name")
            if name:
                return name
        parts = [self.clean(f) for f in ("first_name", "last_name") if f in self.mapping]
        name = " ".join(part for part in parts if part)
        columns = " / ".join(
            self.column(f) for f in ("full_name", "first_name", "last_name") if f in self.mapping
        )
        if not name:
            self.fail_in(columns, "", _("The name is empty. Fill it in or delete this line."))
        elif too_long("full_name", name):
            self.fail_in(columns, name, too_long("full_name", name))  # type: ignore[arg-type]
        return name

    def email(self) -> str | None:
        value = self.text("email")
        if not value or value.casefold() in _NO_EMAIL or too_long("email", value):
            return None
        named = _NAMED_EMAIL.fullmatch(value)  # "Ada Lovelace <ada@example.org>" from a mail app
        address = named.group(1).strip() if named else value
        if address.casefold().startswith("mailto:"):
            address = address[len("mailto:") :]
        if not is_email_address(address):
            several = [part for part in re.split(r"[\s,;/]+", address) if "@" in part]
            if len(several) > 1:
                message = _(
                    '"%(value)s" is not a valid email address. Put only one address in the cell.',
                    value=value,
                )
            else:
                message = _(
                    '"%(value)s" is not a valid email address. Correct it (like '
                    "name@example.org) or leave the cell empty.",
                    value=value,
                )
            self.fail("email", value, message)
            return None
        return normalise_email(address)

    def role(self) -> str:
        value = self.text_no_limit("role")
        if not value:
            return "participant"
        role = _ROLE_WORDS.get(comparable_text(value))
        if role is None:
            self.fail(
                "role",
                value,
                _(
                    'Unknown role "%(value)s". Use participant, trainer, mentor or guest (or in '
                    "French participant(e), formateur/formatrice, mentor(e), invité(e)), or leave "
                    "it empty for participant.",
                    value=value,
                ),
            )
            return "participant"
        return role

    def photo_consent(self) -> bool | None:
        value = self.text_no_limit("photo_consent")
        if not value:
            return None
        words = comparable_text(value)
        if not words:
            return None  # "-", "?": no answer
        consent = _CONSENT_WORDS.get(words)
        if consent is None:
            consent = next(
                (yes for phrase, yes in _CONSENT_PHRASES if f"{words} ".startswith(f"{phrase} ")),
                None,
            )
        if consent is None:
            self.fail(
                "photo_consent",
                value,
                _(
                    'Photo consent "%(value)s" is neither yes nor no. Write yes/no (oui/non), '
                    "or leave it empty if unknown.",
                    value=value,
                ),
            )
        return consent

    def text_no_limit(self, field: str) -> str:
        return self.clean(field)

    def optional(self, field: str) -> str | None:
        return self.text(field) or None

    def delimiter_name(self) -> str:
        return str(_DELIMITER_NAMES[self.table.delimiter])

    def extra_cells(self) -> None:
        width = len(self.table.headers)
        extra = len(self.row.cells) - width
        if extra <= 0:
            return
        delimiter = self.delimiter_name()
        self.errors.append(
            RowError(
                self.row.line,
                _("column %(number)s (no header)", number=width + 1),
                self.table.delimiter.join(self.row.cells[width:]),
                ngettext(
                    "This line has %(num)s cell but the header has %(width)s: a value probably "
                    "contains a %(delimiter)s. Put that value in quotes or remove the "
                    "%(delimiter)s.",
                    "This line has %(num)s cells but the header has %(width)s: a value probably "
                    "contains a %(delimiter)s. Put that value in quotes or remove the "
                    "%(delimiter)s.",
                    len(self.row.cells),
                    width=width,
                    delimiter=delimiter,
                ),
            )
        )


def parse_participants(table: Table, mapping: Mapping[str, int]) -> ParseResult:
    """Validate every row of ``table`` using ``mapping`` (field -> column index).

    The name comes from the full-name column when it is filled in, else from first name + last
    name (joined with a space). Text is cleaned by :func:`kitmanager.text.clean_text` (NFC,
    stripped, no control characters; a broken character is an error of that cell), never
    otherwise altered. Email domains are lower-cased. Length limits are the model's columns'.
    A row with several problems yields several errors and is left out of ``rows``.

    :raise CsvError: the mapping has no name column, names an unknown field, or points past the
        last column.
    """
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise CsvError(
            ngettext(
                "Unknown field in the column mapping: %(fields)s.",
                "Unknown fields in the column mapping: %(fields)s.",
                len(unknown),
                fields=", ".join(unknown),
            )
        )
    for field, index in mapping.items():
        if not 0 <= index < len(table.headers):
            raise CsvError(
                _('The column chosen for "%(field)s" does not exist in this file.', field=field)
            )
    if not {"full_name", "first_name", "last_name"} & mapping.keys():
        raise CsvError(
            _(
                'No column holds the participants\' names. Name a column "Name" (or "First '
                'name" and "Last name"; in French "Nom", "Prénom"), or choose the name column '
                "by hand."
            )
        )
    result = ParseResult(rows=[], errors=[])
    for row in table.rows:
        reader = _RowReader(table, mapping, row)
        reader.extra_cells()
        if reader.errors:
            # The cells are shifted: checking them field by field would only add noise.
            result.errors.extend(reader.errors)
            continue
        participant = ParticipantRow(
            line=row.line,
            full_name=reader.full_name(),
            badge_name=reader.text("badge_name"),
            email=reader.email(),
            organisation=reader.text("organisation"),
            role=reader.role(),
            team=reader.optional("team"),
            guardian_contact=reader.text("guardian_contact"),
            photo_consent=reader.photo_consent(),
            notes=reader.text("notes"),
            external_id=reader.optional("external_id"),
        )
        if reader.errors:
            result.errors.extend(reader.errors)
        else:
            result.rows.append(participant)
    return result


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def neutralise_cell(value: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula (starts with = + - @, tab or
    CR, or their full-width forms); return other cells unchanged."""
    return _NEUTRALISER + value if value.startswith(_FORMULA_STARTS) else value


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def write_csv(
    header: Sequence[object], rows: Iterable[Sequence[object]], *, delimiter: str = ","
) -> bytes:
    """Return CSV bytes Excel opens with accents intact: UTF-8 with BOM, CRLF, ``delimiter``
    between cells (``","``, or ``";"`` for Excel where the decimal separator is a comma).

    ``None`` becomes an empty cell, booleans ``yes``/``no``, dates ISO 8601, anything else
    ``str()``. Every cell, the header included, goes through :func:`neutralise_cell`.

    :raise ValueError: ``delimiter`` is not one :func:`read_table` recognises.
    """
    if delimiter not in _DELIMITERS:
        raise ValueError(f"delimiter must be one of {_DELIMITERS!r}, not {delimiter!r}")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise_cell(_cell_text(cell)) for cell in header])
    for row in rows:
        writer.writerow([neutralise_cell(_cell_text(cell)) for cell in row])
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
