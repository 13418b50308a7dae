"""Boards in the app: the firmware library, ports and kits, flash and check jobs whose results
land on each kit, through the pages (Flask test client) and the `kitmanager boards` commands.

The boards are the simulated ones of tests/firmware_tools: the real MicroPython behind a pty,
and a pty with nothing behind it (a board that never answers).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from firmware_tools.operations import PORTS
from kitmanager.audit import cli_actor
from kitmanager.boards.services import BUILTIN_DIR, find_kit
from kitmanager.extensions import db
from kitmanager.kits.services import (
    ComponentLine,
    NeedsConfirmation,
    create_kit_type,
    create_kits,
    hand_out,
    kit_history,
    set_condition,
)
from kitmanager.models import AuditEvent, BoardRun, Firmware, Kit, KitCondition
from tests.firmware_tools.hostile_files import (
    GIB,
    lying_zip,
    many_files_zip,
    nested_zip,
    sparse_hex,
    zip_bomb,
)
from tests.firmware_tools.micropython_board import MicroPythonPty, micropython_available
from tests.web.conftest import csrf_token, login
from tests.web.helpers import add_people, make_workshop
from tests.web.test_postgres import pg_app, postgres_url  # noqa: F401  (fixtures)

KITBOT_HEX = BUILTIN_DIR / "kitbot-avr" / "kitbot.hex"
KITBOT_MICROPYTHON = BUILTIN_DIR / "kitbot-micropython"
HEALTHY_KIT = {"motors_ma": [249, 251], "distance_mv": 1197, "line": [409, 511, 613]}
HEALTHY_KIT["battery_mv"] = 7398

needs_micropython = pytest.mark.skipif(
    not micropython_available(), reason="needs the micropython binary and socat"
)


@pytest.fixture(autouse=True)
def fresh_port_marks():
    PORTS.forget()
    yield
    PORTS.forget()


@pytest.fixture
def kits(app):
    """A kit type and two kits, KIT-001 and KIT-002."""
    with app.app_context():
        kit_type = create_kit_type(cli_actor(), "Kitbot", [ComponentLine("Board")])
        create_kits(cli_actor(), kit_type, 2)
        db.session.commit()
    return ["KIT-001", "KIT-002"]


@pytest.fixture
def boards(tmp_path):
    """A factory of MicroPython boards on ptys, each with a healthy kit attached."""
    started = []

    def start(name: str, kit: dict | None = None) -> MicroPythonPty:
        board = MicroPythonPty(tmp_path / name)
        board.file("kit_sim.json").write_text(json.dumps(kit or HEALTHY_KIT))
        started.append(board)
        return board

    yield start
    for board in started:
        board.stop()


@pytest.fixture
def silent_port():
    """A pty with nothing behind it: a board that never answers."""
    controller, device = os.openpty()
    yield os.ttyname(device)
    os.close(controller)
    os.close(device)


def _post(client, url: str, form_url: str = "/boards/", **data):
    return client.post(url, data={"csrf_token": csrf_token(client, form_url), **data})


def _kit(app, code: str) -> Kit:
    with app.app_context():
        kit = db.session.scalar(select(Kit).where(Kit.code == code))
        db.session.expunge(kit)
        return kit


def _wait_for_job(client, job: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/boards/jobs/{job}").get_json()
        if not state["running"]:
            return state
        time.sleep(0.2)
    raise AssertionError(f"job {job} still running after {timeout} s: {state}")


def _start(client, action: str, **data) -> str:
    reply = _post(client, "/boards/jobs", action=action, **data)
    assert reply.status_code == 302, reply.get_data(as_text=True)
    location = reply.headers["Location"]
    assert "job=" in location, client.get("/boards/").get_data(as_text=True)
    return location.split("job=")[1]


# -- firmware library -----------------------------------------------------------------------


def test_the_kitbot_firmware_is_in_the_library_from_the_start(app, client):
    login(client, "tom")
    page = client.get("/boards/firmware").get_data(as_text=True)
    sha = hashlib.sha256(KITBOT_HEX.read_bytes()).hexdigest()
    assert sha in page and "kitbot 1.2.0" in page
    with app.app_context():
        rows = {row.family: row for row in db.session.scalars(select(Firmware))}
        assert set(rows) == {"avr", "micropython"}
        assert all(row.builtin and row.version == "1.2.0" for row in rows.values())
    client.get("/boards/firmware")  # a second visit adds nothing
    with app.app_context():
        assert len(list(db.session.scalars(select(Firmware)))) == 2


def _upload(client, files, **fields):
    data = {
        "csrf_token": csrf_token(client, "/boards/firmware"),
        "name": fields.pop("name", "kitbot"),
        "version": fields.pop("version", "1.3.0"),
        "family": fields.pop("family", ""),
        "address": fields.pop("address", ""),
        "notes": fields.pop("notes", ""),
        "files": [(io.BytesIO(data), name) for name, data in files],
    }
    return client.post("/boards/firmware", data=data, content_type="multipart/form-data")


def test_a_trainer_uploads_a_hex_a_bin_and_a_micropython_zip(app, client):
    login(client, "tom")
    hex_data = KITBOT_HEX.read_bytes()
    reply = _upload(client, [("kitbot.hex", hex_data)], notes="line follower")
    assert reply.status_code == 302
    bin_data = bytes(range(256)) * 16
    assert _upload(client, [("app.bin", bin_data)], name="esp-demo", address="0x10000").status_code
    folder = io.BytesIO()
    with zipfile.ZipFile(folder, "w") as archive:
        for path in KITBOT_MICROPYTHON.iterdir():
            if path.is_file():
                archive.write(path, f"kitbot-micropython/{path.name}")
    assert _upload(client, [("kitbot.zip", folder.getvalue())], version="1.3.1").status_code == 302
    with app.app_context():
        rows = {(r.name, r.version, r.family): r for r in db.session.scalars(select(Firmware))}
        hexed = rows[("kitbot", "1.3.0", "avr")]
        assert hexed.sha256 == hashlib.sha256(hex_data).hexdigest()
        assert hexed.notes == "line follower" and hexed.added_by == "user:tom"
        esp = rows[("esp-demo", "1.3.0", "esp")]
        assert esp.address == 0x10000 and esp.sha256 == hashlib.sha256(bin_data).hexdigest()
        mpy = rows[("kitbot", "1.3.1", "micropython")]
        built_in = rows[("kitbot", "1.2.0", "micropython")]
        assert mpy.sha256 == built_in.sha256  # the same files, zipped: the same hash
        stored = Path(app.config["DATA_DIR"]) / "firmware" / mpy.sha256
        assert (stored / "main.py").is_file()
        audit = db.session.scalars(select(AuditEvent.action)).all()
        assert audit.count("firmware.add") == 3


def test_a_firmware_that_cannot_be_flashed_is_refused_with_what_to_do(app, client):
    login(client, "tom")
    reply = _upload(client, [("kitbot.hex", b":10000000not a hex file\n")])
    page = reply.get_data(as_text=True)
    assert reply.status_code == 400 and "This firmware cannot be used" in page
    reply = _upload(client, [("kitbot.hex", KITBOT_HEX.read_bytes())], version="1.2.0")
    assert "already in the library" in reply.get_data(as_text=True)
    reply = _upload(client, [("evil.zip", b"PK not a zip")])
    assert "is not a ZIP file" in reply.get_data(as_text=True)
    with app.app_context():
        assert len(list(db.session.scalars(select(Firmware)))) == 2


def test_a_bin_without_its_address_or_a_hex_with_one_says_which_field_to_fix(app, client):
    """The page's own field is named, not the command line's --address."""
    login(client, "tom")
    page = _upload(client, [("app.bin", bytes(range(256)))], name="esp-demo").get_data(as_text=True)
    assert "fill in “Address of a .bin file” (for example 0x10000)" in page
    assert "--address" not in page
    page = _upload(client, [("kitbot.hex", KITBOT_HEX.read_bytes())], address="0x100").get_data(
        as_text=True
    )
    assert "carries its own address: leave “Address of a .bin file” empty" in page
    assert "--address" not in page
    with app.app_context():
        assert len(list(db.session.scalars(select(Firmware)))) == 2


def test_one_firmware_is_the_current_one_of_a_kit_type(app, client, kits):
    login(client, "tom")
    client.get("/boards/firmware")
    with app.app_context():
        mpy = db.session.scalar(select(Firmware).where(Firmware.family == "micropython"))
        kit_type_id = db.session.scalar(select(Kit.kit_type_id))
    form = "/boards/firmware"
    reply = _post(client, f"{form}/current", form, kit_type=kit_type_id, firmware=mpy.id)
    assert reply.status_code == 302
    page = client.get("/boards/firmware").get_data(as_text=True)
    assert f'<option value="{mpy.id}" selected>' in page


# -- ports and kits ---------------------------------------------------------------------------


def test_ports_are_added_by_hand_and_bound_to_kits_by_their_label(app, client, kits):
    login(client, "tom")
    reply = _post(client, "/boards/ports/add", device="socket://10.0.0.5:4000", family="avr")
    assert reply.status_code == 302
    page = client.get("/boards/").get_data(as_text=True)
    assert "socket://10.0.0.5:4000" in page and "No kit yet" in page
    token = _kit(app, "KIT-002").label_token
    reply = _post(
        client, "/boards/bind", device="socket://10.0.0.5:4000", label=f"http://x/k/{token}"
    )
    assert "KIT-002" in client.get(reply.headers["Location"]).get_data(as_text=True)
    fragment = client.get("/boards/ports").get_data(as_text=True)
    assert "Kit <a" in fragment and "KIT-002" in fragment
    # typing the code binds it elsewhere: one board per kit
    _post(client, "/boards/ports/add", device="/dev/ttyAMA0", family="micropython")
    _post(client, "/boards/bind", device="/dev/ttyAMA0", label="kit-002")
    with app.app_context():
        from kitmanager.models import BoardPort

        bound = {row.device: row.kit_id for row in db.session.scalars(select(BoardPort))}
        assert bound["/dev/ttyAMA0"] == find_kit("KIT-002").id
        assert bound["socket://10.0.0.5:4000"] is None
    reply = _post(client, "/boards/bind", device="/dev/ttyAMA0", label="KIT-999")
    assert "No kit has the label" in client.get(reply.headers["Location"]).get_data(as_text=True)
    reply = _post(client, "/boards/ports/add", device="not a port", family="avr")
    page = client.get("/boards/").get_data(as_text=True)
    assert "not a port is not a port kitmanager opens. Write a serial device" in page


SIGNING_KEY = b"-----BEGIN PRIVATE KEY-----\nmust survive\n"
ACCEPTED = (
    "Write a serial device (/dev/ttyUSB0, /dev/ttyACM0, /dev/serial/by-id/…, COM3 on "
    "Windows), or socket://HOST:PORT or rfc2217://HOST:PORT with nothing after the port."
)


def _hand_added(app) -> list[str]:
    from kitmanager.models import BoardPort

    with app.app_context():
        return list(db.session.scalars(select(BoardPort.device).where(BoardPort.hand_added)))


def test_only_serial_ports_can_be_added_and_a_spy_port_never_opens_its_file(
    app, client, runner, tmp_path, silent_port
):
    """pyserial's spy:// writes the file named in it: a trainer could truncate the database
    or the signing key. Refused, with what is accepted, on the page and the command line."""
    key = tmp_path / "signing_key.pem"
    key.write_bytes(SIGNING_KEY)
    spy = f"spy:///dev/null?file={key}"
    plain_file = tmp_path / "kitmanager.db"
    plain_file.write_bytes(b"SQLite format 3\x00")
    login(client, "tom")
    for device, said in (
        (spy, f"{spy} is not a port kitmanager opens. {ACCEPTED}"),
        ("alt:///dev/ttyUSB0?class=PosixPollSerial", "is not a port kitmanager opens."),
        ("hwgrep://.*", "hwgrep://.* is not a port kitmanager opens."),
        ("loop://", "loop:// is not a port kitmanager opens."),
        ("socket://10.0.0.5:4000?logging=debug", "has options or a path after the port."),
        (str(plain_file), f"{plain_file} is not a port kitmanager opens."),
    ):
        reply = _post(client, "/boards/ports/add", device=device, family="avr")
        page = client.get(reply.headers["Location"]).get_data(as_text=True)
        assert said in page, device
        assert ACCEPTED in page
    result = runner.invoke(args=["boards", "ports", "add", spy, "--family", "avr"])
    assert result.exit_code == 1
    assert f"{spy} is not a port kitmanager opens. {ACCEPTED}" in result.output
    assert _hand_added(app) == []
    assert key.read_bytes() == SIGNING_KEY
    assert plain_file.read_bytes() == b"SQLite format 3\x00"
    # a serial device (a pty here) and a plain network address are ports
    with socket.create_server(("127.0.0.1", 0)) as server:
        network = f"socket://127.0.0.1:{server.getsockname()[1]}"
        for device in (silent_port, network):
            reply = _post(client, "/boards/ports/add", device=device, family="micropython")
            page = client.get(reply.headers["Location"]).get_data(as_text=True)
            assert f"Port {device} added." in page
    assert sorted(_hand_added(app)) == sorted([silent_port, network])


def test_a_spy_port_stored_by_an_older_version_is_refused_when_a_job_runs(app, runner, tmp_path):
    """A database from before the allow-list may hold such a port: the library refuses it
    before pyserial sees it, and the board's result says why."""
    from kitmanager.models import BoardPort

    key = tmp_path / "signing_key.pem"
    key.write_bytes(SIGNING_KEY)
    spy = f"spy:///dev/null?file={key}"
    with app.app_context():
        db.session.add(BoardPort(device=spy, hand_added=True, family="micropython"))
        db.session.commit()
    result = runner.invoke(args=["boards", "check", "--port", spy])
    assert result.exit_code == 1, result.output
    assert "is not a port this tool opens" in result.output
    assert key.read_bytes() == SIGNING_KEY
    with app.app_context():
        run = db.session.scalar(select(BoardRun))
        assert (run.status, run.reason) == ("fail", "port")


