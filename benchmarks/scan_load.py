"""Scans at the door against a real `kitmanager serve` on SQLite; print latency and throughput.

Two loads, each with duplicate scans of the same badge (new client id) and retried requests
(the same client id sent again), the way phones on a shaky Wi-Fi send them:

(a) open loop: scans arrive at a steady rate (default 100/s) whatever the server does; each
    latency is counted from the scan's scheduled time, so a slow server cannot hide its queue.
(b) closed loop: 20 clients send as fast as the server answers.

The baseline, measured in the same run on the same machine: a naive endpoint (Flask +
SQLAlchemy + waitress, no login) that checks for a check-in and then inserts one. In both, the
check-ins stored must equal the distinct (participant, session) pairs sent.
Targets: (a) p99 at most 10 ms with zero errors; (b) at least 400 scans/s with zero errors.
Printed: the closed loop's throughput as a ratio to the baseline's (goal: at least 0.8x).

With ``--database postgresql`` the same loads also run against kitmanager on a throwaway
PostgreSQL cluster (Debian's server binaries, started as the tests start it: 127.0.0.1, a free
port, removed afterwards), and the PostgreSQL closed loop is printed as a ratio to the SQLite
one (goal: at least 0.8x). The cluster commits as kitmanager's SQLite does (WAL with
synchronous=NORMAL: a commit survives the app crashing, not a power cut): synchronous_commit
off, fsync on.

    python benchmarks/scan_load.py [--people 2000] [--rate 100] [--seconds 10] [--clients 20]
                                   [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import queue
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.web.e2e import Server, free_port, kitmanager_exe, wait_for_port

SLUG = "door"
P99_TARGET_MS = 10.0
THROUGHPUT_TARGET = 400.0


# ------------------------------------------------------------------------------ the scans


@dataclass
class Scan:
    body: bytes
    pair: tuple[str, int]  # (badge token, session id): what one check-in stands for


def make_scans(tokens: list[str], session_id: int, count: int, seed: int) -> list[Scan]:
    """``count`` scans: about 80 % first scans, 10 % a badge scanned again, 10 % a retry."""
    rng = random.Random(seed)
    fresh = iter(rng.sample(tokens, len(tokens)))
    scans: list[Scan] = []
    for _ in range(count):
        roll = rng.random()
        if scans and roll < 0.10:
            scans.append(scans[rng.randrange(len(scans))])  # retried: same client id
            continue
        if scans and roll < 0.20:
            token = scans[rng.randrange(len(scans))].pair[0]
        else:
            token = next(fresh, None) or rng.choice(tokens)
        body = json.dumps(
            {
                "code": f"http://10.42.0.1:5000/b/{token}",
                "session": session_id,
                "client_id": str(uuid.uuid4()),
                "station": "bench",
            }
        ).encode()
        scans.append(Scan(body, (token, session_id)))
    return scans


# ------------------------------------------------------------------------------ the client


class Client:
    """One keep-alive HTTP/1.1 connection, as one phone holds it.

    Requests are written as prepared bytes and answers read by Content-Length on a plain
    socket: the load generator shares the machine's two cores with the server, so it must cost
    as little as it can (http.client took a sizeable share of them).
    """

    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        self.port = port
        lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.head = "\r\n".join(lines).encode() + b"\r\nContent-Length: "
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        return sock

    def _read_answer(self, sock: socket.socket) -> int:
        while b"\r\n\r\n" not in self.buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            rest += chunk
        self.buffer = rest[length:]
        return status

    def send(self, body: bytes) -> int:
        try:
            if self.sock is None:
                self.sock = self._connect()
            self.sock.sendall(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
            return self._read_answer(self.sock)
        except (OSError, ValueError, IndexError):
            if self.sock is not None:
                self.sock.close()
            self.sock = None
            return 0


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def open_loop(make_client: Callable[[], Client], scans: list[Scan], rate: float) -> Result:
    """Send ``scans`` at ``rate`` per second; latency from each scan's scheduled time."""
    result = Result()
    lock = threading.Lock()
    jobs: queue.Queue = queue.Queue()
    workers = 32

    def work() -> None:
        client = make_client()
        while True:
            job = jobs.get()
            if job is None:
                return
            scheduled, scan = job
            status = client.send(scan.body)
            done = time.perf_counter()
            with lock:
                result.latencies_ms.append((done - scheduled) * 1000)
                if status != 200:
                    result.errors += 1

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.2
    for index, scan in enumerate(scans):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        jobs.put((scheduled, scan))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - start
    return result


