"""`kitmanager backup` and `restore`: consistent copies of a live database, and safe restores."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from kitmanager.audit import cli_actor
from kitmanager.backup import APPLICATION_ID
from kitmanager.config import DATABASE_FILE
from kitmanager.extensions import db
from kitmanager.models import Participant
from kitmanager.participants.services import delete_participant
from kitmanager.workshops.services import get_workshop
from tests.web.e2e import Browser, ParticipantWriter, Server, run_kitmanager
from tests.web.helpers import add_people, make_workshop


def participant_names(database: Path) -> set[str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("SELECT full_name FROM participant")}


def logical_dump(database: Path) -> str:
    """Every row of every table, so two databases compare by content, not by file bytes."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_backup_while_the_server_writes_is_consistent_and_marked(tmp_path: Path):
    data_dir = tmp_path / "data"
    made = run_kitmanager(
        data_dir, "workshops", "create", "Nairobi Robotics", "--slug", "nairobi",
        "--starts", "2026-12-01",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = run_kitmanager(data_dir, "tokens", "create", "registration", "--role", "trainer")
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip().splitlines()[-1]

    backup_file = tmp_path / "backups" / "before-day-2.kitmanager"
    with Server(data_dir) as server:
        writer = ParticipantWriter(server.url, secret, "nairobi")
        writer.start()
        try:
            writer.wait_for(20)
            committed_before = list(writer.committed)
            result = run_kitmanager(data_dir, "backup", "-o", str(backup_file))
            written_during = len(writer.committed) - len(committed_before)
        finally:
            writer.halt.set()
            writer.join(timeout=30)
        assert result.returncode == 0, result.stderr
        assert "Backup written to" in result.stdout
        assert not writer.failures, writer.failures
        assert server.stop() == 0

    # The server kept writing while the backup ran, so the copy really was taken under load.
    assert written_during > 0
    conn = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()
    assert not Path(f"{backup_file}-wal").exists()
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600  # everyone's personal data
    assert not backup_file.with_name(backup_file.name + ".partial").exists()

    in_backup = participant_names(backup_file)
    assert set(committed_before) <= in_backup
    # Nothing half-written: every row in the copy is one the server confirmed.
    assert in_backup <= set(writer.committed)
    # Whatever the copy holds is a prefix of the writes (a snapshot at one instant).
    assert in_backup == set(writer.committed[: len(in_backup)])
    # The live database was left as it was: not marked as a backup, still in WAL mode.
    with sqlite3.connect(data_dir / DATABASE_FILE) as live:
        assert live.execute("PRAGMA application_id").fetchone()[0] == 0
        assert live.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert participant_names(data_dir / DATABASE_FILE) == set(writer.committed)


def test_backup_never_overwrites_an_existing_file(runner, tmp_path: Path):
    target = tmp_path / "precious.db"
    target.write_bytes(b"an older backup")
    result = runner.invoke(args=["backup", "-o", str(target)])
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert target.read_bytes() == b"an older backup"


@pytest.fixture
def good_backup(app: Flask, runner, tmp_path: Path) -> Path:
    make_workshop(app, "nairobi", "Nairobi Robotics")
    add_people(app, "nairobi", "Adébáyọ̀ Ọlápọ̀", "Nguyễn Thị Hồng Nhung", "Wanjiru Kamau")
    target = tmp_path / "good.kitmanager"
    result = runner.invoke(args=["backup", "-o", str(target)])
    assert result.exit_code == 0, result.output
    return target


def unrelated_sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, caption TEXT)")
        conn.execute("INSERT INTO photos (caption) VALUES ('holiday')")
    return path


def truncated_copy(backup: Path, path: Path) -> Path:
    data = backup.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def scribbled_copy(backup: Path, path: Path) -> Path:
    """The right size, but pages 2 onwards overwritten, as a failing USB stick might leave it."""
    data = bytearray(backup.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for offset in range(page_size, len(data), page_size):
        data[offset : offset + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))
    return path