# The bound on each refusal's time catches unpacking or filling what should be refused; it
# is not a speed target.
REFUSAL_S = 5.0


def _timed_upload(client, files, **fields) -> tuple[str, float]:
    csrf_token(client, "/boards/firmware")  # the form's token, fetched before the clock runs
    started = time.perf_counter()
    page = _upload(client, files, **fields).get_data(as_text=True)
    return page, time.perf_counter() - started


def test_hostile_firmware_uploads_are_refused_from_their_declared_sizes(app, client):
    login(client, "tom")
    page, took = _timed_upload(client, [("bomb.zip", zip_bomb(GIB))])
    assert "The firmware is larger than 16 MB: that is not a board firmware." in page
    assert took < REFUSAL_S
    page, took = _timed_upload(client, [("kit.zip", lying_zip(declared=100, actual=GIB))])
    assert (
        "kit.zip is damaged or forged: main.py does not unpack to the size its list of files "
        "declares."
    ) in page
    assert took < REFUSAL_S
    page, took = _timed_upload(client, [("kit.zip", nested_zip("inner.zip"))])
    assert "kit.zip holds another archive (inner.zip): unpack it and upload its files" in page
    assert took < REFUSAL_S
    page, took = _timed_upload(client, [("kit.zip", many_files_zip(100_000))])
    assert "kit.zip holds more files than a board firmware has (at most 1000)." in page
    assert took < REFUSAL_S
    # many small ZIPs of 16 MB each: the budget is the whole firmware's, not each ZIP's
    bombs = [(f"part{i}.zip", zip_bomb(16 * 1024 * 1024, f"part{i}.bin")) for i in range(4)]
    page, took = _timed_upload(client, bombs)
    assert "The firmware is larger than 16 MB" in page and took < REFUSAL_S
    page, took = _timed_upload(client, [("sparse.hex", sparse_hex(0x18000000))])
    assert "has data up to 0x18000000, beyond the 32768 B flash of the atmega328p" in page
    assert took < REFUSAL_S
    with app.app_context():
        assert len(list(db.session.scalars(select(Firmware)))) == 2  # the built-in ones


