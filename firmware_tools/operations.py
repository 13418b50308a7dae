"""What a trainer does with boards: flash, verify, check; and all of it on many boards at once.

Every operation takes a port and returns a :class:`BoardResult`: plain data with a one-line
reason when something failed, ``to_dict()`` for ``--json`` and the web app. Operations never
raise for a board problem; only a bad firmware file (refused before any board is touched)
raises :class:`BoardError` from :func:`load_firmware`.

:func:`run_batch` runs one job per port in worker threads: bounded concurrency, a time limit
per attempt, and a retry with a fresh reset when a failure may be passing (no answer, a
dropped link, a verify mismatch). One board failing never stops the others.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import serial

from firmware_tools.base import (
    BoardError,
    FlashReport,
    Outcome,
    ProgressCallback,
    Reason,
    StepResult,
)
from firmware_tools.drivers.micropython import BoardFile, MicroPythonBoard, collect_files
from firmware_tools.images import FirmwareImage, load_image
from firmware_tools.ports import FAMILIES, find_port
from firmware_tools.protocol import healthcheck
from firmware_tools.protocol.healthcheck import ExpectedFirmware, Identity
from firmware_tools.transport import RESET_NAMES, has_modem_lines, open_port

__all__ = [
    "RESET_MODES",
    "RETRYABLE",
    "BatchResult",
    "BoardContext",
    "BoardJob",
    "BoardResult",
    "Firmware",
    "ProgressEvent",
    "check_board",
    "check_job",
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
_MICROPYTHON_SUFFIXES = {".py", ".mpy"}


# -- results ----------------------------------------------------------------------------


@dataclass
class BoardResult:
    """What one operation came to on one board.

    ``status`` is fail when any step failed, warn when any step warned or was skipped, else
    pass. ``message`` is the one line to show for a failure; ``reason`` its machine name.
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

    @property
    def status(self) -> Outcome:
        outcomes = {step.outcome for step in self.steps}
        if self.reason is not None or Outcome.FAIL in outcomes:
            return Outcome.FAIL
        if Outcome.WARN in outcomes or Outcome.SKIPPED in outcomes:
            return Outcome.WARN
        return Outcome.PASS

    @property
    def ok(self) -> bool:
        """True unless the board failed (a warning is still ok)."""
        return self.status is not Outcome.FAIL

    @property
    def summary(self) -> str:
        """One line for the summary table: the failure, else the first warning, else the gist."""
        if self.message:
            return self.message + (" (needs re-flash)" if self.needs_reflash else "")
        for wanted in (Outcome.FAIL, Outcome.WARN, Outcome.SKIPPED):
            for step in self.steps:
                if step.outcome is wanted:
                    return f"{step.name}: {step.detail}"
        gist = [step.detail for step in self.steps if step.name in ("flash", "verify", "firmware")]
        parts = [step for step in self.steps if step.name.startswith("selftest:")]
        if parts:
            gist.append(f"self-test {len(parts)}/{len(parts)} parts pass")
        return "; ".join(gist) or "; ".join(step.detail for step in self.steps)

    def fail(self, error: BoardError, step: str) -> BoardResult:
        """Record ``error`` as the failure of ``step`` and return self."""
        self.reason = error.reason
        self.message = str(error)
        self.needs_reflash = self.needs_reflash or error.needs_reflash
        self.steps.append(StepResult(step, Outcome.FAIL, str(error)))
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "port": self.port,
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
        counts = {outcome.value: 0 for outcome in (Outcome.PASS, Outcome.WARN, Outcome.FAIL)}
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


# -- firmware ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Firmware:
    """A firmware ready to flash: an image (AVR, ESP) or files (MicroPython)."""

    family: str
    source: str
    image: FirmwareImage | None = None  # for avr and esp
    files: tuple[BoardFile, ...] = ()

    @property
    def size(self) -> int:
        if self.image is not None:
            return len(self.image.data)
        return sum(len(f.data) for f in self.files)


