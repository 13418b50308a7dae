"""``firmware-tools``: list ports, flash, verify and health-check many boards at once.

A thin layer over :mod:`firmware_tools.operations`: parse arguments, pick the ports, show a
live line per board on stderr, print a summary table (or ``--json``) on stdout. Exit code 0
when every board passed or warned, 1 when any board failed, 2 for a usage error (bad firmware
file, no ports).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from firmware_tools.base import BoardError
from firmware_tools.drivers import DRIVERS, board_kind, board_kinds
from firmware_tools.images import HEX_SUFFIXES
from firmware_tools.operations import (
    RESET_MODES,
    BatchResult,
    BoardContext,
    BoardJob,
    BoardResult,
    Firmware,
    ProgressEvent,
    check_job,
    firmware_by_family,
    flash_job,
    load_firmware,
    run_batch,
    verify_board,
)
from firmware_tools.ports import UNKNOWN, PortInfo, check_port_url, list_board_ports
from firmware_tools.protocol.healthcheck import ExpectedFirmware

__all__ = ["main"]

EXIT_OK, EXIT_BOARD_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake on the command line; the message says what to do."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (also usable from Python and tests)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (UsageError, BoardError) as error:
        print(f"firmware-tools: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("firmware-tools: stopped", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="firmware-tools",
        description="Flash, verify and health-check workshop robot boards, many at once.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ports = commands.add_parser("ports", help="list USB serial ports and guess the board on each")
    ports.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ports.set_defaults(run=_run_ports)

    flash = commands.add_parser("flash", help="flash a firmware onto boards")
    flash.add_argument("firmware", nargs="*", help=_firmware_kinds())
    flash.add_argument(
        "--firmware",
        dest="firmware_for",
        action="append",
        default=[],
        metavar="BOARD=PATH",
        help="the firmware for one board family or board name, for a hub of mixed boards "
        "(--firmware avr=kitbot.hex --firmware micropython=kitbot-mpy/); repeatable",
    )
    _add_board_options(flash, timeout=180.0)
    flash.add_argument("--address", type=_address, help="where a .bin goes (0x10000)")
    flash.add_argument("--chip", help="target chip of a .hex/.bin (default: the board's usual)")
    flash.add_argument("--no-verify", action="store_true", help="skip the read-back")
    flash.add_argument(
        "--sync-timeout",
        type=float,
        help="seconds to keep trying to reach the bootloader (time to press reset)",
    )
    flash.add_argument("--check", action="store_true", help="health-check each board after")
    _add_expect_options(flash)
    flash.set_defaults(run=_run_flash)

    verify = commands.add_parser("verify", help="check that boards hold a firmware")
    verify.add_argument("firmware", nargs="+", help="the firmware the boards should hold")
    _add_board_options(verify, timeout=120.0)
    verify.add_argument("--address", type=_address, help="where a .bin goes")
    verify.add_argument("--chip", help="target chip of a .hex/.bin")
    verify.set_defaults(run=_run_verify)

    check = commands.add_parser("check", help="health-check boards: bootloader, firmware, parts")
    _add_board_options(check, timeout=60.0)
    _add_expect_options(check)
    check.add_argument(
        "--hello-timeout",
        type=float,
        default=8.0,
        help="seconds the firmware gets to answer hello (default 8)",
    )
    check.set_defaults(run=_run_check)
    return parser


def _firmware_kinds() -> str:
    """What each registered family takes as firmware: ".hex (avr), .bin (esp), ..."."""
    kinds = []
    for family, driver in DRIVERS.items():
        files = "/".join(sorted(driver.firmware_suffixes))
        folder = " or a folder" if driver.firmware_folders else ""
        kinds.append(f"{files}{folder} ({family})")
    return "the firmware: " + ", ".join(kinds)


def _address(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an address: write e.g. 0x10000"
        ) from None


def _add_board_options(parser: argparse.ArgumentParser, *, timeout: float) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every USB serial port found")
    which.add_argument(
        "--port",
        action="append",
        metavar="PORT",
        help="a port: serial device path (/dev/ttyUSB0, /dev/serial/by-id/..., a pty, COM3) or "
        "socket://HOST:PORT or rfc2217://HOST:PORT without options; repeatable",
    )
    parser.add_argument(
        "--board",
        metavar="BOARD",
        help="board family or board name when the port can't tell: " + ", ".join(board_kinds()),
    )
    parser.add_argument(
        "--reset",
        choices=RESET_MODES,
        default="auto",
        help="how to reset into the bootloader; 'none': press reset on the board yourself",
    )
    parser.add_argument("--baud", type=int, help="bootloader baud rate (default: try each)")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="boards at once (default 32: a full hub)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=timeout,
        help=f"seconds per board and attempt (default {timeout:.0f})",
    )
    parser.add_argument(
        "--retries", type=int, default=1, help="retries with a fresh reset (default 1)"
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no live progress lines")


def _add_expect_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--expect-fw", default="kitbot", help="firmware name (default kitbot)")
    parser.add_argument("--expect-version", help="firmware version the boards must run")


# -- commands ---------------------------------------------------------------------------


def _run_ports(args: argparse.Namespace) -> int:
    started = time.monotonic()
    ports = list_board_ports()
    if args.json:
        print(json.dumps([port.to_dict() for port in ports], indent=2))
        return EXIT_OK
    if not ports:
        print("no USB serial ports found: plug a board in (and use a data cable, not charge-only)")
        return EXIT_OK
    print(_ports_table(ports))
    print(f"{len(ports)} port(s) in {time.monotonic() - started:.2f} s")
    return EXIT_OK


def _ports_table(ports: list[PortInfo]) -> str:
    rows = [("DEVICE", "VID:PID", "SERIAL", "LOCATION", "FAMILY", "BOARD / PRODUCT")]
    for port in ports:
        family = port.family if port.family_sure or port.family == UNKNOWN else port.family + "?"
        product = port.board or " ".join(p for p in (port.manufacturer, port.product) if p)
        rows.append(
            (
                port.device,
                port.vid_pid,
                port.serial_number or "",
                port.location or "",
                family,
                product,
            )
        )
    return _table(rows)


def _run_flash(args: argparse.Namespace) -> int:
    firmwares = _firmwares(args)
    ports = _select_ports(args, set(firmwares))
    expected = _expected(args) if args.check else None
    title = ", ".join(f"{f.source} ({f.size} B)" for f in firmwares.values())
    job = flash_job(
        firmwares,
        family=args.board,
        reset=args.reset,
        baudrate=args.baud,
        verify=not args.no_verify,
        sync_timeout=args.sync_timeout,
        then_check=expected,
    )
    return _run_jobs(args, ports, job, f"flash {title}")


def _firmwares(args: argparse.Namespace) -> dict[str, Firmware]:
    """The firmware per family: the positional one, and each ``--firmware BOARD=PATH``.

    With several, ``--address`` goes to the raw binaries among them (an Intel HEX file
    carries its own), and ``--chip`` is refused: in a mixed hub the board name brings it.
    """
    given: dict[str | None, list[str]] = {}
    if args.firmware:
        given[args.board] = list(args.firmware)
    for spec in args.firmware_for:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise UsageError(f"--firmware {spec!r}: write BOARD=PATH, e.g. avr=kitbot.hex")
        given.setdefault(name.strip(), []).append(path.strip())
    if not given:
        raise UsageError("no firmware given: name a .hex, a .bin or a folder, or --firmware")
    if args.chip and len(given) > 1:
        raise UsageError(
            "--chip is for one firmware; for a hub of mixed boards name each board instead "
            "(--firmware nano=kitbot.hex)"
        )
    loaded = []
    for name, paths in given.items():
        raw = not all(Path(path).suffix.lower() in HEX_SUFFIXES for path in paths)
        address = args.address if raw or len(given) == 1 else None
        loaded.append(load_firmware(paths, family=name, address=address, chip=args.chip))
    return firmware_by_family(loaded)


def _run_verify(args: argparse.Namespace) -> int:
    firmware = load_firmware(args.firmware, family=args.board, address=args.address, chip=args.chip)
    ports = _select_ports(args, {firmware.family})

    def job(context: BoardContext) -> BoardResult:
        return verify_board(
            context.port,
            firmware,
            family=args.board,
            reset=args.reset,
            baudrate=args.baud,
            progress=context.progress,
            notice=context.notice,
        )

    return _run_jobs(args, ports, job, f"verify {firmware.source}")


def _run_check(args: argparse.Namespace) -> int:
    ports = _select_ports(args, set())
    job = check_job(
        family=args.board,
        expected=_expected(args),
        reset=args.reset,
        baudrate=args.baud,
        hello_timeout=args.hello_timeout,
    )
    return _run_jobs(args, ports, job, "check")


def _expected(args: argparse.Namespace) -> ExpectedFirmware:
    return ExpectedFirmware(fw=args.expect_fw, version=args.expect_version)


def _select_ports(args: argparse.Namespace, firmware_families: set[str]) -> list[str]:
    """The ports named with --port, or with --all every USB port that may hold a wanted board.

    :raise BoardError: an unknown --board name (it lists the accepted ones), or a --port that
        is not a serial port (it says what is accepted).
    """
    wanted = {board_kind(args.board).family} if args.board else firmware_families
    if args.port:
        return [check_port_url(port) for port in args.port]
    found = list_board_ports()
    # leave out only ports that surely hold another family; unsure guesses are identified
    chosen = [p.device for p in found if not (wanted and p.family_sure and p.family not in wanted)]
    if not chosen:
        what = f"{' or '.join(sorted(wanted))} " if wanted else ""
        raise UsageError(f"no {what}boards found on USB: plug them in, or name ports with --port")
    return chosen


def _run_jobs(args: argparse.Namespace, ports: list[str], job: BoardJob, title: str) -> int:
    if args.concurrency < 1 or args.timeout <= 0 or args.retries < 0:
        raise UsageError("--concurrency must be at least 1, --timeout positive, --retries >= 0")
    live = None if args.quiet else LiveProgress(ports, sys.stderr)
    if live is not None:
        print(f"{title}: {len(ports)} board(s)", file=sys.stderr)
    batch = run_batch(
        ports,
        job,
        concurrency=args.concurrency,
        timeout=args.timeout,
        retries=args.retries,
        on_progress=live.update if live is not None else None,
    )
    if live is not None:
        live.finish()
    if args.json:
        print(json.dumps(batch.to_dict(), indent=2))
    else:
        print(summary_table(batch))
    return EXIT_OK if batch.ok else EXIT_BOARD_FAILED


# -- output -----------------------------------------------------------------------------


def summary_table(batch: BatchResult) -> str:
    """The table printed after a batch: one row per board, then its steps when several."""
    rows = [("PORT", "FAMILY", "RESULT", "TIME", "WHERE", "DETAIL")]
    for board in batch.boards:
        tries = f" ({board.attempts} tries)" if board.attempts > 1 else ""
        rows.append(
            (
                board.port,
                board.family,
                board.status.value.upper(),
                f"{board.duration_s:.1f}s",
                board.where,
                board.summary + tries,
            )
        )
    lines = [_table(rows)]
    for board in batch.boards:
        if len(board.steps) > 1:
            lines.append(f"\n{board.label}:")
            lines.extend(
                f"  {step.outcome.value:<7} {step.name:<20} {step.detail}" for step in board.steps
            )
    counts = batch.counts()
    skipped = f"{counts['skipped']} skipped, " if counts["skipped"] else ""
    lines.append(
        f"\n{len(batch.boards)} board(s): {counts['pass']} passed, {counts['warn']} warned, "
        f"{skipped}{counts['fail']} failed in {batch.duration_s:.1f} s"
    )
    return "\n".join(lines)


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


class LiveProgress:
    """One progress line per board on a terminal; on a pipe, a line per phase change."""

    def __init__(self, ports: list[str], stream: TextIO) -> None:
        self.ports = ports
        self.stream = stream
        self.tty = stream.isatty()
        self.lines = dict.fromkeys(ports, "waiting")
        self._last_phase: dict[str, str] = {}
        self._drawn = False
        self._drawn_at = 0.0

    def update(self, event: ProgressEvent) -> None:
        """Take one event (called under the batch's lock, from worker threads)."""
        text = _event_text(event)
        self.lines[event.port] = text
        if self.tty:
            # at most ten redraws a second: 24 boards report thousands of pages
            urgent = event.phase in ("notice", "retry", "done")
            if urgent or time.monotonic() - self._drawn_at >= 0.1:
                self._redraw()
        elif event.phase != self._last_phase.get(event.port) or event.message:
            self._last_phase[event.port] = event.phase
            print(f"{event.port}: {text}", file=self.stream, flush=True)

    def _redraw(self) -> None:
        width = max(len(port) for port in self.ports)
        if self._drawn:
            self.stream.write(f"\x1b[{len(self.ports)}F")
        for port in self.ports:
            self.stream.write(f"\x1b[2K{port.ljust(width)}  {self.lines[port]}\n")
        self.stream.flush()
        self._drawn = True
        self._drawn_at = time.monotonic()

    def finish(self) -> None:
        """Draw the final state of every line."""
        if self.tty:
            self._redraw()


def _event_text(event: ProgressEvent) -> str:
    attempt = f" [try {event.attempt}]" if event.attempt > 1 else ""
    if event.phase == "done":
        return f"{event.message}{attempt}"
    if event.phase in ("notice", "retry"):
        prefix = "retrying: " if event.phase == "retry" else ""
        return f"{prefix}{event.message}{attempt}"
    if event.total:
        percent = 100 * event.done // event.total
        return f"{event.phase} {percent:3d}% ({event.done}/{event.total} B){attempt}"
    return f"{event.phase}...{attempt}"
