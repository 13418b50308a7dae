"""`kitmanager workshops ...` and `kitmanager sessions ...`."""

from __future__ import annotations

from datetime import datetime

import click
from flask import Flask
from flask.cli import AppGroup

from kitmanager.audit import cli_actor
from kitmanager.unit_of_work import command_unit_of_work
from kitmanager.workshops.services import (
    WorkshopFields,
    add_session,
    create_workshop,
    get_workshop,
    list_workshops,
    utc_to_local,
)

workshops = AppGroup("workshops", help="Create and list workshops.")
sessions = AppGroup("sessions", help="Sessions (time slots) of a workshop.")


def _date(value: str, option: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise click.BadParameter(
            f"'{value}' is not a date: write it as YYYY-MM-DD.", param_hint=option
        ) from None


def _datetime(value: str, option: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise click.BadParameter(
        f"'{value}' is not a time: write it as \"YYYY-MM-DD HH:MM\".", param_hint=option
    )


def workshop_or_fail(slug: str):
    workshop = get_workshop(slug)
    if workshop is None:
        raise click.ClickException(
            f"No workshop with slug '{slug}'. `kitmanager workshops list` shows them."
        )
    return workshop


@workshops.command("create")
@click.argument("title")
@click.option("--slug", help="Short name used in links (default: from the title).")
@click.option("--starts", "starts", required=True, help="First day, YYYY-MM-DD.")
@click.option("--ends", "ends", help="Last day, YYYY-MM-DD (default: the first day).")
@click.option("--venue", default="")
@click.option("--language", type=click.Choice(["en", "fr"]), default="en")
@click.option(
    "--timezone", "zone", help="IANA time zone, e.g. Africa/Nairobi (default: this laptop's)."
)
@click.option("--capacity", type=click.IntRange(min=1))
@click.option(
    "--badge-title", default="", help="Short name printed on badges instead of the title."
)
def workshops_create(title, slug, starts, ends, venue, language, zone, capacity, badge_title):
    """Create a workshop."""
    fields = WorkshopFields(
        title=title,
        slug=slug,
        starts_on=_date(starts, "--starts").date(),
        ends_on=_date(ends, "--ends").date() if ends else None,
        venue=venue,
        language=language,
        timezone=zone,
        capacity=capacity,
        badge_title=badge_title,
    )
    with command_unit_of_work():
        workshop = create_workshop(cli_actor(), fields)
    click.echo(f"Created workshop '{workshop.slug}': {workshop.title}")


@workshops.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include archived workshops.")
def workshops_list(show_all: bool) -> None:
    """List workshops, newest first."""
    rows = list_workshops(include_archived=show_all)
    if not rows:
        click.echo("No workshops yet. Create one with `kitmanager workshops create`.")
    for workshop, participants in rows:
        archived = " (archived)" if workshop.archived else ""
        click.echo(
            f"{workshop.slug:<28} {workshop.starts_on:%Y-%m-%d}  {participants:>4} participants  "
            f"{workshop.title}{archived}"
        )


@sessions.command("add")
@click.argument("slug")
@click.argument("title")
@click.option("--starts", required=True, help='"YYYY-MM-DD HH:MM", the workshop\'s local time.')
@click.option("--ends", required=True, help='"YYYY-MM-DD HH:MM", the workshop\'s local time.')
@click.option("--room", default="")
def sessions_add(slug: str, title: str, starts: str, ends: str, room: str) -> None:
    """Add a session to a workshop."""
    workshop = workshop_or_fail(slug)
    with command_unit_of_work():
        session = add_session(
            cli_actor(),
            workshop,
            title,
            _datetime(starts, "--starts"),
            _datetime(ends, "--ends"),
            room,
        )
    local = utc_to_local(session.starts_at, workshop.timezone)
    click.echo(f"Added session '{session.title}' on {local:%Y-%m-%d %H:%M} ({workshop.timezone}).")


@sessions.command("list")
@click.argument("slug")
def sessions_list(slug: str) -> None:
    """List a workshop's sessions in its local time."""
    workshop = workshop_or_fail(slug)
    for s in workshop.sessions:
        start = utc_to_local(s.starts_at, workshop.timezone)
        end = utc_to_local(s.ends_at, workshop.timezone)
        click.echo(f"{start:%Y-%m-%d %H:%M}-{end:%H:%M}  {s.title}  {s.room}")


def register(app: Flask) -> None:
    app.cli.add_command(workshops)
    app.cli.add_command(sessions)