def load_firmware(
    paths: Sequence[str | Path],
    *,
    family: str | None = None,
    address: int | None = None,
    chip: str | None = None,
) -> Firmware:
    """Load what to flash; the family comes from ``family`` or the files.

    ``.hex`` is AVR, ``.bin`` is ESP (needs ``address``), ``.py`` files or a folder are
    MicroPython.

    :raise BoardError: (BAD_IMAGE) a file that cannot be flashed, refused before any board.
    """
    if not paths:
        raise BoardError(
            "no firmware given: name a .hex, a .bin or a folder", reason=Reason.BAD_IMAGE
        )
    family = family or _family_of_files([Path(p) for p in paths])
    if family == "micropython":
        return Firmware(
            "micropython", ", ".join(map(str, paths)), files=tuple(collect_files(paths))
        )
    if len(paths) != 1:
        raise BoardError(
            f"an {family} board takes one firmware file, not {len(paths)}", reason=Reason.BAD_IMAGE
        )
    default_chip = "atmega328p" if family == "avr" else "esp32"
    image = load_image(paths[0], chip=chip or default_chip, address=address)
    return Firmware(family, str(paths[0]), image=image)


def _family_of_files(paths: list[Path]) -> str:
    if all(p.is_dir() or p.suffix.lower() in _MICROPYTHON_SUFFIXES for p in paths):
        return "micropython"
    suffix = paths[0].suffix.lower()
    if suffix == ".bin":
        return "esp"
    if suffix in {".hex", ".ihx", ".ihex"}:
        return "avr"
    raise BoardError(
        f"cannot tell which board {paths[0]} is for: pass --board avr|micropython|esp",
        reason=Reason.BAD_IMAGE,
    )


