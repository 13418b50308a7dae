"""The ``--base-url`` option the commands that write badge addresses share."""

from __future__ import annotations

import click

from kitmanager.network import NoBadgeAddress, base_url
from kitmanager.settings.services import SettingError, check_base_url

__all__ = ["badge_address", "base_url_option"]


def _check_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_base_url(value)
    except SettingError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


base_url_option = click.option(
    "--base-url",
    "url",
    callback=_check_url,
    metavar="URL",
    help="Address the badge QR codes open, for this file only (default: the address stored "
    "in the app, which `kitmanager serve` and the Settings page set).",
)


def badge_address(url: str | None) -> str:
    """``--base-url`` if given, else the stored badge address; a clear error when neither."""
    if url:
        return url
    try:
        return base_url()
    except NoBadgeAddress as exc:
        raise click.ClickException(str(exc)) from None
