"""What a trainer does with boards: flash, verify, check; and all of it on many boards at once.

Every operation takes a port and returns a :class:`BoardResult`: plain data with a one-line
reason when something failed, ``to_dict()`` for ``--json`` and the web app. Operations never
raise for a board problem; only a bad firmware file (refused before any board is touched)
raises :class:`BoardError` from :func:`load_firmware`.

Which family a board is comes from ``--board`` (a family or a board name such as "uno"), else
the firmware given, else the port's USB id; each family's work is done by its driver from
:data:`firmware_tools.drivers.DRIVERS`, so nothing here knows one family from another.

Within one process (the command, or the web app for its whole day), :data:`PORTS` keeps:

- one job per port at a time: a second operation on a port that is busy is refused with
  reason BUSY, naming what runs there;
- which boards need a re-flash: a flash (or a timeout, or a cancel) that stopped while
  writing marks the board, by its device path and USB serial number; every later result for
  it carries ``needs_reflash`` until a flash or a verify of it succeeds. The mark lives in
  memory only: a new process starts without marks, and a board moved to another port (or
  replaced by one without a serial number at the same path) is judged afresh by its next
  flash.

:func:`run_batch` runs one job per port in worker threads: bounded concurrency, a time limit
per attempt, and a retry with a fresh reset when a failure may be passing (no answer, a
dropped link, a verify mismatch). One board failing never stops the others. A timeout or a
cancel closes the ports the attempt opened, so a worker blocked in a read ends at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import serial

from firmware_tools.base import (
    WRITE_PHASES,
    BoardError,
    Firmware,
    FlashReport,
    Notice,
    Outcome,
    ProgressCallback,
    Reason,
    StepResult,
)
from firmware_tools.drivers import (
    DRIVERS,
    BoardDriver,
    DriverOptions,
    board_kind,
    driver_for_files,
    families,
)
from firmware_tools.messages import Message, joined, step_name
from firmware_tools.ports import PortInfo, check_port_url, find_port, hub_place, port_label
from firmware_tools.protocol import healthcheck
from firmware_tools.protocol.healthcheck import ExpectedFirmware, Identity
from firmware_tools.transport import (
    RESET_NAMES,
    abort_port,
    has_modem_lines,
    open_port,
    watch_ports,
)

__all__ = [
    "PORTS",
    "RESET_MODES",
    "RETRYABLE",
    "BatchResult",
    "BoardContext",
    "BoardJob",
    "BoardResult",
    "Firmware",
    "PortRegistry",
    "ProgressEvent",
    "check_board",
    "check_job",
    "firmware_by_family",
    "flash_board",
    "flash_job",
    "load_firmware",
    "port_has_modem_lines",
    "resolve_family",
    "run_batch",
    "verify_board",
]

RESET_MODES = RESET_NAMES
HEALTH_BAUDRATE = 115200
# Failures another attempt with a fresh reset can cure; the others need the trainer.
RETRYABLE = frozenset(
    {
        Reason.NO_RESPONSE,
        Reason.SKETCH_RUNNING,
        Reason.WRONG_BAUD,
        Reason.DISCONNECTED,
        Reason.VERIFY_MISMATCH,
        Reason.PROTOCOL,
        Reason.TIMEOUT,
    }
)
# After a cancel or timeout closed its ports, a worker gets this long to return.
CANCEL_GRACE_S = 5.0


# -- results ----------------------------------------------------------------------------


@dataclass
class BoardResult:
    """What one operation came to on one board.

    ``status`` is fail when ``reason`` is set or any step failed, skipped when every step was
    skipped (a board left alone: not identified, or no firmware for its family), warn when
    any step warned or was skipped, else pass. ``message`` is the one line to show for a
    failure (a :class:`~firmware_tools.messages.Message`, as every line here: ``summary``,
    ``where``, ``label``, the steps' details); ``reason`` its machine name. ``location`` and
    ``serial_number`` say where the board sits on the hub (USB ports only); ``label`` puts
    them beside the device path.
    """

    port: str
    family: str
    action: str
    steps: list[StepResult] = field(default_factory=list)
    reason: Reason | None = None
    message: str = ""
    needs_reflash: bool = False
    flash: FlashReport | None = None
    identity: dict[str, str] = field(default_factory=dict)
    attempts: int = 1
    duration_s: float = 0.0
    location: str | None = None
    serial_number: str | None = None

    @property
    def status(self) -> Outcome:
        outcomes = {step.outcome for step in self.steps}
        if self.reason is not None or Outcome.FAIL in outcomes:
            return Outcome.FAIL
        if outcomes == {Outcome.SKIPPED}:
            return Outcome.SKIPPED
        if Outcome.WARN in outcomes or Outcome.SKIPPED in outcomes:
            return Outcome.WARN
        return Outcome.PASS

    @property
    def ok(self) -> bool:
        """True unless the board failed (a warning or a skipped board is still ok)."""
        return self.status is not Outcome.FAIL

    @property
    def board_id(self) -> str:
        """The board's own id, once its firmware or REPL told it ("" until then)."""
        return self.identity.get("id") or self.identity.get("micropython_unique_id", "")

    @property
    def where(self) -> str:
        """Hub socket, USB serial number and the board's own id, as known ("" for none)."""
        parts = [hub_place(self.location, self.serial_number)]
        parts.append(Message("board-id", id=self.board_id) if self.board_id else "")
        return joined([part for part in parts if part], "also")

    @property
    def label(self) -> str:
        """How a trainer finds the board: the device path, then :attr:`where` it is."""
        return Message("port-at", port=self.port, place=self.where) if self.where else self.port

    @property
    def summary(self) -> str:
        """One line for the summary table: the failure, else the first warning, else the gist."""
        said = self.message or self._first_not_passed()
        if said:
            return Message("needs-reflash", message=said) if self.needs_reflash else said
        gist = [step.detail for step in self.steps if step.name in ("flash", "verify", "firmware")]
        parts = [step for step in self.steps if step.name.startswith("selftest:")]
        if parts:
            gist.append(Message("selftest-passed", count=len(parts)))
        return joined(gist) or joined([step.detail for step in self.steps])

    def _first_not_passed(self) -> str:
        """The first failed step, else the first warned, else the first skipped ("" for none)."""
        for wanted in (Outcome.FAIL, Outcome.WARN, Outcome.SKIPPED):
            for step in self.steps:
                if step.outcome is wanted:
                    return Message("step-said", step=step_name(step.name), detail=step.detail)
        return ""

    def fail(self, error: BoardError, step: str) -> BoardResult:
        """Record ``error`` as the failure of ``step`` and return self."""
        self.reason = error.reason
        self.message = error.message
        self.needs_reflash = self.needs_reflash or error.needs_reflash
        self.steps.append(StepResult(step, Outcome.FAIL, error.message))
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "label": self.label,
            "where": self.where,
            "location": self.location,
            "serial_number": self.serial_number,
            "board_id": self.board_id,
            "family": self.family,
            "action": self.action,
            "status": self.status.value,
            "reason": self.reason.value if self.reason else None,
            "message": self.message,
            "summary": self.summary,
            "needs_reflash": self.needs_reflash,
            "steps": [step.to_dict() for step in self.steps],
            "flash": self.flash.to_dict() if self.flash else None,
            "identity": self.identity,
            "attempts": self.attempts,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass
class BatchResult:
    """Every board's result, in the order the ports were given."""

    boards: list[BoardResult]
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no board failed: the CLI's exit code."""
        return all(board.ok for board in self.boards)

    def counts(self) -> dict[str, int]:
        """Boards per status: pass, warn, skipped, fail."""
        counts = {outcome.value: 0 for outcome in Outcome}
        for board in self.boards:
            counts[board.status.value] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "duration_s": round(self.duration_s, 3),
            "boards": [board.to_dict() for board in self.boards],
        }


