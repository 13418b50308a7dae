"""Import 10,000 sign-up rows into a real SQLite file; print rows per second.

The figure is the whole path a trainer waits for: decode and parse the CSV, map the columns,
look for duplicates, insert every participant with a fresh badge token, commit. Two baselines
are measured in the same run on the same machine: the one-by-one way (the same parsed rows
added through ``create_participant``, the path of the "add a participant" form, then one
commit) and the floor (the rows inserted by one raw ``sqlite3`` ``executemany``, no parsing or
checks at all). Targets: under 3 s per 10,000 rows, and at least 3x the one-by-one way.

Beside it: the same path for an Excel workbook (.xlsx) of 2,000 rows, next to the CSV file of
the same 2,000 rows; and how fast hostile shapes are refused (a million columns, 20,000
repeated headers, a sheet claiming to span A1:XFD1048576). Target: each refused in under 1 s.

    python benchmarks/import_csv.py [--rows 10000] [--xlsx-rows 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import re
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kitmanager import create_app
from kitmanager.audit import cli_actor
from kitmanager.database import upgrade_database
from kitmanager.extensions import db
from kitmanager.participants.csv_io import (
    CsvError,
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


HEADER = ["Horodateur", "Prénom", "Nom", "Adresse e-mail", "École", "Équipe", "Rôle"]


def sample_rows(rows: int, stamp: object = "2026/11/20 10:00:00") -> list[list[object]]:
    return [
        [
            stamp,
            f"{GIVEN[i % len(GIVEN)]}",
            f"{FAMILY[(i // len(GIVEN)) % len(FAMILY)]} {i}",
            f"person{i}@example.org",
            f"Lycée {i % 40}",
            f"Équipe {i % 25}",
            "participant" if i % 10 else "mentor",
        ]
        for i in range(rows)
    ]


def sample_csv(rows: int) -> bytes:
    return write_csv(HEADER, sample_rows(rows))


def sample_xlsx(rows: int) -> bytes:
    """The same list as an Excel workbook: a title row, real dates, a phone number column."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Inscriptions atelier robotique"])
    sheet.append([*HEADER, "Téléphone du parent"])
    stamp = datetime(2026, 11, 20, 10, 0)
    for i, row in enumerate(sample_rows(rows)):
        row[0] = stamp + timedelta(minutes=i)
        sheet.append([*row, 2250700000000 + i])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def time_refusal(data: bytes) -> tuple[float, str]:
    """Seconds until ``read_table`` refuses ``data``, and the message it gives."""
    start = time.perf_counter()
    try:
        read_table(data)
    except CsvError as error:
        return time.perf_counter() - start, str(error)
    raise AssertionError("the hostile file was accepted")


def time_read(data: bytes) -> float:
    start = time.perf_counter()
    read_table(data)
    return time.perf_counter() - start


def long_sheet(rows: int) -> bytes:
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["Name", "Email"])
    for i in range(rows):
        sheet.append([f"Person {i}", f"person{i}@example.org"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def hostile_files() -> list[tuple[str, bytes, bool, float | None]]:
    """``(label, data, refused, target seconds)`` for each shape a file can take to exhaust
    the server."""
    million = ",".join(f"Question {i}" for i in range(1_000_000))
    repeated = ",".join(["Email"] * 20_000)
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name", "Email"])
    workbook.active.append(["Ada", "ada@example.org"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    lying = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(lying, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(
                    rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', content
                )
            target.writestr(item, content)
    return [
        ("1,000,000 columns (CSV, refused)", f"{million}\n{',' * 999_999}x\n".encode(), True, 1.0),
        ("20,000 repeated headers (CSV, refused)", f"{repeated}\n{repeated}\n".encode(), True, 1.0),
        ("sheet claiming A1:XFD1048576 (read)", lying.getvalue(), False, 1.0),
        # Refused at row 50,001: the time to read 50,000 rows, no target.
        ("60,000-row sheet (.xlsx, refused)", long_sheet(60_000), True, None),
    ]


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
    parser.add_argument("--xlsx-rows", type=int, default=2_000)
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

    rows = args.xlsx_rows
    workbook, same_csv = sample_xlsx(rows), sample_csv(rows)
    xlsx = statistics.median(time_import(workbook) for _ in range(args.repeat))
    xlsx_read = statistics.median(time_read(workbook) for _ in range(args.repeat))
    csv_same = statistics.median(time_import(same_csv) for _ in range(args.repeat))
    print(f"Excel import, {rows} rows ({len(workbook) // 1024} KiB .xlsx), median of {args.repeat}")
    for label, seconds in (
        (".xlsx import (read, checks, insert, commit)", xlsx),
        (".xlsx reading alone (openpyxl, read-only)", xlsx_read),
        ("the same rows as CSV, whole import", csv_same),
    ):
        print(f"  {label:<44}: {seconds:6.3f} s  {rows / seconds:>9,.0f} rows/s")
    print(f"  .xlsx import time / CSV import time: {xlsx / csv_same:.1f}")

    print("Hostile shapes (target: refused or read in under 1 s, where one is given)")
    for label, hostile, refused, target in hostile_files():
        if refused:
            seconds, message = time_refusal(hostile)
            shown = f"{message[:60]}..."
        else:
            seconds, shown = time_read(hostile), "read as 2 columns, 1 row"
        verdict = "    "
        if target is not None:
            ok = ok and seconds < target
            verdict = "PASS" if seconds < target else "FAIL"
        print(f"  {label:<39}: {seconds:6.3f} s  {verdict}  ({shown})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
