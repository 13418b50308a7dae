"""Find the serial ports boards are plugged into and guess which board family is on each.

The guess comes from the USB VID:PID of the port's USB-serial chip or native USB. A cheap
USB-serial chip (CH340, CP210x, FTDI) sits on many kinds of boards, so those guesses are marked
as unsure; only a VID:PID that belongs to one family is marked sure. Ports given as a network
address (``socket://``, ``rfc2217://``) or a pty cannot tell: their family is "unknown" and
the trainer passes ``--board``.

:func:`check_port_url` is the one rule for what a port may be: a serial device or a plain
network serial address. pyserial opens far more (``spy://...?file=PATH`` writes PATH,
``hwgrep://`` opens whatever port matches), so every port is checked before it is opened.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from firmware_tools.base import BoardError, Reason
from firmware_tools.messages import Message

__all__ = [
    "ACCEPTED_PORTS",
    "UNKNOWN",
    "PortInfo",
    "UsbGuess",
    "check_port_url",
    "describe_port",
    "find_port",
    "guess_family",
    "hub_place",
    "list_board_ports",
    "port_label",
]

UNKNOWN = "unknown"

#: What :func:`check_port_url` accepts, as refusals say it.
ACCEPTED_PORTS = (
    "a serial device (/dev/ttyUSB0, /dev/ttyACM0, /dev/cu.usbserial-..., "
    "/dev/serial/by-id/..., a pty /dev/pts/N, COM3 on Windows) or socket://HOST:PORT or "
    "rfc2217://HOST:PORT with nothing after the port"
)
# Serial devices by name; a pty (/dev/pts/N) is how test boards and serial bridges appear.
# /dev/tty (this process's terminal) and /dev/ttyN (the machine's consoles) are not serial.
_SERIAL_NODE = r"tty(?!\d*$)[^/]+|cu\.[^/]+|pts/\d+"
_DEVICE_PATHS = re.compile(rf"/dev/(?:{_SERIAL_NODE}|serial/by-(?:id|path)/[^/]+)", re.ASCII)
# Where a device name resolves to: the node itself, never another kind of device.
_DEVICE_NODES = re.compile(rf"/dev/(?:{_SERIAL_NODE})", re.ASCII)
_WINDOWS_PORT = re.compile(r"COM[1-9]\d{0,2}", re.ASCII | re.IGNORECASE)
# socket:// and rfc2217:// with a host and a port only: pyserial reads options from a query
# (?logging=debug, ?ign_set_control ...), so nothing may follow the port.
_NETWORK_PORT = re.compile(
    r"(?P<scheme>socket|rfc2217)://"
    r"(?P<host>\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?):(?P<port>\d+)",
    re.ASCII | re.IGNORECASE,
)


def check_port_url(text: str, *, windows: bool | None = None) -> str:
    """Return ``text`` as the port to open, when it is one this tool may open; else refuse.

    Accepted: a serial device path (``/dev/tty*`` but the consoles ``/dev/tty`` and
    ``/dev/ttyN``; ``/dev/cu.*``, ``/dev/pts/N``, ``/dev/serial/by-id/*``,
    ``/dev/serial/by-path/*``) that is a character device when it exists (an unplugged
    board's path is accepted), ``COMn`` on Windows (``windows``: default this machine), and
    ``socket://HOST:PORT`` / ``rfc2217://HOST:PORT`` with nothing after the port. Surrounding
    spaces are dropped and a URL's scheme is written in lower case.

    :raise BoardError: (PORT) code ``port-not-allowed`` (params ``port``, ``accepted``),
        ``port-empty`` (the same, for an empty port), ``port-url-options`` (``port``,
        ``scheme``: a network address with options or a path after the port) or
        ``port-not-a-device`` (``port``, ``accepted``: the path exists but is no serial
        device).
    """
    port = (text or "").strip()
    windows = sys.platform == "win32" if windows is None else windows
    # Device paths, COM names and host names are plain ASCII: a control or a bidirectional
    # override character could make a port read as another on the page.
    printable = port.isascii() and port.isprintable()
    network = _NETWORK_PORT.match(port) if printable else None
    if network is not None and _network_parts_valid(network["host"], network["port"]):
        scheme = network["scheme"].lower()
        if network.end() != len(port):
            raise _port_refused("port-url-options", port=port, scheme=scheme)
        return f"{scheme}://{network['host']}:{network['port']}"
    if printable and windows and _WINDOWS_PORT.fullmatch(port):
        return port.upper()
    if printable and _DEVICE_PATHS.fullmatch(port) and os.path.normpath(port) == port:
        _check_device(port)
        return port
    code = "port-not-allowed" if port else "port-empty"
    raise _port_refused(code, port=port, accepted=ACCEPTED_PORTS)


def _network_parts_valid(host: str, port: str) -> bool:
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
    elif ".." in host:
        return False
    return 1 <= int(port) <= 65535


def _check_device(path: str) -> None:
    """Refuse a device path that exists but is not a serial character device."""
    try:
        found = os.stat(path)  # follows a symlink: /dev/serial/by-id/... -> /dev/ttyUSB0
    except FileNotFoundError:
        return  # not plugged in now: opening it later says so
    except OSError:
        return  # cannot look (permissions): opening it says why
    if not stat.S_ISCHR(found.st_mode) or not _DEVICE_NODES.fullmatch(os.path.realpath(path)):
        raise _port_refused("port-not-a-device", port=path, accepted=ACCEPTED_PORTS)


def _port_refused(code: str, **params: object) -> BoardError:
    return BoardError(Message(code, **params), reason=Reason.PORT)


@dataclass(frozen=True)
class UsbGuess:
    """What a VID:PID says about the board behind it."""

    family: str  # a driver's family (firmware_tools.drivers) or "unknown"
    board: str  # what the trainer would call it
    sure: bool  # False when the same chip is common on boards of other families


# Exact VID:PID first, then whole vendors (pid None). Kept as data so a new kit is a new row.
_EXACT: dict[tuple[int, int], UsbGuess] = {
    (0x1A86, 0x7523): UsbGuess(
        "avr", "CH340 USB-serial (Nano clone; also some ESP32 boards)", False
    ),
    (0x1A86, 0x7522): UsbGuess("avr", "CH340K USB-serial (Nano clone; also some ESP32)", False),
    (0x1A86, 0x55D4): UsbGuess("esp", "CH9102 USB-serial (ESP32 dev board)", False),
    (0x10C4, 0xEA60): UsbGuess("esp", "CP210x USB-serial (ESP32/ESP8266 dev board)", False),
    (0x0403, 0x6001): UsbGuess("avr", "FTDI FT232R USB-serial (Nano, Duemilanove)", False),
    (0x0403, 0x6015): UsbGuess("avr", "FTDI FT231X USB-serial (Arduino-style board)", False),
    (0x2341, 0x0070): UsbGuess("esp", "Arduino Nano ESP32", True),
    (0x2341, 0x0043): UsbGuess("avr", "Arduino Uno R3", True),
    (0x2341, 0x0001): UsbGuess("avr", "Arduino Uno", True),
    (0x2341, 0x0243): UsbGuess("avr", "Arduino Uno R3", True),
    (0x2341, 0x0042): UsbGuess("avr", "Arduino Mega 2560 R3", True),
    (0x2341, 0x0010): UsbGuess("avr", "Arduino Mega 2560", True),
    (0x2E8A, 0x0005): UsbGuess("micropython", "Raspberry Pi Pico (MicroPython)", True),
    (0x0D28, 0x0204): UsbGuess("micropython", "BBC micro:bit", True),
    (0xF055, 0x9800): UsbGuess("micropython", "MicroPython pyboard", True),
}
_VENDOR: dict[int, UsbGuess] = {
    0x2341: UsbGuess("avr", "Arduino board", False),
    0x2A03: UsbGuess("avr", "Arduino board (arduino.org)", False),
    0x303A: UsbGuess("esp", "Espressif native USB (ESP32-S2/S3/C3)", True),
}


def guess_family(vid: int | None, pid: int | None) -> UsbGuess:
    """Return the board family a USB VID:PID points to; family "unknown" when nothing fits."""
    if vid is None:
        return UsbGuess(UNKNOWN, "", False)
    if pid is not None and (vid, pid) in _EXACT:
        return _EXACT[(vid, pid)]
    return _VENDOR.get(vid, UsbGuess(UNKNOWN, "", False))


@dataclass(frozen=True)
class PortInfo:
    """One serial port as ``firmware-tools ports`` lists it."""

    device: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    location: str | None  # USB hub path, e.g. "1-1.2:1.0": stable for a hub socket
    manufacturer: str | None
    product: str | None
    family: str
    family_sure: bool
    board: str

    @property
    def hub_place(self) -> str:
        """Where a trainer finds the board: ``"hub socket 1-1.2, serial 7523A1"``, or ``""``."""
        return hub_place(self.location, self.serial_number)

    @property
    def vid_pid(self) -> str:
        """``"1a86:7523"``, or ``""`` for a port that is not USB."""
        if self.vid is None or self.pid is None:
            return ""
        return f"{self.vid:04x}:{self.pid:04x}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "vid_pid": self.vid_pid,
            "serial_number": self.serial_number,
            "location": self.location,
            "manufacturer": self.manufacturer,
            "product": self.product,
            "family": self.family,
            "family_sure": self.family_sure,
            "board": self.board,
        }


def describe_port(info: ListPortInfo) -> PortInfo:
    """Turn pyserial's ListPortInfo into a PortInfo with a family guess."""
    guess = guess_family(info.vid, info.pid)
    return PortInfo(
        device=info.device,
        vid=info.vid,
        pid=info.pid,
        serial_number=info.serial_number,
        location=info.location,
        manufacturer=info.manufacturer,
        product=info.product,
        family=guess.family,
        family_sure=guess.sure,
        board=guess.board,
    )


def list_board_ports(infos: Iterable[ListPortInfo] | None = None) -> list[PortInfo]:
    """List USB serial ports (the ones a board can be on), sorted by USB location then device.

    ``infos`` defaults to pyserial's ``list_ports.comports()``; ports without a USB VID (the
    built-in ``/dev/ttyS*``) are left out because no workshop board shows up that way.
    """
    found = list_ports.comports() if infos is None else infos
    ports = [describe_port(info) for info in found if info.vid is not None]
    return sorted(ports, key=lambda p: (p.location or "", p.device))


def find_port(device: str, ports: Iterable[PortInfo] | None = None) -> PortInfo | None:
    """Return the listed USB port for ``device`` (a path), or None for URLs, ptys and unknowns."""
    candidates = list_board_ports() if ports is None else ports
    # /dev/serial/by-id/... links name the same port as the /dev/ttyUSB0 pyserial lists
    wanted = os.path.realpath(device) if device.startswith("/") else device
    for port in candidates:
        if wanted in (port.device, os.path.realpath(port.device)):
            return port
    return None


def hub_place(location: str | None, serial_number: str | None) -> str:
    """``"hub socket 1-1.2, serial 7523A1"`` from a USB location and serial number (a
    Message), or ``""``."""
    socket = (location or "").split(":")[0]  # ":1.0" names the USB interface, not the socket
    if socket and serial_number:
        return Message("hub-socket-serial", socket=socket, serial=serial_number)
    if socket:
        return Message("hub-socket", socket=socket)
    return Message("hub-serial", serial=serial_number) if serial_number else ""


def port_label(device: str, info: PortInfo | None) -> str:
    """The device path and, when it is a USB port, where it sits on the hub: how results and
    prompts name a board (``"/dev/ttyUSB3 (hub socket 1-1.4, serial A9X3)"``)."""
    place = info.hub_place if info is not None else ""
    return Message("port-at", port=device, place=place) if place else device
