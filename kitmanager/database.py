"""Bringing the database schema up to date, and what the app needs of SQLite."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

__all__ = [
    "MIGRATIONS_DIR",
    "insert_ignoring_conflicts",
    "schema_head",
    "serialized_writes",
    "upgrade_database",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def schema_head() -> str:
    """The schema revision a database has after every migration of this version has run."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None, "kitmanager ships its migrations"
    return head


def upgrade_database(app: Flask, revision: str = "head") -> None:
    """Apply every committed migration (Alembic), or those up to ``revision``. Safe to call on
    every start."""
    from flask_migrate import upgrade

    # Alembic's fileConfig would reset the app's logging; keep its output short instead.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision=revision)


# SQLite lets one writer in at a time and makes the others sleep and poll (1, 2, 5 ... 100 ms),
# which under a rush of scans turns a 2 ms write into a 100 ms wait. Writers of this process
# queue here instead, in order, and never meet SQLite's lock.
_sqlite_writer = threading.Lock()


@contextmanager
def serialized_writes() -> Iterator[None]:
    """Around a short write transaction (up to its commit) on a hot path such as a scan.

    On SQLite the writers of this process take turns; PostgreSQL has row locks and needs none.
    """
    from kitmanager.extensions import db

    if db.session.get_bind().dialect.name != "sqlite":
        yield
        return
    with _sqlite_writer:
        yield


@functools.cache
def _insert_ignoring(table: Table, dialect: str) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING for ``table``, built once (scans are a hot path)."""
    if dialect == "postgresql":
        # psycopg reports no row count here; the returned key says whether a row went in.
        return (
            postgresql.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
        )
    return sqlite.insert(table).on_conflict_do_nothing()


def insert_ignoring_conflicts(model: Any, **values: Any) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING of one ``model`` row on the session's connection.

    Returns the new row's integer id, or None when a unique constraint or unique index (a
    partial one too) already held such a row. The database decides, so two requests at the
    same instant cannot both win, and neither fails with an error.
    """
    from kitmanager.extensions import db

    connection = db.session.connection()
    dialect = connection.dialect.name
    result = connection.execute(_insert_ignoring(model.__table__, dialect), values)
    if dialect == "postgresql":
        row = result.first()
        return None if row is None else row[0]
    return result.lastrowid if result.rowcount == 1 else None
