"""The AVR driver against the real Arduino bootloaders, running in simavr.

The simulated ATmega328P runs Debian's optiboot and ATmegaBOOT hex files; the pty has no DTR,
so the trainer's reset press comes from the harness, when the tool asks for it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import serial

from firmware_tools.base import BoardError, Outcome, Reason
from firmware_tools.drivers.avr import AvrBoard
from firmware_tools.images import load_image
from firmware_tools.operations import check_board
from firmware_tools.protocol.healthcheck import ExpectedFirmware
from tests.firmware_tools.conftest import (
    HEALTHY_KIT,
    KITBOT_HEX,
    OPTIBOOT_168_HEX,
    SimBoard,
    presser,
)

pytestmark = pytest.mark.simavr


def ask(port: str, command: str, timeout: float = 20.0) -> dict:
    """Send one health-check line to the running firmware until it answers (it may be booting:
    the simulator runs slower than a real board when the machine is busy)."""
    with serial.serial_for_url(port, 115200, timeout=0.3) as link:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            link.reset_input_buffer()
            link.write(json.dumps({"cmd": command}).encode() + b"\n")
            line = link.readline()
            if line.startswith(b"{"):
                return json.loads(line)
    raise AssertionError(f"no answer to {command} on {port}")


def test_optiboot_flash_then_the_kit_firmware_runs_and_passes_its_check(
    optiboot_board: SimBoard,
) -> None:
    image = load_image(KITBOT_HEX)
    notice = presser(optiboot_board)
    report = AvrBoard(optiboot_board.port, reset="none", notice=notice).flash(image)
    assert notice.messages == [f"Press the reset button on the board at {optiboot_board.port} now"]
    assert report.details["bootloader"] == "optiboot"
    assert report.bytes_written == report.bytes_verified == len(list(image.pages(128))) * 128
    # optiboot's watchdog starts the sketch after LEAVE_PROGMODE: the health check sees it.
    result = check_board(
        optiboot_board.port,
        family="avr",
        reset="none",
        expected=ExpectedFirmware("kitbot", "1.2.0"),
    )
    outcomes = {step.name: step.outcome for step in result.steps}
    assert outcomes["bootloader"] is Outcome.SKIPPED  # a pty cannot reset the board
    assert outcomes["firmware"] is Outcome.PASS
    assert [outcomes[f"selftest:{part}"] for part in ("motors", "distance", "line", "battery")] == [
        Outcome.PASS
    ] * 4
    assert result.identity["version"] == "1.2.0"


def test_flashing_the_same_firmware_again_writes_nothing(optiboot_board: SimBoard) -> None:
    image = load_image(KITBOT_HEX)
    AvrBoard(optiboot_board.port, reset="none", notice=presser(optiboot_board)).flash(image)
    again = AvrBoard(optiboot_board.port, reset="none", notice=presser(optiboot_board))
    report = again.flash(image)
    assert report.skipped_unchanged and report.bytes_written == 0
    assert ask(optiboot_board.port, "hello")["fw"] == "kitbot"


def test_atmegaboot_at_57600_is_found_and_flashed(atmegaboot_board: SimBoard) -> None:
    image = load_image(KITBOT_HEX)
    board = AvrBoard(atmegaboot_board.port, reset="none", notice=presser(atmegaboot_board))
    report = board.flash(image)
    assert report.details["bootloader"] == "atmegaboot"
    assert report.bytes_verified == report.bytes_written > 0
    # ATmegaBOOT starts the sketch when it times out, about a second after the last byte.
    assert ask(atmegaboot_board.port, "hello")["version"] == "1.2.0"


def test_the_signature_is_read_and_the_bootloader_left(optiboot_board: SimBoard) -> None:
    board = AvrBoard(optiboot_board.port, reset="none", notice=presser(optiboot_board))
    assert board.read_signature() == bytes.fromhex("1e950f")
    assert board.bootloader == "optiboot"


def test_an_atmega168_board_is_refused_for_an_atmega328p_image(
    sim_board: Callable[..., SimBoard],
) -> None:
    nano168 = sim_board(OPTIBOOT_168_HEX, mcu="atmega168")
    board = AvrBoard(nano168.port, reset="none", notice=presser(nano168))
    with pytest.raises(BoardError) as caught:
        board.flash(load_image(KITBOT_HEX))
    assert caught.value.reason is Reason.WRONG_CHIP
    assert "has a atmega168 (signature 1e9406)" in str(caught.value)


def test_without_a_reset_press_a_running_kitbot_is_recognised(
    sim_board: Callable[..., SimBoard],
) -> None:
    board_sim = sim_board(app=KITBOT_HEX, adc=HEALTHY_KIT)
    messages: list[str] = []
    board = AvrBoard(board_sim.port, reset="none", sync_timeout=2.0, notice=messages.append)
    with pytest.raises(BoardError) as caught:
        board.read_signature()
    assert caught.value.reason is Reason.SKETCH_RUNNING
    assert "unknown command" in str(caught.value)
    assert messages[0] == f"Press the reset button on the board at {board_sim.port} now"
    assert "older Nano" in messages[1]  # nothing at 115200: one more press for 57600


def test_a_flat_battery_fails_the_check_with_its_reading(
    sim_board: Callable[..., SimBoard],
) -> None:
    flat = {**HEALTHY_KIT, 0: 3100}  # 6.2 V pack
    board_sim = sim_board(app=KITBOT_HEX, adc=flat, eeprom_id="00c0ffee")
    result = check_board(board_sim.port, family="avr", reset="none")
    battery = next(step for step in result.steps if step.name == "selftest:battery")
    assert battery.outcome is Outcome.FAIL
    assert "flat" in battery.detail
    assert result.identity["id"] == "00c0ffee"
