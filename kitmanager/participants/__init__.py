"""Participants: people registered for a workshop, their teams, import and export."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("participants", __name__, url_prefix="/workshops/<slug>/participants")


def init_app(app: Flask) -> None:
    from kitmanager.participants import cli, views  # noqa: F401  (registers routes)

    app.register_blueprint(bp)
    cli.register(app)
