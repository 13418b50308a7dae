"""Kit handouts and returns at the door against a real `kitmanager serve` on SQLite.

Each round: 30 handouts (a badge scan, then the kit's label scan sent as a station sends it once
the volunteer answered "Hand KIT-… to …?": with the badge it was paired with and the
confirmation), then 30 returns (the kit scanned alone, which starts its return, then the
checklist posted to ``POST /api/v1/kits/<token>/return``; one in five with jumper wires
missing). Three stations work side by side, each on its own keep-alive connection (raw sockets,
as scan_load.py). Printed: median and p99 latency per scan and per return.

The baseline, measured in the same run on the same machine: a naive Flask + SQLAlchemy +
waitress app (no login, no audit, no idempotency) that pairs scans in a station table and hands
out with check-then-insert, answering the same requests. After each phase the handouts open in
both databases must be what was sent.

Two loads: (a) each station sends a request every 100 ms (ten a second, far faster than a
volunteer scans; the stations' schedules staggered, so 30 requests a second arrive evenly
spread), latency counted from each request's scheduled time; (b) each station sends
its next request as soon as the last one is answered (closed loop), printed for comparison.
Target: in (a), p99 at most 25 ms per scan and per return, zero errors.

    python benchmarks/handout.py [--rounds 5] [--stations 3] [--interval 0.1] [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_load import Client  # the same raw-socket client

from tests.web.e2e import Server, free_port, run_kitmanager, wait_for_port

SLUG = "door"
KITS = 30
P99_TARGET_MS = 25.0


class StationClient(Client):
    """One keep-alive connection for all of a station's requests, whatever their path."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        super().__init__(port, "/", headers)
        self.base = self.head

    def send_to(self, path: str, body: bytes) -> int:
        self.head = self.base.replace(b"POST / ", f"POST {path} ".encode(), 1)
        return self.send(body)


@dataclass
class Request:
    path: str  # "scan" or "return"
    body: bytes
    return_token: str = ""  # for "return": the kit's label token


@dataclass
class Times:
    scans: list[float] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)
    errors: int = 0

    @staticmethod
    def p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def scan(code: str, station: str, **pairing: object) -> Request:
    body = {"code": code, "client_id": str(uuid.uuid4()), "station": station, **pairing}
    return Request("scan", json.dumps(body).encode())


def handouts(badges: list[str], kits: list[str], station: str) -> list[Request]:
    """Badge then kit, for each (badge, kit) pair of this station. Scans pair only when the
    station says so: the kit's scan names the badge (``with``) and carries the volunteer's
    yes to the handout question (``confirm``); a kit scanned alone only waits for a badge."""
    requests = []
    for badge, kit in zip(badges, kits, strict=True):
        badge_code = f"http://10.42.0.1:5000/b/{badge}"
        requests.append(scan(badge_code, station))
        requests.append(
            scan(f"http://10.42.0.1:5000/k/{kit}", station, **{"with": badge_code, "confirm": True})
        )
    return requests


def returns(kits: list[str], wires: int, station: str, round_no: int) -> list[Request]:
    """Each kit scanned alone (its return starts), then its checklist posted."""
    requests = []
    for index, kit in enumerate(kits):
        requests.append(scan(f"http://10.42.0.1:5000/k/{kit}", station))
        missing = {str(wires): 3} if (index + round_no) % 5 == 0 else {}
        body = {"missing": missing, "client_id": str(uuid.uuid4()), "station": station}
        requests.append(Request("return", json.dumps(body).encode(), kit))
    return requests


Route = Callable[[Request], str]