def test_a_board_is_not_bound_to_a_retired_kit(app, client, kits):
    login(client, "tom")
    with app.app_context(), app.test_request_context():
        set_condition(cli_actor(), find_kit("KIT-002"), KitCondition.RETIRED)
        db.session.commit()
    _post(client, "/boards/ports/add", device="socket://10.0.0.5:4000", family="avr")
    reply = _post(client, "/boards/bind", device="socket://10.0.0.5:4000", label="KIT-002")
    page = client.get(reply.headers["Location"]).get_data(as_text=True)
    assert "KIT-002 is retired: bind the board to a kit in use" in page
    with app.app_context():
        from kitmanager.models import BoardPort

        assert db.session.scalar(select(BoardPort.kit_id)) is None


def test_volunteers_do_not_reach_the_boards_page(client):
    login(client, "vera")
    assert client.get("/boards/").status_code == 403
    assert client.post("/boards/jobs", data={"action": "check-all"}).status_code in (400, 403)


# -- jobs -------------------------------------------------------------------------------------


@pytest.mark.micropython
@needs_micropython
def test_flash_all_then_check_all_store_every_result_on_its_kit(app, client, kits, boards):
    first, second = boards("one"), boards("two", {**HEALTHY_KIT, "battery_mv": 6000})
    login(client, "tom")
    for board, code in ((first, "KIT-001"), (second, "KIT-002")):
        _post(client, "/boards/ports/add", device=board.port, family="micropython")
        _post(client, "/boards/bind", device=board.port, label=code)
    client.get("/boards/firmware")
    with app.app_context():
        mpy = db.session.scalar(select(Firmware).where(Firmware.family == "micropython"))
    job = _start(client, "flash-all", firmware=str(mpy.id))
    state = _wait_for_job(client, job)
    assert state["counts"]["pass"] == 2, state
    assert {board["kit"] for board in state["boards"]} == {"KIT-001", "KIT-002"}
    job = _start(client, "check-all")
    state = _wait_for_job(client, job)
    by_kit = {board["kit"]: board for board in state["boards"]}
    assert by_kit["KIT-001"]["status"] == "pass", state
    assert by_kit["KIT-002"]["status"] == "fail"
    assert by_kit["KIT-002"]["reason"] == "selftest"
    assert "battery" in by_kit["KIT-002"]["summary"]

    healthy, flat = _kit(app, "KIT-001"), _kit(app, "KIT-002")
    assert (healthy.firmware_name, healthy.firmware_version) == ("kitbot", "1.2.0")
    assert healthy.last_check_ok is True and healthy.condition == "ready"
    assert healthy.board_family == "micropython"
    assert flat.last_check_ok is False and flat.condition == KitCondition.NEEDS_ATTENTION.value
    assert "battery" in flat.last_check_detail
    with app.app_context():
        kit = db.session.get(Kit, flat.id)
        history = kit_history(kit)
        kinds = [entry.kind for entry in history]
        assert kinds[:2] == ["board_check", "board_flash"]
        flashed = history[1]
        assert mpy.sha256[:12] in flashed.summary and "PASS" in flashed.summary
        assert flashed.by == "user:tom" and flashed.details["run"].duration_s > 0
        assert "battery" in history[0].summary
        runs = db.session.scalars(select(BoardRun).where(BoardRun.kit_id == kit.id)).all()
        assert [run.firmware_sha256 for run in runs] == [mpy.sha256, ""]
        # the handout warns about the failed check
        make_workshop(app)
        (amina,) = add_people(app, "nairobi", "Amina Yusuf")
        from kitmanager.models import Participant

        with pytest.raises(NeedsConfirmation) as refused:
            hand_out(cli_actor(), kit, db.session.get(Participant, amina))
        assert "board check" in str(refused.value)
    page = client.get(f"/kits/{flat.id}").get_data(as_text=True)  # the kit's own page
    assert "Board checked: FAIL" in page and "Board flashed with kitbot 1.2.0" in page


