"""MicroPython boards (Pico, micro:bit, ESP32 with MicroPython) through the raw REPL.

The driver stops whatever runs (``Ctrl-C``), enters the raw REPL, and runs small scripts on the
board: hash the files already there, write the changed ones (raw-paste mode when the board has
it, plain raw REPL otherwise), read the board's identity, soft-reset so ``main.py`` starts.

On the unix port a soft reset ends the ``micropython`` process itself (there is no board to
reboot); the driver treats a port that closes during a soft reset as a reset that happened.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar

import serial

from firmware_tools.base import (
    MAX_FIRMWARE_BYTES,
    BoardError,
    Firmware,
    FlashReport,
    ProgressCallback,
    Reason,
)
from firmware_tools.drivers.base import BoardDriver, Identification
from firmware_tools.messages import Message
from firmware_tools.protocol import rawrepl
from firmware_tools.transport import open_port

__all__ = ["BoardFile", "MicroPythonBoard", "MicroPythonDriver", "collect_files"]

BAUDRATE = 115200
CHUNK = 1024  # file bytes per board-side write script: small enough for a micro:bit's heap
EXEC_TIMEOUT = 10.0  # one script may run this long (hashing a big file on a slow board)
_SKIP_SUFFIXES = {".pyc"}
_FIRMWARE_SUFFIXES = {".py", ".mpy"}  # files given one by one; a folder may hold anything


@dataclass(frozen=True)
class BoardFile:
    """One file to put on the board: ``name`` is its path there (``lib/motors.py``)."""

    name: str
    data: bytes

    @property
    def digest(self) -> str:
        return rawrepl.file_digest(self.data)


def collect_files(paths: Iterable[str | Path]) -> list[BoardFile]:
    """Read the MicroPython files to copy: files as given, folders with everything inside.

    A folder's files keep their path relative to the folder (``kit/lib/x.py`` -> ``lib/x.py``);
    hidden files and ``__pycache__`` are left out. Their sizes are added up before any is
    read: more than :data:`~firmware_tools.base.MAX_FIRMWARE_BYTES` is not a firmware.

    :raise BoardError: (BAD_IMAGE) a path that does not exist, more than a firmware holds
        (code ``files-too-large``, params ``size``, ``limit``), or nothing to copy at all.
    """
    sources: list[tuple[Path, Path]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file())
            chosen = [(p, p.relative_to(path)) for p in found if _wanted(p.relative_to(path))]
        elif path.is_file():
            chosen = [(path, Path(path.name))]
        else:
            raise BoardError(Message("mpy-path-missing", path=str(path)), reason=Reason.BAD_IMAGE)
        sources += chosen
    size = sum(source.stat().st_size for source, _relative in sources)
    if size > MAX_FIRMWARE_BYTES:
        raise BoardError(
            Message("files-too-large", size=size, limit=MAX_FIRMWARE_BYTES),
            reason=Reason.BAD_IMAGE,
        )
    files: dict[str, BoardFile] = {}
    for source, relative in sources:
        name = PurePosixPath(*relative.parts).as_posix()
        files[name] = BoardFile(name, source.read_bytes())
    if not files:
        raise BoardError(Message("no-files"), reason=Reason.BAD_IMAGE)
    return list(files.values())


def _wanted(relative: Path) -> bool:
    hidden = any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
    return not hidden and relative.suffix not in _SKIP_SUFFIXES


class MicroPythonBoard:
    """One MicroPython board on ``port`` (a serial device, a pty or a network address).

    Every method raises :class:`BoardError` with a one-line reason: NO_RESPONSE (silent
    port), PROTOCOL (answers, but not as a MicroPython REPL, or a script failed on the board),
    DISCONNECTED (port gone), PORT (cannot open). Any failure once a file copy has started
    carries ``needs_reflash``: the board may hold a half-written file.
    """

    family = "micropython"

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = BAUDRATE,
        connect_timeout: float = 3.0,
        notice: Callable[[str], None] | None = None,
        name: str = "",
    ) -> None:
        self.port = port
        self.name = name or port  # how messages name the board: device path and hub place
        self.connect_timeout = connect_timeout
        self._notice = notice or (lambda _message: None)
        self._in_raw = False
        self._window: int | bool | None = False  # False: raw paste not tried yet
        self._pending = b""  # read past the last marker, kept for the next read
        self._serial = open_port(port, baudrate=baudrate, timeout=0.05, name=self.name)

    # -- public operations -------------------------------------------------------------

    def flash(
        self,
        files: Sequence[BoardFile],
        *,
        verify: bool = True,
        progress: ProgressCallback | None = None,
    ) -> FlashReport:
        """Copy ``files``, skipping those whose on-board sha256 already matches.

        With ``verify`` the copied files are hashed again on the board afterwards. A board
        without ``hashlib.sha256`` gets every file copied and none verified. Does not reset the
        board: call :meth:`soft_reset` to start the new ``main.py``.
        """
        report = progress or (lambda _phase, _done, _total: None)
        started = time.monotonic()
        names = [f.name for f in files]
        on_board = self._hashes(names)
        changed = [f for f in files if on_board.get(f.name) != f.digest]
        total = sum(len(f.data) for f in changed)
        done = 0
        report("copy", 0, total)
        try:
            for board_file in changed:
                for offset in range(0, max(len(board_file.data), 1), CHUNK):
                    chunk = board_file.data[offset : offset + CHUNK]
                    self._run(rawrepl.script_write_file(board_file.name, chunk, append=offset > 0))
                    done += len(chunk)
                    report("copy", done, total)
        except BoardError as exc:
            # cut off mid-way (cable, reset, a crash, a timeout): a file may be half written
            exc.needs_reflash = True
            raise
        verified = 0
        if verify and changed:
            report("verify", 0, total)
            after = self._hashes([f.name for f in changed])
            bad = [f.name for f in changed if after.get(f.name) not in (f.digest, None)]
            if bad:
                raise BoardError(
                    Message("mpy-read-back-differs", files=", ".join(bad)),
                    reason=Reason.VERIFY_MISMATCH,
                    needs_reflash=True,
                )
            # a port without hashlib.sha256 (None) cannot tell: those files count as unverified
            verified = sum(len(f.data) for f in changed if after.get(f.name) == f.digest)
            report("verify", total, total)
        return FlashReport(
            port=self.port,
            family=self.family,
            bytes_written=total,
            bytes_verified=verified,
            skipped_unchanged=not changed,
            duration_s=time.monotonic() - started,
            details={
                "copied": [f.name for f in changed],
                "unchanged": [f.name for f in files if f not in changed],
            },
        )

    @property
    def uses_raw_paste(self) -> bool | None:
        """Whether code goes through raw-paste mode; None until the first script has run."""
        if self._window is False:
            return None
        return self._window is not None

    def hashes(self, names: Sequence[str]) -> dict[str, str | None]:
        """On-board sha256 of each file; None for a missing file or a port without hashlib."""
        return self._hashes(list(names))

    def identity(self) -> dict[str, str]:
        """Implementation, version, platform, machine, unique id ("" when the port has none)."""
        reply = self._run(rawrepl.script_identity())
        try:
            return rawrepl.parse_identity(reply)
        except (ValueError, IndexError):
            raise self._protocol_error(
                Message("mpy-identity-unreadable", reply=repr(reply[:60]))
            ) from None

    def run(self, code: str) -> bytes:
        """Run ``code`` on the board and return what it printed.

        :raise BoardError: (PROTOCOL) when it raised; the message is the exception's last line.
        """
        return self._run(code)

    def soft_reset(self, *, run_main: bool = True) -> None:
        """Soft-reset the board; with ``run_main`` leave the raw REPL first so main.py starts."""
        self._enter_raw()
        try:
            if run_main:
                # main.py runs only after a soft reset from the normal REPL
                self._serial.write(rawrepl.CTRL_B)
                self._read_until(b">>> ", 2.0, what=Message("repl-prompt"))
            self._serial.write(rawrepl.CTRL_D)
            self._serial.flush()
        except BoardError as exc:
            if exc.reason is not Reason.DISCONNECTED:
                raise
            self._notice(Message("mpy-soft-reset-closed", name=self.name))
        self._in_raw = False
        self._window = False

    def close(self) -> None:
        """Close the port; the board keeps running whatever it runs."""
        with contextlib.suppress(serial.SerialException, OSError):
            self._serial.close()

    def __enter__(self) -> MicroPythonBoard:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- raw REPL ----------------------------------------------------------------------

    def _enter_raw(self) -> None:
        if self._in_raw:
            return
        deadline = time.monotonic() + self.connect_timeout
        seen = b""
        while time.monotonic() < deadline:
            self._write(rawrepl.INTERRUPT)
            time.sleep(0.1)
            seen += self._pending + self._drain()
            self._pending = b""
            self._write(b"\r" + rawrepl.CTRL_A)
            answer = self._collect(rawrepl.RAW_REPL_BANNER, 1.0)
            seen += answer
            if rawrepl.RAW_REPL_BANNER in answer:
                self._in_raw = True
                return
        if not seen:
            raise BoardError(Message("mpy-no-answer", name=self.name), reason=Reason.NO_RESPONSE)
        raise self._protocol_error(Message("mpy-not-a-repl", seen=repr(seen[-40:])))

    def _hashes(self, names: list[str]) -> dict[str, str | None]:
        if not names:
            return {}
        out = self._run(rawrepl.script_file_hashes(names))
        try:
            return rawrepl.parse_hashes(out, names)
        except ValueError as exc:
            raise self._protocol_error(exc.args[0]) from None

    def _run(self, code: str) -> bytes:
        self._enter_raw()
        source = code.encode()
        if self._window is False:
            self._window = self._start_paste()
        elif self._window is not None:
            self._write(rawrepl.RAW_PASTE_REQUEST)
            self._read_exact(4, Message("paste-answer"))
        if self._window is None:
            self._write(source + rawrepl.CTRL_D)
            self._read_until(b"OK", 2.0, what=Message("repl-ok"))
        else:
            self._paste(source, int(self._window))
        ended = self._read_until(b"\x04>", EXEC_TIMEOUT, what=Message("repl-reply"))
        reply = rawrepl.parse_exec_reply(ended)
        if reply is None:
            raise self._protocol_error(Message("mpy-no-end-markers"))
        try:
            reply.raise_for_error()
        except rawrepl.RemoteError as exc:
            raise BoardError(
                Message("mpy-board-said", name=self.name, line=exc.last_line),
                reason=Reason.PROTOCOL,
            ) from None
        return reply.out

    def _start_paste(self) -> int | None:
        self._write(rawrepl.RAW_PASTE_REQUEST)
        header = self._read_exact(2, Message("paste-answer"))
        if header == b"R\x00":
            return None
        if header == b"R\x01":
            header += self._read_exact(2, Message("paste-window"))
            return rawrepl.parse_paste_header(header)
        # an old MicroPython echoes the request: it has no raw-paste mode; back to a clean raw REPL
        self._drain()
        self._pending = b""
        self._in_raw = False
        self._enter_raw()
        return None

    def _paste(self, source: bytes, window_size: int) -> None:
        window = rawrepl.PasteWindow(window_size)
        sent = 0
        while sent < len(source):
            try:
                window.feed(self._pending + self._drain())
                self._pending = b""
            except ValueError as exc:
                raise self._protocol_error(exc.args[0]) from None
            if window.aborted:
                self._write(rawrepl.CTRL_D)
                raise self._protocol_error(Message("mpy-paste-stopped"))
            n = window.take(len(source) - sent)
            if n == 0:
                try:
                    window.feed(self._read_exact(1, Message("paste-grant")))
                except ValueError as exc:
                    raise self._protocol_error(exc.args[0]) from None
                continue
            self._write(source[sent : sent + n])
            sent += n
        self._write(rawrepl.CTRL_D)
        # grants may still arrive before the end-of-paste acknowledgement
        self._read_until(rawrepl.CTRL_D, 5.0, what=Message("paste-end"))

    # -- bytes ---------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as exc:
            raise self._gone(exc) from None

    def _drain(self) -> bytes:
        try:
            waiting = self._serial.in_waiting
            return self._serial.read(waiting) if waiting else b""
        except (serial.SerialException, OSError) as exc:
            raise self._gone(exc) from None

    def _read_exact(self, n: int, what: str) -> bytes:
        deadline = time.monotonic() + 2.0
        while len(self._pending) < n:
            if time.monotonic() > deadline:
                raise self._protocol_error(
                    Message("mpy-missing", what=what, got=repr(self._pending))
                )
            self._pending += self._read(n - len(self._pending))
        data, self._pending = self._pending[:n], self._pending[n:]
        return data

    def _collect(self, marker: bytes, timeout: float) -> bytes:
        """Return the bytes up to and including ``marker``, or all read when time runs out.

        Bytes after the marker stay in ``self._pending`` for the next read.
        """
        deadline = time.monotonic() + timeout
        while marker not in self._pending and time.monotonic() < deadline:
            self._pending += self._read(1) + self._drain()
        cut = self._pending.find(marker)
        end = cut + len(marker) if cut >= 0 else len(self._pending)
        data, self._pending = self._pending[:end], self._pending[end:]
        return data

    def _read_until(self, marker: bytes, timeout: float, *, what: str) -> bytes:
        data = self._collect(marker, timeout)
        if marker in data:
            return data
        if not data:
            raise BoardError(
                Message("mpy-no-reply", what=what, name=self.name), reason=Reason.NO_RESPONSE
            )
        raise self._protocol_error(Message("mpy-waited", what=what, got=repr(data[-60:])))

    def _read(self, n: int) -> bytes:
        try:
            return self._serial.read(n)
        except (serial.SerialException, OSError) as exc:
            raise self._gone(exc) from None

    def _gone(self, exc: Exception) -> BoardError:
        self._in_raw = False
        return BoardError(
            Message("mpy-gone", name=self.name, why=str(exc)), reason=Reason.DISCONNECTED
        )

    def _protocol_error(self, detail: str) -> BoardError:
        self._in_raw = False
        return BoardError(
            Message("on-board", name=self.name, detail=detail), reason=Reason.PROTOCOL
        )


class MicroPythonDriver(BoardDriver):
    """The MicroPython family for the operations: files copied over the raw REPL."""

    family = "micropython"
    description = "MicroPython boards (Pico, micro:bit, ESP32 with MicroPython) via the raw REPL"
    boards: ClassVar[Mapping[str, str | None]] = {"pico": None, "microbit": None}
    firmware_suffixes = frozenset(_FIRMWARE_SUFFIXES)
    firmware_folders = True
    bootloader_needs_reset = False  # the REPL answers without a reset

    @classmethod
    def load_firmware(
        cls, paths: Sequence[Path], *, chip: str | None = None, address: int | None = None
    ) -> Firmware:
        return Firmware(cls.family, ", ".join(map(str, paths)), files=tuple(collect_files(paths)))

    def flash(
        self, firmware: Firmware, *, verify: bool = True, progress: ProgressCallback
    ) -> FlashReport:
        board = self._open()
        report = board.flash(list(firmware.files), verify=verify, progress=progress)
        board.soft_reset()
        return report

    def verify(self, firmware: Firmware, *, progress: ProgressCallback) -> str:
        board = self._open()
        progress("verify", 0, 0)
        on_board = board.hashes([f.name for f in firmware.files])
        differ = [f.name for f in firmware.files if on_board.get(f.name) != f.digest]
        board.soft_reset()
        if differ:
            raise BoardError(
                Message("mpy-files-differ", count=len(differ), files=", ".join(differ)),
                reason=Reason.VERIFY_MISMATCH,
            )
        return Message("mpy-all-match")

    def check_bootloader(self) -> Identification:
        board = self._open()
        about = board.identity()
        board.soft_reset()
        return Identification(
            self.family,
            Message(
                "mpy-repl-answers",
                version=about.get("version", "?"),
                platform=about.get("platform", "?"),
            ),
            {f"micropython_{key}": value for key, value in about.items()},
        )

    def _open(self) -> MicroPythonBoard:
        if not isinstance(self.session, MicroPythonBoard):
            self.session = MicroPythonBoard(self.port, notice=self.options.notice, name=self.name)
        return self.session
