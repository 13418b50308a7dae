"""Operations: one board (flash, verify, check) and many boards at once (run_batch)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from firmware_tools import operations
from firmware_tools.base import BoardError, Outcome, Reason, StepResult
from firmware_tools.operations import (
    PORTS,
    BoardContext,
    BoardResult,
    PortRegistry,
    check_board,
    check_job,
    flash_board,
    flash_job,
    load_firmware,
    port_has_modem_lines,
    resolve_family,
    run_batch,
    verify_board,
)
from firmware_tools.ports import PortInfo
from firmware_tools.protocol.healthcheck import ExpectedFirmware
from firmware_tools.transport import open_port
from tests.firmware_tools.conftest import (
    ATMEGABOOT_HEX,
    KITBOT_HEX,
    OPTIBOOT_HEX,
    presser,
)
from tests.firmware_tools.conftest import (
    HEALTHY_KIT as AVR_HEALTHY_KIT,
)
from tests.firmware_tools.fake_avr import Faults
from tests.firmware_tools.micropython_board import running_board

KITBOT_MICROPYTHON = "firmware_tools/firmware/kitbot-micropython"
HEALTHY_KIT = {
    "motors_ma": [249, 251],
    "distance_mv": 1197,
    "line": [409, 511, 613],
    "battery_mv": 7398,
}


@pytest.fixture
def micropython_board(tmp_path):
    yield from running_board(tmp_path)


@pytest.fixture
def kitbot_board(micropython_board):
    """A MicroPython board with the kitbot firmware flashed and running."""
    micropython_board.file("kit_sim.json").write_text(json.dumps(HEALTHY_KIT))
    firmware = load_firmware([KITBOT_MICROPYTHON])
    assert flash_board(micropython_board.port, firmware).ok
    return micropython_board


@pytest.fixture
def silent_port():
    """A pty with nothing behind it: a board without firmware, or the wrong port."""
    controller, device = os.openpty()
    yield os.ttyname(device)
    os.close(controller)
    os.close(device)


def passing(context: BoardContext) -> BoardResult:
    context.progress("write", 1, 1)
    return BoardResult(context.port, "avr", "flash", [StepResult("flash", Outcome.PASS, "ok")])


def failing(reason: Reason):
    def job(context: BoardContext) -> BoardResult:
        error = BoardError(f"{context.port} failed", reason=reason)
        return BoardResult(context.port, "avr", "flash").fail(error, "flash")

    return job


# -- run_batch ----------------------------------------------------------------------------


def test_batch_runs_at_most_concurrency_boards_at_once_and_keeps_port_order():
    active, peak = 0, 0
    lock = threading.Lock()

    def job(context):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return passing(context)

    ports = [f"port{i}" for i in range(7)]
    batch = run_batch(ports, job, concurrency=3, timeout=5, retries=0)
    assert peak == 3
    assert [board.port for board in batch.boards] == ports
    assert batch.ok and batch.counts() == {"pass": 7, "warn": 0, "skipped": 0, "fail": 0}


def test_a_passing_failure_is_retried_and_a_wrong_chip_is_not():
    calls: dict[str, int] = {}

    def job(context):
        calls[context.port] = calls.get(context.port, 0) + 1
        if context.port == "flaky" and context.attempt == 1:
            return failing(Reason.NO_RESPONSE)(context)
        if context.port == "wrong-chip":
            return failing(Reason.WRONG_CHIP)(context)
        return passing(context)

    events = []
    batch = run_batch(["flaky", "wrong-chip"], job, retries=2, on_progress=events.append)
    flaky, wrong = batch.boards
    assert (flaky.ok, flaky.attempts, calls["flaky"]) == (True, 2, 2)
    assert (wrong.ok, wrong.attempts, calls["wrong-chip"]) == (False, 1, 1)
    assert any(e.port == "flaky" and e.phase == "retry" for e in events)
    assert not batch.ok


def test_each_boards_done_event_carries_its_final_result_before_the_batch_ends():
    release = threading.Event()
    seen = {}

    def job(context):
        while context.port == "stuck" or (context.port == "slow" and not release.is_set()):
            context.progress("write", 0, 0)
            time.sleep(0.01)
        return passing(context)

    def on_progress(event):
        if event.phase == "done":
            seen[event.port] = event.result
            release.set()  # the slow board goes on only once the quick one is reported done

    ports = ["quick", "slow", "stuck"]
    batch = run_batch(ports, job, timeout=2, retries=0, on_progress=on_progress)
    assert [seen[port] for port in ports] == batch.boards
    assert all(seen[port] is board for port, board in zip(ports, batch.boards, strict=True))
    assert seen["quick"].ok and seen["quick"].duration_s > 0
    assert seen["stuck"].reason is Reason.TIMEOUT  # the result made when its time ran out


def test_a_board_over_its_time_fails_alone_with_timeout():
    def job(context):
        if context.port == "stuck":
            while True:  # a driver that keeps reporting progress but never finishes
                context.progress("sync", 0, 0)
                time.sleep(0.01)
        return passing(context)

    started = time.monotonic()
    batch = run_batch(["stuck", "fine"], job, concurrency=2, timeout=0.5, retries=1)
    stuck, fine = batch.boards
    assert fine.ok
    assert stuck.reason is Reason.TIMEOUT and stuck.attempts == 2
    assert "raise --timeout" in stuck.message
    assert time.monotonic() - started < 5


def test_a_job_that_crashes_fails_only_its_board():
    def job(context):
        if context.port == "bad":
            raise ValueError("boom")
        return passing(context)

    batch = run_batch(["bad", "good"], job)
    bad, good = batch.boards
    assert good.ok
    assert bad.status is Outcome.FAIL and "boom" in bad.message
    counts = json.loads(json.dumps(batch.to_dict()))["counts"]
    assert counts == {"pass": 1, "warn": 0, "skipped": 0, "fail": 1}


# -- firmware and family ------------------------------------------------------------------


def test_firmware_family_comes_from_the_files(tmp_path):
    assert load_firmware([KITBOT_MICROPYTHON]).family == "micropython"
    assert load_firmware(["firmware_tools/firmware/kitbot-avr/kitbot.hex"]).family == "avr"
    odd = tmp_path / "firmware.elf"
    odd.write_bytes(b"\x7fELF")
    with pytest.raises(BoardError) as caught:
        load_firmware([odd])
    assert "--board" in str(caught.value)


def test_a_pty_without_board_option_cannot_be_guessed(silent_port):
    with pytest.raises(BoardError) as caught:
        resolve_family(silent_port)
    assert "--board" in str(caught.value)
    assert resolve_family(silent_port, "micropython") == "micropython"


def test_a_pty_has_no_modem_lines(silent_port):
    assert port_has_modem_lines(silent_port) is False


# -- MicroPython boards end to end ----------------------------------------------------------


@pytest.mark.micropython
def test_check_runs_the_kitbot_selftest_on_a_micropython_board(kitbot_board):
    result = check_board(
        kitbot_board.port, family="micropython", expected=ExpectedFirmware("kitbot", "1.2.0")
    )
    steps = {step.name: step for step in result.steps}
    assert result.status is Outcome.PASS, result.summary
    assert steps["bootloader"].detail.startswith("MicroPython 1.")
    assert steps["firmware"].detail == "kitbot 1.2.0 on unix"
    assert steps["selftest:motors"].detail == "left 249 mA, right 251 mA; ma=[249, 251]"
    assert result.identity["fw"] == "kitbot"


@pytest.mark.micropython
def test_check_reports_a_flat_battery_and_an_old_version(kitbot_board):
    kitbot_board.file("kit_sim.json").write_text(json.dumps({**HEALTHY_KIT, "battery_mv": 6000}))
    result = check_board(
        kitbot_board.port, family="micropython", expected=ExpectedFirmware("kitbot", "1.3.0")
    )
    steps = {step.name: step for step in result.steps}
    assert result.status is Outcome.FAIL
    assert result.reason is Reason.WRONG_FIRMWARE
    assert "expected version 1.3.0" in result.message
    assert steps["selftest:battery"].outcome is Outcome.FAIL
    assert "battery flat" in steps["selftest:battery"].detail
    assert steps["selftest:line"].outcome is Outcome.PASS


@pytest.mark.micropython
def test_verify_compares_hashes_without_writing(kitbot_board):
    firmware = load_firmware([KITBOT_MICROPYTHON])
    assert verify_board(kitbot_board.port, firmware).ok
    kitbot_board.file("main.py").write_text("print('changed')\n")
    result = verify_board(kitbot_board.port, firmware)
    assert result.reason is Reason.VERIFY_MISMATCH
    assert "main.py" in result.steps[-1].detail


def test_check_of_a_silent_board_says_what_to_do(silent_port):
    result = check_board(silent_port, family="avr", hello_timeout=1.0)
    steps = {step.name: step for step in result.steps}
    assert steps["port"].outcome is Outcome.PASS
    assert steps["bootloader"].outcome is Outcome.SKIPPED  # a pty cannot be reset from here
    assert result.reason is Reason.NO_RESPONSE
    assert "flash the kit firmware" in result.message


# -- AVR boards: the real bootloaders and the kitbot firmware in simavr ---------------------


def pressing_reset(boards):
    """An on_progress callback acting as the trainer: presses reset when a board asks."""

    def on_progress(event):
        if event.phase == "notice" and "Press the reset button" in event.message:
            threading.Timer(0.1, boards[event.port].press_reset).start()

    return on_progress


@pytest.mark.simavr
def test_flash_kitbot_in_simavr_then_check_it_running(sim_board):
    board = sim_board(OPTIBOOT_HEX, adc=AVR_HEALTHY_KIT)
    firmware = load_firmware([KITBOT_HEX])
    flashed = flash_board(board.port, firmware, notice=presser(board))
    assert flashed.ok, flashed.message
    assert flashed.flash.bytes_written == flashed.flash.bytes_verified > 2000
    result = check_board(board.port, family="avr", expected=ExpectedFirmware("kitbot", "1.2.0"))
    steps = {step.name: step for step in result.steps}
    assert steps["bootloader"].outcome is Outcome.SKIPPED  # a pty has no DTR to reset with
    assert steps["firmware"].outcome is Outcome.PASS
    assert steps["firmware"].detail == "kitbot 1.2.0 on uno"
    parts = [step for step in result.steps if step.name.startswith("selftest:")]
    assert [(s.name, s.outcome) for s in parts] == [
        ("selftest:motors", Outcome.PASS),
        ("selftest:distance", Outcome.PASS),
        ("selftest:line", Outcome.PASS),
        ("selftest:battery", Outcome.PASS),
    ]
    assert result.status is Outcome.WARN  # the skipped bootloader, nothing else
    assert result.ok


@pytest.mark.simavr
def test_check_names_the_failing_part_of_a_running_kitbot(sim_board):
    flat_battery = {**AVR_HEALTHY_KIT, 0: 3000}  # 6.0 V on a 2-cell pack
    board = sim_board(OPTIBOOT_HEX, app=KITBOT_HEX, adc=flat_battery)
    result = check_board(board.port, family="avr", reset="none")
    steps = {step.name: step for step in result.steps}
    assert result.status is Outcome.FAIL
    assert steps["selftest:battery"].outcome is Outcome.FAIL
    assert "mv=" in steps["selftest:battery"].detail
    assert steps["selftest:motors"].outcome is Outcome.PASS
    # the board works, a part of the kit does not: the result says which, not only its steps
    assert result.reason is Reason.SELFTEST
    assert result.message.startswith("self-test failed (battery: ")
    assert "mv=" in result.message and "replace that part" in result.message
    assert result.summary == result.message


@pytest.mark.simavr
def test_check_of_an_old_nano_just_powered_on_waits_for_its_bootloader(sim_board):
    """ATmegaBOOT reads text sent in its first second as commands and never starts the sketch."""
    nano = sim_board(ATMEGABOOT_HEX, app=KITBOT_HEX, adc=AVR_HEALTHY_KIT)
    # More than the 8 s default: the simulator runs slower than a real board on a busy machine.
    result = check_board(nano.port, family="avr", reset="none", hello_timeout=20.0)
    steps = {step.name: step for step in result.steps}
    assert steps["firmware"].outcome is Outcome.PASS, result.to_dict()
    assert steps["selftest:battery"].outcome is Outcome.PASS
    assert result.status is Outcome.WARN  # only the skipped bootloader step


@pytest.mark.simavr
def test_batch_flashes_optiboot_and_atmegaboot_boards_while_a_dead_one_fails(sim_board, fake_board):
    uno = sim_board(OPTIBOOT_HEX, adc=AVR_HEALTHY_KIT)
    nano = sim_board(ATMEGABOOT_HEX, adc=AVR_HEALTHY_KIT)
    dead = fake_board(faults=Faults(silent=True))
    boards = {board.port: board for board in (uno, nano, dead)}
    job = flash_job(load_firmware([KITBOT_HEX]), sync_timeout=6.0)
    batch = run_batch(
        list(boards), job, concurrency=3, timeout=60, retries=0, on_progress=pressing_reset(boards)
    )
    by_port = {result.port: result for result in batch.boards}
    assert by_port[uno.port].ok, by_port[uno.port].summary
    assert by_port[nano.port].ok, by_port[nano.port].summary
    assert by_port[uno.port].flash.details["bootloader"] == "optiboot"
    assert by_port[nano.port].flash.details["bootloader"] == "atmegaboot"
    assert by_port[dead.port].reason is Reason.NO_RESPONSE
    assert "no answer at all" in by_port[dead.port].message.lower()
    assert not batch.ok
    checked = run_batch(
        [uno.port, nano.port], check_job(family="avr", expected=ExpectedFirmware("kitbot"))
    )
    assert [board.identity["fw"] for board in checked.boards] == ["kitbot", "kitbot"]
    assert checked.ok


@pytest.mark.simavr
def test_verify_reads_an_avr_board_back_without_writing(sim_board):
    board = sim_board(OPTIBOOT_HEX, app=KITBOT_HEX, adc=AVR_HEALTHY_KIT)
    result = verify_board(board.port, load_firmware([KITBOT_HEX]), notice=presser(board))
    assert result.ok, result.message
    assert "flash matches the image" in result.steps[-1].detail


def test_a_missed_reset_is_retried_and_then_explained(fake_board):
    board = fake_board(faults=Faults(sketch_text=b"distance 24 cm\r\n", no_reset=True))
    events = []

    def on_progress(event):
        events.append(event)
        pressing_reset({board.port: board})(event)

    job = flash_job(load_firmware([KITBOT_HEX]), sync_timeout=2.0)
    batch = run_batch([board.port], job, timeout=30, retries=1, on_progress=on_progress)
    result = batch.boards[0]
    assert result.reason is Reason.SKETCH_RUNNING
    assert result.attempts == 2  # a fresh reset was tried once more
    assert [e.phase for e in events].count("retry") == 1
    assert board.resets == 2


def test_a_board_gone_mid_flash_is_marked_for_reflash(fake_board):
    board = fake_board(faults=Faults(vanish_in_page=3))
    job = flash_job(load_firmware([KITBOT_HEX]), sync_timeout=3.0)
    batch = run_batch(
        [board.port], job, timeout=30, retries=0, on_progress=pressing_reset({board.port: board})
    )
    result = batch.boards[0]
    assert result.reason is Reason.DISCONNECTED
    assert result.needs_reflash and result.summary.endswith("(needs re-flash)")
    assert result.to_dict()["needs_reflash"] is True


def test_ctrl_c_stops_the_batch_without_waiting_for_every_board():
    events = []

    def slow(context):
        while True:  # a long flash: it reports progress but would take a minute
            context.progress("write", 0, 0)
            time.sleep(0.01)

    ctrl_c = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))  # the trainer's Ctrl-C
    ctrl_c.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_batch(["port0", "port1"], slow, timeout=60, on_progress=events.append)
    assert time.monotonic() - started < 2
    time.sleep(0.5)  # the boards' threads stop at their next progress report
    seen = len(events)
    time.sleep(0.3)
    assert len(events) == seen


# -- cancelling, time limits and one job per port --------------------------------------------


def board_threads(port):
    return [thread for thread in threading.enumerate() if thread.name == f"board {port}"]


def test_cancelling_a_batch_closes_the_ports_so_blocked_workers_end(fake_board, silent_port):
    dead = fake_board(faults=Faults(silent=True))

    def job(context):
        if context.port == silent_port:
            link = open_port(context.port, timeout=None)
            link.read(1)  # blocks until a byte comes, and none ever does
            return BoardResult(context.port, "avr", "flash").fail(
                BoardError("read ended", reason=Reason.NO_RESPONSE), "read"
            )
        # the AVR driver waiting two minutes for a bootloader that never answers
        return flash_job(load_firmware([KITBOT_HEX]), sync_timeout=120.0)(context)

    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()  # the trainer presses Cancel
    batch = run_batch([dead.port, silent_port], job, timeout=300, retries=3, cancel=cancel)
    assert [board.reason for board in batch.boards] == [Reason.CANCELLED, Reason.CANCELLED]
    assert all(board.attempts == 1 for board in batch.boards)
    assert "cancelled" in batch.boards[0].message
    # both workers have ended: no thread is left holding a port
    assert board_threads(dead.port) == [] and board_threads(silent_port) == []
    assert PORTS.busy(dead.port) is None


def test_a_timeout_in_the_middle_of_writing_marks_the_board_for_reflash(fake_board):
    slow = fake_board(page_write_s=0.25)  # a slow chip: the ~21 pages take over 5 s
    job = flash_job(load_firmware([KITBOT_HEX]), sync_timeout=3.0)
    batch = run_batch(
        [slow.port], job, timeout=3.5, retries=0, on_progress=pressing_reset({slow.port: slow})
    )
    result = batch.boards[0]
    assert result.reason is Reason.TIMEOUT
    assert 0 < slow.pages_written < 21  # stopped part way
    assert result.needs_reflash and result.summary.endswith("(needs re-flash)")
    assert board_threads(slow.port) == []


def test_one_job_per_port_at_a_time(fake_board, tmp_path):
    slow = fake_board(page_write_s=0.1)
    firmware = load_firmware([KITBOT_HEX])
    first = []
    worker = threading.Thread(
        target=lambda: first.append(
            flash_board(slow.port, firmware, sync_timeout=3.0, notice=presser(slow))
        )
    )
    worker.start()
    deadline = time.monotonic() + 5
    while PORTS.busy(slow.port) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    second = flash_board(slow.port, firmware)
    checked = check_board(slow.port, family="uno")
    worker.join()
    # a /dev/serial/by-id link names the same port as its device (the tests cannot write
    # /dev, and a link elsewhere is no port at all: its key is checked instead)
    link = tmp_path / "by-id-link"
    link.symlink_to(slow.port)
    assert PortRegistry.key(str(link)) == PortRegistry.key(slow.port)
    for refused in (second, checked):
        assert refused.reason is Reason.BUSY
        assert "a flash is running on it" in refused.message and "wait for it" in refused.message
    assert first[0].ok, first[0].message  # the running flash was not disturbed
    assert PORTS.busy(slow.port) is None  # and the port is free again


# -- naming boards, keeping the reasons -----------------------------------------------------


def test_a_port_that_cannot_be_opened_keeps_the_systems_reason():
    result = check_board("/dev/ttyUSB-not-plugged-in", family="uno")
    assert result.reason is Reason.PORT
    assert "(No such file or directory)" in result.message
    assert "plugged in" in result.message


def test_results_and_prompts_name_the_board_by_its_hub_socket(fake_board, monkeypatch):
    board = fake_board()
    usb = PortInfo(
        board.port, 0x1A86, 0x7523, "A9X3", "1-1.4:1.0", None, None, "avr", False, "CH340"
    )
    monkeypatch.setattr(operations, "find_port", lambda port: usb if port == board.port else None)
    events = []

    def on_progress(event):
        events.append(event)
        pressing_reset({board.port: board})(event)

    # one firmware, a guessed family: the board is identified first, then flashed
    job = flash_job(load_firmware([KITBOT_HEX]), sync_timeout=3.0)
    result = run_batch([board.port], job, retries=0, on_progress=on_progress).boards[0]
    assert result.ok, result.message
    where = "hub socket 1-1.4, serial A9X3"
    assert result.label == f"{board.port} ({where})"
    assert result.to_dict()["location"] == "1-1.4:1.0"
    prompts = [e.message for e in events if e.phase == "notice"]
    assert prompts and all(f"board at {board.port} ({where}) now" in p for p in prompts)
    assert [s.name for s in result.steps] == ["identify", "flash"]
    assert result.steps[0].detail.startswith("optiboot answers: atmega328p")


def test_needs_reflash_stays_when_the_retry_fails_another_way(fake_board):
    board = fake_board(rate_limited=False, faults=Faults(drop_in_page=3))
    events = []

    def first_attempt_only(event):
        events.append(event)
        if event.attempt == 1:  # then the trainer walks away: nobody presses reset again
            pressing_reset({board.port: board})(event)

    job = flash_job(load_firmware([KITBOT_HEX]), sync_timeout=3.0)
    result = run_batch([board.port], job, retries=1, on_progress=first_attempt_only).boards[0]
    assert result.attempts == 2
    assert result.reason in (Reason.NO_RESPONSE, Reason.SKETCH_RUNNING)  # not the write failure
    assert result.needs_reflash and "(needs re-flash)" in result.summary
    # the process remembers it: a later check of that board says so, until a flash succeeds
    assert PORTS.needs_reflash(board.port, None)
    again = flash_board(board.port, load_firmware([KITBOT_HEX]), notice=presser(board))
    assert again.ok and not again.needs_reflash
    assert not PORTS.needs_reflash(board.port, None)


@pytest.mark.micropython
def test_a_micropython_push_cut_off_mid_way_needs_a_reflash(micropython_board, tmp_path):
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "main.py").write_text("print('kit')\n")
    (kit / "data.bin").write_bytes(os.urandom(30_000))
    crashed = []

    def crash_mid_copy(phase, done, total):
        if phase == "copy" and done > 0 and not crashed:
            crashed.append(done)
            micropython_board.crash()  # the board resets; its port stays

    result = flash_board(micropython_board.port, load_firmware([kit]), progress=crash_mid_copy)
    assert crashed and result.status is Outcome.FAIL
    assert result.needs_reflash, result.to_dict()
    assert result.summary.endswith("(needs re-flash)")


@pytest.mark.micropython
def test_a_failing_part_fails_the_micropython_check_with_its_name(kitbot_board):
    kitbot_board.file("kit_sim.json").write_text(json.dumps({**HEALTHY_KIT, "battery_mv": 6000}))
    result = check_board(kitbot_board.port, family="pico")
    assert result.reason is Reason.SELFTEST
    assert "battery" in result.message and result.family == "micropython"