# -- one job per port, and what the process remembers about each -------------------------


class PortRegistry:
    """Per-port state of this process: the job running on each port, and re-flash marks.

    Thread-safe. Ports are known by their real device path (a ``/dev/serial/by-id`` link and
    the ``/dev/ttyUSB0`` it points to are one port); network addresses by their text.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, str] = {}
        self._reflash: set[tuple[str, str]] = set()

    @staticmethod
    def key(port: str) -> str:
        """The name a port is known by here: its real path, or the URL as given."""
        return os.path.realpath(port) if port.startswith("/") else port

    @contextlib.contextmanager
    def claim(self, port: str, what: str) -> Iterator[None]:
        """Hold ``port`` for ``what`` ("flash") for the block.

        :raise BoardError: (BUSY) when another job of this process holds it.
        """
        key = self.key(port)
        with self._lock:
            running = self._running.get(key)
            if running is None:
                self._running[key] = what
        if running is not None:
            raise BoardError(
                Message("busy", port=port, running=step_name(running)), reason=Reason.BUSY
            )
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(key, None)

    def busy(self, port: str) -> str | None:
        """What runs on ``port`` now ("flash"), or None."""
        with self._lock:
            return self._running.get(self.key(port))

    def mark_reflash(self, port: str, serial_number: str | None, needed: bool) -> None:
        """Remember (``needed``) or forget that the board on ``port`` needs a re-flash."""
        board = (self.key(port), serial_number or "")
        with self._lock:
            if needed:
                self._reflash.add(board)
            else:
                self._reflash.discard(board)

    def forget(self, port: str | None = None) -> None:
        """Drop the re-flash marks of ``port`` (a board replaced by hand), or of every port."""
        with self._lock:
            if port is None:
                self._reflash.clear()
            else:
                self._reflash = {board for board in self._reflash if board[0] != self.key(port)}

    def needs_reflash(self, port: str, serial_number: str | None) -> bool:
        """True when an earlier operation of this process left the board half written."""
        with self._lock:
            return (self.key(port), serial_number or "") in self._reflash


#: The registry every operation of this process uses.
PORTS = PortRegistry()


# -- firmware ---------------------------------------------------------------------------


def load_firmware(
    paths: Sequence[str | Path],
    *,
    family: str | None = None,
    address: int | None = None,
    chip: str | None = None,
) -> Firmware:
    """Load what to flash; the family comes from ``family`` (or a board name) or the files.

    Each driver says which files are its firmware (``.hex`` AVR, ``.bin`` ESP with
    ``address``, ``.py`` files or a folder MicroPython). A board name brings its chip
    ("mega": atmega2560) unless ``chip`` is given.

    :raise BoardError: (BAD_IMAGE) a file that cannot be flashed, refused before any board;
        (PORT) an unknown board name.
    """
    if not paths:
        raise BoardError(Message("no-firmware-given"), reason=Reason.BAD_IMAGE)
    files = [Path(p) for p in paths]
    if family:
        kind = board_kind(family)
        driver = DRIVERS[kind.family]
        chip = chip or kind.chip
    else:
        driver = driver_for_files(files)
    return driver.load_firmware(files, chip=chip, address=address)


def firmware_by_family(firmwares: Iterable[Firmware]) -> dict[str, Firmware]:
    """One firmware per family, for a hub of mixed boards.

    :raise BoardError: (BAD_IMAGE) when two firmwares are for the same family.
    """
    found: dict[str, Firmware] = {}
    for firmware in firmwares:
        if firmware.family in found:
            raise BoardError(
                Message(
                    "two-firmwares",
                    family=firmware.family,
                    first=found[firmware.family].source,
                    second=firmware.source,
                ),
                reason=Reason.BAD_IMAGE,
            )
        found[firmware.family] = firmware
    return found


def resolve_family(
    port: str,
    given: str | None = None,
    firmware: Firmware | None = None,
    info: PortInfo | None = None,
) -> str:
    """The board family on ``port``: ``given`` (a family or board name), else the firmware's,
    else the USB guess (``info``, looked up when None).

    :raise BoardError: (PORT) an unknown name, or nothing tells (a pty or URL without
        ``--board``).
    """
    if given:
        return board_kind(given).family
    if firmware is not None:
        return firmware.family
    info = info if info is not None else find_port(port)
    if info is not None and info.family in DRIVERS:
        return info.family
    raise BoardError(
        Message("cannot-tell-board", port=port_label(port, info), families="|".join(families())),
        reason=Reason.PORT,
    )


# -- one board ---------------------------------------------------------------------------


def _no_progress(_phase: str, _done: int, _total: int) -> None:
    return None


def _no_notice(_message: str) -> None:
    return None


def port_has_modem_lines(port: str) -> bool:
    """True when DTR/RTS can be driven on ``port`` (a USB serial chip), False for a pty or URL.

    :raise BoardError: (PORT) when the port cannot be opened at all.
    """
    link = open_port(port, baudrate=HEALTH_BAUDRATE, timeout=0.05)
    try:
        return has_modem_lines(link)
    finally:
        link.close()


def _run_operation(
    port: str,
    action: str,
    family: str | None,
    failed_step: str,
    body: Callable[[BoardResult, PortInfo | None], None],
) -> BoardResult:
    """Run one operation's ``body`` on ``port``: hold the port, time it, keep re-flash marks.

    ``body`` fills in the result it gets, knowing the port's USB description (None for a
    pty or URL); a :class:`BoardError` it raises becomes the failure of ``failed_step``. A
    port this tool does not open (:func:`~firmware_tools.ports.check_port_url`) fails the
    "port" step before any driver sees it.
    """
    started = time.monotonic()
    try:
        check_port_url(port)
    except BoardError as refused:
        result = BoardResult(port, family or "unknown", action).fail(refused, "port")
        result.duration_s = time.monotonic() - started
        return result
    info = find_port(port)
    result = BoardResult(
        port,
        family or "unknown",
        action,
        location=info.location if info else None,
        serial_number=info.serial_number if info else None,
    )
    try:
        with PORTS.claim(port, action):
            try:
                body(result, info)
            except BoardError as error:
                result.fail(error, failed_step)
            _remember_reflash(result)
    except BoardError as busy:  # only the claim raises here: the port is busy
        result.fail(busy, "port")
    result.duration_s = time.monotonic() - started
    return result


def _remember_reflash(result: BoardResult) -> None:
    """Carry the board's re-flash mark into ``result``, and update it from ``result``."""
    # a flash that went through, or a verify that found the whole firmware, ends the mark
    if result.action in ("flash", "verify") and result.status in (Outcome.PASS, Outcome.WARN):
        PORTS.mark_reflash(result.port, result.serial_number, needed=False)
        return
    if result.needs_reflash:
        PORTS.mark_reflash(result.port, result.serial_number, needed=True)
    elif PORTS.needs_reflash(result.port, result.serial_number):
        result.needs_reflash = True
        if result.ok:
            result.steps.append(StepResult("reflash", Outcome.WARN, Message("earlier-flash-cut")))


