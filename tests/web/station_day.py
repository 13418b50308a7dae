"""The day the scan station's browser tests share: a real data folder made through the CLI (a
French workshop in Abidjan with a session running now, people, users) and kits made through
the service layer; and a wait for the station's offline roster copy."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kitmanager import create_app
from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.kits.services import ComponentLine, create_kit_type, create_kits, set_condition
from kitmanager.models import KitCondition
from tests.web.e2e import run_kitmanager

SLUG = "abidjan"
BOM = [
    ComponentLine("Arduino Nano", 1),
    ComponentLine("Ultrasonic sensor HC-SR04", 1),
    ComponentLine("Jumper wires", 20, must_return=False),
]


def ok(result) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def make_day(
    data_dir: Path,
    people: list[str],
    users: list[tuple[str, str, str]],
    kits: int = 0,
) -> tuple[dict[str, str], dict[str, str]]:
    """Users (name, password, role), the workshop with its running session, ``people`` and
    ``kits`` kits (the last one needs attention); the badge tokens by name and the label
    tokens by kit code."""
    for name, password, role in users:
        ok(
            run_kitmanager(
                data_dir, "users", "create", name, "--role", role, "--password-stdin",
                stdin=password + "\n",
            )
        )  # fmt: skip
    today = datetime.now(timezone.utc)
    ok(
        run_kitmanager(
            data_dir, "workshops", "create", "Défi IA Abidjan", "--slug", SLUG,
            "--starts", f"{today:%Y-%m-%d}", "--timezone", "Africa/Abidjan", "--language", "fr",
        )
    )  # fmt: skip
    starts, ends = today - timedelta(minutes=15), today + timedelta(hours=2)
    ok(
        run_kitmanager(
            data_dir, "sessions", "add", SLUG, "Premier robot",
            "--starts", f"{starts:%Y-%m-%d %H:%M}", "--ends", f"{ends:%Y-%m-%d %H:%M}",
        )
    )  # fmt: skip
    sheet = data_dir.parent / "people.csv"
    sheet.write_text("Name\n" + "\n".join(people) + "\n", encoding="utf-8")
    ok(run_kitmanager(data_dir, "participants", "import", SLUG, str(sheet)))
    labels: dict[str, str] = {}
    if kits:
        app = create_app({"DATA_DIR": data_dir})
        with app.app_context(), app.test_request_context():
            kit_type = create_kit_type(cli_actor(), "Line-follower kit v2", BOM)
            made = create_kits(cli_actor(), kit_type, kits)
            set_condition(cli_actor(), made[-1], KitCondition.NEEDS_ATTENTION, "loose wheel")
            labels = {kit.code: kit.label_token for kit in made}
            db.session.commit()
            db.engine.dispose()
    with sqlite3.connect(data_dir / "kitmanager.sqlite3") as conn:
        tokens = dict(conn.execute("SELECT full_name, badge_token FROM participant"))
    return tokens, labels


def wait_for_roster(page, part: str, count: int | None = None) -> None:
    """Wait until the station's offline roster copy is stored on the device with ``count``
    entries in ``part`` ("people" or "kits"; any number above none when ``count`` is None)."""
    page.wait_for_function(
        """([slug, part, count]) => new Promise((resolve) => {
            const open = indexedDB.open('kitmanager-roster', 1);
            open.onsuccess = () => {
              const db = open.result;
              if (!db.objectStoreNames.contains('rosters')) return resolve(false);
              const get = db.transaction('rosters').objectStore('rosters').get(slug);
              get.onsuccess = () => {
                const entries = (get.result && get.result[part]) || [];
                resolve(count === null ? entries.length > 0 : entries.length === count);
              };
            };
            open.onerror = () => resolve(false);
        })""",
        arg=[SLUG, part, count],
    )


def query(data_dir: Path, sql: str) -> list[tuple]:
    """Rows of ``sql`` read from the server's database while it runs."""
    with sqlite3.connect(data_dir / "kitmanager.sqlite3") as conn:
        conn.execute("PRAGMA busy_timeout=5000")
        return list(conn.execute(sql))


def holders(data_dir: Path) -> dict[str, str]:
    """Kit code -> who holds it, for the handouts still open."""
    return dict(
        query(
            data_dir,
            "SELECT k.code, p.full_name FROM kit_handout h JOIN kit k ON k.id = h.kit_id "
            "JOIN participant p ON p.id = h.participant_id WHERE h.returned_at IS NULL",
        )
    )


def checked_in(data_dir: Path) -> set[str]:
    """The names of everyone checked in, to any session."""
    return {
        name
        for (name,) in query(
            data_dir,
            "SELECT p.full_name FROM check_in c JOIN participant p ON p.id = c.participant_id",
        )
    }


def wedge(page, text: str) -> None:
    """What a keyboard-wedge scanner does: the code's characters, then Enter, into whatever
    has focus."""
    page.keyboard.type(text)
    page.keyboard.press("Enter")