def resolve_family(port: str, given: str | None = None, firmware: Firmware | None = None) -> str:
    """The board family on ``port``: ``given``, else the firmware's, else the USB guess.

    :raise BoardError: (PORT) when nothing tells, e.g. a pty or URL without ``--board``.
    """
    if given:
        if given not in FAMILIES:
            raise BoardError(
                f"unknown board family {given!r}: use one of {', '.join(FAMILIES)}",
                reason=Reason.PORT,
            )
        return given
    if firmware is not None:
        return firmware.family
    info = find_port(port)
    if info is not None and info.family in FAMILIES:
        return info.family
    raise BoardError(
        f"cannot tell which board is on {port}: pass --board {'|'.join(FAMILIES)}",
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


def _driver(
    family: str,
    port: str,
    *,
    reset: str,
    baudrate: int | None,
    notice: Callable[[str], None],
    sync_timeout: float | None = None,
    chip: str | None = None,
) -> Any:
    if family == "micropython":
        return MicroPythonBoard(port, notice=notice)
    if family == "esp":
        from firmware_tools.drivers.esp import EspBoard

        return EspBoard(port, reset=reset, baudrate=baudrate, notice=notice)
    from firmware_tools.drivers.avr import AvrBoard

    options: dict[str, Any] = {"baudrate": baudrate, "reset": reset, "notice": notice}
    if sync_timeout is not None:
        options["sync_timeout"] = sync_timeout
    if chip is not None:
        options["chip"] = chip
    return AvrBoard(port, **options)


def flash_board(
    port: str,
    firmware: Firmware,
    *,
    family: str | None = None,
    reset: str = "auto",
    baudrate: int | None = None,
    verify: bool = True,
    sync_timeout: float | None = None,
    progress: ProgressCallback = _no_progress,
    notice: Callable[[str], None] = _no_notice,
) -> BoardResult:
    """Flash ``firmware`` onto the board on ``port`` and start it.

    A MicroPython board gets the files copied (unchanged ones skipped) and a soft reset so
    main.py runs; an AVR or ESP board gets the image written, verified and restarted.
    """
    started = time.monotonic()
    result = BoardResult(port, family or firmware.family, "flash")
    board = None
    try:
        result.family = resolve_family(port, family, firmware)
        if result.family != firmware.family:
            raise BoardError(
                f"{firmware.source} is {firmware.family} firmware, the board is {result.family}",
                reason=Reason.BAD_IMAGE,
            )
        board = _driver(
            result.family,
            port,
            reset=reset,
            baudrate=baudrate,
            notice=notice,
            sync_timeout=sync_timeout,
            chip=firmware.image.chip if firmware.image is not None else None,
        )
        if result.family == "micropython":
            report = board.flash(list(firmware.files), verify=verify, progress=progress)
            board.soft_reset()
        else:
            report = board.flash(firmware.image, verify=verify, progress=progress)
        result.flash = report
        result.steps.append(StepResult("flash", Outcome.PASS, _flash_detail(report)))
    except BoardError as error:
        result.fail(error, "flash")
    finally:
        if board is not None:
            board.close()
        result.duration_s = time.monotonic() - started
    return result


def _flash_detail(report: FlashReport) -> str:
    if report.skipped_unchanged:
        return "already up to date: nothing written"
    verified = ", verified" if report.bytes_verified else ", not verified"
    return f"{report.bytes_written} B written{verified} in {report.duration_s:.1f} s"


def verify_board(
    port: str,
    firmware: Firmware,
    *,
    family: str | None = None,
    reset: str = "auto",
    baudrate: int | None = None,
    progress: ProgressCallback = _no_progress,
    notice: Callable[[str], None] = _no_notice,
) -> BoardResult:
    """Check that the board holds ``firmware`` without writing anything.

    MicroPython boards compare on-board hashes; AVR and ESP boards use the driver's
    ``verify(image)`` when it has one.
    """
    started = time.monotonic()
    result = BoardResult(port, family or firmware.family, "verify")
    board = None
    try:
        result.family = resolve_family(port, family, firmware)
        board = _driver(result.family, port, reset=reset, baudrate=baudrate, notice=notice)
        if result.family == "micropython":
            names = [f.name for f in firmware.files]
            progress("verify", 0, 0)
            on_board = board.hashes(names)
            differ = [f.name for f in firmware.files if on_board.get(f.name) != f.digest]
            if differ:
                result.steps.append(
                    StepResult("verify", Outcome.FAIL, f"differs: {', '.join(differ)}")
                )
                result.reason = Reason.VERIFY_MISMATCH
                result.message = f"{len(differ)} file(s) differ from the firmware: flash again"
            else:
                result.steps.append(StepResult("verify", Outcome.PASS, "all files match"))
            board.soft_reset()
        elif hasattr(board, "verify"):
            compared = board.verify(firmware.image, progress=progress)
            result.steps.append(
                StepResult("verify", Outcome.PASS, f"flash matches the image ({compared} B)")
            )
        else:
            raise BoardError(
                f"verify alone is not available for {result.family} boards: use flash, which "
                "skips an unchanged image",
                reason=Reason.PROTOCOL,
            )
    except BoardError as error:
        result.fail(error, "verify")
    finally:
        if board is not None:
            board.close()
        result.duration_s = time.monotonic() - started
    return result


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
    notice: Callable[[str], None] = _no_notice,
) -> BoardResult:
    """Health-check the board on ``port``: port, bootloader, firmware identity, self-test.

    The bootloader step is skipped (a warning) when the board cannot be reset from here:
    ``reset="none"`` or a port without modem lines; the running firmware is checked anyway.
    The firmware gets ``hello_timeout`` seconds to answer, since a board that was just reset
    sits in its bootloader first. ``bootloader=False`` leaves that step out (right after a
    flash, which has just talked to the bootloader).
    """
    expected = expected or ExpectedFirmware()
    started = time.monotonic()
    result = BoardResult(port, family or "unknown", "check")
    try:
        result.family = resolve_family(port, family)
        modem = port_has_modem_lines(port)
        result.steps.append(StepResult("port", Outcome.PASS, "opened"))
        if bootloader:
            _check_bootloader(result, reset, modem, baudrate, notice)
        progress("hello", 0, 0)
        identity, selftest = _ask_firmware(port, hello_timeout, progress, result.family)
        result.identity.update(identity.to_dict())
        step = healthcheck.compare_identity(identity, expected)
        result.steps.append(step)
        if step.outcome is Outcome.FAIL:
            result.reason = Reason.WRONG_FIRMWARE
            result.message = step.detail
        result.steps.extend(selftest)
        progress("selftest", 0, 0)
    except BoardError as error:
        failed = "port" if error.reason is Reason.PORT else "firmware"
        if error.reason is Reason.TIMEOUT:
            failed = "check"
        result.fail(error, failed)
    finally:
        result.duration_s = time.monotonic() - started
    return result