def _options(
    info: PortInfo | None,
    port: str,
    *,
    reset: str,
    baudrate: int | None,
    notice: Notice,
    sync_timeout: float | None = None,
    chip: str | None = None,
) -> DriverOptions:
    return DriverOptions(
        reset=reset,
        baudrate=baudrate,
        sync_timeout=sync_timeout,
        chip=chip,
        name=port_label(port, info),
        notice=notice,
    )


@contextlib.contextmanager
def _driver(family: str, port: str, options: DriverOptions) -> Iterator[BoardDriver]:
    driver = DRIVERS[family](port, options)
    try:
        yield driver
    finally:
        driver.close()


def flash_board(
    port: str,
    firmware: Firmware | Mapping[str, Firmware],
    *,
    family: str | None = None,
    reset: str = "auto",
    baudrate: int | None = None,
    verify: bool = True,
    sync_timeout: float | None = None,
    progress: ProgressCallback = _no_progress,
    notice: Notice = _no_notice,
) -> BoardResult:
    """Flash the board on ``port`` with its family's firmware and start it.

    ``firmware`` is one :class:`Firmware`, or one per family (a hub of mixed boards; see
    :func:`firmware_by_family`). The family is ``family`` (a family or a board name), else
    the USB id when it is sure, else the one firmware given. A port whose family is only a
    guess (a CH340 sits on Nanos and ESP32s alike), or unknown with several firmwares, is
    identified first by each candidate driver's non-writing probe; a board no driver
    identifies, or of a family without firmware here, is left alone: an ``identify`` step
    SKIPPED, status skipped, nothing written.
    """
    firmwares = {firmware.family: firmware} if isinstance(firmware, Firmware) else dict(firmware)

    def body(result: BoardResult, info: PortInfo | None) -> None:
        options = _options(
            info, port, reset=reset, baudrate=baudrate, notice=notice, sync_timeout=sync_timeout
        )
        chosen = _family_to_flash(result, info, firmwares, family, options, progress)
        if chosen is None:
            return
        result.family = chosen
        image = firmwares[chosen].image
        chip = image.chip if image is not None else None
        with _driver(chosen, port, dataclasses.replace(options, chip=chip)) as driver:
            report = driver.flash(firmwares[chosen], verify=verify, progress=progress)
        result.flash = report
        result.steps.append(StepResult("flash", Outcome.PASS, _flash_detail(report)))

    return _run_operation(port, "flash", family, "flash", body)


