"""The app factory, the data dir, the secret key and the database settings."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from kitmanager import create_app
from kitmanager.config import ConfigError, build_config
from kitmanager.extensions import db


def test_data_dir_holds_database_secret_key_and_folders(tmp_path):
    data_dir = tmp_path / "kit-data"
    app = create_app({"DATA_DIR": data_dir})
    key_file = data_dir / "secret_key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(app.config["SECRET_KEY"]) >= 64
    assert (data_dir / "uploads").is_dir() and (data_dir / "generated").is_dir()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{data_dir / 'kitmanager.sqlite3'}"


def test_secret_key_is_kept_across_starts_and_differs_between_installs(tmp_path):
    first = create_app({"DATA_DIR": tmp_path / "a"}).config["SECRET_KEY"]
    again = create_app({"DATA_DIR": tmp_path / "a"}).config["SECRET_KEY"]
    other = create_app({"DATA_DIR": tmp_path / "b"}).config["SECRET_KEY"]
    assert first == again
    assert first != other


def test_env_variables_choose_data_dir_and_database(tmp_path, monkeypatch):
    monkeypatch.setenv("KITMANAGER_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("DATABASE_URL", "postgres://kit:pw@db.example:5432/kit")
    config = build_config()
    assert config["DATA_DIR"] == tmp_path / "from-env"
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://kit:pw@db.example:5432/kit"


def test_unusable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="--data-dir"):
        create_app({"DATA_DIR": blocker / "data"})


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(app):
    with app.app_context():
        conn = db.session.connection()
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_committed_migrations_match_the_models(app, data_dir):
    """A model change without its migration fails here, before it reaches a trainer's laptop."""
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []
    with sqlite3.connect(data_dir / "kitmanager.sqlite3") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"user", "api_token", "workshop", "workshop_session", "team", "participant"} <= tables


def test_migrations_create_a_database_from_nothing(tmp_path):
    from kitmanager.database import schema_head, upgrade_database

    app = create_app({"DATA_DIR": tmp_path})
    upgrade_database(app)
    upgrade_database(app)  # a second start is a no-op
    with sqlite3.connect(tmp_path / "kitmanager.sqlite3") as conn:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert version == schema_head()
    assert os.path.getsize(tmp_path / "kitmanager.sqlite3") > 0
