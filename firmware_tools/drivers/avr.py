"""Arduino-style AVR boards (Uno, Nano) through their STK500v1 bootloader over a serial port.

Both bootloaders found on workshop boards are handled: optiboot (115200 baud, 512 B) and the
old ATmegaBOOT of early Nanos and clones (57600 baud, 2 KB). When no baud rate is given both
are tried, each after its own reset. Every failure is a :class:`BoardError` whose message says
what the trainer sees and what to do.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import serial

from firmware_tools.base import BoardError, Firmware, FlashReport, ProgressCallback, Reason
from firmware_tools.drivers.base import DriverOptions, Identification, ImageDriver, image_of
from firmware_tools.images import CHIPS, HEX_SUFFIXES, Chip, FirmwareImage, chip_for
from firmware_tools.messages import Message, joined
from firmware_tools.protocol import stk500v1 as stk
from firmware_tools.transport import ResetStrategy, choose_reset, open_port

__all__ = ["BAUD_RATES", "AvrBoard", "AvrDriver", "chip_name"]

log = logging.getLogger(__name__)
T = TypeVar("T")
Heard = dict[int, bytearray]  # bytes that were not a bootloader's answer, by baud rate

#: optiboot first (Uno, current Nano), then the old ATmegaBOOT.
BAUD_RATES = (115200, 57600)
# optiboot listens only after ~0.4 s of LED blinking and keeps 2-3 bytes meanwhile: a second
# GET_SYNC sent during the blink would overrun its UART and derail it, so syncs are spaced.
SYNC_INTERVAL = 0.5
# How long to try after one reset: optiboot blinks ~0.4 s, then waits 1 s for a byte.
RESET_WINDOW = 1.3
# Time the chip needs to write one flash page, plus scheduling slack on a busy host.
PAGE_WRITE_S = 0.0045
REPLY_SLACK_S = 0.5
# Speeds a running sketch is asked at when no bootloader answered: kit firmware, then common.
PROBE_BAUD_RATES = (115200, 9600, 57600)
ATMEGABOOT_QUIET_S = 1.5  # its 0.9 s timeout, with room for a busy host or simulator


def chip_name(signature: bytes) -> str:
    """Name of the chip with ``signature``, or its hex digits when the chip is not known."""
    for chip in CHIPS.values():
        if chip.signature and chip.signature == signature:
            return chip.name
    return Message("unknown-signature", signature=signature.hex())


class AvrBoard:
    """One AVR board behind ``port``: reset, sync, read the signature, flash and verify.

    ``baudrate`` None tries 115200 (optiboot) then 57600 (ATmegaBOOT). ``reset`` is "auto"
    (DTR when the port has modem lines, else the trainer presses reset), "dtr", "rts" or
    "none". ``sync_timeout`` bounds the wait for the bootloader, including a person's press.
    ``notice`` receives trainer-facing messages such as "Press the reset button ... now";
    ``name`` is how they name the board (default ``port``). The port is opened by each
    operation and closed at its end.
    """

    family = "avr"

    def __init__(
        self,
        port: str,
        *,
        baudrate: int | None = None,
        reset: str = "auto",
        sync_timeout: float = 6.0,
        chip: str = "atmega328p",
        notice: Callable[[str], None] | None = None,
        name: str = "",
    ) -> None:
        self.port = port
        self.name = name or port  # how messages name the board: device path and hub place
        self.baudrate = baudrate
        self.reset = reset
        self.sync_timeout = sync_timeout
        self.chip: Chip = chip_for(chip)
        self.notice: Callable[[str], None] = notice or log.warning
        self.bootloader = ""  # "optiboot" or "atmegaboot" once synced
        self._serial: serial.SerialBase | None = None
        self._writing = False  # a page write has started: a failure now leaves a partial image

    # -- public operations -------------------------------------------------------------------

    def read_signature(self) -> bytes:
        """Enter the bootloader (reset per strategy), read the 3 signature bytes, leave it.

        :raise BoardError: when the bootloader cannot be reached or does not answer.
        """
        try:
            self._enter_bootloader()
            signature = self._before_writing(lambda: self._command(stk.read_sign(), 3))
            self._leave_bootloader()
            return signature
        finally:
            self.close()

    def flash(
        self, image: FirmwareImage, *, verify: bool = True, progress: ProgressCallback | None = None
    ) -> FlashReport:
        """Write ``image`` and (unless ``verify`` is False) read it back; start the program.

        Pages already holding the image's bytes are not written again; when nothing differs
        the report says ``skipped_unchanged``.

        :raise BoardError: WRONG_CHIP, BAD_IMAGE (does not fit beside the bootloader found),
            VERIFY_MISMATCH, DISCONNECTED (``needs_reflash``), or any sync failure.
        """
        report = progress or _no_progress
        started = time.monotonic()
        target = self._target(image)
        self._page_size = target.page_size
        pages = dict(image.pages(target.page_size))
        try:
            self._enter_bootloader()
            synced = time.monotonic()
            changed, checked = self._before_writing(
                lambda: self._plan(image, target, pages, report)
            )
            planned = time.monotonic()
            written = self._write_pages(changed, pages, report)
            wrote = time.monotonic()
            verified = self._verify_pages(changed, pages, report) if verify else 0
            checked_back = time.monotonic()
            self._leave_bootloader()
            finished = time.monotonic()
        except BoardError as exc:
            # whatever stopped it (a timeout, a cancel, a garbled reply), a write was under way
            exc.needs_reflash = exc.needs_reflash or self._writing
            raise
        finally:
            self._writing = False
            self.close()
        return FlashReport(
            port=self.port,
            family=self.family,
            bytes_written=written,
            bytes_verified=verified + checked if verify or not changed else 0,
            skipped_unchanged=not changed,
            duration_s=finished - started,
            details={
                "bootloader": self.bootloader,
                "baudrate": self._baud,
                "chip": target.name,
                "sync_s": round(synced - started, 3),
                "compare_s": round(planned - synced, 3),
                "write_s": round(wrote - planned, 3),
                "verify_s": round(checked_back - wrote, 3),
                "program_s": round(finished - synced, 3),
            },
        )

    def verify(self, image: FirmwareImage, *, progress: ProgressCallback | None = None) -> int:
        """Read the board's flash back and compare it with ``image``; write nothing.

        Returns the bytes compared.

        :raise BoardError: VERIFY_MISMATCH (``needs_reflash``) naming the first address that
            differs, WRONG_CHIP, or any sync failure.
        """
        target = self._target(image)
        self._page_size = target.page_size
        pages = dict(image.pages(target.page_size))
        try:
            self._enter_bootloader()
            self._before_writing(
                lambda: self._check_signature(self._command(stk.read_sign(), 3), target)
            )
            checked = self._verify_pages(sorted(pages), pages, progress or _no_progress)
            self._leave_bootloader()
            return checked
        finally:
            self.close()

    def close(self) -> None:
        """Close the port; safe to call more than once."""
        if self._serial is not None:
            with contextlib.suppress(serial.SerialException, OSError):  # gone with the board
                self._serial.close()
            self._serial = None

    # -- flashing ----------------------------------------------------------------------------

    def _before_writing(self, step: Callable[[], T]) -> T:
        """Run ``step``; if the bootloader restarted under it, sync again and run it once more.

        A trainer told to press reset may press it after the bootloader has already answered
        (a board that was still in its bootloader): nothing is written yet, so that is safe.
        """
        try:
            return step()
        except BoardError as exc:
            if self._writing or exc.reason not in (Reason.NO_RESPONSE, Reason.PROTOCOL):
                raise
            self._port().reset_input_buffer()
            if not self._sync_until(time.monotonic() + RESET_WINDOW, {}):
                raise
            self._command(stk.enter_progmode())
            self._next_read = -1
            return step()

    def _plan(
        self,
        image: FirmwareImage,
        target: Chip,
        pages: dict[int, bytes],
        progress: ProgressCallback,
    ) -> tuple[list[int], int]:
        """Check the chip, then find the pages to write; return them and the bytes confirmed.

        Measured on the line-rate fake (benchmarks/flash.py): reading a full Uno image back
        takes 2.9 s and writing it 4.2 s, so reading all of flash first would make every real
        change 40% slower. One page read at each end of the image (about 25 ms) catches
        almost every change (vectors at the start, constants and .data at the end), so the
        full read is done only when both ends already match; it then doubles as the verify of
        the pages it finds unchanged, and only the pages that differ are written.
        """
        self._check_signature(self._command(stk.read_sign(), 3), target)
        limit = target.max_app_size(self.bootloader)
        if image.end > limit:
            raise BoardError(
                Message(
                    "image-beyond-bootloader",
                    image=_image_name(image),
                    end=f"0x{image.end:X}",
                    bootloader=self.bootloader,
                    name=self.name,
                    limit=limit,
                ),
                reason=Reason.BAD_IMAGE,
            )
        addresses = sorted(pages)
        ends = [addresses[:1], addresses[-1:]]
        if not all(self._read_equal(group, pages) for group in ends):
            return addresses, 0
        total = len(addresses) * target.page_size
        current = self._read_pages(addresses, progress, "compare", total)
        changed = [a for a in addresses if current[a] != pages[a]]
        return changed, total - len(changed) * target.page_size

    def _write_pages(
        self, changed: list[int], pages: dict[int, bytes], progress: ProgressCallback
    ) -> int:
        total = len(changed) * self._page_size
        progress("write", 0, total)
        for i, address in enumerate(changed, 1):
            self._writing = True
            self._write_page(address, pages[address])
            progress("write", i * self._page_size, total)
        return total

    def _verify_pages(
        self, changed: list[int], pages: dict[int, bytes], progress: ProgressCallback
    ) -> int:
        total = len(changed) * self._page_size
        back = self._read_pages(changed, progress, "verify", total)
        for address in changed:
            if back[address] != pages[address]:
                offset = _first_difference(back[address], pages[address])
                raise BoardError(
                    Message(
                        "avr-verify-mismatch", address=f"0x{address + offset:04X}", name=self.name
                    ),
                    reason=Reason.VERIFY_MISMATCH,
                    needs_reflash=True,
                )
        return total

    def _write_page(self, address: int, data: bytes) -> None:
        self._next_read = -1
        # LOAD_ADDRESS and PROG_PAGE go out together: the bootloader reads both back to back.
        command = stk.load_address(address) + stk.prog_page(data)
        reply = self._exchange(command, 2 * stk.reply_length(), extra_s=PAGE_WRITE_S)
        try:
            stk.parse_reply(reply[:2])
            stk.parse_reply(reply[2:])
        except stk.StkReplyError as exc:
            raise self._protocol_error(
                exc, Message("doing-write-page", address=f"0x{address:04X}")
            ) from None

    def _read_pages(
        self, addresses: Iterable[int], progress: ProgressCallback, phase: str, total: int
    ) -> dict[int, bytes]:
        """Read the given pages back, in runs of up to 256 bytes; return them by address."""
        found: dict[int, bytes] = {}
        done = 0
        for start, count, size in _runs(sorted(addresses), self._page_size):
            data = self._read_block(start, count * size)
            for i in range(count):
                found[start + i * size] = data[i * size : (i + 1) * size]
            done += count * size
            progress(phase, done, total)
        return found

    def _read_equal(self, addresses: list[int], pages: dict[int, bytes]) -> bool:
        found = self._read_pages(addresses, _no_progress, "compare", 0)
        return all(found[a] == pages[a] for a in addresses)

    def _read_block(self, address: int, length: int) -> bytes:
        # optiboot's READ_PAGE leaves its address after the bytes read, so a read that goes on
        # where the last one ended needs no LOAD_ADDRESS (6 bytes and a turnaround per block);
        # ATmegaBOOT needs it every time.
        chained = self.bootloader == "optiboot" and address == self._next_read
        load = b"" if chained else stk.load_address(address)
        reply = self._exchange(
            load + stk.read_page(length), (0 if chained else 2) + stk.reply_length(length)
        )
        self._next_read = -1
        try:
            if not chained:
                stk.parse_reply(reply[:2])
            data = stk.parse_reply(reply[len(reply) - stk.reply_length(length) :], length)
        except stk.StkReplyError as exc:
            raise self._protocol_error(
                exc, Message("doing-read", address=f"0x{address:04X}")
            ) from None
        self._next_read = address + length
        return data

    def _target(self, image: FirmwareImage) -> Chip:
        if image.chip != self.chip.name:
            raise BoardError(
                Message(
                    "image-for-other-chip",
                    image=_image_name(image),
                    chip=image.chip,
                    name=self.name,
                    board_chip=self.chip.name,
                ),
                reason=Reason.BAD_IMAGE,
            )
        return self.chip

    def _leave_bootloader(self) -> None:
        """Leave programming mode; return once the sketch is running.

        optiboot resets into the sketch 16 ms after LEAVE_PROGMODE. ATmegaBOOT stays until its
        receive timeout (about 0.9 s of silence); bytes sent meanwhile are read as commands
        ("d" is a page write whose "length" of text overflows its buffer), so the port is kept
        quiet until the sketch has started.
        """
        self._command(stk.leave_progmode())
        if self.bootloader == "atmegaboot":
            time.sleep(ATMEGABOOT_QUIET_S)

    # -- entering the bootloader -------------------------------------------------------------

    def _enter_bootloader(self) -> None:
        """Reset the board and sync with its bootloader at the first baud rate that answers."""
        bauds = (self.baudrate,) if self.baudrate else BAUD_RATES
        ser = self._open(bauds[0])
        strategy = choose_reset(self.reset, ser, self.name, self.notice)
        heard: Heard = {}
        deadline = time.monotonic() + self.sync_timeout
        if strategy.manual:
            synced = self._sync_by_hand(strategy, bauds, deadline, heard)
        else:
            synced = self._sync_by_line(strategy, bauds, deadline, heard)
        if not synced:
            raise self._sync_failure(heard, bauds, strategy)
        self._command(stk.enter_progmode())
        major = self._command(stk.get_parameter(stk.PARAM_SW_MAJOR), 1)[0]
        # optiboot reports its own version (4 and up); ATmegaBOOT reports 1.
        self.bootloader = "optiboot" if major >= 4 else "atmegaboot"

    def _sync_by_line(
        self, strategy: ResetStrategy, bauds: tuple[int, ...], deadline: float, heard: Heard
    ) -> bool:
        while time.monotonic() < deadline:
            for baud in bauds:
                self._set_baud(baud)
                strategy.reset(self._port())
                until = min(deadline, time.monotonic() + RESET_WINDOW)
                if self._sync_until(until, heard):
                    return True
                if time.monotonic() >= deadline:
                    return False
        return False

    def _sync_by_hand(
        self, strategy: ResetStrategy, bauds: tuple[int, ...], deadline: float, heard: Heard
    ) -> bool:
        # Bytes at the wrong speed derail a bootloader, so each rate gets its own press.
        strategy.reset(self._port())
        for i, baud in enumerate(bauds):
            if i:
                self.notice(Message("older-nano", tried=bauds[i - 1], name=self.name, baud=baud))
            self._set_baud(baud)
            share = (deadline - time.monotonic()) / (len(bauds) - i)
            if self._sync_until(time.monotonic() + share, heard):
                return True
        return False

    def _sync_until(self, until: float, heard: Heard) -> bool:
        """Send GET_SYNC every SYNC_INTERVAL until the bootloader answers twice in a row.

        Bytes that are not an answer are kept in ``heard``, by baud rate, for the diagnosis.
        """
        ser = self._port()
        noise = heard.setdefault(self._baud or 0, bytearray())
        while time.monotonic() < until:
            sent = time.monotonic()
            self._write(stk.get_sync())
            got = bytearray()
            while time.monotonic() < min(until, sent + SYNC_INTERVAL):
                ser.timeout = max(0.001, min(until, sent + SYNC_INTERVAL) - time.monotonic())
                got += self._read(max(1, ser.in_waiting))
                if got.endswith(bytes((stk.INSYNC, stk.OK))):
                    break
            if got.endswith(bytes((stk.INSYNC, stk.OK))):
                noise += got[:-2]
                # A first answer may come from bytes kept through the reset; confirm cleanly.
                time.sleep(0.02)
                ser.reset_input_buffer()
                if self._exchange(stk.get_sync(), 2, quiet=True) == bytes((stk.INSYNC, stk.OK)):
                    return True
            else:
                noise += got
        return False

    def _sync_failure(
        self, heard: Heard, bauds: tuple[int, ...], strategy: ResetStrategy
    ) -> BoardError:
        if not any(heard.values()):
            heard = self._probe_program()
        kinds = {baud: stk.classify_noise(bytes(data)) for baud, data in heard.items()}
        speeds = joined([str(b) for b in bauds], "either")
        texts = [baud for baud, kind in kinds.items() if kind is stk.Noise.TEXT]
        if texts:
            code = "sketch-running-manual" if strategy.manual else "sketch-running"
            sample = _sample(heard[texts[0]])
            return BoardError(
                Message(code, name=self.name, sample=sample, baud=texts[0]),
                reason=Reason.SKETCH_RUNNING,
            )
        if stk.Noise.GARBAGE in kinds.values():
            code = "wrong-baud-given" if self.baudrate else "wrong-baud"
            return BoardError(
                Message(code, name=self.name, speeds=speeds), reason=Reason.WRONG_BAUD
            )
        code = "avr-no-answer" + ("-manual" if strategy.manual else "")
        code += "-baud" if self.baudrate else ""
        return BoardError(Message(code, name=self.name, speeds=speeds), reason=Reason.NO_RESPONSE)

    def _probe_program(self) -> Heard:
        """Send one empty line at the usual sketch speeds; a line-based program answers it.

        The sync bytes end no line, so a program such as the kit firmware stays silent through
        them; an empty line makes it reply (kitbot: "unknown command") at its own speed.
        """
        ser = self._port()
        heard: Heard = {}
        for baud in PROBE_BAUD_RATES:
            try:
                ser.baudrate = baud
                ser.reset_input_buffer()
                ser.write(b"\n")
                ser.timeout = 0.3
                first = ser.read(1)
                ser.timeout = 0.05
                heard[baud] = bytearray(first + ser.read(256) if first else b"")
            except (serial.SerialException, OSError):
                break
            if stk.classify_noise(bytes(heard[baud])) is stk.Noise.TEXT:
                break
        return heard

    def _check_signature(self, signature: bytes, target: Chip) -> None:
        if signature != target.signature:
            raise BoardError(
                Message(
                    "wrong-signature",
                    name=self.name,
                    chip=chip_name(signature),
                    signature=signature.hex(),
                    target=target.name,
                ),
                reason=Reason.WRONG_CHIP,
            )

    # -- port I/O ----------------------------------------------------------------------------

    def _open(self, baud: int) -> serial.SerialBase:
        self.close()
        self._serial = open_port(self.port, baudrate=baud, timeout=1.0, name=self.name)
        self._baud = baud
        self._next_read = -1
        return self._serial

    def _port(self) -> serial.SerialBase:
        if self._serial is None:
            raise RuntimeError("port not open")
        return self._serial

    def _set_baud(self, baud: int) -> None:
        try:
            self._port().baudrate = baud
        except (serial.SerialException, OSError, ValueError) as exc:
            raise self._gone(exc) from None
        self._baud = baud

    def _command(self, command: bytes, payload: int = 0) -> bytes:
        reply = self._exchange(command, stk.reply_length(payload))
        try:
            return stk.parse_reply(reply, payload)
        except stk.StkReplyError as exc:
            raise self._protocol_error(
                exc, Message("doing-command", command=f"0x{command[0]:02X}")
            ) from None

    def _exchange(
        self, command: bytes, size: int, *, extra_s: float = 0.0, quiet: bool = False
    ) -> bytes:
        """Send ``command``; return the ``size`` reply bytes (fewer only when ``quiet``).

        The timeout is the line time of both directions twice over, plus slack.
        """
        ser = self._port()
        line_s = 10 / (self._baud or 115200)
        timeout = round(2 * (len(command) + size) * line_s + extra_s + REPLY_SLACK_S, 2)
        if ser.timeout != timeout:  # pyserial reconfigures the port on every change
            ser.timeout = timeout
        self._write(command)
        reply = self._read(size)
        if len(reply) < size and not quiet:
            raise self._gone(None, silent=True)
        return reply

    def _write(self, data: bytes) -> None:
        try:
            self._port().write(data)
        except (serial.SerialException, OSError) as exc:
            raise self._gone(exc) from None

    def _read(self, size: int) -> bytes:
        try:
            return self._port().read(size)
        except (serial.SerialException, OSError) as exc:
            raise self._gone(exc) from None

    def _gone(self, exc: Exception | None, *, silent: bool = False) -> BoardError:
        if self._writing:
            code = "avr-silent-writing" if silent else "avr-gone-writing"
            return BoardError(
                Message(code, name=self.name), reason=Reason.DISCONNECTED, needs_reflash=True
            )
        if silent:
            return BoardError(Message("avr-silent", name=self.name), reason=Reason.NO_RESPONSE)
        return BoardError(
            Message("avr-gone", name=self.name, why=str(exc)), reason=Reason.DISCONNECTED
        )

    def _protocol_error(self, exc: stk.StkReplyError, doing: str) -> BoardError:
        code = "avr-garbled-writing" if self._writing else "avr-garbled"
        return BoardError(
            Message(code, name=self.name, doing=doing, why=exc.args[0]),
            reason=Reason.PROTOCOL,
            needs_reflash=self._writing,
        )

    _baud: int | None = None
    _next_read = -1  # where optiboot's address points after the last read
    _page_size = 128


class AvrDriver(ImageDriver):
    """The AVR family for the operations: an :class:`AvrBoard` per operation."""

    family = "avr"
    description = "Arduino-style AVR boards through their STK500v1 bootloader"
    boards: ClassVar[Mapping[str, str | None]] = {
        "uno": "atmega328p",
        "nano": "atmega328p",
        "mega": "atmega2560",
    }
    firmware_suffixes = frozenset(HEX_SUFFIXES)
    quiet_after_open_s = ATMEGABOOT_QUIET_S
    default_chip = "atmega328p"

    def flash(
        self, firmware: Firmware, *, verify: bool = True, progress: ProgressCallback
    ) -> FlashReport:
        image = image_of(firmware)
        return self._open(image.chip).flash(image, verify=verify, progress=progress)

    def verify(self, firmware: Firmware, *, progress: ProgressCallback) -> str:
        image = image_of(firmware)
        compared = self._open(image.chip).verify(image, progress=progress)
        return Message("avr-flash-matches", count=compared)

    @classmethod
    def bootloader_unreachable(cls, options: DriverOptions, modem: bool) -> str:
        chip = chip_for(options.chip or cls.default_chip)
        if chip.protocol != "stk500v1":
            return Message("bootloader-speaks-other", chip=chip.name, protocol=chip.protocol)
        return super().bootloader_unreachable(options, modem)

    def check_bootloader(self) -> Identification:
        board = self._open(self.options.chip or self.default_chip)
        signature = board.read_signature()
        chip = chip_name(signature)
        return Identification(
            self.family,
            Message(
                "avr-bootloader-answers",
                bootloader=board.bootloader,
                chip=chip,
                signature=signature.hex(),
            ),
            {"bootloader": board.bootloader, "chip": str(chip)},
        )

    def _open(self, chip: str) -> AvrBoard:
        if chip_for(chip).protocol != "stk500v1":
            raise BoardError(
                Message("bootloader-unsupported", chip=chip, protocol=chip_for(chip).protocol),
                reason=Reason.BAD_IMAGE,
            )
        options: dict[str, Any] = {}
        if self.options.sync_timeout is not None:
            options["sync_timeout"] = self.options.sync_timeout
        self.close()
        board = AvrBoard(
            self.port,
            baudrate=self.options.baudrate,
            reset=self.options.reset,
            chip=chip,
            notice=self.options.notice,
            name=self.name,
            **options,
        )
        self.session = board
        return board


def _runs(addresses: list[int], page_size: int) -> Iterable[tuple[int, int, int]]:
    """Group sorted page addresses into (start, page count, page size) runs of <= 256 bytes."""
    per_read = max(1, stk.MAX_READ // page_size)
    i = 0
    while i < len(addresses):
        count = 1
        while (
            count < per_read
            and i + count < len(addresses)
            and addresses[i + count] == addresses[i] + count * page_size
        ):
            count += 1
        yield addresses[i], count, page_size
        i += count


def _first_difference(a: bytes, b: bytes) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 0)


def _sample(data: bytes) -> str:
    lines = bytes(data).decode("ascii", errors="replace").strip().splitlines()
    return repr(lines[0].strip()[:40]) if lines else Message("byte-count", count=len(data))


def _image_name(image: FirmwareImage) -> str:
    return image.source or Message("the-image")


def _no_progress(phase: str, done: int, total: int) -> None:
    return None