def test_a_request_never_waits_on_a_board_and_stop_ends_the_job(app, client, kits, silent_port):
    """A board that never answers holds its job, not the page: the request that starts the
    job returns while the board is still being waited for, the page and a second job on the
    same port answer at once, and Stop ends it with every board stopped cleanly."""
    login(client, "tom")
    _post(client, "/boards/ports/add", device=silent_port, family="micropython")
    _post(client, "/boards/bind", device=silent_port, label="KIT-001")
    job = _start(client, "check-all")
    state = client.get(f"/boards/jobs/{job}").get_json()
    assert state["running"] and state["boards"][0]["status"] == "running"
    assert client.get("/boards/").status_code == 200
    reply = _post(client, "/boards/jobs", action="check-all")
    page = client.get(reply.headers["Location"]).get_data(as_text=True)
    assert "Busy:" in page and silent_port in page
    assert _post(client, f"/boards/jobs/{job}/stop").status_code == 302
    state = _wait_for_job(client, job, timeout=30)
    assert state["boards"][0]["reason"] == "cancelled"
    with app.app_context():
        run = db.session.scalar(select(BoardRun).where(BoardRun.job == job))
        assert run.status == "fail" and run.reason == "cancelled" and run.finished_at
    kit = _kit(app, "KIT-001")  # a stopped check says nothing about the kit
    assert kit.last_check_ok is None and kit.condition == "ready" and not kit.needs_reflash


