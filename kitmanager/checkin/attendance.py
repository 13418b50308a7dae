"""Attendance as a spreadsheet: one row per participant, one column per session, hours attended.

The same table goes out as CSV (through the CSV writer every export uses) and as an Excel
workbook. Times are the workshop's wall-clock times.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import select

from kitmanager.extensions import db
from kitmanager.models import CheckIn, Role, Workshop, WorkshopSession
from kitmanager.participants.csv_io import write_csv
from kitmanager.participants.services import list_participants
from kitmanager.text import safe_text
from kitmanager.workshops.services import utc_to_local

__all__ = [
    "ATTENDANCE_ROLE",
    "AttendanceSheet",
    "attendance_csv",
    "attendance_sheet",
    "attendance_xlsx",
]

ATTENDANCE_ROLE = Role.TRAINER
"""Who may read who attended: the attendance export and the API's attendance list alike."""

# Excel caps a sheet title at 31 characters.
_SHEET_TITLE_MAX = 31


@dataclass
class AttendanceSheet:
    header: list[str]
    rows: list[list[object]]


def _hours(sessions: Sequence[WorkshopSession]) -> float:
    total = sum((s.ends_at - s.starts_at for s in sessions), timedelta())
    return round(total.total_seconds() / 3600, 2)


def attendance_sheet(workshop: Workshop) -> AttendanceSheet:
    """Everyone registered, the time they checked in to each session (empty: absent), the
    number of sessions and the hours they attended."""
    sessions = list(workshop.sessions)
    present: dict[tuple[int, int], CheckIn] = {
        (row.participant_id, row.session_id): row
        for row in db.session.scalars(
            select(CheckIn)
            .join(WorkshopSession, CheckIn.session_id == WorkshopSession.id)
            .where(WorkshopSession.workshop_id == workshop.id)
        )
    }
    header = [_("Full name"), _("Team"), _("Role")]
    for session in sessions:
        start = utc_to_local(session.starts_at, workshop.timezone)
        header.append(f"{session.title} ({start:%Y-%m-%d %H:%M})")
    header += [_("Sessions attended"), _("Hours attended")]
    rows: list[list[object]] = []
    for person in list_participants(workshop):
        attended = [s for s in sessions if (person.id, s.id) in present]
        cells: list[object] = [
            safe_text(person.full_name),
            safe_text(person.team.name) if person.team else "",
            person.role,
        ]
        for session in sessions:
            check = present.get((person.id, session.id))
            cells.append(
                f"{utc_to_local(check.at, workshop.timezone):%H:%M}" if check is not None else ""
            )
        cells += [len(attended), _hours(attended)]
        rows.append(cells)
    return AttendanceSheet(header, rows)


def attendance_csv(workshop: Workshop) -> bytes:
    sheet = attendance_sheet(workshop)
    return write_csv(sheet.header, sheet.rows)


def attendance_xlsx(workshop: Workshop) -> bytes:
    """The attendance sheet as an .xlsx workbook; text cells stay text (never formulas)."""
    sheet = attendance_sheet(workshop)
    book = Workbook(write_only=True)
    page = book.create_sheet(title=_("Attendance")[:_SHEET_TITLE_MAX])

    def row(values: Sequence[object]) -> list[WriteOnlyCell]:
        cells = []
        for value in values:
            cell = WriteOnlyCell(page, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # "=HYPERLINK(...)" typed as a name stays a name
            cells.append(cell)
        return cells

    page.append(row(sheet.header))
    for values in sheet.rows:
        page.append(row(values))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
