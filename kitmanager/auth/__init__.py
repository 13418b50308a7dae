"""Accounts: login, logout, users and API tokens."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    from kitmanager.auth import cli, views  # noqa: F401  (registers routes)

    app.register_blueprint(bp)
    cli.register(app)