@pytest.mark.micropython
@needs_micropython
def test_each_result_is_kept_as_soon_as_its_board_is_done(app, client, kits, boards, silent_port):
    """A board that is done is on its kit while another still hangs: a server stopped in the
    middle of a job keeps what was finished."""
    board = boards("fast")
    login(client, "tom")
    for device, code in ((board.port, "KIT-001"), (silent_port, "KIT-002")):
        _post(client, "/boards/ports/add", device=device, family="micropython")
        _post(client, "/boards/bind", device=device, label=code)
    flash = _start(
        client, "flash-selected", port=board.port, firmware=str(_builtin(app, "micropython"))
    )
    assert _wait_for_job(client, flash)["counts"]["pass"] == 1
    job = _start(client, "check-all")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = client.get(f"/boards/jobs/{job}").get_json()
        by_kit = {b["kit"]: b for b in state["boards"]}
        if by_kit["KIT-001"]["status"] != "running":
            break
        time.sleep(0.2)
    assert state["running"] and by_kit["KIT-002"]["status"] == "running", state
    assert by_kit["KIT-001"]["status"] == "pass", state
    # Stored while KIT-002 still hangs (the page may show the result a moment before the
    # job's thread has committed it).
    stored_by = time.monotonic() + 10
    while _kit(app, "KIT-001").last_check_ok is not True and time.monotonic() < stored_by:
        time.sleep(0.1)
    assert _kit(app, "KIT-001").last_check_ok is True
    assert client.get(f"/boards/jobs/{job}").get_json()["running"]
    _post(client, f"/boards/jobs/{job}/stop")
    _wait_for_job(client, job, timeout=30)


