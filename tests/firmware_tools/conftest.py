"""Boards for the firmware_tools tests: real bootloaders in simavr, and a fake optiboot.

``sim_board(bootloader=..., app=..., adc=..., eeprom_id=..., mcu=...)`` starts a simulated
ATmega running a real bootloader hex (optionally with an application already in flash) with
UART0 on a pty; it returns a :class:`SimBoard` with ``.port``, ``.press_reset()``, ``.stop()``.
``optiboot_board`` and ``atmegaboot_board`` are the two bootloaders of workshop boards, with
a blank application area. ``fake_board(**options)`` starts a :class:`FakeAvr`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from firmware_tools.operations import PORTS
from tests.firmware_tools.fake_avr import FakeAvr

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness"
BOOTLOADERS = Path("/usr/share/arduino/hardware/arduino/avr/bootloaders")
OPTIBOOT_HEX = BOOTLOADERS / "optiboot" / "optiboot_atmega328.hex"
OPTIBOOT_168_HEX = BOOTLOADERS / "optiboot" / "optiboot_atmega168.hex"
ATMEGABOOT_HEX = BOOTLOADERS / "atmega" / "ATmegaBOOT_168_atmega328.hex"
KITBOT_DIR = HERE.parent.parent / "firmware_tools" / "firmware" / "kitbot-avr"
KITBOT_HEX = KITBOT_DIR / "kitbot.hex"

#: ADC inputs of a healthy kit, in millivolts at the pins (see kitbot-avr/PROTOCOL.md):
#: battery 7.4 V through the 1:2 divider, an object ~25 cm away, three line sensors, and
#: ~250 mA through the motor shunt.
HEALTHY_KIT = {0: 3700, 1: 1200, 2: 2000, 3: 2500, 4: 3000, 5: 250}


class SimBoard:
    """A simulated board process; ``.port`` is its UART's pty."""

    def __init__(
        self,
        binary: Path,
        bootloader: Path,
        *,
        app: Path | None = None,
        adc: Mapping[int, int] | None = None,
        eeprom_id: str | None = None,
        mcu: str = "atmega328p",
    ) -> None:
        command = [str(binary), "-m", mcu, "-b", str(bootloader)]
        if app is not None:
            command += ["-a", str(app)]
        if eeprom_id is not None:
            command += ["-e", eeprom_id]
        for channel, millivolts in (adc or {}).items():
            command += ["-A", f"{channel}={millivolts}"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.port = ""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("pty "):
                self.port = line.split()[1]
                break
        if not self.port:
            self.stop()
            raise RuntimeError(f"the simulated board did not start: {' '.join(command)}")
        # uart_pty keeps printing; drain it so the board never blocks on a full pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        self.resets = 0

    def press_reset(self) -> None:
        """Press the reset button: the harness resets the chip with EXTRF set."""
        self.resets += 1
        os.kill(self.process.pid, signal.SIGUSR1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(autouse=True)
def fresh_port_marks() -> Iterator[None]:
    """Each test starts with no re-flash marks: ptys are reused by boards of later tests."""
    PORTS.forget()
    yield
    PORTS.forget()


@pytest.fixture(scope="session")
def avrboard_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the simavr harness into harness/build (ignored by git) once per session."""
    if not Path("/usr/include/simavr/sim_avr.h").exists():
        pytest.skip("simavr headers missing: apt-get install libsimavr-dev libsimavrparts1")
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("no C toolchain (make, cc) to build the simavr harness")
    build = subprocess.run(
        ["make", "-C", str(HARNESS), "BUILD=build"], capture_output=True, text=True
    )
    assert build.returncode == 0, build.stderr
    return HARNESS / "build" / "avrboard"


@pytest.fixture
def sim_board(avrboard_binary: Path) -> Iterator[Callable[..., SimBoard]]:
    """Factory of simulated boards, all stopped at the end of the test."""
    if not OPTIBOOT_HEX.exists():
        pytest.skip("arduino-core-avr bootloaders missing: apt-get install arduino-core-avr")
    started: list[SimBoard] = []

    def start(bootloader: Path = OPTIBOOT_HEX, **options: object) -> SimBoard:
        board = SimBoard(avrboard_binary, bootloader, **options)  # type: ignore[arg-type]
        started.append(board)
        return board

    yield start
    for board in started:
        board.stop()


@pytest.fixture
def optiboot_board(sim_board: Callable[..., SimBoard]) -> SimBoard:
    """An Uno with optiboot (115200 baud) and an empty application area."""
    return sim_board(OPTIBOOT_HEX, adc=HEALTHY_KIT)


@pytest.fixture
def atmegaboot_board(sim_board: Callable[..., SimBoard]) -> SimBoard:
    """An old Nano with ATmegaBOOT (57600 baud, 2 KB) and an empty application area."""
    return sim_board(ATMEGABOOT_HEX, adc=HEALTHY_KIT)


@pytest.fixture
def fake_board() -> Iterator[Callable[..., FakeAvr]]:
    """Factory of fake optiboot boards (see fake_avr.py), all stopped at the end."""
    started: list[FakeAvr] = []

    def start(**options: object) -> FakeAvr:
        board = FakeAvr(**options).start()  # type: ignore[arg-type]
        started.append(board)
        return board

    yield start
    for board in started:
        board.stop()


def presser(board: SimBoard | FakeAvr, delay: float = 0.1) -> Callable[[str], None]:
    """A notice callback that acts like a trainer: told to press reset, presses it shortly after."""
    messages: list[str] = []

    def notice(message: str) -> None:
        messages.append(message)
        if "Press the reset button" in message or "press its reset button" in message:
            threading.Timer(delay, board.press_reset).start()

    notice.messages = messages  # type: ignore[attr-defined]
    return notice
