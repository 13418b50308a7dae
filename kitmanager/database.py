"""Bringing the database schema up to date, and what the app needs of SQLite."""

from __future__ import annotations

import logging

from flask import Flask

__all__ = ["upgrade_database"]


def upgrade_database(app: Flask) -> None:
    """Apply every committed migration (Alembic). Safe to call on every start."""
    from flask_migrate import upgrade

    # Alembic's fileConfig would reset the app's logging; keep its output short instead.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