def _builtin(app, family: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(Firmware.id).where(Firmware.family == family, Firmware.builtin.is_(True))
        )


def test_pages_answer_while_a_board_hangs_and_more_pages_poll_than_the_server_has_threads(
    tmp_path, silent_port
):
    """A real `kitmanager serve --threads 2`: a check waits on a board that never answers
    while six pages poll the job; the boards page still answers every request."""
    import threading

    from tests.web.e2e import Browser, Server, run_kitmanager

    data_dir = tmp_path / "served"
    made = run_kitmanager(
        data_dir, "users", "create", "tina", "--role", "trainer", "--password-stdin",
        stdin="trainer-password-9\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    added = run_kitmanager(
        data_dir, "boards", "ports", "add", silent_port, "--family", "micropython"
    )
    assert added.returncode == 0, added.stderr
    with Server(data_dir, extra_args=["--threads", "2"]) as server:
        pages = [Browser(server.url, timeout=15) for _ in range(7)]
        for page in pages:
            assert page.login("tina", "trainer-password-9").status == 200
        trainer = pages[0]
        token = trainer.csrf_token("/boards/")
        started = trainer.request(
            "/boards/jobs", data={"action": "check-all", "csrf_token": token}, follow=False
        )
        assert started.status == 302, started.body
        job = started.headers["Location"].split("job=")[1]
        replies: list[int] = []

        def poll(page: Browser) -> None:
            for _ in range(10):
                replies.append(page.get(f"/boards/jobs/{job}").status)

        pollers = [threading.Thread(target=poll, args=(page,)) for page in pages[1:]]
        for poller in pollers:
            poller.start()
        listing = trainer.get("/boards/")  # raises after 15 s if the server is stuck
        for poller in pollers:
            poller.join()
        assert listing.status == 200 and silent_port in listing.body
        assert replies == [200] * 60
        state = json.loads(trainer.get(f"/boards/jobs/{job}").body)
        assert state["running"], state  # the board is still being waited for
        trainer.request(f"/boards/jobs/{job}/stop", data={"csrf_token": token})
        for _ in range(150):
            state = json.loads(trainer.get(f"/boards/jobs/{job}").body)
            if not state["running"]:
                break
            time.sleep(0.2)
        assert state["boards"][0]["reason"] == "cancelled", state


