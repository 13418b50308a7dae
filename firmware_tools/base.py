"""The contract every board driver keeps: how it reports progress, results and failures.

The operations layer (flash, verify, check, batch) and the CLI speak only these types, so a
new board family is a new driver, not a change to the operations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from firmware_tools.messages import Message

if TYPE_CHECKING:  # only for annotations: images and the MicroPython driver import this module
    from firmware_tools.drivers.micropython import BoardFile
    from firmware_tools.images import FirmwareImage

__all__ = [
    "MAX_FIRMWARE_BYTES",
    "WRITE_PHASES",
    "BoardError",
    "Firmware",
    "FlashReport",
    "Notice",
    "Outcome",
    "ProgressCallback",
    "Reason",
    "StepResult",
]


class Outcome(str, Enum):
    """What one step of a check or flash came to, as the trainer reads it; best first."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    WARN = "warn"
    SKIPPED = "skipped"
    FAIL = "fail"


class Reason(str, Enum):
    """Why a board operation failed; each has one plain-language explanation in the driver."""

    NO_RESPONSE = "no-response"  # not a byte back: wrong port, no bootloader, cable
    SKETCH_RUNNING = "sketch-running"  # bytes that look like a running program: reset missed
    WRONG_BAUD = "wrong-baud"  # bytes, but not the protocol at this speed
    WRONG_CHIP = "wrong-chip"  # signature or chip id differs from the image's target
    DISCONNECTED = "disconnected"  # board gone mid-operation
    VERIFY_MISMATCH = "verify-mismatch"  # read-back differs from what was written
    BAD_IMAGE = "bad-image"  # firmware file refused before any board was touched
    TIMEOUT = "timeout"  # the per-board time limit ran out
    PROTOCOL = "protocol"  # the board answered, but not as the protocol says
    WRONG_FIRMWARE = "wrong-firmware"  # health check: identity or version not the expected one
    PORT = "port"  # the port could not be opened
    BUSY = "busy"  # another job of this program is using the port right now
    CANCELLED = "cancelled"  # the trainer (or the app) stopped the batch
    SELFTEST = "selftest"  # the firmware runs, but a part of the kit failed its self-test


class BoardError(Exception):
    """A board operation failed in a way the trainer can act on.

    ``message`` (and ``str(error)``) is one line that says what happened and what to do: a
    :class:`~firmware_tools.messages.Message` of this library, whose ``code`` and ``params``
    let an application say it in its own words and language, or plain text from a driver
    outside it (``code`` "" then). ``needs_reflash`` is true when the board may hold a
    partial image and must be flashed again.
    """

    def __init__(self, message: str, *, reason: Reason, needs_reflash: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.needs_reflash = needs_reflash

    @property
    def code(self) -> str:
        """The message's code ("port-not-allowed"), "" for plain text."""
        return self.message.code if isinstance(self.message, Message) else ""

    @property
    def params(self) -> dict[str, object]:
        """The values the message is made of (empty for plain text)."""
        return dict(self.message.params) if isinstance(self.message, Message) else {}


#: The most a firmware may hold, all files together: the largest flash of a workshop board
#: (ESP32-S3 modules with 16 MB). More cannot go on any board, so an upload, an archive or a
#: HEX address beyond it is refused before it is read further.
MAX_FIRMWARE_BYTES = 16 * 1024 * 1024

# (phase, done, total): phase is "sync", "write", "verify", "copy", ...; done/total in bytes.
ProgressCallback = Callable[[str, int, int], None]
#: Phases in which a driver changes the board: it reports one (with ``total`` > 0) before its
#: first write, so a failure or a timeout while it is the last phase reported leaves the board
#: marked ``needs_reflash``.
WRITE_PHASES = frozenset({"write", "copy"})
# A trainer-facing message ("Press the reset button on ... now"), a Message of this library.
Notice = Callable[[str], None]


@dataclass
class StepResult:
    """One line of a health check or flash report: ``name`` pass/warn/fail and why.

    ``name`` is the step's identifier ("bootloader", "selftest:motors"; see
    :func:`~firmware_tools.messages.step_name` for how it is said); ``detail`` a Message of
    this library, or text the board itself reported (a self-test part's detail).
    """

    name: str
    outcome: Outcome
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome.value, "detail": self.detail}


@dataclass
class FlashReport:
    """What a driver's flash did to one board."""

    port: str
    family: str
    bytes_written: int
    bytes_verified: int
    skipped_unchanged: bool
    duration_s: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "family": self.family,
            "bytes_written": self.bytes_written,
            "bytes_verified": self.bytes_verified,
            "skipped_unchanged": self.skipped_unchanged,
            "duration_s": round(self.duration_s, 3),
            "details": self.details,
        }


@dataclass(frozen=True)
class Firmware:
    """A firmware ready to flash onto boards of ``family``: an image, or files to copy.

    Which of the two a family takes is its driver's business (AVR and ESP: ``image``;
    MicroPython: ``files``). ``source`` names it for the trainer (the file or folder given).
    """

    family: str
    source: str
    image: FirmwareImage | None = None
    files: tuple[BoardFile, ...] = ()

    @property
    def size(self) -> int:
        """Bytes to put on a board."""
        if self.image is not None:
            return len(self.image.data)
        return sum(len(f.data) for f in self.files)