def _family_to_flash(
    result: BoardResult,
    info: PortInfo | None,
    firmwares: dict[str, Firmware],
    given: str | None,
    options: DriverOptions,
    progress: ProgressCallback,
) -> str | None:
    """The family to flash ``result.port`` as, or None when the board is to be left alone.

    :raise BoardError: BAD_IMAGE for ``given`` without its firmware; PORT for an unknown
        name, or a port without any way to tell.
    """
    if given:
        chosen = board_kind(given).family
        if chosen not in firmwares:
            sources = [
                Message("firmware-is-for", source=f.source, family=f.family)
                for f in firmwares.values()
            ]
            raise BoardError(
                Message("firmware-not-for-board", sources=joined(sources, "also"), family=chosen),
                reason=Reason.BAD_IMAGE,
            )
        return chosen
    guess = info.family if info is not None and info.family in DRIVERS else None
    if guess is not None and info is not None and info.family_sure:
        if guess in firmwares:
            return guess
        return _leave_alone(
            result, Message("no-firmware-for-known", family=guess, board=info.board)
        )
    if guess is None and len(firmwares) == 1:
        return next(iter(firmwares))  # a pty or URL: the trainer's firmware says what it is
    return _identify(result, guess, firmwares, options, progress)


def _identify(
    result: BoardResult,
    guess: str | None,
    firmwares: dict[str, Firmware],
    options: DriverOptions,
    progress: ProgressCallback,
) -> str | None:
    """Ask each candidate driver's safe probe who is on the port; the first to answer wins.

    Candidates: the USB guess, the families with firmware here, then every other family (so
    that a board of a family without firmware is named, not mistaken).
    """
    candidates = list(dict.fromkeys([*([guess] if guess else []), *firmwares, *DRIVERS]))
    for family in candidates:
        progress("identify", 0, 0)
        with _driver(family, result.port, options) as driver:
            found = driver.identify()
        if found is None:
            continue
        result.identity.update(found.identity)
        if family not in firmwares:
            return _leave_alone(
                result,
                Message("no-firmware-for-identified", family=family, detail=found.detail),
            )
        result.steps.append(StepResult("identify", Outcome.PASS, found.detail))
        return family
    return _leave_alone(result, Message("not-identified", families=", ".join(candidates)))