def from_a_newer_version(backup: Path, path: Path) -> Path:
    path.write_bytes(backup.read_bytes())
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999_from_the_future'")
    return path


def changed_outside(statement: str):
    """A copy of the backup changed with ``statement``, as someone with a SQLite tool could."""

    def make(backup: Path, path: Path) -> Path:
        path.write_bytes(backup.read_bytes())
        with sqlite3.connect(path) as conn:
            conn.execute(statement)
        return path

    return make


def text_file(path: Path) -> Path:
    path.write_text("Nom;Prénom\nKoné;Awa\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (lambda backup, tmp: text_file(tmp / "participants.csv"), "not an SQLite database"),
        (lambda backup, tmp: unrelated_sqlite(tmp / "photos.db"), "not a kitmanager backup"),
        (lambda backup, tmp: truncated_copy(backup, tmp / "cut.kitmanager"), "cut short"),
        (lambda backup, tmp: scribbled_copy(backup, tmp / "bad.kitmanager"), "is damaged"),
        (lambda backup, tmp: from_a_newer_version(backup, tmp / "new.db"), "newer kitmanager"),
        # Runs inside the app after the restore: copies every new participant elsewhere.
        (
            lambda backup, tmp: changed_outside(
                "CREATE TRIGGER leak AFTER INSERT ON participant BEGIN "
                "UPDATE workshop SET notes = notes || NEW.email; END"
            )(backup, tmp / "trigger.db"),
            "extra trigger 'leak'",
        ),
        (
            lambda backup, tmp: changed_outside(
                "CREATE VIEW everyone AS SELECT * FROM participant"
            )(backup, tmp / "view.db"),
            "extra view 'everyone'",
        ),
        (
            lambda backup, tmp: changed_outside("CREATE TABLE notes (id INTEGER, text TEXT)")(
                backup, tmp / "table.db"
            ),
            "extra table 'notes'",
        ),
        (
            lambda backup, tmp: changed_outside("ALTER TABLE participant ADD COLUMN secret TEXT")(
                backup, tmp / "column.db"
            ),
            "changed table 'participant'",
        ),
    ],
    ids=[
        "text-file",
        "other-sqlite-db",
        "truncated-backup",
        "scribbled-backup",
        "newer-backup",
        "extra-trigger",
        "extra-view",
        "extra-table",
        "changed-table",
    ],
)
def test_restore_refuses_what_is_not_a_good_backup_and_leaves_the_data_alone(
    app: Flask, runner, data_dir: Path, tmp_path: Path, good_backup: Path, make_file, message
):
    add_people(app, "nairobi", "Achieng Otieno")  # only in the live database
    with app.app_context():
        db.engine.dispose()
    before = logical_dump(data_dir / DATABASE_FILE)
    bad = make_file(good_backup, tmp_path)

    result = runner.invoke(args=["restore", "--yes", str(bad)])

    assert result.exit_code == 1, result.output
    assert message in result.output
    assert str(bad) in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert len(result.output.strip().splitlines()) == 1
    with app.app_context():
        db.engine.dispose()
    assert logical_dump(data_dir / DATABASE_FILE) == before


def test_restore_without_yes_asks_first_and_no_keeps_the_data(
    app: Flask, runner, data_dir: Path, good_backup: Path
):
    add_people(app, "nairobi", "Achieng Otieno")
    result = runner.invoke(args=["restore", str(good_backup)], input="n\n")
    assert result.exit_code != 0
    assert "Go on?" in result.output
    assert "Achieng Otieno" in participant_names(data_dir / DATABASE_FILE)


