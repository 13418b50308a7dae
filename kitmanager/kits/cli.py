"""`kitmanager kits ...`: kit types, bulk creation, listing, import, labels and contents cards."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from kitmanager.audit import cli_actor
from kitmanager.kits.importing import (
    SHOWN_CODES,
    KitImportError,
    apply_kit_import,
    plan_kit_import,
    read_kit_table,
    refusal,
)
from kitmanager.kits.services import (
    CODE_PREFIX,
    MAX_BULK,
    ComponentLine,
    KitError,
    create_kit_type,
    create_kits,
    kit_label_url,
    kit_type_by_name,
    list_kit_types,
    list_kits,
)
from kitmanager.models import Kit, KitStatus, KitType
from kitmanager.participants.csv_io import ZIP_SIGNATURE, CsvError
from kitmanager.participants.services import IMPORT_BATCH_ROWS, ImportNotUndone, database_reason
from kitmanager.printing.kit_labels import (
    card_layouts,
    label_layouts,
    print_kit_labels,
)
from kitmanager.scans import kit_label_url as label_url_of
from kitmanager.settings.cli import badge_address, base_url_option
from kitmanager.text import safe_text
from kitmanager.unit_of_work import command_unit_of_work, unit_of_work
from printouts import DEFAULT_LAYOUTS, LANGUAGES

kits = AppGroup("kits", help="Robot kits: types, codes, labels.")
types = AppGroup("types", help="Kit types and their bill of materials.")
kits.add_command(types)

CONSUMABLE = "consumable"


def parse_component(text: str) -> ComponentLine:
    """``NAME[:QUANTITY][:consumable]`` as ``--component`` takes it ("Jumper wires:20:consumable").

    :raise click.BadParameter: no name, or a quantity followed by something other than
        "consumable" (a typo such as "Jumper wires:20:consumabel").
    """
    parts = text.split(":")
    must_return = True
    if len(parts) > 1 and parts[-1].strip().lower() == CONSUMABLE:
        must_return = False
        parts.pop()
    quantity = 1
    if len(parts) > 1 and parts[-1].strip().lstrip("-").isdigit():
        quantity = int(parts.pop().strip())
    elif len(parts) > 1 and not parts[-1].strip():
        parts.pop()
    if any(part.strip().lstrip("-").isdigit() for part in parts[1:]):
        # A quantity followed by something other than "consumable": a typo, not a name.
        raise click.BadParameter(
            f"{text!r}: {parts[-1].strip()!r} is neither a quantity nor 'consumable'; write "
            "NAME[:QUANTITY][:consumable], e.g. 'Jumper wires:20:consumable'.",
            param_hint="'--component'",
        )
    name = ":".join(parts).strip()
    if not name:
        raise click.BadParameter(
            f"{text!r} has no name; write NAME[:QUANTITY][:consumable], e.g. 'Jumper wires:20:"
            "consumable'.",
            param_hint="'--component'",
        )
    return ComponentLine(name, quantity, must_return)


def kit_type_or_fail(name: str) -> KitType:
    kit_type = kit_type_by_name(name)
    if kit_type is None:
        known = ", ".join(repr(t.name) for t in list_kit_types()) or "none yet"
        raise click.ClickException(
            f"No kit type named {name!r} (known: {known}); create it with "
            "`kitmanager kits types add NAME --component ...`."
        )
    return kit_type


@types.command("add")
@click.argument("name")
@click.option(
    "--component",
    "components",
    multiple=True,
    metavar="NAME[:QTY][:consumable]",
    help="One line of the bill of materials (repeatable), e.g. 'Arduino Nano:1' or "
    "'Jumper wires:20:consumable' (consumables need not come back).",
)
@click.option("--description", default="", help="What the kit is for.")
def types_add_command(name: str, components: tuple[str, ...], description: str) -> None:
    """Add a kit type with its bill of materials."""
    lines = [parse_component(text) for text in components]
    if not lines:
        raise click.ClickException(
            "Give the bill of materials with --component, e.g. --component 'Arduino Nano:1'."
        )
    with command_unit_of_work():
        kit_type = create_kit_type(cli_actor(), name, lines, description)
    click.echo(f"Added kit type {kit_type.name!r} with {len(kit_type.components)} component(s).")


@types.command("list")
def types_list_command() -> None:
    """List kit types and their bill of materials."""
    known = list_kit_types()
    if not known:
        click.echo("No kit types yet: add one with `kitmanager kits types add`.", err=True)
        return
    for kit_type in known:
        click.echo(safe_text(kit_type.name))
        for component in kit_type.components:
            mark = "" if component.must_return else f"  ({CONSUMABLE})"
            click.echo(f"  {component.quantity:>4} × {safe_text(component.name)}{mark}")


@kits.command("create")
@click.option("--type", "type_name", required=True, metavar="NAME", help="The kit type.")
@click.option(
    "--count",
    required=True,
    type=click.IntRange(1, MAX_BULK),
    help=f"How many kits (1 to {MAX_BULK}).",
)
@click.option("--prefix", default=CODE_PREFIX, show_default=True, help="Code prefix.")
def create_command(type_name: str, count: int, prefix: str) -> None:
    """Create COUNT kits of a type, numbered on from the highest code; prints the codes."""
    kit_type = kit_type_or_fail(type_name)
    with command_unit_of_work():
        created = create_kits(cli_actor(), kit_type, count, prefix)
    for kit in created:
        click.echo(kit.code)
    click.echo(f"Created {len(created)} kit(s) of type {kit_type.name!r}.", err=True)


def _holder(kit: Kit) -> dict[str, str | None] | None:
    handout = kit.open_handout
    if handout is None:
        return None
    participant = handout.participant
    team = handout.team or (participant.team if participant is not None else None)
    return {
        "name": participant.full_name if participant is not None else None,
        "team": team.name if team is not None else None,
        "to_team": handout.team is not None,
        "due_at": handout.due_at.isoformat() if handout.due_at else None,
    }


@kits.command("list")
@click.option(
    "--status",
    type=click.Choice([status.value for status in KitStatus]),
    help="Only kits with this status.",
)
@click.option("--type", "type_name", metavar="NAME", help="Only kits of this type.")
@click.option("--json", "as_json", is_flag=True, help="JSON with holders and label URLs.")
@base_url_option
def list_command(
    status: str | None, type_name: str | None, as_json: bool, url: str | None = None
) -> None:
    """List kits: code, type, status and who holds them."""
    kit_type = kit_type_or_fail(type_name) if type_name else None
    listed = list_kits(
        KitStatus(status) if status else None, kit_type.id if kit_type is not None else None
    )
    if as_json:
        address = badge_address(url)
        rows = [
            {
                "code": kit.code,
                "type": kit.kit_type.name,
                "status": kit.status.value,
                "holder": _holder(kit),
                "label_url": kit_label_url(kit, address),
            }
            for kit in listed
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for kit in listed:
        holder = _holder(kit)
        who = ""
        if holder is not None:
            who = "  " + safe_text(holder["name"] or "")
            if holder["team"]:
                who += f" [{safe_text(holder['team'])}]"
        click.echo(f"{kit.code:<12} {kit.status.value:<16} {safe_text(kit.kit_type.name)}{who}")
    if not listed:
        click.echo("No kits match.", err=True)


@kits.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sheet", metavar="NAME", help="The sheet of an Excel workbook to import.")
@click.option("--dry-run", is_flag=True, help="Check the file and show what would happen.")
def import_command(file: Path, sheet: str | None, dry_run: bool) -> None:
    """Import kits from a CSV file or Excel workbook (columns: code, type, notes, board family,
    USB serial), all or nothing."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"Cannot read {file}: {exc.strerror}.") from None
    try:
        table = read_kit_table(data, sheet=sheet)
        plan = plan_kit_import(table)
    except (CsvError, KitImportError) as exc:
        hint = ""
        if sheet is None and data.startswith(ZIP_SIGNATURE):
            hint = " (if the kits are on another sheet of the workbook, choose it with --sheet)"
        raise click.ClickException(f"{file}: {exc}{hint}") from None
    if sheet is not None and table.sheet is None:
        raise click.ClickException(f"{file} is a CSV file: --sheet is for Excel workbooks only.")
    for error in plan.errors:
        click.echo(f"  {refusal(error)}", err=True)
    click.echo(f"{file.name}: {len(plan.rows)} kit(s) to add, {plan.bad_lines} row(s) with errors.")
    if plan.errors:
        raise click.ClickException(
            f"Nothing was imported: fix the {plan.bad_lines} row(s) above and import again."
        )
    if dry_run:
        click.echo("Dry run: nothing written.")
        return
    try:
        # committed in batches: a server running on the same data keeps answering scans
        with unit_of_work():
            created = apply_kit_import(cli_actor(), plan, batch_rows=IMPORT_BATCH_ROWS)
    except (KitError, ImportNotUndone) as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"The database refused the import ({database_reason(exc)}), so nothing was saved."
        ) from None
    more = len(created) - SHOWN_CODES
    shown = ", ".join(created[:SHOWN_CODES]) + (f" and {more} more" if more > 0 else "")
    click.echo(f"Imported {len(created)} kit(s): {shown}.")