def test_a_board_is_known_by_its_usb_serial_on_any_socket_or_by_its_fingerprint(app, kits):
    """A USB board stays its kit's wherever it is plugged; a board without a serial number
    is found by the id its firmware reported, even on another port."""
    from firmware_tools.base import Outcome, StepResult
    from firmware_tools.operations import BoardResult
    from firmware_tools.ports import PortInfo
    from kitmanager.boards.services import bind_port, known_ports, plan_job, record_result
    from kitmanager.models import BoardRunKind

    def usb(device: str, serial: str | None, location: str) -> PortInfo:
        return PortInfo(
            device, 0x2341, 0x0043, serial, location, "Arduino", "Uno", "avr", True, "Uno R3"
        )

    with app.app_context():
        actor = cli_actor()
        hub = [usb("/dev/ttyACM0", "7523A1", "1-1.2:1.0"), usb("/dev/ttyACM1", None, "1-1.3")]
        bind_port(actor, "/dev/ttyACM0", "KIT-001", usb=hub)
        bind_port(actor, "/dev/ttyACM1", "KIT-002", usb=hub)
        db.session.commit()
        assert find_kit("KIT-001").board_serial == "7523A1"
        moved = [usb("/dev/ttyACM5", "7523A1", "1-1.4:1.0")]
        (port,) = known_ports(usb=moved)
        assert port.kit.code == "KIT-001" and port.place == "hub socket 1-1.4, serial 7523A1"

        plan = plan_job(actor, BoardRunKind.CHECK, ["/dev/ttyACM1"], usb=hub)
        run = db.session.get(BoardRun, plan.boards[0].run_id)
        result = BoardResult("/dev/ttyACM1", "avr", "check", identity={"id": "0a1b2c3d"})
        result.steps.append(StepResult("firmware", Outcome.PASS, "kitbot 1.2.0 on uno"))
        record_result(actor, run, result)
        db.session.commit()
        assert find_kit("KIT-002").board_fingerprint == "avr:0a1b2c3d"
        assert find_kit("KIT-002").last_check_ok is True
        # the same board (same id) later shows up on another port without a serial number
        from kitmanager.models import BoardPort

        db.session.add(BoardPort(device="/dev/ttyACM7", fingerprint="avr:0a1b2c3d"))
        db.session.commit()
        (port,) = known_ports(usb=[usb("/dev/ttyACM7", None, "1-1.1")])
        assert port.kit.code == "KIT-002"
        # that board now goes into KIT-001: the kit's old board (serial 7523A1) is not its own
        bind_port(actor, "/dev/ttyACM7", "KIT-001", usb=[usb("/dev/ttyACM7", None, "1-1.1")])
        db.session.commit()
        first, second = find_kit("KIT-001"), find_kit("KIT-002")
        assert (first.board_serial, first.board_fingerprint) == (None, "avr:0a1b2c3d")
        assert second.board_fingerprint is None
        (port,) = known_ports(usb=[usb("/dev/ttyACM7", None, "1-1.1")])
        assert port.kit.code == "KIT-001"


