"""scripts/house_counts.py: issue 17's counts, one "name: value" line each, for the code now."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "house_counts.py"

pytestmark = pytest.mark.timeout(120)


def house_counts(script: Path, *args: str) -> tuple[dict[str, int], str]:
    result = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    counts = {}
    for line in result.stdout.splitlines():
        if line.startswith(" "):  # --where: a place under its count
            continue
        name, separator, value = line.rpartition(": ")
        assert separator and name and value.isdigit(), line
        counts[name] = int(value)
    return counts, result.stdout


def test_every_count_of_the_code_as_it_is_is_a_whole_number():
    counts, _ = house_counts(SCRIPT)
    assert len(counts) >= 12
    assert counts["route modules"] > 0
    assert (
        counts["imports inside functions"]
        >= counts["imports of kitmanager modules inside functions"]
    )


def test_counts_a_small_app_as_its_docstring_says(tmp_path: Path):
    """A made-up app with one of each thing (and a few look-alikes that must not count)."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts")
    files = {
        "kitmanager/__init__.py": "",
        "kitmanager/models.py": """
            import enum

            class Status(str, enum.Enum):
                READY = "ready"
                OUT = "out"

                def label(self):
                    return {Status.READY: _l("ready"), Status.OUT: _l("out")}[self]  # its home
            """,
        "kitmanager/kits/__init__.py": "",
        "kitmanager/kits/forms.py": """
            from kitmanager.models import Status

            LABELS = {Status.READY: _l("ready"), Status.OUT: _l("out")}
            BY_VALUE = {"ready": _l("ready"), "out": lazy_gettext("out")}
            NOT_LABELS = {Status.READY: 1, Status.OUT: 2}
            """,
        "kitmanager/kits/views.py": """
            from flask import Blueprint, request
            from kitmanager.extensions import db
            from kitmanager.workshops.views import load_workshop
            from kitmanager.kits.services import _private

            bp = Blueprint("kits", __name__)

            @bp.post("/workshops/<slug>/kits")
            def add(slug):
                from kitmanager.kits import services
                import json
                name = request.form.get("name", "")[:80]
                note = request.form["note"][:-1]
                db.session.commit()
                db.session.rollback()
                return actor.name[:120], deleted_at.is_(None)

            @bp.get("/kits/<code>")
            def show(code):
                db.session.commit()
            """,
        "kitmanager/workshops/__init__.py": "",
        "kitmanager/workshops/views.py": """
            from kitmanager.workshops import services  # its own feature
            """,
        "kitmanager/workshops/services.py": """
            def close(workshop):
                db.session.commit()  # not a view module
                return workshop.title[:LIMIT]
            """,
        "kitmanager/migrations/env.py": """
            def run():
                import alembic
                db.session.commit()
            """,
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")

    counts, listing = house_counts(tmp_path / "scripts" / "house_counts.py", "--where")
    assert counts == {
        "commits in views and API modules": 2,
        "rollbacks in views and API modules": 1,
        "route modules": 1,
        "raw request.form reads": 2,
        "[:N] slices with a literal N": 2,
        "route strings typing /workshops/<slug>": 1,
        "imports inside functions": 2,
        "imports of kitmanager modules inside functions": 1,
        "imports of another feature's views": 1,
        "modules importing another module's private names": 1,
        "enum label tables": 2,
        "deleted_at.is_(None)": 1,
        "actor.name[: cuts": 1,
    }
    assert "kitmanager/kits/views.py:9 /workshops/<slug>/kits" in listing
    assert "kits imports workshops.views" in listing