def _leave_alone(result: BoardResult, why: str) -> None:
    result.steps.append(StepResult("identify", Outcome.SKIPPED, Message("left-alone", why=why)))
    return None


def _flash_detail(report: FlashReport) -> str:
    if report.skipped_unchanged:
        return Message("flash-unchanged")
    code = "flash-verified" if report.bytes_verified else "flash-not-verified"
    return Message(code, bytes=report.bytes_written, seconds=round(report.duration_s, 1))


def verify_board(
    port: str,
    firmware: Firmware,
    *,
    family: str | None = None,
    reset: str = "auto",
    baudrate: int | None = None,
    progress: ProgressCallback = _no_progress,
    notice: Notice = _no_notice,
) -> BoardResult:
    """Check that the board holds ``firmware`` without writing anything.

    What is compared is the driver's business (MicroPython: on-board file hashes; AVR: the
    flash read back); a family that cannot verify alone says so.
    """

    def body(result: BoardResult, info: PortInfo | None) -> None:
        result.family = resolve_family(port, family, firmware, info)
        chip = firmware.image.chip if firmware.image is not None else None
        options = _options(info, port, reset=reset, baudrate=baudrate, notice=notice, chip=chip)
        with _driver(result.family, port, options) as driver:
            detail = driver.verify(firmware, progress=progress)
        result.steps.append(StepResult("verify", Outcome.PASS, detail))

    return _run_operation(port, "verify", family or firmware.family, "verify", body)


def check_board(
    port: str,
    *,
    family: str | None = None,
    expected: ExpectedFirmware | None = None,
    reset: str = "auto",
    baudrate: int | None = None,
    hello_timeout: float = 8.0,
    bootloader: bool = True,
    progress: ProgressCallback = _no_progress,
    notice: Notice = _no_notice,
) -> BoardResult:
    """Health-check the board on ``port``: port, bootloader, firmware identity, self-test.

    The bootloader step is skipped (a warning) when the family's bootloader needs a reset
    and the board cannot be reset from here: ``reset="none"`` or a port without modem lines;
    the running firmware is checked anyway. The firmware gets ``hello_timeout`` seconds to
    answer, since a board that was just reset sits in its bootloader first.
    ``bootloader=False`` leaves that step out (right after a flash, which has just talked to
    the bootloader). A part failing its self-test fails the check with reason SELFTEST.
    """
    expected = expected or ExpectedFirmware()

    def body(result: BoardResult, info: PortInfo | None) -> None:
        try:
            result.family = resolve_family(port, family, None, info)
            chip = board_kind(family).chip if family else None
            options = _options(info, port, reset=reset, baudrate=baudrate, notice=notice, chip=chip)
            modem = port_has_modem_lines(port)
            result.steps.append(StepResult("port", Outcome.PASS, Message("port-opened")))
            if bootloader:
                _check_bootloader(result, options, modem)
            progress("hello", 0, 0)
            identity, selftest = _ask_firmware(port, hello_timeout, progress, result.family)
            result.identity.update(identity.to_dict())
            step = healthcheck.compare_identity(identity, expected)
            result.steps.append(step)
            if step.outcome is Outcome.FAIL:
                result.reason = Reason.WRONG_FIRMWARE
                result.message = step.detail
            result.steps.extend(selftest)
            _selftest_failure(result, selftest)
            progress("selftest", 0, 0)
        except BoardError as error:
            failed = "port" if error.reason is Reason.PORT else "firmware"
            if error.reason is Reason.TIMEOUT:
                failed = "check"
            result.fail(error, failed)

    return _run_operation(port, "check", family, "check", body)


