"""`kitmanager badges SLUG`: a badge sheet PDF from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from kitmanager.audit import cli_actor
from kitmanager.printing.services import (
    badge_layouts,
    print_badges,
)
from kitmanager.scans import badge_url
from kitmanager.settings.cli import badge_address, base_url_option
from kitmanager.unit_of_work import command_unit_of_work
from kitmanager.workshops.cli import workshop_or_fail
from printouts import DEFAULT_LAYOUTS


@click.command("badges")
@click.argument("slug")
@click.option("--layout", default=DEFAULT_LAYOUTS["badge"], show_default=True, help="Sheet layout.")
@click.option("--start-slot", default=1, show_default=True, type=int, help="First free label.")
@click.option("--cut-marks/--no-cut-marks", default=None, help="Default: as the layout says.")
@click.option("--participant", "ids", multiple=True, type=int, help="Only this id (repeatable).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="PDF file to write."
)
@click.option("--list-layouts", is_flag=True, help="List the badge layouts and exit.")
@base_url_option
@with_appcontext
def badges_command(slug, layout, start_slot, cut_marks, ids, output, list_layouts, url) -> None:
    """Print QR badges for a workshop's participants as one PDF."""
    if list_layouts:
        for lay in badge_layouts():
            click.echo(f"{lay.id:<20} {lay.slots_per_page:>3} per page  {lay.title}")
        return
    workshop = workshop_or_fail(slug)
    address = badge_address(url)
    with command_unit_of_work():
        sheet = print_badges(
            cli_actor(),
            workshop,
            address,
            layout=layout,
            start_slot=start_slot,
            cut_marks=cut_marks,
            participant_ids=list(ids) or None,
        )
    target = output or Path(f"{workshop.slug}-badges.pdf")
    target.write_bytes(sheet.pdf)
    for warning in sheet.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"Wrote {sheet.count} badges on {sheet.pages} page(s) of "
        f"{sheet.layout.title_in(workshop.language)} to {target}; their QR codes open "
        f"{badge_url(address, '...')}",
        err=output is None and not sys.stdout.isatty(),
    )


def register(app: Flask) -> None:
    app.cli.add_command(badges_command)