def closed_loop(make_client: Callable[[], Client], scans: list[Scan], clients: int) -> Result:
    """``clients`` connections each sending its share of ``scans`` back to back."""
    result = Result()
    lock = threading.Lock()
    shares = [scans[i::clients] for i in range(clients)]
    ready = threading.Barrier(clients + 1)

    def work(share: list[Scan]) -> None:
        client = make_client()
        ready.wait()
        for scan in share:
            sent = time.perf_counter()
            status = client.send(scan.body)
            elapsed = (time.perf_counter() - sent) * 1000
            with lock:
                result.latencies_ms.append(elapsed)
                if status != 200:
                    result.errors += 1

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - start
    return result


# ------------------------------------------------------------------------------ the databases


class Store(ABC):
    """Where a server under test keeps its check-ins: counted after a load, cleared before.

    Each kind of database runs one statement on a short connection of its own; ``?`` marks a
    value.
    """

    @abstractmethod
    def rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """The rows ``sql`` returns."""

    @abstractmethod
    def tables(self) -> set[str]:
        """The names of the database's tables."""

    def stored(self, session_id: int | None = None) -> int:
        """Check-ins stored (of ``session_id`` only, when given)."""
        if session_id is None:
            return self.rows("SELECT count(*) FROM check_in")[0][0]
        return self.rows("SELECT count(*) FROM check_in WHERE session_id = ?", (session_id,))[0][0]

    def forget(self, session_id: int) -> None:
        """Remove ``session_id``'s check-ins and every stored scan answer, for a fresh run."""
        self.rows("DELETE FROM check_in WHERE session_id = ?", (session_id,))
        if "scan_request" in self.tables():
            self.rows("DELETE FROM scan_request")


class SqliteStore(Store):
    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with sqlite3.connect(self.path) as conn:
            conn.execute("PRAGMA busy_timeout=10000")
            return conn.execute(sql, params).fetchall()

    def tables(self) -> set[str]:
        return {row[0] for row in self.rows("SELECT name FROM sqlite_master")}


class PostgresStore(Store):
    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []

    def tables(self) -> set[str]:
        return {row[0] for row in self.rows("SELECT tablename FROM pg_tables")}


def _as_postgres(args: list[str]) -> None:
    # PostgreSQL refuses to run as root; the Debian package creates the 'postgres' user.
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=120)


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 and a free port; its URL. Removed after."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL server binaries not found: apt-get install postgresql")
    bindir = Path(found[-1]).parent
    # Not under the benchmark's temporary folder: that one is private to root, and the
    # server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="kitmanager-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    cluster, port = base / "cluster", free_port()
    pg_ctl = str(bindir / "pg_ctl")
    _as_postgres([str(bindir / "initdb"), "-D", str(cluster), "-A", "trust", "-U", "postgres"])
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c synchronous_commit=off"
    _as_postgres([pg_ctl, "-D", str(cluster), "-w", "-l", str(base / "log"), "-o", options,
                  "start"])  # fmt: skip
    try:
        _as_postgres([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                      "postgres", "kit"])  # fmt: skip
        yield f"postgresql://postgres@127.0.0.1:{port}/kit"
    finally:
        _as_postgres([pg_ctl, "-D", str(cluster), "-m", "fast", "stop"])
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------------------ the servers