def _selftest_failure(result: BoardResult, selftest: list[StepResult]) -> None:
    """A part that failed its self-test fails the board: reason SELFTEST, parts named."""
    failed = [step for step in selftest if step.outcome is Outcome.FAIL]
    if not failed or result.reason is not None:
        return
    parts = joined(
        [
            Message("step-said", step=step.name.split(":", 1)[-1], detail=step.detail)
            for step in failed
        ]
    )
    result.reason = Reason.SELFTEST
    result.message = Message("selftest-failed", parts=parts)


def _check_bootloader(result: BoardResult, options: DriverOptions, modem: bool) -> None:
    driver_class = DRIVERS[result.family]
    skipped = driver_class.bootloader_unreachable(options, modem)
    if skipped:
        said = Message("bootloader-not-checked", why=skipped)
        result.steps.append(StepResult("bootloader", Outcome.SKIPPED, said))
        return
    try:
        with _driver(result.family, result.port, options) as driver:
            found = driver.check_bootloader()
        result.identity.update(found.identity)
        result.steps.append(StepResult("bootloader", Outcome.PASS, found.detail))
    except BoardError as error:
        if error.reason is Reason.PORT:
            raise
        # the firmware may still run: report the bootloader and go on to the firmware
        result.steps.append(StepResult("bootloader", Outcome.FAIL, error.message))
        result.reason, result.message = error.reason, error.message


def _ask_firmware(
    port: str, hello_timeout: float, progress: ProgressCallback, family: str
) -> tuple[Identity, list[StepResult]]:
    link = open_port(port, baudrate=HEALTH_BAUDRATE, timeout=0.05)
    try:
        # Opening the port resets most AVR boards, and a board may have just been plugged in:
        # a bootloader may read text sent meanwhile as commands, so stay quiet until it is done.
        time.sleep(DRIVERS[family].quiet_after_open_s)
        hello = _ask(link, "hello", "fw", hello_timeout, progress)
        identity = healthcheck.parse_hello(hello)
        selftest = _ask(link, "selftest", "selftest", 10.0, progress, resend=False)
        return identity, healthcheck.parse_selftest(selftest)
    finally:
        with contextlib.suppress(serial.SerialException, OSError):
            link.close()


def _ask(
    link: serial.SerialBase,
    cmd: str,
    key: str,
    timeout: float,
    progress: ProgressCallback,
    *,
    resend: bool = True,
) -> dict[str, Any]:
    """Send ``cmd`` (again every 0.5 s with ``resend``) until a reply holding ``key`` comes."""
    deadline = time.monotonic() + timeout
    next_send = 0.0
    buffer = b""
    heard = False
    try:
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_send:
                link.write(healthcheck.build_request(cmd))
                next_send = now + 0.5 if resend else deadline
            buffer += link.read(max(1, link.in_waiting))
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                heard = heard or bool(line.strip())
                reply = healthcheck.parse_line(line)
                if reply is not None and key in reply:
                    return reply
                if reply is not None and "error" in reply and not resend:
                    raise BoardError(
                        Message("firmware-error-answer", cmd=cmd, error=str(reply["error"])),
                        reason=Reason.PROTOCOL,
                    )
            progress(cmd, 0, 0)
    except (serial.SerialException, OSError) as exc:
        raise BoardError(
            Message("health-port-gone", why=str(exc)), reason=Reason.DISCONNECTED
        ) from None
    if heard or buffer:
        raise BoardError(Message("firmware-prints", cmd=cmd), reason=Reason.PROTOCOL)
    raise BoardError(
        Message("no-answer-to", cmd=cmd, timeout=round(timeout)), reason=Reason.NO_RESPONSE
    )


# -- many boards -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressEvent:
    """One live update of one board, for a progress line.

    The last event of each board has phase "done" and carries the board's final ``result``
    (so a caller can keep each result as soon as the board is done, not at the batch's end).
    """

    port: str
    attempt: int
    phase: str
    done: int = 0
    total: int = 0
    message: str = ""
    result: BoardResult | None = field(default=None, compare=False, repr=False)


