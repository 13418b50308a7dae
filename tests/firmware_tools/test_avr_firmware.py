"""The kitbot AVR firmware: the shipped hex is its source, and it answers as PROTOCOL.md says."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import serial

from tests.firmware_tools.conftest import HEALTHY_KIT, KITBOT_DIR, KITBOT_HEX, SimBoard


def test_the_shipped_hex_is_built_from_the_current_source(tmp_path: Path) -> None:
    if shutil.which("avr-gcc") is None:
        pytest.skip("gcc-avr not installed: apt-get install gcc-avr avr-libc")
    hex_path = tmp_path / "kitbot.hex"
    build = subprocess.run(
        ["make", "-C", str(KITBOT_DIR), f"BUILD={tmp_path / 'build'}", f"HEX={hex_path}"],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    assert hex_path.read_text() == KITBOT_HEX.read_text(), (
        "kitbot.hex is out of date: run make in firmware_tools/firmware/kitbot-avr"
    )


class Kitbot:
    """The firmware running in the simulator, spoken to line by line."""

    def __init__(self, board: SimBoard) -> None:
        self.link = serial.serial_for_url(board.port, 115200, timeout=2.0)
        time.sleep(0.2)  # optiboot hands over to the sketch right after power-on

    def ask(self, line: bytes) -> dict:
        self.link.reset_input_buffer()
        self.link.write(line)
        return json.loads(self.link.readline())


@pytest.fixture
def kitbot(sim_board: Callable[..., SimBoard]) -> Callable[..., Kitbot]:
    def start(adc: dict[int, int] | None = None, **options: object) -> Kitbot:
        return Kitbot(sim_board(app=KITBOT_HEX, adc={**HEALTHY_KIT, **(adc or {})}, **options))

    return start


@pytest.mark.simavr
def test_hello_names_the_firmware_and_the_kit_id_from_eeprom(kitbot: Callable[..., Kitbot]) -> None:
    reply = kitbot(eeprom_id="0badc0de").ask(b'{"cmd":"hello"}\n')
    assert reply == {"fw": "kitbot", "version": "1.2.0", "board": "uno", "id": "0badc0de"}


@pytest.mark.simavr
def test_a_healthy_kit_passes_every_part(kitbot: Callable[..., Kitbot]) -> None:
    reply = kitbot().ask(b'{"cmd": "selftest"}\r\n')
    parts = {part["part"]: part for part in reply["selftest"]}
    assert list(parts) == ["motors", "distance", "line", "battery"]
    assert {part["result"] for part in parts.values()} == {"pass"}
    assert 7350 <= parts["battery"]["mv"] <= 7450
    assert parts["motors"]["ma"] == [249, 249]
    assert 20 <= parts["distance"]["cm"] <= 30


@pytest.mark.simavr
@pytest.mark.parametrize(
    ("adc", "part", "result", "words"),
    [
        ({0: 3100}, "battery", "fail", "flat"),
        ({0: 3400}, "battery", "warn", "low"),
        ({0: 0}, "battery", "fail", "no battery"),
        ({1: 50}, "distance", "fail", "no signal"),
        ({3: 4999}, "line", "fail", "sensor 2 stuck high"),
        ({5: 0}, "motors", "fail", "no current"),
    ],
)
def test_a_faulty_part_is_reported_with_its_reason(
    kitbot: Callable[..., Kitbot], adc: dict[int, int], part: str, result: str, words: str
) -> None:
    reply = kitbot(adc).ask(b'{"cmd":"selftest"}\n')
    found = next(p for p in reply["selftest"] if p["part"] == part)
    assert found["result"] == result
    assert words in found["detail"]
    others = [p["result"] for p in reply["selftest"] if p["part"] != part]
    assert others == ["pass"] * 3


@pytest.mark.simavr
def test_unknown_commands_and_overlong_lines_get_an_error(kitbot: Callable[..., Kitbot]) -> None:
    board = kitbot()
    assert board.ask(b'{"cmd":"dance"}\n') == {"error": "unknown command"}
    assert board.ask(b"x" * 300 + b"\n") == {"error": "line too long"}
    assert board.ask(b'{"cmd":"hello"}\n')["fw"] == "kitbot"
