"""`kitmanager boards ...`: the boards page from the command line, results stored on the kits.

``firmware-tools`` stays the tool for boards without the app; these commands do the same
work through the app's library, ports and kits, and keep every result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from firmware_tools.cli import LiveProgress, summary_table
from firmware_tools.drivers import families
from kitmanager.audit import cli_actor
from kitmanager.boards.jobs import execute_plan
from kitmanager.boards.services import (
    BoardsError,
    FirmwareFile,
    add_firmware,
    add_port,
    bind_port,
    firmware_by_name,
    firmware_library,
    known_ports,
    plan_job,
    remove_port,
)
from kitmanager.models import BoardRunKind
from kitmanager.unit_of_work import unit_of_work


@click.group("boards")
def boards_group() -> None:
    """Flash and check the boards on this laptop's hub; results are kept on each kit."""


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@boards_group.group("ports", invoke_without_command=True)
@click.pass_context
@with_appcontext
def ports_group(ctx: click.Context) -> None:
    """List the ports: USB ones found now, and those added by hand."""
    if ctx.invoked_subcommand is not None:
        return
    found = known_ports()
    if not found:
        click.echo("No boards found: plug them in, or add a port with `boards ports add`.")
    for port in found:
        kit = port.kit.code if port.kit else "-"
        how = "added by hand" if port.hand_added else (port.place or port.board)
        click.echo(f"{port.device}\t{port.family}\t{kit}\t{how}")


@ports_group.command("add")
@click.argument("device")
@click.option(
    "--family",
    "family",
    required=True,
    type=click.Choice(families()),
    help="The board family behind the port (such a port cannot tell).",
)
@with_appcontext
def ports_add(device: str, family: str) -> None:
    """Add a port that is not USB: a serial device (/dev/ttyAMA0, /dev/serial/by-id/...),
    socket://HOST:PORT or rfc2217://HOST:PORT (nothing after the port)."""
    try:
        with unit_of_work():
            add_port(cli_actor(), device, family)
    except ValueError as exc:
        raise _fail(exc) from None
    click.echo(f"Added {device} ({family}).")


@ports_group.command("remove")
@click.argument("device")
@with_appcontext
def ports_remove(device: str) -> None:
    """Forget a port added by hand."""
    try:
        with unit_of_work():
            remove_port(cli_actor(), device)
    except ValueError as exc:
        raise _fail(exc) from None
    click.echo(f"Removed {device}.")


@boards_group.command("bind")
@click.argument("device")
@click.argument("label")
@with_appcontext
def bind_command(device: str, label: str) -> None:
    """Say that the board on DEVICE belongs to the kit LABEL (its code or label address)."""
    try:
        with unit_of_work():
            kit = bind_port(cli_actor(), device, label)
    except ValueError as exc:
        raise _fail(exc) from None
    click.echo(f"The board on {device} belongs to {kit.code}.")


@boards_group.group("firmware", invoke_without_command=True)
@click.pass_context
@with_appcontext
def firmware_group(ctx: click.Context) -> None:
    """List the firmware library."""
    if ctx.invoked_subcommand is not None:
        return
    with unit_of_work():
        library = firmware_library()
    for row in library:
        builtin = " (built in)" if row.builtin else ""
        click.echo(f"{row.name}@{row.version}\t{row.family}\t{row.sha256}{builtin}")


@firmware_group.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--name", required=True, help="The firmware's name, e.g. kitbot.")
@click.option("--version", "version", required=True, help="Its version, e.g. 1.3.0.")
@click.option("--family", default="", help="Board family (default: from the files).")
@click.option("--address", default=None, help="Where a .bin goes, e.g. 0x10000.")
@click.option("--notes", default="", help="Notes for the trainers.")
@with_appcontext
def firmware_add(
    paths: tuple[Path, ...],
    name: str,
    version: str,
    family: str,
    address: str | None,
    notes: str,
) -> None:
    """Add a firmware to the library: a .hex, a .bin with --address, or a folder or files of
    MicroPython."""
    files = []
    for path in paths:
        if path.is_dir():
            files += [
                FirmwareFile(f"{path.name}/{p.relative_to(path).as_posix()}", p.read_bytes())
                for p in sorted(path.rglob("*"))
                if p.is_file()
            ]
        else:
            files.append(FirmwareFile(path.name, path.read_bytes()))
    try:
        at = int(address, 0) if address else None
    except ValueError:
        raise click.BadParameter("write the address as a number, e.g. 0x10000") from None
    try:
        with unit_of_work():
            row = add_firmware(
                cli_actor(),
                name=name,
                version=version,
                files=files,
                family=family,
                address=at,
                notes=notes,
            )
    except ValueError as exc:
        raise _fail(exc) from None
    click.echo(f"Added {row.title}, SHA-256 {row.sha256}.")


def _ports_option(function):
    function = click.option(
        "--port",
        "ports",
        multiple=True,
        metavar="PORT",
        help="A port (as `boards ports` lists it); repeatable.",
    )(function)
    return click.option("--all", "every", is_flag=True, help="Every port known.")(function)


def _run(kind: BoardRunKind, every: bool, ports: tuple[str, ...], firmware=None) -> None:
    if every == bool(ports):
        raise click.UsageError("Give --all, or one --port or more.")
    actor = cli_actor()
    try:
        with unit_of_work():
            plan = plan_job(actor, kind, None if every else list(ports), firmware)
    except ValueError as exc:
        raise _fail(exc) from None
    live = LiveProgress([spec.port for spec in plan.boards], sys.stderr)
    click.echo(f"{kind.value}: {len(plan.boards)} board(s)", err=True)
    try:
        batch = execute_plan(plan, actor, on_progress=live.update)
    except BoardsError as exc:
        raise click.ClickException(str(exc)) from None
    live.finish()
    click.echo(summary_table(batch))
    click.echo("Results stored on each kit.")
    if not batch.ok:
        sys.exit(1)


@boards_group.command("flash")
@click.argument("firmware")
@_ports_option
@with_appcontext
def flash_command(firmware: str, every: bool, ports: tuple[str, ...]) -> None:
    """Flash FIRMWARE (a library name, NAME@VERSION or id; each board gets its family's)
    onto the boards, and store each result on its kit. Exit code 1 when a board failed."""
    try:
        rows = firmware_by_name(firmware)
    except ValueError as exc:
        if Path(firmware).exists():
            raise click.ClickException(
                f"{firmware} is a file: add it to the library first with `kitmanager boards "
                "firmware add PATH --name NAME --version VERSION`, then flash it by its name"
            ) from None
        raise _fail(exc) from None
    _run(BoardRunKind.FLASH, every, ports, rows)


@boards_group.command("check")
@_ports_option
@with_appcontext
def check_command(every: bool, ports: tuple[str, ...]) -> None:
    """Health-check the boards and store each result on its kit (a failed check sets the
    kit to "needs attention"). Exit code 1 when a board failed."""
    _run(BoardRunKind.CHECK, every, ports)


def register(app: Flask) -> None:
    app.cli.add_command(boards_group)
