"""Consistent copies of the live SQLite database, and restoring one.

The SQLite backup API copies page by page under the database's own locking, so a backup taken
while `serve` is writing is still a consistent snapshot.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
import tempfile
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import click
from flask import current_app
from flask.cli import with_appcontext

from kitmanager.config import PRIVATE_FILE_MODE
from kitmanager.extensions import db
from kitmanager.unit_of_work import UserError

__all__ = [
    "APPLICATION_ID",
    "BackupError",
    "RestoredToken",
    "backup_database",
    "check_backup",
    "known_revisions",
    "newer_schema_message",
    "restore_database",
]

# PRAGMA application_id of every kitmanager backup: "KITM".
APPLICATION_ID = 0x4B49544D
REQUIRED_TABLES = {"alembic_version", "user", "workshop", "participant", "audit_event"}


class BackupError(UserError):
    """A backup or restore cannot be done; the message says why and what to do."""


class RestoredToken(NamedTuple):
    """An API token that is active in restored data."""

    name: str
    role: str
    created_at: datetime


def _normalised_sql(sql: str | None) -> str:
    # Compare meaning, not layout: quoting, case and spacing differ between SQLite versions.
    text = re.sub(r'["`\[\]]', "", (sql or "").lower())
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"\s*([(),=])\s*", r"\1", text).strip()


def _schema_of(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """Every table, index, view and trigger of a database, by (type, name)."""
    return {
        (kind, name): _normalised_sql(sql)
        for kind, name, sql in conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        )
    }


@functools.lru_cache(maxsize=4)
def _reference_schema(revision: str) -> dict[tuple[str, str], str]:
    """The schema kitmanager's own migrations build up to ``revision``, in a scratch database."""
    from kitmanager import create_app
    from kitmanager.database import upgrade_database

    with tempfile.TemporaryDirectory(prefix="kitmanager-schema-") as scratch:
        reference = Path(scratch) / "reference.sqlite3"
        app = create_app(
            {
                "DATA_DIR": scratch,
                "SECRET_KEY": "reference-schema",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{reference}",
            }
        )
        upgrade_database(app, revision)
        with app.app_context():
            db.engine.dispose()
        conn = sqlite3.connect(reference)
        try:
            return _schema_of(conn)
        finally:
            conn.close()


def _schema_difference(conn: sqlite3.Connection, revision: str) -> list[str]:
    """What differs between a backup's schema and the one kitmanager builds at its revision."""
    found, expected = _schema_of(conn), _reference_schema(revision)
    differences = [f"extra {kind} '{name}'" for kind, name in sorted(found.keys() - expected)]
    differences += [f"missing {kind} '{name}'" for kind, name in sorted(expected.keys() - found)]
    differences += [
        f"changed {kind} '{name}'"
        for (kind, name) in sorted(found.keys() & expected.keys())
        if found[kind, name] != expected[kind, name]
    ]
    return differences


def known_revisions() -> frozenset[str]:
    """The database schema revisions this version of kitmanager knows (its migrations)."""
    from alembic.script import ScriptDirectory

    from kitmanager.database import MIGRATIONS_DIR

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    return frozenset(script.revision for script in scripts.walk_revisions())


def newer_schema_message(where: str, revisions: set[str] | frozenset[str]) -> str | None:
    """Why ``where`` cannot be used if its schema ``revisions`` come from a newer kitmanager."""
    unknown = sorted(set(revisions) - known_revisions())
    if not unknown:
        return None
    from kitmanager import __version__

    return (
        f"{where} was made by a newer kitmanager (database revision {', '.join(unknown)}; "
        f"this is kitmanager {__version__}). Update kitmanager to use it."
    )


def _sqlite_path() -> Path:
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise BackupError(
            "Backup and restore work on the built-in SQLite database; for PostgreSQL use pg_dump "
            "and pg_restore."
        )
    return Path(url.database)


def backup_database(target: Path) -> Path:
    """Copy the live database to ``target`` (which must not exist) and mark it as ours.

    :raise BackupError: when ``target`` exists or cannot be written.
    """
    source_path = _sqlite_path()
    if target.exists():
        raise BackupError(f"{target} already exists: choose a new file name.")
    partial = target.with_name(target.name + ".partial")
    if target.parent.exists() and not target.parent.is_dir():
        raise BackupError(f"{target.parent} is a file, not a folder: choose another place with -o.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # A backup holds everyone's personal data: readable by this account only.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE))
        source = sqlite3.connect(source_path)
        try:
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)
                copy.execute(f"PRAGMA application_id={APPLICATION_ID}")
                # A backup is one self-contained file: no -wal beside it.
                copy.execute("PRAGMA journal_mode=DELETE")
                copy.commit()
            finally:
                copy.close()
        finally:
            source.close()
        partial.replace(target)
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise BackupError(
            f"Cannot write the backup to {target} ({reason}). Choose another place with -o."
        ) from None
    return target


def _read_only_uri(path: Path) -> str:
    # as_uri() percent-encodes '#', '?' and spaces, which would otherwise end the file name.
    return path.resolve().as_uri() + "?mode=ro"


def _expected_size(header: bytes) -> int | None:
    """The file size the SQLite header promises, or None when the header does not say."""
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    page_count = int.from_bytes(header[28:32], "big")
    # The page count is only trusted when the change counters match (SQLite >= 3.7.0 writers).
    if page_count == 0 or header[24:28] != header[92:96]:
        return None
    return page_size * page_count


