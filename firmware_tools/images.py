"""Firmware images: load an Intel HEX or raw .bin file and refuse a bad one before any board.

A :class:`FirmwareImage` is one contiguous block of bytes at a start address (gaps inside a
HEX file are filled with 0xFF, the erased state of flash). :data:`CHIPS` says how large each
chip's flash is and how much of its top the bootloader keeps, so an image that would not fit,
or would land on the bootloader, is refused with a one-line reason.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from firmware_tools.base import MAX_FIRMWARE_BYTES, BoardError, Reason
from firmware_tools.messages import Message

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
            Message("unknown-chip", chip=name, known=known), reason=Reason.BAD_IMAGE
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
    or inside its bootloader area, and a .bin without an address. Where the data would go is
    checked before any image buffer is built: a .bin's span from its size on disk, a HEX
    file's from each record as it is read (and the HEX text's size first), so a file that
    names a far address is refused at once instead of filling the gap up to it.

    :raise BoardError: (BAD_IMAGE) with a one-line reason and what to do, its code naming
        the rule: the address rule is ``bin-needs-address`` (a raw binary without
        ``address``) and ``hex-has-address`` (an Intel HEX file, which carries its own, with
        one); the file's size and span ``hex-too-large``, ``image-beyond-flash``,
        ``image-in-bootloader``; its contents ``hex-broken`` (``detail``: the line and what
        is wrong with it), ``hex-not-text``, ``image-empty``, ``image-eeprom``,
        ``image-unreadable``, ``bin-negative-address``.
    """
    target = chip_for(chip)
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
        hex_file = suffix in HEX_SUFFIXES or (suffix != ".bin" and _starts_like_hex(path))
    except OSError as exc:
        raise _refuse(path, "image-unreadable", why=exc.strerror or str(exc)) from None
    if suffix == ".eep":
        raise _refuse(path, "image-eeprom")
    if hex_file:
        if address is not None:
            raise _refuse(path, "hex-has-address")
        limit = _hex_text_limit(target)
        if size > limit:
            raise _refuse(path, "hex-too-large", size=size, limit=limit, chip=target.name)
        start, data = _parse_hex(path, _read(path), target)
    else:
        if address is None:
            raise _refuse(path, "bin-needs-address")
        if address < 0:
            raise _refuse(path, "bin-negative-address", address=address)
        if size:
            _check_span(path, target, address, address + size)
        start, data = address, _read(path)
    if not data:
        raise _refuse(path, "image-empty")
    _check_span(path, target, start, start + len(data))
    return FirmwareImage(bytes(data), start, target.name, str(path))


# A HEX record spells 16 bytes in 44 characters (":", length, address, type, the data,
# checksum, CRLF): 2.75 per byte. Four per byte of flash leaves room for shorter records and
# address records; a larger file cannot be a program for the chip, and is refused unread.
_HEX_CHARS_PER_BYTE = 4
_HEX_SLACK = 64 * 1024


def _hex_text_limit(target: Chip) -> int:
    return _HEX_CHARS_PER_BYTE * _flash_room(target) + _HEX_SLACK


def _starts_like_hex(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4096).lstrip()[:1] == b":"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _refuse(path, "image-unreadable", why=exc.strerror or str(exc)) from None


def _flash_room(target: Chip) -> int:
    """Bytes of flash an image may reach: the chip's, never more than any firmware holds."""
    return min(target.flash_size, MAX_FIRMWARE_BYTES)


def _check_span(path: Path, target: Chip, start: int, end: int) -> None:
    """Refuse data at ``start``..``end`` (exclusive) beyond the flash or in the bootloader."""
    _check_in_flash(path, target, end)
    limit = target.max_app_size()
    if end > limit:
        raise _refuse(
            path,
            "image-in-bootloader",
            start=f"0x{max(start, limit):X}",
            end=f"0x{end - 1:X}",
            limit=f"0x{limit:X}",
        )