def test_restore_brings_back_the_data_of_the_backup(
    app: Flask, runner, data_dir: Path, good_backup: Path
):
    # After the backup: someone is deleted and a new workshop appears.
    with app.app_context():
        person = db.session.scalars(
            select(Participant).where(Participant.full_name == "Wanjiru Kamau")
        ).one()
        delete_participant(cli_actor(), person)
        db.session.commit()
    make_workshop(app, "mombasa", "Mombasa Robotics")
    add_people(app, "mombasa", "Baraka Mwangi")

    result = runner.invoke(args=["restore", "--yes", str(good_backup)])

    assert result.exit_code == 0, result.output
    assert "Restored from" in result.output
    with app.app_context():
        db.session.remove()
        assert get_workshop("mombasa") is None
        names = set(db.session.scalars(select(Participant.full_name)))
        assert {"Adébáyọ̀ Ọlápọ̀", "Nguyễn Thị Hồng Nhung", "Wanjiru Kamau"} == names
    # The live database is not itself marked as a backup, and the app keeps using WAL.
    with sqlite3.connect(data_dir / DATABASE_FILE) as live:
        assert live.execute("PRAGMA application_id").fetchone()[0] == 0
    workshops = runner.invoke(args=["workshops", "list"])
    assert "nairobi" in workshops.output and "mombasa" not in workshops.output


def test_a_restored_database_serves_again(tmp_path: Path):
    data_dir = tmp_path / "data"
    assert run_kitmanager(
        data_dir, "workshops", "create", "Atelier Abidjan", "--slug", "abidjan",
        "--starts", "2026-12-05",
    ).returncode == 0  # fmt: skip
    assert run_kitmanager(
        data_dir, "users", "create", "awa", "--role", "organiser", "--password-stdin",
        stdin="Cocody-Robots-2026\n",
    ).returncode == 0  # fmt: skip
    backup = tmp_path / "abidjan.kitmanager"
    assert run_kitmanager(data_dir, "backup", "-o", str(backup)).returncode == 0

    fresh = tmp_path / "other-laptop"
    restored = run_kitmanager(fresh, "restore", "--yes", str(backup))
    assert restored.returncode == 0, restored.stderr
    listed = run_kitmanager(fresh, "workshops", "list")
    assert "abidjan" in listed.stdout
    with Server(fresh) as server:
        # The backup's accounts came back, so this is not a first start.
        assert "password" not in server.stdout.lower()
        browser = Browser(server.url)
        assert browser.login("awa", "Cocody-Robots-2026").status == 200
        assert "Atelier Abidjan" in browser.get("/workshops/").body
        assert server.stop() == 0


def test_backup_and_restore_accept_any_file_name(app: Flask, runner, tmp_path: Path):
    make_workshop(app, "kisumu", "Kisumu Robotics")
    target = tmp_path / "USB stick" / "kitmanager #2 (day 1)?.db"
    made = runner.invoke(args=["backup", "-o", str(target)])
    assert made.exit_code == 0, made.output
    make_workshop(app, "eldoret", "Eldoret Robotics")

    restored = runner.invoke(args=["restore", "--yes", str(target)])

    assert restored.exit_code == 0, restored.output
    # Only the named file was read: no stray files cut at '#' or '?'.
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    listed = runner.invoke(args=["workshops", "list"]).output
    assert "kisumu" in listed and "eldoret" not in listed


@pytest.mark.parametrize(
    "where",
    ["under-a-file", "read-only-folder"],
)
def test_backup_to_a_place_that_cannot_hold_it_is_a_clear_error(runner, tmp_path: Path, where: str):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    # /proc refuses new files even for root, like a write-protected USB stick.
    target = blocker / "backup.db" if where == "under-a-file" else Path("/proc/kitmanager.db")
    result = runner.invoke(args=["backup", "-o", str(target)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert len(result.output.strip().splitlines()) == 1
    assert str(target.parent if where == "under-a-file" else target) in result.output
    assert "choose another place with -o" in result.output.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "data"]


def test_restore_takes_a_backup_with_another_page_size(
    app: Flask, runner, data_dir: Path, tmp_path: Path, good_backup: Path
):
    # SQLite builds differ in their default page size; a WAL database only takes its own.
    repacked = tmp_path / "from-another-laptop.kitmanager"
    with sqlite3.connect(good_backup) as conn:
        conn.execute("PRAGMA page_size=8192")
        conn.execute("VACUUM INTO ?", (str(repacked),))
    with sqlite3.connect(repacked) as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 8192
    make_workshop(app, "mombasa", "Mombasa Robotics")

    result = runner.invoke(args=["restore", "--yes", str(repacked)])

    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["workshops", "list"]).output
    assert "nairobi" in listed and "mombasa" not in listed
    assert "Nguyễn Thị Hồng Nhung" in participant_names(data_dir / DATABASE_FILE)
    assert [p.name for p in data_dir.iterdir() if p.name.startswith(".restore-")] == []