@dataclass
class Day:
    """A data dir with a workshop running now (two sessions), its people and a token."""

    data_dir: Path
    database_url: str | None  # None: the data dir's SQLite file
    store: Store
    secret: str
    tokens: list[str]
    sessions: list[int]

    def server(self, threads: int) -> Server:
        prefix = ("env", f"DATABASE_URL={self.database_url}") if self.database_url else ()
        return Server(self.data_dir, prefix=prefix, extra_args=("--threads", str(threads)))


def kitmanager_day(root: Path, people: int, database_url: str | None = None) -> Day:
    """A workshop running now (two sessions), ``people`` people and a volunteer's token, in
    ``root``'s data dir and its SQLite file, or in the PostgreSQL database at
    ``database_url``."""
    data_dir = root / "data"
    now = datetime.now(timezone.utc)
    # The database is the data dir's unless DATABASE_URL names one: the caller's shell has no say.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("KITMANAGER_DATA_DIR", "KITMANAGER_DATABASE_URL", "DATABASE_URL")
    }
    if database_url:
        env["DATABASE_URL"] = database_url

    def ok(*args: str) -> str:
        done = subprocess.run(
            [str(kitmanager_exe()), "--data-dir", str(data_dir), *args],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, env=env,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    ok("workshops", "create", "Door test", "--slug", SLUG, "--starts", f"{now:%Y-%m-%d}",
       "--timezone", "UTC")  # fmt: skip
    for title, offset in (("Open loop", 0), ("Closed loop", 1)):
        starts = now - timedelta(minutes=10) + timedelta(hours=3 * offset)
        ends = starts + timedelta(hours=2)
        ok("sessions", "add", SLUG, title, "--starts", f"{starts:%Y-%m-%d %H:%M}",
           "--ends", f"{ends:%Y-%m-%d %H:%M}")  # fmt: skip
    csv_file = root / "people.csv"
    csv_file.write_text(
        "Name\n" + "\n".join(f"Person {i:05d}" for i in range(people)) + "\n", encoding="utf-8"
    )
    ok("participants", "import", SLUG, str(csv_file))
    secret = ok("tokens", "create", "bench-door", "--role", "volunteer").strip().splitlines()[-1]
    store = (
        PostgresStore(database_url)
        if database_url
        else SqliteStore(data_dir / "kitmanager.sqlite3")
    )
    tokens = [row[0] for row in store.rows("SELECT badge_token FROM participant ORDER BY id")]
    sessions = [row[0] for row in store.rows("SELECT id FROM workshop_session ORDER BY id")]
    return Day(data_dir, database_url, store, secret, tokens, sessions)


NAIVE_APP = """
import sys
from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text
from waitress import serve

engine = create_engine("sqlite:///" + sys.argv[1], connect_args={"timeout": 10})
app = Flask("naive")

@app.post("/scan")
def scan():
    data = request.get_json()
    token = data["code"].rsplit("/b/", 1)[-1]
    with engine.begin() as conn:
        person = conn.execute(
            text("SELECT id FROM participant WHERE badge_token = :t"), {"t": token}
        ).scalar()
        if person is None:
            return jsonify(outcome="unknown_code")
        seen = conn.execute(
            text("SELECT 1 FROM check_in WHERE participant_id = :p AND session_id = :s"),
            {"p": person, "s": data["session"]},
        ).scalar()
        if seen:
            return jsonify(outcome="already_checked_in")
        conn.execute(
            text("INSERT INTO check_in (participant_id, session_id) VALUES (:p, :s)"),
            {"p": person, "s": data["session"]},
        )
    return jsonify(outcome="checked_in")

serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=8, _quiet=True)
"""


def naive_db(path: Path, tokens: list[str]) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE participant (id INTEGER PRIMARY KEY, badge_token TEXT UNIQUE)")
        conn.execute(
            "CREATE TABLE check_in (id INTEGER PRIMARY KEY, participant_id INT, session_id INT,"
            " UNIQUE (participant_id, session_id))"
        )
        conn.executemany("INSERT INTO participant (badge_token) VALUES (?)", [(t,) for t in tokens])


def repeated_closed_loop(
    make_client: Callable[[], Client],
    scans: list[Scan],
    clients: int,
    repeat: int,
    store: Store,
    session_id: int,
) -> tuple[Result, int, list[float]]:
    """The closed loop ``repeat`` times from a clean session: the median run, its check-ins
    stored, and every run's rate. Errors are summed over all runs; a run storing another count
    than the others is reported through the returned count."""
    runs = []
    for _ in range(repeat):
        store.forget(session_id)
        result = closed_loop(make_client, scans, clients)
        runs.append((len(result.latencies_ms) / result.seconds, result, store.stored(session_id)))
    runs.sort(key=lambda run: run[0])
    _rate, median, count = runs[len(runs) // 2]
    median.errors = sum(run[1].errors for run in runs)
    counts = {run[2] for run in runs}
    return median, count if len(counts) == 1 else -1, [run[0] for run in runs]


@dataclass
class Loads:
    """One server's results under both loads, with the pairs sent and the check-ins stored."""

    open: Result
    open_stored: int
    closed: Result
    closed_stored: int
    rates: list[float]

    @property
    def closed_rate(self) -> float:
        return len(self.closed.latencies_ms) / self.closed.seconds


def run_loads(
    make_client: Callable[[], Client],
    store: Store,
    open_scans: list[Scan],
    closed_scans: list[Scan],
    closed_session: int,
    args: argparse.Namespace,
) -> Loads:
    """(a) then (b) against one server."""
    open_result = open_loop(make_client, open_scans, args.rate)
    open_stored = store.stored()
    closed, closed_stored, rates = repeated_closed_loop(
        make_client, closed_scans, args.clients, args.repeat, store, closed_session
    )
    return Loads(open_result, open_stored, closed, closed_stored, rates)


def kitmanager_loads(day: Day, args: argparse.Namespace) -> tuple[Loads, int, int]:
    """Both loads against ``kitmanager serve`` on ``day``; and the pairs each load sent."""
    open_session, closed_session = day.sessions
    open_scans = make_scans(day.tokens, open_session, int(args.rate * args.seconds), seed=1)
    closed_scans = make_scans(day.tokens, closed_session, args.closed_scans, seed=2)
    auth = {"Authorization": f"Bearer {day.secret}"}
    with day.server(args.threads) as server:

        def kit() -> Client:
            return Client(server.port, "/api/v1/scans", auth)

        loads = run_loads(kit, day.store, open_scans, closed_scans, closed_session, args)
    return loads, len({s.pair for s in open_scans}), len({s.pair for s in closed_scans})


def naive_loads(root: Path, day: Day, args: argparse.Namespace) -> Loads:
    """Both loads against the naive baseline, with ``day``'s people."""
    open_session, closed_session = day.sessions
    open_scans = make_scans(day.tokens, open_session, int(args.rate * args.seconds), seed=1)
    closed_scans = make_scans(day.tokens, closed_session, args.closed_scans, seed=2)
    naive_path = root / "naive.sqlite3"
    naive_db(naive_path, day.tokens)
    naive_port = free_port()
    naive = subprocess.Popen([sys.executable, "-c", NAIVE_APP, str(naive_path), str(naive_port)])
    try:
        wait_for_port(naive_port)

        def plain() -> Client:
            return Client(naive_port, "/scan", {})

        return run_loads(
            plain, SqliteStore(naive_path), open_scans, closed_scans, closed_session, args
        )
    finally:
        naive.terminate()
        naive.wait(timeout=10)


def report(name: str, result: Result, sent_pairs: int, stored_pairs: int) -> None:
    rate = len(result.latencies_ms) / result.seconds if result.seconds else 0.0
    print(
        f"  {name:<34} {len(result.latencies_ms):>5} scans  {rate:7.1f}/s  "
        f"p50 {result.p(0.50):6.1f} ms  p99 {result.p(0.99):7.1f} ms  errors {result.errors:>4}  "
        f"check-ins {stored_pairs}/{sent_pairs}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--closed-scans", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8, help="kitmanager serve --threads")
    parser.add_argument(
        "--repeat", type=int, default=3, help="closed-loop runs; the median is the figure"
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="postgresql: also run kitmanager on a throwaway local PostgreSQL cluster",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kitmanager-scan-bench-") as tmp:
        root = Path(tmp)
        day = kitmanager_day(root / "sqlite", args.people)
        print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")
        print(f"(a) open loop, {args.rate:.0f} scans/s for {args.seconds:.0f} s")
        kit, pairs_open, pairs_closed = kitmanager_loads(day, args)
        naive = naive_loads(root, day, args)
        # (what is printed, its short name, its figures)
        servers = [
            ("kitmanager POST /api/v1/scans", "kitmanager", kit),
            ("baseline: naive check-then-insert", "baseline", naive),
        ]
        postgres = None
        if args.database == "postgresql":
            with postgres_cluster() as url:
                pg_day = kitmanager_day(root / "postgresql", args.people, url)
                postgres, pg_open, pg_closed = kitmanager_loads(pg_day, args)
            assert (pg_open, pg_closed) == (pairs_open, pairs_closed), "the same scans"
            servers.insert(1, ("kitmanager on PostgreSQL", "PostgreSQL", postgres))

        for name, _short, loads in servers:
            report(name, loads.open, pairs_open, loads.open_stored)
        print(
            f"(b) closed loop, {args.clients} clients as fast as answered; median of "
            f"{args.repeat} runs ("
            + "; ".join(
                f"{short} {', '.join(f'{r:.0f}' for r in loads.rates)}/s"
                for _name, short, loads in servers
            )
            + ")"
        )
        for name, _short, loads in servers:
            report(name, loads.closed, pairs_closed, loads.closed_stored)

        print(
            f"ratios: open-loop p99 {kit.open.p(0.99) / naive.open.p(0.99):.2f}x the baseline's; "
            f"closed-loop throughput {kit.closed_rate / naive.closed_rate:.2f}x the baseline's "
            "(goal 0.8x)"
        )
        if postgres is not None:
            print(
                f"PostgreSQL/SQLite: closed-loop throughput {postgres.closed_rate:.0f}/s on "
                f"PostgreSQL, {postgres.closed_rate / kit.closed_rate:.2f}x the SQLite one "
                f"(goal 0.8x); {postgres.closed_rate / naive.closed_rate:.2f}x the baseline's"
            )
        kit_rate = kit.closed_rate
        checks = {
            f"(a) p99 {kit.open.p(0.99):.1f} ms <= {P99_TARGET_MS:.0f} ms": kit.open.p(0.99)
            <= P99_TARGET_MS,
            f"(a) zero errors ({kit.open.errors})": kit.open.errors == 0,
            f"(a) check-ins stored = pairs sent ({kit.open_stored}/{pairs_open})": (
                kit.open_stored == pairs_open
            ),
            f"(b) {kit_rate:.0f} scans/s >= {THROUGHPUT_TARGET:.0f}": kit_rate >= THROUGHPUT_TARGET,
            f"(b) zero errors ({kit.closed.errors})": kit.closed.errors == 0,
            f"(b) check-ins stored = pairs sent ({kit.closed_stored}/{pairs_closed})": (
                kit.closed_stored == pairs_closed
            ),
        }
        if postgres is not None:
            checks.update(
                {
                    f"PostgreSQL: zero errors ({postgres.open.errors}, {postgres.closed.errors})": (
                        postgres.open.errors == 0 and postgres.closed.errors == 0
                    ),
                    "PostgreSQL: check-ins stored = pairs sent "
                    f"({postgres.open_stored}/{pairs_open}, "
                    f"{postgres.closed_stored}/{pairs_closed})": (
                        postgres.open_stored == pairs_open
                        and postgres.closed_stored == pairs_closed
                    ),
                }
            )
        for label, passed in checks.items():
            print(f"  {'PASS' if passed else 'FAIL'}  {label}")
        return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
