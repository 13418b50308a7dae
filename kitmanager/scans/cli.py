"""`kitmanager scans ...`: housekeeping of the answers stored for scans."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask
from flask.cli import AppGroup

from kitmanager.config import SCAN_REQUEST_DAYS, SCAN_REQUEST_DAYS_MOST
from kitmanager.scans.housekeeping import keep_scan_answers_for, prune_scan_requests
from kitmanager.unit_of_work import unit_of_work

__all__ = ["pruned_message", "register", "scans"]

scans = AppGroup("scans", help="Scans: the answers kept so a retried scan is applied once.")


def pruned_message(removed: int, older_than: timedelta) -> str:
    """What the command and ``kitmanager serve`` say after pruning ``removed`` answers."""
    answers = "answer" if removed == 1 else "answers"
    days = "day" if older_than.days == 1 else "days"
    return (
        f"Removed {removed} stored scan {answers} older than {older_than.days} {days} "
        "(check-ins and kit handouts stay)."
    )


@scans.command("prune")
@click.option(
    "--days",
    type=click.IntRange(1, SCAN_REQUEST_DAYS_MOST),
    help="Remove the answers of scans older than this many days (default: the "
    f"KITMANAGER_SCAN_REQUEST_DAYS setting, {SCAN_REQUEST_DAYS} unless changed).",
)
def prune_command(days: int | None) -> None:
    """Remove the stored answers of old scans; a station retries a scan only while it is
    offline, so after that the answer is no longer needed. Check-ins stay."""
    older_than = timedelta(days=days) if days else keep_scan_answers_for()
    with unit_of_work():
        removed = prune_scan_requests(older_than)
    click.echo(pruned_message(removed, older_than))


def register(app: Flask) -> None:
    app.cli.add_command(scans)
