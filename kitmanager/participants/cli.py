"""`kitmanager participants ...`: import, export, list."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from kitmanager.audit import cli_actor
from kitmanager.participants.csv_io import CsvError, guess_mapping, parse_participants, read_table
from kitmanager.participants.fields import ROLES
from kitmanager.participants.services import (
    EXPORT_DELIMITERS,
    ImportRefused,
    ParticipantError,
    ParticipantFields,
    apply_import,
    create_participant,
    database_reason,
    export_participants_csv,
    list_participants,
    plan_import,
)
from kitmanager.settings.cli import badge_address, base_url_option
from kitmanager.text import safe_text
from kitmanager.unit_of_work import command_unit_of_work, unit_of_work
from kitmanager.workshops.cli import workshop_or_fail

participants = AppGroup("participants", help="Participants of a workshop.")


@participants.command("import")
@click.argument("slug")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and show what would happen.")
@click.option(
    "--on-duplicate",
    type=click.Choice(["skip", "update"]),
    default="skip",
    show_default=True,
    help="What to do with people already registered (same email or same name).",
)
@click.option("--only-valid", is_flag=True, help="Import the valid rows even if some are bad.")
@click.option(
    "--sheet",
    metavar="NAME",
    help="The sheet of an Excel workbook to import (default: the first one with data).",
)
def import_command(
    slug: str, file: Path, dry_run: bool, on_duplicate: str, only_valid: bool, sheet: str | None
) -> None:
    """Import participants from a sign-up CSV file or Excel workbook (.xlsx), all or nothing
    unless --only-valid."""
    workshop = workshop_or_fail(slug)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"Cannot read {file}: {exc.strerror}.") from None
    table = None
    try:
        table = read_table(data, sheet=sheet)
        mapping = guess_mapping(table.headers)
        parsed = parse_participants(table, mapping)
    except CsvError as exc:
        hint = ""
        if table is not None and sheet is None and len(table.sheets) > 1:
            # The first sheet with data was read; the list may well be on another one.
            others = ", ".join(repr(name) for name in table.sheets if name != table.sheet)
            hint = (
                f" (read sheet {table.sheet!r}; this workbook also has {others}: "
                "choose with --sheet)"
            )
        raise click.ClickException(f"{file}: {exc}{hint}") from None
    if sheet is not None and table.sheet is None:
        raise click.ClickException(f"{file} is a CSV file: --sheet is for Excel workbooks only.")
    plan = plan_import(workshop, parsed)
    mapped = ", ".join(f"{field}={table.headers[index]!r}" for field, index in mapping.items())
    source = table.encoding if table.sheet is None else f"sheet {table.sheet!r}"
    if len(table.sheets) > 1:
        others = ", ".join(repr(name) for name in table.sheets if name != table.sheet)
        source += f"; other sheets: {others}, choose with --sheet"
    click.echo(f"{file.name}: {len(table.rows)} rows ({source}, columns: {mapped})")
    for error in plan.errors:
        click.echo(f"  line {error.line}, column {error.column!r}: {error.message}", err=True)
    for dup in plan.duplicates:
        what = (
            f"already registered as {dup.existing.full_name!r}"
            if dup.existing is not None
            else f"same {dup.reason} as line {dup.earlier_line}"
        )
        click.echo(f"  line {dup.row.line}: {dup.row.full_name!r} {what} ({dup.reason})")
    click.echo(
        f"{len(plan.new)} new, {len(plan.duplicates)} duplicate(s) ({on_duplicate}), "
        f"{len({e.line for e in plan.errors})} invalid row(s)."
    )
    if dry_run:
        if plan.errors:
            click.echo(
                "Dry run: the file has errors; nothing would be imported as it is.", err=True
            )
            sys.exit(1)
        click.echo("Dry run: nothing written.")
        return
    try:
        with unit_of_work():
            summary = apply_import(
                cli_actor(), workshop, plan, on_duplicate=on_duplicate, only_valid=only_valid
            )
    except (ImportRefused, ParticipantError) as exc:
        raise click.ClickException(f"{exc} (use --only-valid to import the valid rows)") from None
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"The database refused the import ({database_reason(exc)}), so nothing was saved."
        ) from None
    click.echo(
        f"Imported into '{workshop.slug}': {summary.created} added, {summary.updated} updated, "
        f"{summary.skipped} skipped, {summary.invalid_skipped} invalid skipped."
    )


@participants.command("export")
@click.argument("slug")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File (default: stdout).",
)
@click.option(
    "--delimiter",
    type=click.Choice(sorted(EXPORT_DELIMITERS)),
    default="comma",
    show_default=True,
    help="Separator between columns; Excel in French expects semicolon.",
)
@base_url_option
def export_command(slug: str, output: Path | None, delimiter: str, url: str | None = None) -> None:
    """Export participants with their badge URLs as CSV (UTF-8 with BOM, for Excel)."""
    workshop = workshop_or_fail(slug)
    data = export_participants_csv(
        workshop, badge_address(url), delimiter=EXPORT_DELIMITERS[delimiter]
    )
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    output.write_bytes(data)
    click.echo(f"Wrote {len(list_participants(workshop))} participants to {output}.", err=True)


@participants.command("list")
@click.argument("slug")
def list_command(slug: str) -> None:
    """List participants of a workshop."""
    workshop = workshop_or_fail(slug)
    for p in list_participants(workshop):
        # Rows stored before entry cleaning existed must not move the cursor or recolour.
        team = f" [{safe_text(p.team.name)}]" if p.team else ""
        click.echo(f"{safe_text(p.full_name)}{team}  {safe_text(p.email)}  {p.role}")


@participants.command("add")
@click.argument("slug")
@click.argument("full_name")
@click.option("--email")
@click.option("--organisation", default="")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="participant",
)
@click.option("--team")
def add_command(slug, full_name, email, organisation, role, team) -> None:
    """Add one participant."""
    workshop = workshop_or_fail(slug)
    with command_unit_of_work():
        participant = create_participant(
            cli_actor(),
            workshop,
            ParticipantFields(
                full_name=full_name, email=email, organisation=organisation, role=role, team=team
            ),
        )
    click.echo(f"Added {participant.full_name}.")


def register(app: Flask) -> None:
    app.cli.add_command(participants)