@kits.command("labels")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="PDF file to write.",
)
@click.option(
    "--layout",
    metavar="LAYOUT",
    help=f"Label layout (default {DEFAULT_LAYOUTS['kit-label']}; with --cards "
    f"{DEFAULT_LAYOUTS['kit-card']}). See --list-layouts.",
)
@click.option("--code", "codes", multiple=True, metavar="CODE", help="Only this kit (repeatable).")
@click.option("--type", "type_name", metavar="NAME", help="Only kits of this type.")
@click.option("--cards", is_flag=True, help="A6 contents cards (checklists) instead of labels.")
@click.option("--start-slot", default=1, show_default=True, type=int, help="First free label.")
@click.option(
    "--language",
    type=click.Choice(LANGUAGES),
    help="Language printed (default: the workshop's running now, or the latest).",
)
@click.option("--list-layouts", is_flag=True, help="List the layouts and exit.")
@base_url_option
def labels_command(
    output: Path,
    layout: str | None,
    codes: tuple[str, ...],
    type_name: str | None,
    cards: bool,
    start_slot: int,
    language: str | None,
    list_layouts: bool,
    url: str | None = None,
) -> None:
    """Print kit labels (QR of each kit's label address), or contents cards, as one PDF."""
    if list_layouts:
        for lay in card_layouts() if cards else label_layouts():
            click.echo(f"{lay.id:<20} {lay.slots_per_page:>3} per page  {lay.title}")
        return
    kit_type = kit_type_or_fail(type_name) if type_name else None
    address = badge_address(url)
    with command_unit_of_work():
        printed = print_kit_labels(
            cli_actor(),
            address,
            layout=layout,
            codes=list(codes) or None,
            kit_type=kit_type,
            cards=cards,
            start_slot=start_slot,
            language=language,
        )
        try:
            output.write_bytes(printed.pdf)
        except OSError as exc:  # nothing printed: the print is not recorded either
            raise click.ClickException(f"Cannot write {output}: {exc.strerror}.") from None
    for warning in printed.warnings:
        click.echo(f"warning: {warning}", err=True)
    what = "contents cards" if cards else "labels"
    click.echo(
        f"Wrote {printed.count} {what} on {printed.pages} page(s) of "
        f"{printed.layout.title_in(printed.language)} to {output}; their QR codes open "
        f"{label_url_of(address, '...')}"
    )


def register(app: Flask) -> None:
    app.cli.add_command(kits)