class BoardContext:
    """What a batch job gets for one attempt on one port: progress, notices, cancellation.

    Once the attempt is cancelled (its time ran out, or the batch was cancelled) every port
    it opened is closed, so a driver blocked in a read fails at once, and ``progress``
    raises that :class:`BoardError` (TIMEOUT or CANCELLED) at the driver's next report.
    ``writing`` tells whether the last phase reported was a write (see
    :data:`~firmware_tools.base.WRITE_PHASES`): a board stopped then needs a re-flash.
    """

    def __init__(
        self,
        port: str,
        attempt: int,
        timeout: float,
        on_progress: Callable[[ProgressEvent], None],
    ) -> None:
        self.port = port
        self.attempt = attempt
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.writing = False
        self._on_progress = on_progress
        self._lock = threading.Lock()
        self._stopped: BoardError | None = None
        self._closers: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._stopped is not None

    def progress(self, phase: str, done: int, total: int) -> None:
        """Report progress; raises the cancellation once the attempt is stopped."""
        if self._stopped is not None:
            stopped = self._stopped
            raise BoardError(stopped.message, reason=stopped.reason, needs_reflash=self.writing)
        self.writing = phase in WRITE_PHASES and total > 0
        self._on_progress(ProgressEvent(self.port, self.attempt, phase, done, total))

    def notice(self, message: str) -> None:
        self._on_progress(ProgressEvent(self.port, self.attempt, "notice", message=message))

    def on_cancel(self, closer: Callable[[], None]) -> None:
        """Call ``closer`` when the attempt is stopped (at once if it already is)."""
        with self._lock:
            if self._stopped is None:
                self._closers.append(closer)
                return
        with contextlib.suppress(Exception):
            closer()

    def track(self, link: serial.SerialBase) -> None:
        """Close ``link`` (a port the job opened) when the attempt is stopped."""
        self.on_cancel(lambda: abort_port(link))

    def cancel(self, why: BoardError | None = None) -> None:
        """Stop the attempt for ``why`` (default: its time ran out) and close its ports."""
        with self._lock:
            if self._stopped is not None:
                return
            self._stopped = why or _timeout_error(self.timeout)
            closers, self._closers = self._closers, []
        for closer in closers:
            with contextlib.suppress(Exception):
                closer()


BoardJob = Callable[[BoardContext], BoardResult]


def _timeout_error(timeout: float) -> BoardError:
    return BoardError(Message("timed-out", timeout=round(timeout)), reason=Reason.TIMEOUT)


def _cancelled_error() -> BoardError:
    return BoardError(Message("cancelled"), reason=Reason.CANCELLED)


def flash_job(
    firmware: Firmware | Mapping[str, Firmware],
    *,
    family: str | None = None,
    reset: str = "auto",
    baudrate: int | None = None,
    verify: bool = True,
    sync_timeout: float | None = None,
    then_check: ExpectedFirmware | None = None,
) -> BoardJob:
    """A batch job flashing ``firmware`` (one, or one per family: see :func:`flash_board`);
    with ``then_check`` it health-checks each flashed board after."""

    def job(context: BoardContext) -> BoardResult:
        result = flash_board(
            context.port,
            firmware,
            family=family,
            reset=reset,
            baudrate=baudrate,
            verify=verify,
            sync_timeout=sync_timeout,
            progress=context.progress,
            notice=context.notice,
        )
        if then_check is None or not result.ok or result.flash is None:
            return result
        checked = check_board(
            context.port,
            family=result.family,
            expected=then_check,
            reset=reset,
            bootloader=False,
            progress=context.progress,
            notice=context.notice,
        )
        result.action = "flash+check"
        result.steps.extend(checked.steps)
        result.identity.update(checked.identity)
        if checked.reason is not None:
            result.reason, result.message = checked.reason, checked.message
        result.duration_s += checked.duration_s
        return result

    return job


def check_job(
    *,
    family: str | None = None,
    expected: ExpectedFirmware | None = None,
    reset: str = "auto",
    baudrate: int | None = None,
    hello_timeout: float = 8.0,
) -> BoardJob:
    """A batch job health-checking each board."""

    def job(context: BoardContext) -> BoardResult:
        return check_board(
            context.port,
            family=family,
            expected=expected,
            reset=reset,
            baudrate=baudrate,
            hello_timeout=hello_timeout,
            progress=context.progress,
            notice=context.notice,
        )

    return job


