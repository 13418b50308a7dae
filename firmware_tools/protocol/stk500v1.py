"""STK500v1 as spoken by the Arduino bootloaders (optiboot, ATmegaBOOT): pure bytes, no I/O.

Every command ends with CRC_EOP (a space); a bootloader that understood it answers INSYNC,
the payload, then OK. Addresses on the wire are in 16-bit words, lengths in bytes, big endian.
"""

from __future__ import annotations

from enum import Enum

from firmware_tools.messages import Message

__all__ = [
    "CRC_EOP",
    "INSYNC",
    "MAX_READ",
    "OK",
    "Noise",
    "StkReplyError",
    "classify_noise",
    "enter_progmode",
    "get_parameter",
    "get_sync",
    "leave_progmode",
    "load_address",
    "parse_reply",
    "prog_page",
    "read_page",
    "read_sign",
    "reply_length",
]

CRC_EOP = 0x20
INSYNC = 0x14
OK = 0x10
NOSYNC = 0x15

GET_SYNC = 0x30
GET_PARAMETER = 0x41
ENTER_PROGMODE = 0x50
LEAVE_PROGMODE = 0x51
LOAD_ADDRESS = 0x55
PROG_PAGE = 0x64
READ_PAGE = 0x74
READ_SIGN = 0x75

PARAM_SW_MAJOR = 0x81
PARAM_SW_MINOR = 0x82

FLASH = ord("F")
# optiboot 4.4 keeps the length in one byte (0 means 256): no read may be longer.
MAX_READ = 256


class StkReplyError(ValueError):
    """The bytes back are not the INSYNC ... OK frame the command expects (``args[0]``: a
    :class:`~firmware_tools.messages.Message` saying how)."""


def get_sync() -> bytes:
    return bytes((GET_SYNC, CRC_EOP))


def get_parameter(parameter: int) -> bytes:
    return bytes((GET_PARAMETER, parameter, CRC_EOP))


def enter_progmode() -> bytes:
    return bytes((ENTER_PROGMODE, CRC_EOP))


def leave_progmode() -> bytes:
    return bytes((LEAVE_PROGMODE, CRC_EOP))


def read_sign() -> bytes:
    return bytes((READ_SIGN, CRC_EOP))


def load_address(byte_address: int) -> bytes:
    """Point the bootloader at ``byte_address`` (even; sent as a little-endian word address)."""
    if byte_address % 2 or not 0 <= byte_address < 0x20000:
        raise ValueError(f"flash address 0x{byte_address:X} is not an even 17-bit address")
    word = byte_address // 2
    return bytes((LOAD_ADDRESS, word & 0xFF, word >> 8 & 0xFF, CRC_EOP))


def prog_page(data: bytes) -> bytes:
    """Write ``data`` (one flash page) at the loaded address."""
    if not 0 < len(data) <= MAX_READ:
        raise ValueError(f"a page write carries 1-{MAX_READ} bytes, not {len(data)}")
    return bytes((PROG_PAGE, len(data) >> 8, len(data) & 0xFF, FLASH)) + data + bytes((CRC_EOP,))


def read_page(length: int) -> bytes:
    """Read ``length`` flash bytes from the loaded address."""
    if not 0 < length <= MAX_READ:
        raise ValueError(f"a read asks for 1-{MAX_READ} bytes, not {length}")
    return bytes((READ_PAGE, length >> 8, length & 0xFF, FLASH, CRC_EOP))


def reply_length(payload: int = 0) -> int:
    """Bytes in the reply to a command whose answer carries ``payload`` bytes."""
    return payload + 2


def parse_reply(reply: bytes, payload: int = 0) -> bytes:
    """Return the payload of an ``INSYNC <payload> OK`` reply.

    :raise StkReplyError: when the frame is short, out of sync or not closed by OK.
    """
    if len(reply) < reply_length(payload):
        raise StkReplyError(Message("stk-short", got=len(reply), wanted=reply_length(payload)))
    if reply[0] != INSYNC:
        first = "NOSYNC" if reply[0] == NOSYNC else f"0x{reply[0]:02X}"
        raise StkReplyError(Message("stk-not-insync", first=first))
    if reply[payload + 1] != OK:
        raise StkReplyError(Message("stk-not-ok", last=f"0x{reply[payload + 1]:02X}"))
    return bytes(reply[1 : payload + 1])


class Noise(str, Enum):
    """What unexpected bytes from a port most likely are."""

    SILENCE = "silence"
    TEXT = "text"  # a running program printing: the reset did not reach the bootloader
    GARBAGE = "garbage"  # unreadable bytes: usually the wrong baud rate


def classify_noise(data: bytes) -> Noise:
    """Guess what ``data`` (bytes that were not a bootloader reply) comes from."""
    if not data:
        return Noise.SILENCE
    readable = sum(1 for b in data if 32 <= b < 127 or b in (9, 10, 13))
    # A sketch's output is text; line noise at the wrong speed is mostly not.
    return Noise.TEXT if readable >= 0.9 * len(data) and len(data) >= 2 else Noise.GARBAGE
