"""Ports and reset strategies: the only module of the AVR path that touches a serial port.

A port is a serial device path (``/dev/ttyUSB0``, a pty such as ``/dev/pts/5``) or a network
serial address (``socket://HOST:PORT``, ``rfc2217://HOST:PORT``): :func:`open_port` opens
nothing else (see :func:`firmware_tools.ports.check_port_url`), whatever more pyserial's
``serial_for_url`` can open. A pty or a socket has no DTR/RTS lines: a reset strategy that
needs them falls back to asking the trainer to press the reset button.

Every port a driver opens goes through :func:`open_port` (or is handed to :func:`opened`), so
a batch can watch the ports of an attempt (:func:`watch_ports`) and close them from another
thread (:func:`abort_port`) when it is cancelled. A port that does not open is a PORT error
that keeps the operating system's reason.
"""

from __future__ import annotations

import array
import contextlib
import errno
import logging
import os
import re
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextvars import ContextVar

import serial

from firmware_tools.base import BoardError, Notice, Reason
from firmware_tools.messages import Message
from firmware_tools.ports import check_port_url

__all__ = [
    "RESET_NAMES",
    "LineReset",
    "ManualReset",
    "ResetStrategy",
    "abort_port",
    "cannot_open",
    "choose_reset",
    "has_modem_lines",
    "open_port",
    "opened",
    "os_reason",
    "watch_ports",
]

log = logging.getLogger(__name__)

RESET_NAMES = ("auto", "dtr", "rts", "none")

# Who wants to know about each port opened in this thread (a batch attempt, to close them all
# when it is cancelled). Set with watch_ports(); drivers that open ports themselves (esptool)
# hand theirs to opened().
_watcher: ContextVar[Callable[[serial.SerialBase], None] | None] = ContextVar(
    "firmware_tools_port_watcher", default=None
)
# What the trainer can do about the usual reasons a port does not open (message codes).
_OPEN_HINTS = {
    errno.ENOENT: "hint-not-found",
    errno.EACCES: "hint-permission",
    errno.EBUSY: "hint-busy",
}
_OPEN_HINT = "hint-open"


def open_port(
    port: str, *, baudrate: int = 115200, timeout: float | None = 1.0, name: str = ""
) -> serial.SerialBase:
    """Open ``port`` (a serial device or network serial address) at ``baudrate``, 8N1.

    ``name`` is how the trainer's messages name the board (default: ``port``).

    :raise BoardError: (PORT) when it is not a port this tool opens (checked before pyserial
        sees it: :func:`~firmware_tools.ports.check_port_url`), or when it cannot be opened,
        with the operating system's reason ("Permission denied") and what to do about it.
    """
    port = check_port_url(port)
    try:
        link = serial.serial_for_url(port, baudrate=baudrate, timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise cannot_open(name or port, exc) from None
    opened(link)
    return link


def os_reason(exc: BaseException) -> str:
    """The operating system's words for why ``exc`` happened ("No such file or directory").

    pyserial keeps the errno on the exception, or only in its text (``[Errno 13] ...``);
    anything else is reported with its own text.
    """
    number = getattr(exc, "errno", None)
    if isinstance(number, int) and number > 0:
        return os.strerror(number)
    found = re.search(r"\[Errno (\d+)\]\s*([^:\]]+)", str(exc))
    if found:
        return found.group(2).strip()
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def cannot_open(name: str, exc: BaseException) -> BoardError:
    """The PORT error for a port that did not open: the OS's reason and what to do."""
    number = getattr(exc, "errno", None)
    if not isinstance(number, int):
        found = re.search(r"\[Errno (\d+)\]", str(exc))
        number = int(found.group(1)) if found else None
    hint = Message(_OPEN_HINTS.get(number, _OPEN_HINT) if number else _OPEN_HINT)
    return BoardError(
        Message("cannot-open", name=name, why=os_reason(exc), hint=hint), reason=Reason.PORT
    )


@contextlib.contextmanager
def watch_ports(watcher: Callable[[serial.SerialBase], None]) -> Iterator[None]:
    """Hand every port opened in this thread, inside the block, to ``watcher``."""
    token = _watcher.set(watcher)
    try:
        yield
    finally:
        _watcher.reset(token)


def opened(link: serial.SerialBase) -> None:
    """Tell this thread's watcher (if any) that ``link`` is open."""
    watcher = _watcher.get()
    if watcher is not None:
        watcher(link)


def abort_port(link: serial.SerialBase) -> None:
    """Close ``link`` from another thread: a read or write blocked on it returns now.

    Closing alone does not wake a thread waiting in select(), so the pending read and write
    are cancelled first; every later use of the port fails, which ends the driver's work.
    """
    for step in ("cancel_read", "cancel_write", "close"):
        with contextlib.suppress(Exception):  # half-closed or gone with the board: still try
            getattr(link, step, lambda: None)()


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
        self.notice(Message("press-reset", name=self.port))


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
        say(Message("no-reset-lines", name=port, reset=name))
    return ManualReset(port, say)
