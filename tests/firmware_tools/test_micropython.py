"""The MicroPython driver against a real MicroPython (the unix port) behind a pty."""

from __future__ import annotations

import os
import time

import pytest

from firmware_tools.base import BoardError, Reason
from firmware_tools.drivers.micropython import BoardFile, MicroPythonBoard, collect_files
from tests.firmware_tools.micropython_board import MicroPythonPty, running_board

pytestmark = pytest.mark.micropython


@pytest.fixture
def micropython_board(tmp_path):
    yield from running_board(tmp_path)


BUSY_MAIN = "import time\nprint('main.py running')\nwhile True:\n    time.sleep(0.05)\n"


def test_a_running_main_py_is_interrupted_and_the_identity_read(tmp_path):
    board_pty = MicroPythonPty(tmp_path / "board", files={"main.py": BUSY_MAIN})
    try:
        with MicroPythonBoard(board_pty.port) as board:
            identity = board.identity()
    finally:
        board_pty.stop()
    assert identity["implementation"] == "micropython"
    assert identity["version"].count(".") == 2
    assert identity["platform"] == "linux"
    assert identity["unique_id"] == ""  # the unix port has no machine.unique_id


def test_files_are_copied_byte_exact_through_raw_paste(micropython_board, tmp_path):
    binary = bytes(range(256)) * 20  # every byte value, over several paste windows and chunks
    files = [BoardFile("main.py", b"print('hi')\n"), BoardFile("lib/data.bin", binary)]
    progress = []
    with MicroPythonBoard(micropython_board.port) as board:
        report = board.flash(files, progress=lambda *event: progress.append(event))
        assert board.uses_raw_paste is True
    assert micropython_board.file("lib/data.bin").read_bytes() == binary
    assert micropython_board.file("main.py").read_bytes() == b"print('hi')\n"
    assert report.bytes_written == report.bytes_verified == len(binary) + 12
    assert not report.skipped_unchanged
    copied = [done for phase, done, _total in progress if phase == "copy"]
    assert copied == sorted(copied) and copied[-1] == len(binary) + 12


def test_unchanged_files_are_skipped_by_their_on_board_hash(micropython_board, tmp_path):
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "main.py").write_text("print('v1')\n")
    (kit / "motors.py").write_text("SPEED = 1\n")
    with MicroPythonBoard(micropython_board.port) as board:
        first = board.flash(collect_files([kit]))
        stamp = os.stat(micropython_board.file("motors.py")).st_mtime_ns
        time.sleep(0.02)
        again = board.flash(collect_files([kit]))
        (kit / "main.py").write_text("print('v2')\n")
        micropython_board.file("motors.py").write_text("SPEED = 9\n")  # changed on the board
        third = board.flash(collect_files([kit]))
    assert first.details["copied"] == ["main.py", "motors.py"]
    assert again.skipped_unchanged and again.bytes_written == 0
    assert os.stat(micropython_board.file("motors.py")).st_mtime_ns != stamp  # third copy
    assert sorted(third.details["copied"]) == ["main.py", "motors.py"]
    assert micropython_board.file("motors.py").read_text() == "SPEED = 1\n"


def test_an_exception_on_the_board_is_one_line(micropython_board):
    with MicroPythonBoard(micropython_board.port) as board, pytest.raises(BoardError) as caught:
        board.run("import nosuchmodule")
    assert caught.value.reason is Reason.PROTOCOL
    assert "ImportError" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_soft_reset_starts_main_py(micropython_board):
    main = "import sys\nprint('kit ready')\nsys.stdin.readline()\n"
    with MicroPythonBoard(micropython_board.port) as board:
        board.flash([BoardFile("main.py", main.encode())])
        board.soft_reset()
        board._serial.timeout = 3  # read what the board prints after its reset
        seen = board._serial.read_until(b"kit ready")
    assert seen.endswith(b"kit ready")


def test_a_silent_port_is_no_response(tmp_path):
    controller, device = os.openpty()  # a port with nothing behind it
    try:
        board = MicroPythonBoard(os.ttyname(device), connect_timeout=1.0)
        with pytest.raises(BoardError) as caught:
            board.identity()
        board.close()
    finally:
        os.close(controller)
        os.close(device)
    assert caught.value.reason is Reason.NO_RESPONSE
    assert "is it a MicroPython board" in str(caught.value)


def test_a_board_gone_mid_copy_needs_a_reflash(micropython_board):
    big = BoardFile("big.bin", os.urandom(40_000))

    def pull_the_cable(phase, done, _total):
        if phase == "copy" and done > 0:
            micropython_board.stop()

    with MicroPythonBoard(micropython_board.port) as board, pytest.raises(BoardError) as caught:
        board.flash([big], progress=pull_the_cable)
    assert caught.value.reason is Reason.DISCONNECTED
    assert caught.value.needs_reflash


def test_collect_files_takes_a_folder_and_refuses_nothing_to_copy(tmp_path):
    kit = tmp_path / "kit"
    (kit / "lib").mkdir(parents=True)
    (kit / "main.py").write_text("x = 1\n")
    (kit / "lib" / "motors.py").write_text("y = 2\n")
    (kit / ".hidden").write_text("no\n")
    (kit / "lib" / "__pycache__").mkdir()
    (kit / "lib" / "__pycache__" / "motors.cpython-311.pyc").write_bytes(b"\0")
    assert [f.name for f in collect_files([kit])] == ["lib/motors.py", "main.py"]
    empty = tmp_path / "empty"
    empty.mkdir()
    for bad in ([empty], [tmp_path / "missing.py"]):
        with pytest.raises(BoardError) as caught:
            collect_files(bad)
        assert caught.value.reason is Reason.BAD_IMAGE


def test_a_soft_reset_that_ends_the_unix_port_process_is_not_an_error(tmp_path):
    # The bare unix port exits on a soft reset, taking the pty with it: the reset itself
    # succeeds, and the next operation says the board went away.
    board_pty = MicroPythonPty(tmp_path / "board", restart=False)
    try:
        with MicroPythonBoard(board_pty.port) as board:
            board.identity()
            board.soft_reset()
            time.sleep(0.3)
            with pytest.raises(BoardError) as caught:
                board.identity()
    finally:
        board_pty.stop()
    assert caught.value.reason is Reason.DISCONNECTED
    assert "plug the board in again" in str(caught.value)