def run_batch(
    ports: Iterable[str],
    job: BoardJob,
    *,
    concurrency: int = 32,
    timeout: float = 120.0,
    retries: int = 1,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    cancel: threading.Event | None = None,
) -> BatchResult:
    """Run ``job`` on every port, at most ``concurrency`` at a time.

    Each attempt gets ``timeout`` seconds; a failed attempt whose reason is in
    :data:`RETRYABLE` runs again (a fresh driver, so a fresh reset) up to ``retries`` times.
    ``needs_reflash`` from any attempt stays on the board's result unless a later attempt
    succeeds. A job that raises instead of returning a result is reported as that board's
    failure. Setting ``cancel`` (from another thread: the app's Cancel button) stops every
    board: running attempts have their ports closed and end with reason CANCELLED, boards
    not started yet are reported CANCELLED too, and the call returns. Results come back in
    the order of ``ports``.
    """
    port_list = list(dict.fromkeys(ports))  # the same port twice would fight over it
    report = on_progress or (lambda _event: None)
    lock = threading.Lock()

    def safe_report(event: ProgressEvent) -> None:
        with lock:
            report(event)

    started = time.monotonic()
    stop = cancel if cancel is not None else threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    try:
        futures = [
            pool.submit(_run_port, port, job, timeout, retries, safe_report, stop)
            for port in port_list
        ]
        boards = [future.result() for future in futures]
    except BaseException:
        # Ctrl-C: stop every board now (ports closed) instead of waiting for all of them
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return BatchResult(boards, time.monotonic() - started)


def _run_port(
    port: str,
    job: BoardJob,
    timeout: float,
    retries: int,
    report: Callable[[ProgressEvent], None],
    stop: threading.Event,
) -> BoardResult:
    started = time.monotonic()
    attempt = 0
    reflash = False
    while True:
        attempt += 1
        if stop.is_set():
            result = BoardResult(port, "unknown", "job").fail(_cancelled_error(), "cancelled")
            break
        context = BoardContext(port, attempt, timeout, report)
        result, finished = _attempt(context, job, stop)
        result.attempts = attempt
        reflash = reflash or result.needs_reflash
        again = result.reason in RETRYABLE and attempt <= retries and finished
        if result.ok or not again or stop.is_set():
            break
        report(ProgressEvent(port, attempt, "retry", message=result.message))
    # a retry that fails another way leaves the board as half written as the first attempt did
    result.needs_reflash = result.needs_reflash or (reflash and not result.ok)
    result.duration_s = time.monotonic() - started
    report(ProgressEvent(port, attempt, "done", message=result.status.value, result=result))
    return result


def _attempt(
    context: BoardContext, job: BoardJob, stop: threading.Event
) -> tuple[BoardResult, bool]:
    """Run one attempt in its own thread; returns (result, whether the thread finished).

    When the time runs out or the batch is cancelled, the attempt's ports are closed (which
    ends a read the driver is blocked in) and its result is the timeout or the cancel,
    whatever the job returns after that.
    """
    box: list[BoardResult] = []

    def work() -> None:
        try:
            with watch_ports(context.track):
                box.append(job(context))
        except BoardError as error:
            box.append(BoardResult(context.port, "unknown", "job").fail(error, "job"))
        except Exception as error:  # a bug must not take the other boards down
            failure = BoardError(
                Message("internal-error", error=repr(error)), reason=Reason.PROTOCOL
            )
            box.append(BoardResult(context.port, "unknown", "job").fail(failure, "job"))

    worker = threading.Thread(target=work, name=f"board {context.port}", daemon=True)
    worker.start()
    while worker.is_alive() and time.monotonic() < context.deadline and not stop.is_set():
        worker.join(0.1)
    if not worker.is_alive() and box:
        return box[0], True
    why = _cancelled_error() if stop.is_set() else _timeout_error(context.timeout)
    context.cancel(why)
    worker.join(CANCEL_GRACE_S)
    # the driver knows whether it was writing, or the last phase reported does (a worker
    # that never returned, or one that tripped over its port closing under it)
    needs_reflash = bool(box and box[0].needs_reflash) or context.writing
    family = box[0].family if box else "unknown"
    stopped = BoardResult(context.port, family, "job")
    if box:
        stopped.location, stopped.serial_number = box[0].location, box[0].serial_number
    elif (info := find_port(context.port)) is not None:  # the board is known by its serial
        stopped.location, stopped.serial_number = info.location, info.serial_number
    stopped.fail(
        BoardError(why.message, reason=why.reason, needs_reflash=needs_reflash),
        "cancelled" if why.reason is Reason.CANCELLED else "timeout",
    )
    _remember_reflash(stopped)
    return stopped, not worker.is_alive()