def _check_bootloader(
    result: BoardResult,
    reset: str,
    modem: bool,
    baudrate: int | None,
    notice: Callable[[str], None],
) -> None:
    # AVR and ESP bootloaders run only after a reset; a MicroPython REPL needs none
    if result.family in ("avr", "esp") and (reset == "none" or not modem):
        why = "--reset none" if reset == "none" else "the port has no reset line (DTR/RTS)"
        result.steps.append(
            StepResult("bootloader", Outcome.SKIPPED, f"not checked: {why}; firmware checked")
        )
        return
    board = None
    try:
        board = _driver(result.family, result.port, reset=reset, baudrate=baudrate, notice=notice)
        if result.family == "avr":
            from firmware_tools.drivers.avr import chip_name

            signature = board.read_signature()
            detail = f"{board.bootloader} answers: {chip_name(signature)} ({signature.hex()})"
        elif result.family == "micropython":
            about = board.identity()
            result.identity.update({f"micropython_{k}": v for k, v in about.items()})
            detail = f"MicroPython {about.get('version', '?')} REPL on {about.get('platform', '?')}"
            board.soft_reset()
        else:
            detail = f"{board.detect()} ROM bootloader answers"
            board.restart()
        result.steps.append(StepResult("bootloader", Outcome.PASS, detail))
    except BoardError as error:
        if error.reason is Reason.PORT:
            raise
        # the firmware may still run: report the bootloader and go on to the firmware
        result.steps.append(StepResult("bootloader", Outcome.FAIL, str(error)))
        result.reason, result.message = error.reason, str(error)
    finally:
        if board is not None:
            board.close()


def _ask_firmware(
    port: str, hello_timeout: float, progress: ProgressCallback, family: str
) -> tuple[Identity, list[StepResult]]:
    link = open_port(port, baudrate=HEALTH_BAUDRATE, timeout=0.05)
    try:
        if family == "avr":
            # Opening the port resets most AVR boards, and a board may have just been plugged
            # in: the old ATmegaBOOT reads text sent in its first second as commands and then
            # never starts the sketch, so stay quiet until any bootloader has handed over.
            from firmware_tools.drivers.avr import ATMEGABOOT_QUIET_S

            time.sleep(ATMEGABOOT_QUIET_S)
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
                        f"the firmware answered {cmd!r} with an error ({reply['error']}): "
                        "check the kit wiring, or flash the kit firmware again",
                        reason=Reason.PROTOCOL,
                    )
            progress(cmd, 0, 0)
    except (serial.SerialException, OSError) as exc:
        raise BoardError(
            f"the port went away during the health check ({exc}): check the cable",
            reason=Reason.DISCONNECTED,
        ) from None
    if heard or buffer:
        raise BoardError(
            f"the firmware does not answer {cmd!r}, but something prints: flash the kit "
            "firmware (or check the baud rate is 115200)",
            reason=Reason.PROTOCOL,
        )
    raise BoardError(
        f"no answer to {cmd!r} within {timeout:.0f} s: flash the kit firmware, or press reset",
        reason=Reason.NO_RESPONSE,
    )


# -- many boards -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressEvent:
    """One live update of one board, for a progress line."""

    port: str
    attempt: int
    phase: str
    done: int = 0
    total: int = 0
    message: str = ""


