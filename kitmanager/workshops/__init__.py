"""Workshops and their sessions."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("workshops", __name__, url_prefix="/workshops")


def init_app(app: Flask) -> None:
    from kitmanager.workshops import cli, views  # noqa: F401  (registers routes)

    app.register_blueprint(bp)
    cli.register(app)
