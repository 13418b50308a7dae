"""Import 10,000 sign-up rows into a real SQLite file; print rows per second.

The figure is the whole path a trainer waits for: decode and parse the CSV, map the columns,
look for duplicates, insert every participant with a fresh badge token, commit. Two baselines
are measured in the same run on the same machine: the one-by-one way (the same parsed rows
added through ``create_participant``, the path of the "add a participant" form, then one
commit) and the floor (the rows inserted by one raw ``sqlite3`` ``executemany``, no parsing or
checks at all). Targets: under 3 s per 10,000 rows, and at least 3x the one-by-one way.

    python benchmarks/import_csv.py [--rows 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kitmanager import create_app
from kitmanager.audit import cli_actor
from kitmanager.database import upgrade_database
from kitmanager.extensions import db
from kitmanager.participants.csv_io import (
    guess_mapping,
    parse_participants,
    read_table,
    write_csv,
)
from kitmanager.participants.services import (
    ParticipantFields,
    apply_import,
    create_participant,
    plan_import,
)
from kitmanager.workshops.services import WorkshopFields, create_workshop

GIVEN = ["Wanjiru", "Kouassi", "Adébáyọ̀", "Nguyễn Thị", "Amira", "João", "Zoë", "Li Wei"]
FAMILY = ["Mwangi", "Koné", "Ọlápọ̀", "Hồng Nhung", "Haddad", "Gonçalves", "Müller", "Zhang"]


def sample_csv(rows: int) -> bytes:
    header = ["Horodateur", "Prénom", "Nom", "Adresse e-mail", "École", "Équipe", "Rôle"]
    body = [
        [
            "2026/11/20 10:00:00",
            f"{GIVEN[i % len(GIVEN)]}",
            f"{FAMILY[(i // len(GIVEN)) % len(FAMILY)]} {i}",
            f"person{i}@example.org",
            f"Lycée {i % 40}",
            f"Équipe {i % 25}",
            "participant" if i % 10 else "mentor",
        ]
        for i in range(rows)
    ]
    return write_csv(header, body)


def time_import(data: bytes, one_by_one: bool = False) -> float:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DATA_DIR": Path(folder), "SECRET_KEY": "bench"})
        upgrade_database(app)
        with app.app_context():
            from datetime import date

            workshop = create_workshop(
                cli_actor(),
                WorkshopFields(title="Bench", starts_on=date(2026, 12, 1), timezone="UTC"),
            )
            db.session.commit()
            start = time.perf_counter()
            table = read_table(data)
            parsed = parse_participants(table, guess_mapping(table.headers))
            if one_by_one:
                actor = cli_actor()
                for row in parsed.rows:
                    create_participant(actor, workshop, ParticipantFields.from_row(row))
                created = len(parsed.rows)
            else:
                plan = plan_import(workshop, parsed)
                created = apply_import(cli_actor(), workshop, plan).created
            db.session.commit()
            elapsed = time.perf_counter() - start
            assert created == len(table.rows), created
            db.engine.dispose()
    return elapsed


def time_floor(rows: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        conn = sqlite3.connect(Path(folder) / "floor.sqlite3")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, email TEXT, org TEXT, "
            "team TEXT, role TEXT, token TEXT UNIQUE)"
        )
        values = [
            (
                f"Person {i}",
                f"person{i}@example.org",
                f"Lycée {i % 40}",
                f"Équipe {i % 25}",
                "participant",
                secrets.token_urlsafe(24),
            )
            for i in range(rows)
        ]
        start = time.perf_counter()
        conn.executemany(
            "INSERT INTO p (name, email, org, team, role, token) VALUES (?,?,?,?,?,?)", values
        )
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.close()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    data = sample_csv(args.rows)
    imported = statistics.median(time_import(data) for _ in range(args.repeat))
    naive = statistics.median(time_import(data, one_by_one=True) for _ in range(args.repeat))
    floor = statistics.median(time_floor(args.rows) for _ in range(args.repeat))
    speedup = naive / imported
    fast_enough = imported <= 3.0 * args.rows / 10_000
    ok = fast_enough and speedup >= 3
    print(f"CSV import, {args.rows} rows ({len(data) // 1024} KiB), median of {args.repeat}")
    for label, seconds in (
        ("import (parse, checks, insert, commit)", imported),
        ("baseline, one by one (same rows)", naive),
        ("floor, raw sqlite3 executemany", floor),
    ):
        print(f"  {label:<39}: {seconds:6.3f} s  {args.rows / seconds:>9,.0f} rows/s")
    print(f"  time per 10,000 rows <= 3 s: {'PASS' if fast_enough else 'FAIL'}")
    verdict = "PASS" if speedup >= 3 else "FAIL"
    print(f"  speed-up over one by one: {speedup:.1f}x (target >= 3x) {verdict}")
    print(f"  share of the floor's speed: {floor / imported:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
