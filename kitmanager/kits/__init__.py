"""Kits: kit types with their bill of materials, kits, handouts, returns and incidents."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("kits", __name__)


def init_app(app: Flask) -> None:
    from kitmanager.kits import cli, import_views, scans, views  # noqa: F401  (routes, scan handlers)

    app.register_blueprint(bp)
    cli.register(app)
