"""What a JSON API request carries, read and checked: the body, its text fields, the workshop
of a URL, and a scan's time and station. Anything wrong ends the request with 400, 404 or 422
and a message that says what to send."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, request
from flask_babel import gettext

from kitmanager.audit import Actor
from kitmanager.models import Workshop
from kitmanager.scans import ScanTimeRefused, scan_time, station_name
from kitmanager.text import has_lone_surrogate
from kitmanager.workshops.services import get_workshop

__all__ = [
    "json_body",
    "limited_text",
    "scanned_at",
    "station_of",
    "text_field",
    "workshop_or_404",
]


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 for anything else (no JSON, another type, or nesting
    deeper than the parser's recursion limit, which no request of this API needs)."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        abort(
            400,
            description=gettext(
                "the JSON body is nested too deeply: send a JSON object with the fields "
                "openapi.json lists"
            ),
        )
    if not isinstance(data, dict):
        abort(400, description=gettext("send a JSON object with Content-Type: application/json"))
    return data


def text_field(data: dict[str, Any], key: str, default: str | None = "") -> str | None:
    """A string field of the body, or ``default`` when absent or null; 422 for another type
    or for a string with a lone surrogate (a JSON escape like "\\ud800" that is no text)."""
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        abort(422, description=gettext("'%(field)s' must be a string", field=key))
    if has_lone_surrogate(value):
        abort(
            422,
            description=gettext(
                "'%(field)s' contains a lone surrogate (half of a UTF-16 pair): send valid "
                "Unicode text",
                field=key,
            ),
        )
    return value


def limited_text(
    data: dict[str, Any], key: str, limit: int, default: str | None = ""
) -> str | None:
    """:func:`text_field`, and 422 when it is longer than ``limit`` characters."""
    value = text_field(data, key, default)
    if value is not None and len(value) > limit:
        abort(
            422,
            description=gettext(
                "'%(field)s' is too long: at most %(max)s characters", field=key, max=limit
            ),
        )
    return value


def workshop_or_404(slug: str) -> Workshop:
    """The workshop of the URL's ``slug``; 404 that names it when there is none."""
    workshop = get_workshop(slug)
    if workshop is None:
        abort(404, description=gettext("no workshop with slug '%(slug)s'", slug=slug))
    return workshop


def scanned_at(data: dict[str, Any]) -> datetime:
    """The scan's own time (``scanned_at``) in naive UTC, now when absent; 422 for a time
    that is no time, or that the laptop's clock cannot believe (see :func:`scan_time`)."""
    value = text_field(data, "scanned_at", None)
    try:
        return scan_time(
            None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))
        )
    except ScanTimeRefused as wrong_clock:
        abort(422, description=str(wrong_clock))
    except ValueError:
        abort(
            422,
            description=gettext("'scanned_at' must be a time like 2026-12-01T09:14:00+03:00"),
        )


def station_of(data: dict[str, Any], actor: Actor) -> str:
    """The station a scan is recorded under: the sender's own name, then the device's label."""
    return station_name(actor, limited_text(data, "station", 80) or "")
