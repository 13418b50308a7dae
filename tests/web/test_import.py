"""Importing a sign-up CSV, from the CLI and the web pages: all or nothing, duplicates, errors."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from kitmanager.extensions import db
from kitmanager.models import AuditEvent, Participant, Team
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people, make_workshop

GOOD = (
    "Prénom;Nom de famille;Courriel;École;Équipe;Rôle\n"
    "Adébáyọ̀;Ọlápọ̀;adebayo@example.org;Lycée Classique;Baobabs;participant\n"
    "Nguyễn Thị;Hồng Nhung;nhung@example.org;Trường THPT;Baobabs;mentor\n"
    "Aya;Koné;aya@example.org;Lycée Sainte-Marie;Éléphants;invitée\n"
)
BAD_ROW = "Kofi;Mensah;kofi@@example;Lycée Moderne;Lions;participant\n"


def _write(tmp_path, text: str, encoding: str = "utf-8-sig", name: str = "signup.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _names(app) -> set[str]:
    with app.app_context():
        return set(
            db.session.scalars(
                select(Participant.full_name).where(Participant.deleted_at.is_(None))
            )
        )


def test_cli_imports_a_french_semicolon_export(runner, app, tmp_path):
    make_workshop(app)
    result = runner.invoke(args=["participants", "import", "nairobi", str(_write(tmp_path, GOOD))])
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output
    assert _names(app) == {"Adébáyọ̀ Ọlápọ̀", "Nguyễn Thị Hồng Nhung", "Aya Koné"}
    with app.app_context():
        teams = set(db.session.scalars(select(Team.name)))
        roles = dict(db.session.execute(select(Participant.full_name, Participant.role)).all())
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "participants.imported")
        )
    assert teams == {"Baobabs", "Éléphants"}
    assert roles["Aya Koné"] == "guest" and roles["Nguyễn Thị Hồng Nhung"] == "mentor"
    assert event.details["created"] == 3


def test_cli_import_with_a_bad_row_imports_nothing_and_names_the_line(runner, app, tmp_path):
    make_workshop(app)
    path = _write(tmp_path, GOOD + BAD_ROW)
    result = runner.invoke(args=["participants", "import", "nairobi", str(path)])
    assert result.exit_code != 0
    assert re.search(r"line 5, column '?Courriel'?", result.output)
    assert "nothing was imported" in result.output
    assert "--only-valid" in result.output
    assert _names(app) == set()

    result = runner.invoke(args=["participants", "import", "nairobi", str(path), "--only-valid"])
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output and "1 invalid skipped" in result.output
    assert "Kofi Mensah" not in _names(app)


def test_cli_dry_run_writes_nothing(runner, app, tmp_path):
    make_workshop(app)
    result = runner.invoke(
        args=["participants", "import", "nairobi", str(_write(tmp_path, GOOD)), "--dry-run"]
    )
    assert result.exit_code == 0
    assert "3 new" in result.output and "nothing written" in result.output
    assert _names(app) == set()
    bad = runner.invoke(
        args=[
            "participants",
            "import",
            "nairobi",
            str(_write(tmp_path, GOOD + BAD_ROW)),
            "--dry-run",
        ]
    )
    assert bad.exit_code == 1


def test_duplicates_are_skipped_or_updated_as_asked(runner, app, tmp_path):
    make_workshop(app)
    add_people(app, "nairobi", "Aya Koné", email="old-aya@example.org")
    add_people(app, "nairobi", "Someone Else", email="adebayo@example.org")
    path = _write(tmp_path, GOOD)
    skip = runner.invoke(args=["participants", "import", "nairobi", str(path), "--dry-run"])
    assert "already registered as 'Aya Koné' (name)" in skip.output
    assert "already registered as 'Someone Else' (email)" in skip.output

    result = runner.invoke(args=["participants", "import", "nairobi", str(path)])
    assert result.exit_code == 0 and "1 added, 0 updated, 2 skipped" in result.output
    result = runner.invoke(
        args=["participants", "import", "nairobi", str(path), "--on-duplicate", "update"]
    )
    assert result.exit_code == 0, result.output
    assert "0 added, 3 updated" in result.output
    with app.app_context():
        aya = db.session.scalar(select(Participant).where(Participant.full_name == "Aya Koné"))
        assert aya.email == "aya@example.org" and aya.team.name == "Éléphants"
        assert db.session.query(Participant).count() == 3


def test_repeated_rows_within_one_file_become_one_person(runner, app, tmp_path):
    make_workshop(app)
    text = GOOD + "Aya;Koné;aya@example.org;Lycée Sainte-Marie;Lions;participant\n"
    result = runner.invoke(
        args=[
            "participants",
            "import",
            "nairobi",
            str(_write(tmp_path, text)),
            "--on-duplicate",
            "update",
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        ayas = db.session.scalars(
            select(Participant).where(Participant.full_name == "Aya Koné")
        ).all()
        assert len(ayas) == 1 and ayas[0].team.name == "Lions"  # the later row won


def test_unreadable_files_get_a_clear_message(runner, app, tmp_path):
    make_workshop(app)
    empty = runner.invoke(args=["participants", "import", "nairobi", str(_write(tmp_path, ""))])
    assert empty.exit_code != 0 and "Traceback" not in empty.output
    missing = runner.invoke(args=["participants", "import", "nairobi", str(tmp_path / "nope.csv")])
    assert missing.exit_code != 0 and "Cannot read" in missing.output
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    junk = runner.invoke(args=["participants", "import", "nairobi", str(binary)])
    assert junk.exit_code != 0 and "Traceback" not in junk.output


def _upload(client, data: bytes, filename="signup.csv"):
    token = csrf_token(client, "/workshops/nairobi/participants/import")
    return client.post(
        "/workshops/nairobi/participants/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_web_import_shows_mapping_errors_and_duplicates_then_imports_valid_rows(trainer, app):
    make_workshop(app)
    add_people(app, "nairobi", "Aya Koné")
    # Excel's "Unicode text" is UTF-16; the page must read it like any other export.
    response = _upload(trainer, (GOOD + BAD_ROW).encode("utf-16"))
    assert response.status_code == 302
    review_url = response.headers["Location"]
    page = trainer.get(review_url).get_data(as_text=True)
    assert 'id="map_first_name"' in page
    assert re.search(r'<option value="0" selected>Prénom</option>', page)
    assert "Adébáyọ̀" in page  # preview
    assert "<td>5</td><td>Courriel</td>" in page  # the bad row, its line and column
    assert "already registered" in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    mapping = {
        f"map_{f}": str(i)
        for f, i in (
            ("first_name", 0),
            ("last_name", 1),
            ("email", 2),
            ("organisation", 3),
            ("team", 4),
            ("role", 5),
        )
    }

    refused = trainer.post(
        review_url,
        data={"csrf_token": token, "action": "import", "on_duplicate": "skip", **mapping},
    )
    assert "nothing was imported" in refused.get_data(as_text=True)
    assert _names(app) == {"Aya Koné"}

    done = trainer.post(
        review_url,
        data={
            "csrf_token": token,
            "action": "import",
            "on_duplicate": "skip",
            "only_valid": "y",
            **mapping,
        },
        follow_redirects=True,
    )
    text = done.get_data(as_text=True)
    assert "Imported: 2 added, 0 updated, 2 skipped." in text
    assert _names(app) == {"Aya Koné", "Adébáyọ̀ Ọlápọ̀", "Nguyễn Thị Hồng Nhung"}
    # The uploaded file is gone: going back to its review says so and offers a new upload.
    back = trainer.get(review_url, follow_redirects=True)
    assert back.request.path == "/workshops/nairobi/participants/import"
    assert "This import is finished or its upload has expired" in back.get_data(as_text=True)


def test_web_import_rejects_a_file_that_is_not_csv(trainer, app):
    make_workshop(app)
    response = _upload(trainer, b"", filename="empty.csv")
    assert response.status_code == 200
    assert 'class="flash flash-error"' in response.get_data(as_text=True)
    response = _upload(trainer, b"name\nAda\n", filename="people.pdf")
    assert "Upload a .csv, .tsv, .txt or .xlsx file." in response.get_data(as_text=True)


def test_uploads_are_private_to_the_session_that_made_them(trainer, app):
    make_workshop(app)
    review_url = _upload(trainer, GOOD.encode()).headers["Location"]
    other = app.test_client()
    from tests.web.conftest import login

    login(other, "olga")
    seen = other.get(review_url)  # another login sees nothing of it, only the upload page
    assert seen.status_code == 302 and seen.headers["Location"].endswith("/participants/import")
