"""Check-in: scans of badges, the session roster and attendance per session."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("checkin", __name__)


def init_app(app: Flask) -> None:
    from kitmanager.checkin import cli, join, scans, station, views  # noqa: F401  (registers routes and the badge handler)

    app.register_blueprint(bp)
    app.before_request(station.keep_kiosk_on_its_page)
    cli.register(app)
