"""Firmware images: load an Intel HEX or raw .bin file and refuse a bad one before any board.

A :class:`FirmwareImage` is one contiguous block of bytes at a start address (gaps inside a
HEX file are filled with 0xFF, the erased state of flash). :data:`CHIPS` says how large each
chip's flash is and how much of its top the bootloader keeps, so an image that would not fit,
or would land on the bootloader, is refused with a one-line reason.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from intelhex import IntelHex, IntelHexError

from firmware_tools.base import BoardError, Reason

__all__ = ["CHIPS", "Chip", "FirmwareImage", "chip_for", "load_image"]

ERASED = 0xFF
HEX_SUFFIXES = {".hex", ".ihx", ".ihex"}


@dataclass(frozen=True)
class Chip:
    """What the tool needs to know about one microcontroller.

    ``boot_sizes`` maps a bootloader name to the bytes it keeps at the top of flash; the first
    entry is the one a plain ``load_image`` checks against (the chip's usual bootloader).
    ``protocol`` is what its usual bootloader speaks ("stk500v1"; "" when esptool writes it).
    """

    name: str
    flash_size: int
    page_size: int
    signature: bytes = b""
    boot_sizes: Mapping[str, int] = field(default_factory=dict)
    protocol: str = ""

    def max_app_size(self, bootloader: str | None = None) -> int:
        """Bytes an application may use with ``bootloader`` (default: the usual one)."""
        if not self.boot_sizes:
            return self.flash_size
        name = bootloader if bootloader is not None else next(iter(self.boot_sizes))
        return self.flash_size - self.boot_sizes[name]


CHIPS: dict[str, Chip] = {
    # optiboot keeps 512 B; the old ATmegaBOOT of early Nanos and clones keeps 2 KB.
    "atmega328p": Chip(
        "atmega328p",
        flash_size=32768,
        page_size=128,
        signature=bytes.fromhex("1e950f"),
        boot_sizes={"optiboot": 512, "atmegaboot": 2048},
        protocol="stk500v1",
    ),
    "atmega168": Chip(
        "atmega168",
        flash_size=16384,
        page_size=128,
        signature=bytes.fromhex("1e9406"),
        boot_sizes={"optiboot": 512, "atmegaboot": 2048},
        protocol="stk500v1",
    ),
    # The Mega 2560's bootloader (8 KB) speaks STK500v2: its images load, the AVR driver
    # refuses to flash it rather than send it STK500v1.
    "atmega2560": Chip(
        "atmega2560",
        flash_size=262144,
        page_size=256,
        signature=bytes.fromhex("1e9801"),
        boot_sizes={"stk500v2": 8192},
        protocol="stk500v2",
    ),
    # ESP images are written by esptool; only the size of the flash is checked here.
    "esp32": Chip("esp32", flash_size=4 * 1024 * 1024, page_size=4096),
    "esp8266": Chip("esp8266", flash_size=4 * 1024 * 1024, page_size=4096),
}


def chip_for(name: str) -> Chip:
    """Return the chip called ``name``.

    :raise BoardError: (BAD_IMAGE) for a chip the tool does not know.
    """
    try:
        return CHIPS[name.lower()]
    except KeyError:
        known = ", ".join(sorted(CHIPS))
        raise BoardError(
            f"unknown chip {name!r}: use one of {known}", reason=Reason.BAD_IMAGE
        ) from None


@dataclass(frozen=True)
class FirmwareImage:
    """One contiguous block of firmware bytes for ``chip``, starting at ``address``."""

    data: bytes
    address: int
    chip: str
    source: str = ""

    @property
    def end(self) -> int:
        """First address after the image."""
        return self.address + len(self.data)

    def pages(self, page_size: int) -> Iterator[tuple[int, bytes]]:
        """Yield ``(address, bytes)`` for every flash page the image touches, padded with 0xFF."""
        first = self.address - self.address % page_size
        for start in range(first, self.end, page_size):
            page = bytearray([ERASED]) * page_size
            lo, hi = max(start, self.address), min(start + page_size, self.end)
            page[lo - start : hi - start] = self.data[lo - self.address : hi - self.address]
            yield start, bytes(page)


def load_image(
    path: str | Path, *, chip: str = "atmega328p", address: int | None = None
) -> FirmwareImage:
    """Load an Intel HEX file (address from the file) or a raw .bin file (at ``address``).

    Refused before any board is touched: a missing or unreadable file, a HEX file with a bad
    checksum, a malformed or overlapping record, an empty image, data beyond the chip's flash
    or inside its bootloader area, and a .bin without an address.

    :raise BoardError: (BAD_IMAGE) with a one-line reason and what to do.
    """
    target = chip_for(chip)
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror or exc})") from None
    if path.suffix.lower() == ".eep":
        raise _refuse(path, "holds EEPROM data, not a program: flash the sketch's .hex")
    if path.suffix.lower() in HEX_SUFFIXES or (path.suffix.lower() != ".bin" and _is_hex(raw)):
        if address is not None:
            raise _refuse(path, "is Intel HEX, which carries its own address: drop --address")
        start, data = _parse_hex(path, raw)
    else:
        if address is None:
            raise _refuse(path, "is a raw binary: give the address to write it at (--address)")
        if address < 0:
            raise _refuse(path, f"cannot be written at a negative address ({address})")
        start, data = address, raw
    if not data:
        raise _refuse(path, "holds no data")
    end = start + len(data)
    if end > target.flash_size:
        raise _refuse(
            path,
            f"has data up to 0x{end - 1:X}, beyond the {target.flash_size} B flash of the "
            f"{target.name}: is it built for this chip?",
        )
    limit = target.max_app_size()
    if end > limit:
        raise _refuse(
            path,
            f"has data at 0x{max(start, limit):X}-0x{end - 1:X}, inside the bootloader area "
            f"(from 0x{limit:X}): use the sketch's .hex, not the one 'with_bootloader'",
        )
    return FirmwareImage(bytes(data), start, target.name, str(path))


def _is_hex(raw: bytes) -> bool:
    return raw.lstrip()[:1] == b":"


def _parse_hex(path: Path, raw: bytes) -> tuple[int, bytes]:
    hexfile = IntelHex()
    try:
        hexfile.loadhex(io.StringIO(raw.decode("ascii")))
    except UnicodeDecodeError:
        raise _refuse(path, "is not a text Intel HEX file") from None
    except IntelHexError as exc:
        # intelhex messages are precise ("Record at line 3 has invalid checksum"); keep them.
        raise _refuse(path, f"is a broken Intel HEX file: {_first_line(exc)}") from None
    segments = hexfile.segments()
    if not segments:
        return 0, b""
    start, end = segments[0][0], segments[-1][1]
    return start, hexfile.tobinstr(start=start, end=end - 1)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


def _refuse(path: Path, why: str) -> BoardError:
    return BoardError(f"firmware file {path.name} {why}", reason=Reason.BAD_IMAGE)
