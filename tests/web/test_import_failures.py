"""An import that fails, for whatever reason, leaves the upload in place for another try.

The database refuses the write for real: a trigger in the test's SQLite file raises on insert,
as a full disk, a lock or a constraint would. Then the trigger goes and the same upload (the
same review page, the same button) imports.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kitmanager.config import DATABASE_FILE
from kitmanager.extensions import db
from kitmanager.models import Participant
from tests.web.helpers import make_workshop
from tests.web.imports import guessed_form, press_import, upload

SIGNUP = "Nom complet;Courriel\nAya Koné;aya@example.org\nKofi Mensah;kofi@example.org\n"
BAD_ROW = "Ama Owusu;ama@@example\n"


def _refuse_inserts_into(data_dir: Path, table: str) -> None:
    with sqlite3.connect(data_dir / DATABASE_FILE) as conn:
        conn.execute(
            f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'the disk said no'); END"
        )


def _allow_inserts_into(data_dir: Path, table: str) -> None:
    with sqlite3.connect(data_dir / DATABASE_FILE) as conn:
        conn.execute(f"DROP TRIGGER refuse_{table}")


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Participant.id)))


def _review(client, text: str) -> tuple[str, dict[str, str]]:
    """Upload ``text`` and return the review page's URL and its untouched form."""
    response = upload(client, text.encode(), "a.csv")
    assert response.status_code == 302, response.get_data(as_text=True)
    review_url = response.headers["Location"]
    return review_url, guessed_form(client.get(review_url).get_data(as_text=True))


@pytest.mark.parametrize("table", ["participant", "audit_event"])
def test_a_database_refusal_keeps_the_upload_and_the_retry_imports(trainer, app, data_dir, table):
    """``participant``: the insert itself fails. ``audit_event``: the participants are written,
    then the audit row fails, so their insert must be rolled back too."""
    make_workshop(app)
    review_url, form = _review(trainer, SIGNUP)
    _refuse_inserts_into(data_dir, table)

    failed = press_import(trainer, review_url, form)
    page = failed.get_data(as_text=True)
    assert failed.status_code == 200
    assert "The database refused the import (the disk said no), so nothing was saved." in page
    assert "Traceback" not in page
    assert _count(app) == 0
    assert trainer.get(review_url).status_code == 200  # the upload is still there

    _allow_inserts_into(data_dir, table)
    done = press_import(trainer, review_url, form)
    assert "Imported: 2 added, 0 updated, 0 skipped." in done.get_data(as_text=True)
    assert _count(app) == 2
    gone = trainer.get(review_url)  # imported: the upload is gone, a new upload is offered
    assert gone.status_code == 302 and gone.headers["Location"].endswith("/participants/import")


def test_a_refused_plan_keeps_the_upload(trainer, app):
    make_workshop(app)
    review_url, form = _review(trainer, SIGNUP + BAD_ROW)
    refused = press_import(trainer, review_url, form)
    assert "nothing was imported" in refused.get_data(as_text=True)
    assert trainer.get(review_url).status_code == 200
    done = press_import(trainer, review_url, form, only_valid="y")
    assert "Imported: 2 added, 0 updated, 1 skipped." in done.get_data(as_text=True)


def test_the_command_line_reports_a_database_refusal_and_writes_nothing(
    runner, app, data_dir, tmp_path
):
    make_workshop(app)
    path = tmp_path / "signup.csv"
    path.write_text(SIGNUP, encoding="utf-8")
    _refuse_inserts_into(data_dir, "participant")
    result = runner.invoke(args=["participants", "import", "nairobi", str(path)])
    assert result.exit_code == 1
    assert "The database refused the import (the disk said no), so nothing was saved." in (
        result.output
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _count(app) == 0
    _allow_inserts_into(data_dir, "participant")
    result = runner.invoke(args=["participants", "import", "nairobi", str(path)])
    assert result.exit_code == 0 and "2 added" in result.output
