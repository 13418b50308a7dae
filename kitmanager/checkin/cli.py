"""`kitmanager attendance SLUG`: the attendance sheet as CSV or an Excel workbook."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from kitmanager.checkin.attendance import attendance_csv, attendance_xlsx
from kitmanager.workshops.cli import workshop_or_fail


@click.command("attendance")
@click.argument("slug")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write: .csv or .xlsx (default: SLUG-attendance.csv).",
)
@with_appcontext
def attendance_command(slug: str, output: Path | None) -> None:
    """Write who attended which session, with hours per participant."""
    workshop = workshop_or_fail(slug)
    target = output or Path(f"{workshop.slug}-attendance.csv")
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise click.ClickException(f"{target}: name the file .csv or .xlsx.")
    data = attendance_xlsx(workshop) if suffix == ".xlsx" else attendance_csv(workshop)
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror}") from None
    click.echo(f"Wrote {target}")


def register(app: Flask) -> None:
    app.cli.add_command(attendance_command)
