"""A board whose reset is wired to DTR, reached through an RFC 2217 serial server.

Real USB-serial boards reset on a DTR edge; a pty has no DTR. pyserial's RFC 2217 server code
carries the DTR changes over TCP, and here DTR is wired to the fake board's reset button, so
the automatic reset is exercised end to end without hardware.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import serial
import serial.rfc2217

from firmware_tools.drivers.avr import AvrBoard
from firmware_tools.images import FirmwareImage
from firmware_tools.transport import has_modem_lines, open_port
from tests.firmware_tools.fake_avr import FakeAvr

# pyserial's own RFC 2217 client still calls Thread.setDaemon/setName
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")


class ResetWiredToDtr:
    """The serial port the RFC 2217 server drives: the board's pty, DTR wired to its reset."""

    cts = dsr = ri = cd = False  # the board drives no modem status lines

    def __init__(self, board: FakeAvr) -> None:
        self.board = board
        self.link = serial.Serial(board.port, 115200, timeout=0.05)
        self._dtr = False
        self.rts = False

    @property
    def dtr(self) -> bool:
        return self._dtr

    @dtr.setter
    def dtr(self, value: bool) -> None:
        if value and not self._dtr:  # asserting DTR pulls RESET low through the capacitor
            self.board.press_reset()
        self._dtr = value

    def __getattr__(self, name: str) -> object:
        return getattr(self.link, name)


class Wire:
    """The TCP side as PortManager wants it: something with ``write``."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            self.connection.sendall(data)


@pytest.fixture
def dtr_board(fake_board: Callable[..., FakeAvr]) -> Iterator[tuple[str, FakeAvr]]:
    board = fake_board(rate_limited=False)
    wired = ResetWiredToDtr(board)
    server = socket.create_server(("127.0.0.1", 0))
    url = f"rfc2217://127.0.0.1:{server.getsockname()[1]}"
    stop = threading.Event()

    def serve() -> None:
        connection, _ = server.accept()
        manager = serial.rfc2217.PortManager(wired, Wire(connection))

        def to_board() -> None:
            with contextlib.suppress(OSError):
                while data := connection.recv(4096):
                    wired.link.write(b"".join(manager.filter(data)))

        threading.Thread(target=to_board, daemon=True).start()
        with contextlib.suppress(OSError, serial.SerialException):
            while not stop.is_set():
                data = wired.link.read(4096)
                if data:
                    connection.sendall(b"".join(manager.escape(data)))
        connection.close()

    serving = threading.Thread(target=serve, daemon=True)
    serving.start()
    yield url, board
    stop.set()
    serving.join(timeout=2)
    server.close()
    wired.link.close()


def test_an_rfc2217_port_has_modem_lines(dtr_board: tuple[str, FakeAvr]) -> None:
    url, _ = dtr_board
    with open_port(url, timeout=0.5) as link:
        assert has_modem_lines(link)


def test_auto_reset_pulses_dtr_and_nobody_is_asked_to_press(
    dtr_board: tuple[str, FakeAvr],
) -> None:
    url, board = dtr_board
    told: list[str] = []
    image = FirmwareImage(bytes(range(256)) * 4, 0, "atmega328p")
    report = AvrBoard(url, reset="auto", notice=told.append).flash(image)
    assert told == []
    assert board.resets >= 1
    assert board.flash[:1024] == image.data and report.bytes_verified == 1024
