"""Bringing the database schema up to date, and what the app needs of SQLite."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

__all__ = ["MIGRATIONS_DIR", "schema_head", "upgrade_database"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def schema_head() -> str:
    """The schema revision a database has after every migration of this version has run."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None, "kitmanager ships its migrations"
    return head


def upgrade_database(app: Flask) -> None:
    """Apply every committed migration (Alembic). Safe to call on every start."""
    from flask_migrate import upgrade

    # Alembic's fileConfig would reset the app's logging; keep its output short instead.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