def check_backup(path: Path) -> None:
    """:raise BackupError: unless ``path`` is a readable, intact kitmanager backup."""
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
        size = path.stat().st_size
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror}.") from None
    if header[:16] != b"SQLite format 3\x00":
        raise BackupError(f"{path} is not a kitmanager backup (not an SQLite database).")
    expected = _expected_size(header) if len(header) == 100 else None
    if len(header) < 100 or (expected is not None and size < expected):
        raise BackupError(
            f"{path} is damaged (cut short: {size} of {expected or 'at least 100'} bytes); "
            "copy it again from where it was saved, or use another backup."
        )
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"Cannot open {path} ({exc}).") from None
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if app_id != APPLICATION_ID or not tables >= REQUIRED_TABLES:
            raise BackupError(
                f"{path} is an SQLite database but not a kitmanager backup; make one with "
                "`kitmanager backup -o FILE`."
            )
        status = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if status != "ok":
            raise BackupError(f"{path} is damaged ({status}); use another backup.")
        revisions = {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
        # Checked before anything is overwritten: this version could not open the result.
        newer = newer_schema_message(str(path), revisions)
        if newer:
            raise BackupError(newer)
        if len(revisions) != 1:
            raise BackupError(
                f"{path} is damaged (no single database revision); use another backup."
            )
        # A trigger, view or table added outside kitmanager would run (or hide) inside the app.
        differences = _schema_difference(conn, revisions.pop())
        if differences:
            shown = ", ".join(differences[:5]) + (", ..." if len(differences) > 5 else "")
            raise BackupError(
                f"{path} was changed outside kitmanager, so it is not restored: its database "
                f"structure differs from kitmanager's ({shown}). Use a backup made by "
                "`kitmanager backup`."
            )
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is damaged ({exc}); use another backup.") from None
    finally:
        conn.close()


def restore_database(source: Path) -> list[RestoredToken]:
    """Replace the live database's content with a checked backup, then upgrade its schema.

    Every browser login in the restored data ends (everyone logs in again); the API tokens
    active in it are returned, so the organiser can revoke any they do not expect.

    :raise BackupError: when ``source`` is not a good backup or the database cannot be written.
    """
    check_backup(source)
    live = _sqlite_path()
    db.session.remove()
    db.engine.dispose()
    try:
        with tempfile.TemporaryDirectory(dir=live.parent, prefix=".restore-") as scratch:
            backup = sqlite3.connect(_read_only_uri(source), uri=True)
            try:
                target = sqlite3.connect(live, timeout=30)
                try:
                    page_size = target.execute("PRAGMA page_size").fetchone()[0]
                    if backup.execute("PRAGMA page_size").fetchone()[0] != page_size:
                        # A WAL database only takes pages of its own size: repack the copy.
                        resized = Path(scratch) / "resized.sqlite3"
                        backup.execute(f"PRAGMA page_size={int(page_size)}")
                        backup.execute("VACUUM INTO ?", (str(resized),))
                        backup.close()
                        backup = sqlite3.connect(resized)
                    backup.backup(target)
                    target.execute("PRAGMA application_id=0")
                    target.commit()
                finally:
                    target.close()
            finally:
                backup.close()
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise BackupError(
            f"Cannot restore into {live} ({reason}). Stop the server and try again."
        ) from None
    from kitmanager.database import upgrade_database

    upgrade_database(current_app._get_current_object())
    return _after_restore(source)


def _after_restore(source: Path) -> list[RestoredToken]:
    from sqlalchemy import select, update

    from kitmanager.audit import cli_actor, record_event
    from kitmanager.models import ApiToken, LoginSession, utcnow

    # A login copied into the backup (or made before it) must not come back to life.
    db.session.execute(
        update(LoginSession).where(LoginSession.ended_at.is_(None)).values(ended_at=utcnow())
    )
    tokens = [
        RestoredToken(*row)
        for row in db.session.execute(
            select(ApiToken.name, ApiToken.role, ApiToken.created_at)
            .where(ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at, ApiToken.name)
        )
    ]
    record_event(cli_actor(), "database.restored", "database", None, file=source.name)
    db.session.commit()
    return tokens


@click.command("backup")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(output: Path) -> None:
    """Copy the live database to FILE, safely even while the server runs."""
    try:
        backup_database(output)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backup written to {output} ({output.stat().st_size // 1024} KiB).")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(file: Path, yes: bool) -> None:
    """Replace everything in the database with a backup made by `kitmanager backup`."""
    try:
        check_backup(file)
        if not yes:
            click.confirm(
                "This replaces every workshop, participant and account with the backup's. Go on?",
                abort=True,
            )
        tokens = restore_database(file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    # A running server sees the restored data at its next request: no restart needed.
    click.echo(f"Restored from {file}. Every browser login has ended: everyone logs in again.")
    if not tokens:
        click.echo("No active API tokens in the restored data.")
        return
    click.echo(
        f"{len(tokens)} active API token(s) came back with it; revoke any you do not expect "
        "with `kitmanager tokens revoke NAME`:"
    )
    for token in tokens:
        click.echo(f"  {token.name:<24} {token.role:<10} created {token.created_at:%Y-%m-%d %H:%M}")