def test_leaving_the_page_does_not_stop_a_job_and_coming_back_shows_it(app, client, kits):
    """The boards page shows the last job, running or not, to whoever opens it next."""
    login(client, "tom")
    with app.app_context():
        db.session.add(
            BoardRun(job="abc123", kind="flash", port="/dev/ttyX", started_by="user:olga")
        )
        db.session.commit()
    # no worker runs it (the server restarted): it is closed as stopped, marked for re-flash
    page = client.get("/boards/").get_data(as_text=True)
    assert "The server stopped before this board was done" in page
    assert "Needs re-flash" in page


# -- command line -------------------------------------------------------------------------


@pytest.mark.micropython
@needs_micropython
def test_the_command_line_flashes_and_checks_and_stores_the_results(app, runner, kits, boards):
    board = boards("cli")
    result = runner.invoke(args=["boards", "ports", "add", board.port, "--family", "micropython"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["boards", "bind", board.port, "KIT-001"]).exit_code == 0
    listing = runner.invoke(args=["boards", "ports"]).output
    assert board.port in listing and "KIT-001" in listing
    result = runner.invoke(args=["boards", "flash", "kitbot", "--all"])
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "Results stored on each kit." in result.output
    result = runner.invoke(args=["boards", "check", "--all"])
    assert result.exit_code == 0, result.output
    kit = _kit(app, "KIT-001")
    assert kit.last_check_ok is True and kit.firmware_name == "kitbot"
    with app.app_context():
        runs = db.session.scalars(select(BoardRun).order_by(BoardRun.id)).all()
        assert [(r.kind, r.status, r.started_by[:4]) for r in runs] == [
            ("flash", "pass", "cli:"),
            ("check", "pass", "cli:"),
        ]
    result = runner.invoke(args=["boards", "flash", "nosuch", "--all"])
    assert result.exit_code == 1 and "No firmware nosuch in the library" in result.output
    result = runner.invoke(args=["boards", "flash", str(KITBOT_HEX), "--all"])
    assert result.exit_code == 1 and "add it to the library first" in result.output
    result = runner.invoke(args=["boards", "check"])
    assert result.exit_code == 2 and "Give --all" in result.output
    add = ["boards", "firmware", "add", str(KITBOT_MICROPYTHON), "--name", "kitbot-lab"]
    result = runner.invoke(args=[*add, "--version", "0.9", "--notes", "for the lab"])
    assert result.exit_code == 0, result.output
    assert "Added kitbot-lab 0.9 (micropython)" in result.output
    listing = runner.invoke(args=["boards", "firmware"]).output
    assert "kitbot-lab@0.9\tmicropython" in listing and "kitbot@1.2.0\tavr" in listing


def test_boards_move_between_kits_and_results_are_kept_on_postgresql_too(pg_app):  # noqa: F811
    from firmware_tools.base import Outcome, StepResult
    from firmware_tools.operations import BoardResult
    from firmware_tools.ports import PortInfo
    from kitmanager.boards.services import bind_port, plan_job, record_result
    from kitmanager.models import BoardRunKind

    hub = [PortInfo("/dev/ttyACM0", 0x2341, 0x43, "SN1", "1-1", None, None, "avr", True, "Uno")]
    with pg_app.app_context():
        actor = cli_actor()
        kit_type = create_kit_type(actor, "Kitbot", [ComponentLine("Board")])
        create_kits(actor, kit_type, 2)
        bind_port(actor, "/dev/ttyACM0", "KIT-001", usb=hub)
        db.session.commit()
        bind_port(actor, "/dev/ttyACM0", "KIT-002", usb=hub)  # the board moved to another kit
        plan = plan_job(actor, BoardRunKind.CHECK, None, usb=hub)
        db.session.commit()
        run = db.session.get(BoardRun, plan.boards[0].run_id)
        result = BoardResult("/dev/ttyACM0", "avr", "check", serial_number="SN1")
        result.steps.append(StepResult("selftest:battery", Outcome.FAIL, "mv=3000"))
        record_result(actor, run, result)
        db.session.commit()
        first, second = find_kit("KIT-001"), find_kit("KIT-002")
        assert first.board_serial is None and second.board_serial == "SN1"
        assert second.last_check_ok is False and second.condition == "needs_attention"
        assert kit_history(second)[0].kind == "board_check"
