"""Kits from a CSV file or an Excel workbook: plan (check every row), then apply, all or nothing.

The file is read by the participants import's readers (:func:`read_table`: encodings,
delimiters, .xlsx sheets). Columns: the kit code and its type (a kit type that exists),
optional notes, board family and USB serial number. A row with any problem (an unknown type,
a code or serial number used twice in the file or by a kit already there) is an error naming
its line and column, and one error means nothing is imported. A checked file is written in
short batches, so scans go on during a long import; if a batch fails, the kits of the batches
before it are removed again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, select

from kitmanager.audit import Actor, record_event
from kitmanager.extensions import db
from kitmanager.kits.services import KitError, board_family, checked_kit_code
from kitmanager.models import Kit, KitType, new_token, utcnow
from kitmanager.participants.csv_io import (
    CsvError,
    EmptyTableError,
    RowError,
    Table,
    comparable_text,
    read_table,
)
from kitmanager.participants.services import write_in_batches
from kitmanager.text import UnreadableText, clean_text, safe_text

__all__ = [
    "COLUMNS",
    "KitImportError",
    "KitImportPlan",
    "KitImportRefused",
    "KitImportRow",
    "apply_kit_import",
    "guess_kit_columns",
    "imported_message",
    "plan_kit_import",
    "refusal",
]

# field -> (what the page calls it, header names matched after lower-casing and removing
# accents and punctuation). The first two are required.
COLUMNS: dict[str, tuple[object, tuple[str, ...]]] = {
    "code": (_l("Kit code"), ("code", "kit code", "kit", "code du kit", "code kit", "numero")),
    "kit_type": (
        _l("Kit type"),
        ("type", "kit type", "type de kit", "type du kit", "modele", "model"),
    ),
    "notes": (_l("Notes"), ("notes", "note", "remarks", "remarques", "comment", "commentaire")),
    "board_family": (
        _l("Board family"),
        ("board family", "board", "family", "carte", "famille", "famille de carte"),
    ),
    "board_serial": (
        _l("USB serial number"),
        (
            "usb serial",
            "usb serial number",
            "serial",
            "serial number",
            "numero de serie",
            "numero de serie usb",
            "serie",
        ),
    ),
}
REQUIRED = ("code", "kit_type")


class KitImportError(KitError):
    """The file as a whole cannot be imported (a required column is missing)."""


class KitImportRefused(KitError):
    """The plan has row errors, so nothing was imported; the message names the first one."""


@dataclass
class KitImportRow:
    """One valid kit read from the row starting at ``line``."""

    line: int
    code: str
    kit_type: KitType
    notes: str = ""
    board_family: str = ""
    board_serial: str | None = None


@dataclass
class KitImportPlan:
    """What importing the file would do: ``rows`` (valid kits) and every ``errors`` found;
    ``mapping`` is the column (index into ``table.headers``) of each field read."""

    table: Table
    mapping: dict[str, int]
    rows: list[KitImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def bad_lines(self) -> int:
        return len({error.line for error in self.errors})


def guess_kit_columns(headers: Sequence[str]) -> dict[str, int]:
    """The column of each field whose header is one of its names (first match wins), headers
    compared as the participants import compares them (no case, accents or punctuation)."""
    keys = [comparable_text(header) for header in headers]
    mapping: dict[str, int] = {}
    for name, (_label, synonyms) in COLUMNS.items():
        for index, key in enumerate(keys):
            if key in synonyms and index not in mapping.values():
                mapping[name] = index
                break
    return mapping


def _in_kit_words() -> list[tuple[str, str]]:
    """The table reader's refusals that speak of a sign-up list, each with what a kit list
    says instead (both templates in the request's language)."""
    return [
        (
            _(
                "Line %(line)s has %(columns)s columns; a participant list can have at most "
                "%(limit)s. Check this is the sign-up list, delete the columns you do not need and "
                "import again."
            ),
            _(
                "Line %(line)s has %(columns)s columns; a kit list can have at most %(limit)s. "
                "Check this is the kit list, delete the columns you do not need and import again."
            ),
        ),
        (
            _(
                "Every sheet of this workbook is empty. Export the sign-up list again and import "
                "that file."
            ),
            _(
                "Every sheet of this workbook is empty. Put the kits on a sheet, one per row below "
                "a header line such as “code,type”, and import that workbook."
            ),
        ),
        (
            _(
                "This workbook is too large to import (%(size)s MB once unpacked). Keep only the "
                "sheet of participants, or split it into smaller files."
            ),
            _(
                "This workbook is too large to import (%(size)s MB once unpacked). Keep only the "
                "sheet of kits, or split it into smaller files."
            ),
        ),
    ]


def _template_pattern(template: str) -> re.Pattern[str]:
    """A pattern matching ``template`` filled in, capturing each ``%(name)s``."""
    parts = re.split(r"%\((\w+)\)s", template)
    return re.compile(
        "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        + r"\Z",
        re.S,
    )


def _about_kits(error: CsvError) -> CsvError:
    """``error`` in words about kits when the reader spoke of a sign-up list (it is shared
    with the participants import)."""
    text = str(error)
    for theirs, ours in _in_kit_words():
        found = _template_pattern(theirs).match(text)
        if found:
            return CsvError(ours % found.groupdict())
    return error


def read_kit_table(data: bytes, sheet: str | None = None) -> Table:
    """:func:`read_table` for a kit list: what the reader refuses is said in words about kits,
    not about a sign-up list.

    :raise CsvError: as :func:`read_table`.
    """
    try:
        return read_table(data, sheet=sheet)
    except EmptyTableError:
        raise CsvError(
            _(
                "The file has no kit in it: one kit per row, below a header line such as "
                "“code,type”. Save the kit list again and import that file."
            )
        ) from None
    except CsvError as error:
        raise _about_kits(error) from None


def plan_kit_import(table: Table, mapping: dict[str, int] | None = None) -> KitImportPlan:
    """Check every row of ``table`` (columns as ``mapping`` says, else guessed).

    :raise KitImportError: no column for the kit code or the kit type.
    """
    mapping = guess_kit_columns(table.headers) if mapping is None else mapping
    for name in REQUIRED:
        if name not in mapping:
            label, synonyms = COLUMNS[name]
            raise KitImportError(
                _(
                    "The file has no column for “%(field)s”: name a column “%(header)s” "
                    "(the columns are %(columns)s).",
                    field=label,
                    header=synonyms[0],
                    columns=", ".join(f"“{safe_text(h)}”" for h in table.headers),
                )
            )
    plan = KitImportPlan(table, dict(mapping))
    types = {
        kit_type.name.casefold(): kit_type for kit_type in db.session.scalars(select(KitType)).all()
    }
    taken_codes = set(db.session.scalars(select(Kit.code)))
    taken_serials = set(
        db.session.scalars(select(Kit.board_serial).where(Kit.board_serial.is_not(None)))
    )
    code_lines: dict[str, int] = {}
    serial_lines: dict[str, int] = {}
    limits = {
        "notes": Kit.__table__.c.notes.info["max_length"],
        "board_serial": Kit.__table__.c.board_serial.type.length,
    }
    for row in table.rows:
        errors: list[RowError] = []

        def fail(name: str, value: str, message: str, row=row, errors=errors) -> None:
            errors.append(RowError(row.line, table.headers[mapping[name]], value, message))

        def cell(name: str, row=row) -> str:
            index = mapping.get(name)
            raw = "" if index is None else row.cells[index]
            try:
                return clean_text(raw, multiline=name == "notes")
            except UnreadableText:
                fail(name, safe_text(raw), _("This cell holds a broken character: retype it."))
                return ""

        code = cell("code")
        if not code:
            fail("code", "", _("Give the kit's code, such as KIT-017."))
        else:
            try:
                code = checked_kit_code(code)
            except KitError as exc:
                fail("code", code, str(exc))
            else:
                if code in code_lines:
                    fail(
                        "code",
                        code,
                        _("%(code)s is also on line %(line)s: give each kit its own code.",
                          code=code, line=code_lines[code]),
                    )  # fmt: skip
                elif code in taken_codes:
                    fail("code", code, _("There is already a kit %(code)s.", code=code))
                code_lines.setdefault(code, row.line)
        type_name = cell("kit_type")
        kit_type = types.get(" ".join(type_name.split()).casefold())
        if not type_name:
            fail("kit_type", "", _("Give the kit's type."))
        elif kit_type is None:
            fail(
                "kit_type",
                type_name,
                _(
                    "There is no kit type “%(name)s”: create it first (on the kit types "
                    "page, or with kitmanager kits types add) or correct the name.",
                    name=type_name,
                ),
            )
        notes = cell("notes")
        if len(notes) > limits["notes"]:
            fail("notes", notes[:40], _("Notes are limited to %(max)s characters.",
                                         max=limits["notes"]))  # fmt: skip
        family = cell("board_family")
        try:
            family = board_family(family)
        except KitError as exc:
            fail("board_family", family, str(exc))
        serial = cell("board_serial") or None
        if serial is not None:
            if len(serial) > limits["board_serial"]:
                fail("board_serial", serial[:40], _("This serial number is too long."))
            elif serial in serial_lines:
                fail(
                    "board_serial",
                    serial,
                    _("This serial number is also on line %(line)s: each board has its own.",
                      line=serial_lines[serial]),
                )  # fmt: skip
            elif serial in taken_serials:
                fail(
                    "board_serial",
                    serial,
                    _("Another kit already has the board with this serial number."),
                )
            serial_lines.setdefault(serial, row.line)
        if errors:
            plan.errors.extend(errors)
        else:
            assert kit_type is not None
            plan.rows.append(KitImportRow(row.line, code, kit_type, notes, family, serial))
    return plan


def refusal(error: RowError) -> str:
    """One line naming where an import error is and what it is."""
    return _(
        "Line %(line)s, column “%(column)s”: %(message)s",
        line=error.line,
        column=safe_text(error.column),
        message=error.message,
    )


def apply_kit_import(
    actor: Actor, plan: KitImportPlan, *, batch_rows: int | None = None
) -> list[str]:
    """Create every kit of ``plan``, or none: a plan with errors is refused. Returns the codes
    of the kits made, in the file's order.

    ``batch_rows`` None: in the session's transaction (the caller commits). Otherwise in
    committed batches of that many kits (:func:`write_in_batches`), scans going on between
    them; when a batch fails, the kits of the batches before it are deleted again.

    :raise KitImportRefused: the plan has errors (the message names the first and counts all),
        or has no kit at all.
    :raise KitError: a kit or board another trainer added since the plan was made.
    :raise ImportNotUndone: a batch failed and the kits before it could not all be deleted.
    """
    if plan.errors:
        first = refusal(plan.errors[0])
        raise KitImportRefused(
            _(
                "Nothing was imported: %(count)s row(s) have errors. %(first)s",
                count=plan.bad_lines,
                first=first,
            )
        )
    if not plan.rows:
        raise KitImportRefused(_("The file lists no kit: nothing to import."))
    now = utcnow()
    kits = [
        {
            "code": row.code,
            "kit_type_id": row.kit_type.id,
            "notes": row.notes.strip(),
            "board_family": row.board_family,
            "board_serial": row.board_serial,
            # made here, so a failed import finds its own kits again (and only those)
            "label_token": new_token(),
            "created_at": now,
            "updated_at": now,
        }
        for row in plan.rows
    ]
    codes = [kit["code"] for kit in kits]
    kit_types = sorted({row.kit_type.name for row in plan.rows})

    def write(rows: range, last: bool) -> None:
        batch = kits[rows.start : rows.stop]
        # Kits added since the file was checked (by another trainer) say so by name.
        taken = db.session.scalar(
            select(Kit.code).where(Kit.code.in_(codes[rows.start : rows.stop])).limit(1)
        )
        if taken is not None:
            raise KitError(_("There is already a kit %(code)s.", code=taken))
        serials = [kit["board_serial"] for kit in batch if kit["board_serial"]]
        owner = (
            serials
            and db.session.execute(
                select(Kit.code, Kit.board_serial).where(Kit.board_serial.in_(serials)).limit(1)
            ).first()
        )
        if owner:
            raise KitError(
                _("%(code)s has the board with serial number %(serial)s already.",
                  code=owner.code, serial=owner.board_serial)
            )  # fmt: skip
        db.session.execute(insert(Kit), batch)
        if last:
            record_event(
                actor, "kits.import", "kit", None,
                count=len(kits), codes=codes, kit_types=kit_types,
            )  # fmt: skip

    def undo(rows: range) -> None:
        tokens = [kit["label_token"] for kit in kits[rows.start : rows.stop]]
        db.session.execute(delete(Kit).where(Kit.label_token.in_(tokens)))

    write_in_batches(len(kits), write, undo, batch_rows=batch_rows)
    return codes


# A success message names this many kits; the rest are counted ("and 95 more").
SHOWN_CODES = 5


def imported_message(codes: Sequence[str]) -> str:
    """What an import that made the kits ``codes`` says: their count and the first few."""
    shown = ", ".join(codes[:SHOWN_CODES])
    if len(codes) <= SHOWN_CODES:
        return _("Imported %(count)s kits: %(codes)s.", count=len(codes), codes=shown)
    return _(
        "Imported %(count)s kits: %(codes)s and %(more)s more.",
        count=len(codes),
        codes=shown,
        more=len(codes) - SHOWN_CODES,
    )