def test_restore_while_the_server_runs_shows_the_backup_at_once(tmp_path: Path):
    data_dir = tmp_path / "data"
    assert run_kitmanager(
        data_dir, "users", "create", "awa", "--role", "organiser", "--password-stdin",
        stdin="Cocody-Robots-2026\n",
    ).returncode == 0  # fmt: skip
    assert run_kitmanager(
        data_dir, "workshops", "create", "Atelier Abidjan", "--slug", "abidjan",
        "--starts", "2026-12-05",
    ).returncode == 0  # fmt: skip
    backup = tmp_path / "abidjan.kitmanager"
    assert run_kitmanager(data_dir, "backup", "-o", str(backup)).returncode == 0

    with Server(data_dir) as server:
        browser = Browser(server.url)
        assert browser.login("awa", "Cocody-Robots-2026").status == 200
        later = {"title": "Atelier Bouaké", "slug": "bouake", "starts_on": "2026-12-12"}
        assert browser.submit("/workshops/new", {**later, "language": "en"}).status == 200
        assert "Atelier Bouaké" in browser.get("/workshops/").body

        restored = run_kitmanager(data_dir, "restore", "--yes", str(backup))
        assert restored.returncode == 0, restored.stderr

        # Logins are data too: one made after the backup is gone with everything else.
        assert "Log in" in browser.get("/workshops/").body
        assert browser.login("awa", "Cocody-Robots-2026").status == 200
        page = browser.get("/workshops/").body
        assert "Atelier Abidjan" in page and "Atelier Bouaké" not in page
        # The server keeps working on the restored data.
        again = {"title": "Atelier Yamoussoukro", "slug": "yamoussoukro", "starts_on": "2026-12-19"}
        assert browser.submit("/workshops/new", {**again, "language": "en"}).status == 200
        assert "Atelier Yamoussoukro" in browser.get("/workshops/").body
        assert server.stop() == 0
    listed = run_kitmanager(data_dir, "workshops", "list").stdout
    assert "yamoussoukro" in listed and "bouake" not in listed


def test_restore_ends_every_login_and_lists_the_tokens_it_brings_back(
    app: Flask, runner, client, tmp_path: Path
):
    from tests.web.conftest import login

    login(client, "olga")
    for name, role in (
        ("door-scanner", "volunteer"),
        ("registration", "trainer"),
        ("old", "trainer"),
    ):
        assert runner.invoke(args=["tokens", "create", name, "--role", role]).exit_code == 0
    assert runner.invoke(args=["tokens", "revoke", "old"]).exit_code == 0
    backup = tmp_path / "with-a-live-login.kitmanager"
    # The backup holds Olga's live login, as any backup taken during the day does.
    assert runner.invoke(args=["backup", "-o", str(backup)]).exit_code == 0
    assert client.get("/workshops/").status_code == 200

    result = runner.invoke(args=["restore", "--yes", str(backup)])

    assert result.exit_code == 0, result.output
    assert "everyone logs in again" in result.output
    assert client.get("/workshops/").status_code == 302  # her browser must log in again
    listed = [line.split() for line in result.output.splitlines() if line.startswith("  ")]
    assert [(words[0], words[1]) for words in listed] == [
        ("door-scanner", "volunteer"),
        ("registration", "trainer"),
    ]
    assert all(words[2] == "created" and len(words[3]) == 10 for words in listed)
    assert "kitmanager tokens revoke" in result.output
    login(client, "olga")  # and logging in again works
    assert client.get("/workshops/").status_code == 200
