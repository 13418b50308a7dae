"""The same app and migrations on a real PostgreSQL server (a central server for many trainers).

The fixture starts a throwaway PostgreSQL cluster from Debian's ``postgresql`` package on
127.0.0.1 and a free port, and stops it at the end.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from kitmanager import create_app
from kitmanager.audit import cli_actor
from kitmanager.auth.services import create_user
from kitmanager.database import schema_head, upgrade_database
from kitmanager.extensions import db
from kitmanager.models import Participant, Workshop
from kitmanager.participants.services import participant_page
from kitmanager.workshops.services import get_workshop
from tests.web.conftest import csrf_token

pytest.importorskip("psycopg", reason="psycopg is in the test extra: pip install -e '.[test]'")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    # PostgreSQL refuses to run as root; the Debian package creates the 'postgres' user.
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL server binaries not found: apt-get install postgresql")
    bindir = Path(found[-1]).parent
    # Not under pytest's tmp dir: that one is private to root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="kitmanager-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    datadir = base / "cluster"
    port = _free_port()
    pg_ctl = str(bindir / "pg_ctl")
    _as_postgres([str(bindir / "initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres"])
    server_options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    _as_postgres(
        [pg_ctl, "-D", str(datadir), "-w", "-l", str(base / "log"), "-o", server_options, "start"]
    )
    try:
        createdb = [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
        _as_postgres([*createdb, "kit"])
        yield f"postgresql://postgres@127.0.0.1:{port}/kit"
    finally:
        _as_postgres([pg_ctl, "-D", str(datadir), "-m", "fast", "stop"])
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_app(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    app = create_app({"DATA_DIR": tmp_path, "TESTING": True, "BASE_URL": "http://kit.test"})
    upgrade_database(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_migrations_build_the_same_schema_on_postgresql(pg_app):
    with pg_app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert db.engine.url.drivername == "postgresql+psycopg"
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == schema_head()


def test_the_app_works_on_postgresql(pg_app, tmp_path):
    with pg_app.app_context():
        create_user(cli_actor(), "pgadmin", "organiser", "postgres-password-1")
        db.session.commit()
    runner = pg_app.test_cli_runner()
    result = runner.invoke(
        args=[
            "workshops",
            "create",
            "Central server",
            "--slug",
            "central",
            "--starts",
            "2026-12-01",
            "--timezone",
            "Africa/Nairobi",
        ]
    )
    assert result.exit_code == 0, result.output
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "Name,Email,Team\nWanjiru Mwangi,w@example.org,Lions\n"
        "Nguyễn Thị Hồng Nhung,n@example.org,Lions\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["participants", "import", "central", str(csv_file)])
    assert result.exit_code == 0, result.output

    client = pg_app.test_client()
    token = csrf_token(client, "/login")
    client.post(
        "/login",
        data={"username": "pgadmin", "password": "postgres-password-1", "csrf_token": token},
    )
    page = client.get("/workshops/central/participants/").get_data(as_text=True)
    assert "Nguyễn Thị Hồng Nhung" in page and "Wanjiru Mwangi" in page
    with pg_app.app_context():
        names = set(db.session.scalars(select(Participant.full_name)))
    assert names >= {"Wanjiru Mwangi", "Nguyễn Thị Hồng Nhung"}


def test_a_too_long_sign_up_id_is_a_row_error_on_postgresql_not_a_crash(pg_app, tmp_path):
    runner = pg_app.test_cli_runner()
    made = runner.invoke(
        args=["workshops", "create", "Long ids", "--slug", "longids", "--starts", "2026-12-01"]
    )
    assert made.exit_code == 0, made.output
    csv_file = tmp_path / "long-ids.csv"
    csv_file.write_text(f"Name,ID\nAma Owusu,REG-1\nKofi Mensah,{'R' * 150}\n", encoding="utf-8")
    refused = runner.invoke(args=["participants", "import", "longids", str(csv_file)])
    assert refused.exit_code == 1
    assert "line 3, column 'ID': The id is 150 characters long; the limit is 100" in (
        refused.output
    )
    imported = runner.invoke(
        args=["participants", "import", "longids", str(csv_file), "--only-valid"]
    )
    assert imported.exit_code == 0, imported.output
    with pg_app.app_context():
        query = select(Participant.external_id).join(Participant.workshop)
        ids = list(db.session.scalars(query.where(Workshop.slug == "longids")))
        assert ids == ["REG-1"]

    token = runner.invoke(args=["tokens", "create", "pg-script", "--role", "organiser"])
    response = pg_app.test_client().post(
        "/api/v1/workshops/longids/participants",
        json={"full_name": "Kofi Mensah", "external_id": "R" * 150},
        headers={"Authorization": f"Bearer {token.output.strip().splitlines()[-1]}"},
    )
    assert response.status_code == 422
    assert "limit is 100" in response.json["error"]


def test_names_sort_and_page_in_sql_on_postgresql(pg_app):
    runner = pg_app.test_cli_runner()
    made = runner.invoke(
        args=["workshops", "create", "Sorting", "--slug", "sorting", "--starts", "2026-12-01"]
    )
    assert made.exit_code == 0, made.output
    for name in ("Zanele Mokoena", "Éloïse Kouassi", "awa Traoré", "Aïssatou Bâ"):
        assert runner.invoke(args=["participants", "add", "sorting", name]).exit_code == 0
    listed = runner.invoke(args=["participants", "list", "sorting"])
    names = [line.split("  ")[0] for line in listed.output.splitlines()]
    assert names == ["Aïssatou Bâ", "awa Traoré", "Éloïse Kouassi", "Zanele Mokoena"]
    with pg_app.app_context():
        page = participant_page(get_workshop("sorting"), "eloise", per_page=1)
        assert (page.total, [p.full_name for p in page.people]) == (1, ["Éloïse Kouassi"])
        second = participant_page(get_workshop("sorting"), page=2, per_page=3)
        assert (second.pages, [p.full_name for p in second.people]) == (2, ["Zanele Mokoena"])