def _check_in_flash(path: Path, target: Chip, end: int) -> None:
    if end > _flash_room(target):
        raise _refuse(
            path,
            "image-beyond-flash",
            end=f"0x{end - 1:X}",
            flash_size=target.flash_size,
            chip=target.name,
        )


# Intel HEX record types: data, end of file, extended segment address, start segment address,
# extended linear address, start linear address.
_DATA, _END, _SEGMENT, _START_SEGMENT, _LINEAR, _START_LINEAR = range(6)
_ADDRESS_LENGTHS = {_END: 0, _SEGMENT: 2, _START_SEGMENT: 4, _LINEAR: 2, _START_LINEAR: 4}
_WRITTEN = b"\x01" * 255  # marks for the bytes of the longest record


def _parse_hex(path: Path, raw: bytes, target: Chip) -> tuple[int, bytes]:
    """The start address and bytes of an Intel HEX file, gaps filled with 0xFF.

    Each data record's span is checked against the chip's flash as it is read, so no buffer
    larger than the flash is ever made: records land in a buffer of the flash's size and a map
    of the bytes written (for overlaps), and the image is the part between the lowest and the
    highest address written. The bootloader area is the caller's to check. (A loop written
    for speed: a 4 MB image is 262,000 records.)
    """
    if not raw.isascii():
        raise _refuse(path, "hex-not-text")
    room = _flash_room(target)
    flash = bytearray([ERASED]) * room
    written = bytearray(room)
    base, start, end = 0, room, 0
    for number, line in enumerate(raw.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        record = _hex_record(path, number, line)
        kind, size = record[3], record[0]
        if kind == _DATA:
            if not size:
                continue
            at = base + (record[1] << 8 | record[2])
            stop = at + size
            if stop > room:
                _check_in_flash(path, target, stop)
            if written.find(1, at, stop) != -1:
                where = written.index(1, at, stop)
                raise _broken(path, "hex-line-overlaps", line=number, address=f"0x{where:X}")
            flash[at:stop] = record[4:-1]
            written[at:stop] = _WRITTEN[:size]
            if at < start:
                start = at
            if stop > end:
                end = stop
        elif kind == _END:
            break
        elif kind == _SEGMENT:
            base = (record[4] << 8 | record[5]) * 16
        elif kind == _LINEAR:
            base = (record[4] << 8 | record[5]) << 16
    if end == 0:
        return 0, b""
    return start, bytes(flash[start:end])


def _hex_record(path: Path, number: int, line: bytes) -> bytes:
    """The bytes of one HEX line (length, address, type, data, checksum), all checked."""
    if line[:1] != b":":
        raise _broken(path, "hex-line-no-colon", line=number)
    if len(line) % 2 == 0:
        raise _broken(path, "hex-line-length", line=number)
    try:
        record = binascii.unhexlify(line[1:])
    except binascii.Error:
        raise _broken(path, "hex-line-not-hex", line=number) from None
    if len(record) < 5 or len(record) != 5 + record[0]:
        raise _broken(path, "hex-line-length", line=number)
    if sum(record) & 0xFF:
        raise _broken(path, "hex-line-checksum", line=number)
    kind = record[3]
    if kind != _DATA:
        if kind > _START_LINEAR:
            raise _broken(path, "hex-line-record-type", line=number, kind=f"{kind:02X}")
        if record[0] != _ADDRESS_LENGTHS[kind]:
            raise _broken(path, "hex-line-record-length", line=number, kind=f"{kind:02X}")
    return record


def _broken(path: Path, code: str, **params: object) -> BoardError:
    """The refusal of a broken HEX file; ``detail`` is what is wrong with which line."""
    return _refuse(path, "hex-broken", detail=Message(code, **params))


def _refuse(path: Path, code: str, **params: object) -> BoardError:
    """The BAD_IMAGE refusal ``code`` of the file ``path`` (parameter ``file``, its name)."""
    return BoardError(Message(code, file=path.name, **params), reason=Reason.BAD_IMAGE)