class BoardContext:
    """What a batch job gets for one attempt on one port: progress, notices, cancellation.

    ``progress`` raises :class:`BoardError` (TIMEOUT) once the attempt's time is up, so a
    driver that reports progress stops at its next report.
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
        self._on_progress = on_progress
        self._cancelled = threading.Event()
        self._closers: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def progress(self, phase: str, done: int, total: int) -> None:
        if self._cancelled.is_set():
            raise BoardError(
                f"no result within {self.timeout:.0f} s: check the board, or raise --timeout",
                reason=Reason.TIMEOUT,
            )
        self._on_progress(ProgressEvent(self.port, self.attempt, phase, done, total))

    def notice(self, message: str) -> None:
        self._on_progress(ProgressEvent(self.port, self.attempt, "notice", message=message))

    def on_cancel(self, closer: Callable[[], None]) -> None:
        """Call ``closer`` (e.g. closing the port) when the time runs out."""
        self._closers.append(closer)

    def cancel(self) -> None:
        self._cancelled.set()
        for closer in self._closers:
            with contextlib.suppress(Exception):
                closer()


BoardJob = Callable[[BoardContext], BoardResult]


def flash_job(
    firmware: Firmware,
    *,
    family: str | None = None,
    reset: str = "auto",
    baudrate: int | None = None,
    verify: bool = True,
    sync_timeout: float | None = None,
    then_check: ExpectedFirmware | None = None,
) -> BoardJob:
    """A batch job flashing ``firmware``; with ``then_check`` it health-checks the board after."""

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
        if then_check is None or not result.ok:
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
) -> BatchResult:
    """Run ``job`` on every port, at most ``concurrency`` at a time.

    Each attempt gets ``timeout`` seconds; a failed attempt whose reason is in
    :data:`RETRYABLE` runs again (a fresh driver, so a fresh reset) up to ``retries`` times.
    A job that raises instead of returning a result is reported as that board's failure.
    Results come back in the order of ``ports``.
    """
    port_list = list(dict.fromkeys(ports))  # the same port twice would fight over it
    report = on_progress or (lambda _event: None)
    lock = threading.Lock()

    def safe_report(event: ProgressEvent) -> None:
        with lock:
            report(event)

    started = time.monotonic()
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    try:
        futures = [
            pool.submit(_run_port, port, job, timeout, retries, safe_report, stop)
            for port in port_list
        ]
        boards = [future.result() for future in futures]
    except BaseException:
        # Ctrl-C: stop every board at its next step instead of waiting for all of them
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
    while True:
        attempt += 1
        context = BoardContext(port, attempt, timeout, report)
        result, finished = _attempt(context, job, stop)
        result.attempts = attempt
        again = result.reason in RETRYABLE and attempt <= retries and finished
        if result.ok or not again or stop.is_set():
            break
        report(ProgressEvent(port, attempt, "retry", message=result.message))
    result.duration_s = time.monotonic() - started
    report(ProgressEvent(port, attempt, "done", message=result.status.value))
    return result


def _attempt(
    context: BoardContext, job: BoardJob, stop: threading.Event
) -> tuple[BoardResult, bool]:
    """Run one attempt in its own thread; returns (result, whether the thread finished)."""
    box: list[BoardResult] = []

    def work() -> None:
        try:
            box.append(job(context))
        except BoardError as error:
            box.append(BoardResult(context.port, "unknown", "job").fail(error, "job"))
        except Exception as error:  # a bug must not take the other boards down
            failure = BoardError(f"internal error: {error!r}", reason=Reason.PROTOCOL)
            box.append(BoardResult(context.port, "unknown", "job").fail(failure, "job"))

    worker = threading.Thread(target=work, name=f"board {context.port}", daemon=True)
    worker.start()
    while worker.is_alive() and time.monotonic() < context.deadline and not stop.is_set():
        worker.join(0.1)
    if worker.is_alive():
        context.cancel()
        worker.join(5.0)  # closing the port ends a blocked read quickly
    if box and not worker.is_alive() and box[0].reason is not Reason.TIMEOUT:
        return box[0], True
    timed_out = BoardError(
        f"no result within {context.timeout:.0f} s: check the board, or raise --timeout",
        reason=Reason.TIMEOUT,
        needs_reflash=bool(box and box[0].needs_reflash),
    )
    family = box[0].family if box else "unknown"
    return BoardResult(context.port, family, "job").fail(
        timed_out, "timeout"
    ), not worker.is_alive()