def run_phase(
    make_client: Callable[[], StationClient],
    route: Route,
    per_station: list[list[Request]],
    times: Times,
    interval: float,
) -> None:
    """Each station sends its requests in order on its own connection, side by side.

    With ``interval`` > 0 a station's requests are scheduled that far apart (open loop) and
    each latency counts from the scheduled time, so a slow server cannot hide its queue; with
    0 each request goes as soon as the previous one was answered (closed loop).
    """
    lock = threading.Lock()
    ready = threading.Barrier(len(per_station))

    def work(station: int, requests: list[Request]) -> None:
        client = make_client()
        ready.wait()
        # The stations' schedules are staggered, as people at three tables do not scan in step:
        # together the requests arrive evenly spread, like scan_load.py's steady rate.
        start = time.perf_counter() + station * interval / len(per_station)
        for index, request in enumerate(requests):
            path = route(request)
            sent = time.perf_counter()
            if interval:
                scheduled = start + index * interval
                if scheduled > sent:
                    time.sleep(scheduled - sent)
                sent = scheduled
            status = client.send_to(path, request.body)
            elapsed = (time.perf_counter() - sent) * 1000
            with lock:
                (times.scans if request.path == "scan" else times.returns).append(elapsed)
                if status != 200:
                    times.errors += 1

    threads = [
        threading.Thread(target=work, args=(station, requests))
        for station, requests in enumerate(per_station)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def open_handouts(db: Path, table: str = "kit_handout") -> int:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA busy_timeout=10000")
        return conn.execute(f"SELECT count(*) FROM {table} WHERE returned_at IS NULL").fetchone()[0]


def all_handouts(db: Path, table: str = "kit_handout") -> int:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA busy_timeout=10000")
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# ------------------------------------------------------------------------------ the servers


def kitmanager_day(root: Path) -> tuple[Path, str, list[str], list[str], int]:
    """A data dir with a session running now, 30 people, 30 kits and a volunteer's token."""
    data_dir = root / "data"
    now = datetime.now(timezone.utc)

    def ok(*args: str) -> str:
        done = run_kitmanager(data_dir, *args, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    ok("workshops", "create", "Kit test", "--slug", SLUG, "--starts", f"{now:%Y-%m-%d}",
       "--timezone", "UTC")  # fmt: skip
    starts, ends = now - timedelta(minutes=10), now + timedelta(hours=3)
    ok("sessions", "add", SLUG, "Robots", "--starts", f"{starts:%Y-%m-%d %H:%M}",
       "--ends", f"{ends:%Y-%m-%d %H:%M}")  # fmt: skip
    csv_file = root / "people.csv"
    csv_file.write_text(
        "Name\n" + "\n".join(f"Person {i:03d}" for i in range(KITS)) + "\n", encoding="utf-8"
    )
    ok("participants", "import", SLUG, str(csv_file))
    secret = ok("tokens", "create", "bench-door", "--role", "volunteer").strip().splitlines()[-1]

    from kitmanager import create_app
    from kitmanager.audit import cli_actor
    from kitmanager.extensions import db
    from kitmanager.kits.services import ComponentLine, create_kit_type, create_kits

    app = create_app({"DATA_DIR": data_dir})
    with app.app_context(), app.test_request_context():
        kit_type = create_kit_type(
            cli_actor(),
            "Line-follower kit v2",
            [
                ComponentLine("Arduino Nano"),
                ComponentLine("Ultrasonic sensor HC-SR04"),
                ComponentLine("Jumper wires", 20, must_return=False),
            ],
        )
        create_kits(cli_actor(), kit_type, KITS)
        db.session.commit()
        db.engine.dispose()
    with sqlite3.connect(data_dir / "kitmanager.sqlite3") as conn:
        badges = [row[0] for row in conn.execute("SELECT badge_token FROM participant ORDER BY id")]
        kits = [row[0] for row in conn.execute("SELECT label_token FROM kit ORDER BY code")]
        (wires,) = conn.execute(
            "SELECT id FROM kit_component WHERE name = 'Jumper wires'"
        ).fetchone()
    return data_dir, secret, badges, kits, wires


NAIVE_APP = """
import sys
from datetime import datetime
from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text
from waitress import serve

engine = create_engine("sqlite:///" + sys.argv[1], connect_args={"timeout": 10})
app = Flask("naive")
OPEN = "SELECT id FROM handout WHERE kit_id = :k AND returned_at IS NULL"

@app.post("/scan")
def scan():
    data = request.get_json()
    code, station, now = data["code"], data["station"], datetime.utcnow()
    with engine.begin() as conn:
        if "/k/" in code:
            kit = conn.execute(text("SELECT id FROM kit WHERE token = :t"),
                               {"t": code.rsplit("/k/", 1)[-1]}).scalar()
            last = conn.execute(text("SELECT kind, subject FROM station WHERE name = :s"),
                                {"s": station}).first()
            out = conn.execute(text(OPEN), {"k": kit}).scalar()
            if last and last.kind == "badge":
                if out:
                    return jsonify(outcome="kit_unavailable")
                conn.execute(text("INSERT INTO handout (kit_id, participant_id, out_at) "
                                  "VALUES (:k, :p, :t)"), {"k": kit, "p": last.subject, "t": now})
                conn.execute(text("DELETE FROM station WHERE name = :s"), {"s": station})
                return jsonify(outcome="kit_handed_out")
            if out:
                return jsonify(outcome="kit_return")
            conn.execute(text("INSERT OR REPLACE INTO station VALUES (:s, 'kit', :k)"),
                         {"s": station, "k": kit})
            return jsonify(outcome="kit_waiting")
        person = conn.execute(text("SELECT id FROM participant WHERE badge_token = :t"),
                              {"t": code.rsplit("/b/", 1)[-1]}).scalar()
        conn.execute(text("INSERT OR REPLACE INTO station VALUES (:s, 'badge', :p)"),
                     {"s": station, "p": person})
    return jsonify(outcome="checked_in")

@app.post("/return/<token>")
def give_back(token):
    data = request.get_json()
    with engine.begin() as conn:
        kit = conn.execute(text("SELECT id FROM kit WHERE token = :t"), {"t": token}).scalar()
        out = conn.execute(text(OPEN), {"k": kit}).scalar()
        if out is None:
            return jsonify(outcome="kit_not_out")
        conn.execute(text("UPDATE handout SET returned_at = :t WHERE id = :h"),
                     {"t": datetime.utcnow(), "h": out})
        for component, count in data["missing"].items():
            conn.execute(text("INSERT INTO missing (handout_id, component_id, count) "
                              "VALUES (:h, :c, :n)"), {"h": out, "c": int(component), "n": count})
    return jsonify(outcome="kit_returned")

serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=8, _quiet=True)
"""


def naive_db(path: Path, badges: list[str], kits: list[str]) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE participant (id INTEGER PRIMARY KEY, badge_token TEXT UNIQUE)")
        conn.execute("CREATE TABLE kit (id INTEGER PRIMARY KEY, token TEXT UNIQUE)")
        conn.execute("CREATE TABLE station (name TEXT PRIMARY KEY, kind TEXT, subject INT)")
        conn.execute(
            "CREATE TABLE handout (id INTEGER PRIMARY KEY, kit_id INT, participant_id INT,"
            " out_at TEXT, returned_at TEXT)"
        )
        conn.execute(
            "CREATE TABLE missing (id INTEGER PRIMARY KEY, handout_id INT, component_id INT,"
            " count INT)"
        )
        conn.executemany("INSERT INTO participant (badge_token) VALUES (?)", [(b,) for b in badges])
        conn.executemany("INSERT INTO kit (token) VALUES (?)", [(k,) for k in kits])


def split(items: list[str], stations: int) -> list[list[str]]:
    return [items[i::stations] for i in range(stations)]


def run_rounds(
    make_client: Callable[[], StationClient],
    route: Route,
    db: Path,
    table: str,
    badges: list[str],
    kits: list[str],
    wires: int,
    rounds: int,
    stations: int,
    interval: float,
) -> tuple[Times, list[str]]:
    """``rounds`` of 30 handouts then 30 returns; the times, and any count that was wrong."""
    times = Times()
    wrong = []
    before = all_handouts(db, table)
    for round_no in range(rounds):
        names = [f"station-{n}" for n in range(stations)]
        run_phase(
            make_client,
            route,
            [
                handouts(b, k, name)
                for b, k, name in zip(
                    split(badges, stations), split(kits, stations), names, strict=True
                )
            ],
            times,
            interval,
        )
        if open_handouts(db, table) != KITS:
            wrong.append(f"round {round_no + 1}: {open_handouts(db, table)} kits out, not {KITS}")
        run_phase(
            make_client,
            route,
            [
                returns(k, wires, name, round_no)
                for k, name in zip(split(kits, stations), names, strict=True)
            ],
            times,
            interval,
        )
        if open_handouts(db, table) != 0:
            wrong.append(f"round {round_no + 1}: {open_handouts(db, table)} kits still out")
    made = all_handouts(db, table) - before
    if made != KITS * rounds:
        wrong.append(f"{made} handouts stored, not {KITS * rounds}")
    return times, wrong


def line(name: str, kind: str, values: list[float]) -> str:
    return (
        f"  {name:<38} {kind:<7} {len(values):>4}  median {statistics.median(values):6.1f} ms  "
        f"p99 {Times.p(values, 0.99):6.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of 30 handouts + 30 returns")
    parser.add_argument("--stations", type=int, default=3)
    parser.add_argument(
        "--interval", type=float, default=0.1, help="(a) seconds between a station's requests"
    )
    parser.add_argument("--threads", type=int, default=8, help="kitmanager serve --threads")
    args = parser.parse_args(argv)
    loads = {"a": args.interval, "b": 0.0}

    def both(make_client, route, db, table) -> dict[str, tuple[Times, list[str]]]:
        return {
            load: run_rounds(
                make_client, route, db, table, badges, kits, wires, args.rounds, args.stations,
                interval,
            )
            for load, interval in loads.items()
        }  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="kitmanager-handout-bench-") as tmp:
        root = Path(tmp)
        data_dir, secret, badges, kits, wires = kitmanager_day(root)
        auth = {"Authorization": f"Bearer {secret}"}
        print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")
        print(
            f"each load: {args.rounds} rounds of {KITS} handouts (badge scan + kit scan) and "
            f"{KITS} returns (kit scan + checklist), {args.stations} stations side by side"
        )
        with Server(data_dir, extra_args=("--threads", str(args.threads))) as server:

            def ours() -> StationClient:
                return StationClient(server.port, auth)

            def our_route(request: Request) -> str:
                if request.path == "scan":
                    return "/api/v1/scans"
                return f"/api/v1/kits/{request.return_token}/return"

            mine = both(ours, our_route, data_dir / "kitmanager.sqlite3", "kit_handout")

        naive_path = root / "naive.sqlite3"
        naive_db(naive_path, badges, kits)
        naive_port = free_port()
        naive = subprocess.Popen(
            [sys.executable, "-c", NAIVE_APP, str(naive_path), str(naive_port)]
        )
        try:
            wait_for_port(naive_port)

            def plain() -> StationClient:
                return StationClient(naive_port, {})

            def plain_route(request: Request) -> str:
                return "/scan" if request.path == "scan" else f"/return/{request.return_token}"

            theirs = both(plain, plain_route, naive_path, "handout")
        finally:
            naive.terminate()
            naive.wait(timeout=10)

        titles = {
            "a": f"(a) each station sends a request every {args.interval * 1000:.0f} ms "
            "(latency from its scheduled time)",
            "b": "(b) each station sends the next request as soon as the last is answered",
        }
        checks = {}
        for load, title in titles.items():
            kit_times, kit_wrong = mine[load]
            naive_times, naive_wrong = theirs[load]
            print(title)
            for name, times in (
                ("kitmanager (API, audit, idempotent)", kit_times),
                ("baseline: naive check-then-insert", naive_times),
            ):
                print(line(name, "scans", times.scans))
                print(line(name, "returns", times.returns))
            scan_p99 = Times.p(kit_times.scans, 0.99)
            return_p99 = Times.p(kit_times.returns, 0.99)
            ratio = {
                kind: (
                    statistics.median(getattr(kit_times, kind))
                    / statistics.median(getattr(naive_times, kind)),
                    Times.p(getattr(kit_times, kind), 0.99)
                    / Times.p(getattr(naive_times, kind), 0.99),
                )
                for kind in ("scans", "returns")
            }
            print(
                "  ratios to the baseline: "
                + "; ".join(
                    f"{kind} median {median:.2f}x, p99 {p99:.2f}x"
                    for kind, (median, p99) in ratio.items()
                )
            )
            if naive_wrong or naive_times.errors:
                print(
                    f"  (baseline: {naive_times.errors} errors; {'; '.join(naive_wrong) or 'ok'})"
                )
            if load == "a":
                checks[f"(a) p99 per scan {scan_p99:.1f} ms <= {P99_TARGET_MS:.0f} ms"] = (
                    scan_p99 <= P99_TARGET_MS
                )
                checks[f"(a) p99 per return {return_p99:.1f} ms <= {P99_TARGET_MS:.0f} ms"] = (
                    return_p99 <= P99_TARGET_MS
                )
            checks[f"({load}) zero errors ({kit_times.errors})"] = kit_times.errors == 0
            checks[
                f"({load}) every handout and return stored as sent"
                + (f" ({'; '.join(kit_wrong)})" if kit_wrong else "")
            ] = not kit_wrong
        for label, passed in checks.items():
            print(f"  {'PASS' if passed else 'FAIL'}  {label}")
        return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
