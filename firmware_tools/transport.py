"""Ports and reset strategies: the only module of the AVR path that touches a serial port.

A port is a device path (``/dev/ttyUSB0``, a pty such as ``/dev/pts/5``) or any pyserial URL
(``socket://``, ``rfc2217://``, ``loop://``). A pty, a socket or a loop has no DTR/RTS lines:
a reset strategy that needs them falls back to asking the trainer to press the reset button.
"""

from __future__ import annotations

import array
import logging
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

import serial

from firmware_tools.base import BoardError, Reason

__all__ = [
    "RESET_NAMES",
    "LineReset",
    "ManualReset",
    "ResetStrategy",
    "choose_reset",
    "has_modem_lines",
    "open_port",
]

log = logging.getLogger(__name__)

Notice = Callable[[str], None]
RESET_NAMES = ("auto", "dtr", "rts", "none")


def open_port(port: str, *, baudrate: int = 115200, timeout: float = 1.0) -> serial.SerialBase:
    """Open ``port`` (a device path or a pyserial URL) at ``baudrate``, 8N1.

    :raise BoardError: (PORT) when it cannot be opened, with what to check.
    """
    try:
        return serial.serial_for_url(port, baudrate=baudrate, timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as exc:
        detail = str(exc).split(":")[-1].strip() or type(exc).__name__
        raise BoardError(
            f"cannot open {port} ({detail}): check the board is plugged in and no other "
            "program (serial monitor, IDE) has the port open; `firmware-tools ports` lists them",
            reason=Reason.PORT,
        ) from None


def has_modem_lines(ser: serial.SerialBase) -> bool:
    """True when ``ser`` can drive DTR/RTS: a real serial adapter or an RFC 2217 server."""
    if "rfc2217" in type(ser).__module__:  # the server drives the real lines
        return True
    fd = getattr(ser, "fd", None)
    if isinstance(fd, int) and fd >= 0:
        import fcntl  # POSIX only; Windows ports have no fd and take the last line
        import termios

        try:
            fcntl.ioctl(fd, termios.TIOCMGET, array.array("i", [0]))
        except OSError:
            return False  # a pty: "Inappropriate ioctl for device"
        return True
    return sys.platform == "win32" and isinstance(ser, serial.Serial)


class ResetStrategy(ABC):
    """How the board is made to restart into its bootloader."""

    name = "base"
    #: True when the trainer has to press the button: the sync must then wait for a person.
    manual = False

    @abstractmethod
    def reset(self, ser: serial.SerialBase) -> None:
        """Restart the board on ``ser`` (or ask the trainer to)."""


class LineReset(ResetStrategy):
    """Pulse DTR or RTS: through the board's 100 nF capacitor the edge resets the chip."""

    def __init__(self, line: str) -> None:
        if line not in ("dtr", "rts"):
            raise ValueError(f"no modem line called {line!r}")
        self.name = line

    def reset(self, ser: serial.SerialBase) -> None:
        setattr(ser, self.name, False)
        time.sleep(0.1)
        setattr(ser, self.name, True)  # asserting pulls the line low: the falling edge resets
        time.sleep(0.05)
        ser.reset_input_buffer()  # whatever the old program printed is not an answer


class ManualReset(ResetStrategy):
    """Ask the trainer to press the reset button, through ``notice``."""

    name = "none"
    manual = True

    def __init__(self, port: str, notice: Notice) -> None:
        self.port = port
        self.notice = notice

    def reset(self, ser: serial.SerialBase) -> None:
        self.notice(f"Press the reset button on the board at {self.port} now")


def choose_reset(
    name: str, ser: serial.SerialBase, port: str, notice: Notice | None = None
) -> ResetStrategy:
    """Return the reset strategy ``name`` ("auto", "dtr", "rts", "none") for ``ser``.

    "auto" is DTR when the port has modem lines, else manual. A port without modem lines
    never fails on "dtr"/"rts": the trainer is told, and the reset becomes manual.

    :raise ValueError: for an unknown strategy name.
    """
    say = notice or log.warning
    if name not in RESET_NAMES:
        raise ValueError(f"unknown reset {name!r}: use one of {', '.join(RESET_NAMES)}")
    if name == "none":
        return ManualReset(port, say)
    if has_modem_lines(ser):
        return LineReset("dtr" if name == "auto" else name)
    if name != "auto":
        say(f"{port} has no DTR/RTS lines (a pty or network port): reset {name} is not possible")
    return ManualReset(port, say)
