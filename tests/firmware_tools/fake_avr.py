"""A fake Arduino board: an optiboot-like STK500v1 bootloader in Python behind a pty.

It keeps the real board's timing, so speed can be measured without hardware: bytes cross the
line at the UART's rate in each direction (11,520 B/s at 115200 8N1), a page write keeps the
chip busy 4.5 ms, the bootloader blinks its LED ~0.4 s after reset before it listens, its UART
keeps only 3 bytes while the firmware is busy (the rest are overrun and lost), and its
watchdog starts the sketch 1 s after the last byte or 16 ms after a bad command, as optiboot's
does. The pty's baud rate is read from its termios: a host at the wrong speed gets garbage.

Faults for the failure tests (:class:`Faults`): a silent port, a sketch that prints, a reset
that never arrives, a byte lost on the line, a flash cell that does not take a write, and
the board vanishing in the middle of a page.

Run as a script it serves ``--count`` boards and prints ``pty PATH`` for each; a line
``reset N`` on stdin presses board N's reset button (benchmarks/flash.py uses this).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import select
import sys
import termios
import threading
import time
import tty
from dataclasses import dataclass, field

__all__ = ["ATMEGABOOT", "OPTIBOOT", "BootloaderModel", "FakeAvr", "Faults"]

INSYNC, OK = 0x14, 0x10
UART_FIFO = 3  # two-byte receive FIFO plus the shift register


@dataclass(frozen=True)
class BootloaderModel:
    """The parts of a bootloader's behaviour the host can observe."""

    name: str
    baudrate: int
    sw_major: int
    boot_size: int
    blink_s: float  # LED flashes after reset, before the first byte is read
    watchdog_s: float | None  # the sketch starts this long after the last byte (None: never)


OPTIBOOT = BootloaderModel("optiboot", 115200, 4, 512, blink_s=0.375, watchdog_s=1.0)
ATMEGABOOT = BootloaderModel("atmegaboot", 57600, 1, 2048, blink_s=0.2, watchdog_s=0.75)


@dataclass
class Faults:
    """What goes wrong on this board."""

    silent: bool = False  # nothing ever answers: wrong port, no bootloader
    sketch_text: bytes | None = None  # the sketch prints this line every 0.1 s while it runs
    no_reset: bool = False  # the reset never reaches the chip (missing auto-reset capacitor)
    drop_in_page: int | None = None  # one byte of the n-th page written is lost on the line
    stuck_address: int | None = None  # this flash byte keeps its old value when written
    vanish_in_page: int | None = None  # the board disappears while the n-th page arrives
    press_on_command: int | None = None  # reset is pressed as this command byte arrives (once)


@dataclass
class FakeAvr:
    """One fake board. ``start()`` it, talk to ``.port``, ``press_reset()``, ``stop()``."""

    model: BootloaderModel = OPTIBOOT
    signature: bytes = bytes.fromhex("1e950f")
    flash_size: int = 32768
    page_size: int = 128
    page_write_s: float = 0.0045
    rate_limited: bool = True
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        self.flash = bytearray(b"\xff") * self.flash_size
        self.pages_written = 0
        self.resets = 0
        self._master, slave = os.openpty()
        tty.setraw(self._master)
        self.port = os.ttyname(slave)
        self._slave = slave  # held open so the host may close and reopen the port
        self._rx: collections.deque[tuple[int, float]] = collections.deque()
        self._rx_clock = 0.0
        self._tx_clock = 0.0
        self._busy: list[tuple[float, float]] = []
        self._pending: collections.deque[tuple[float, bytes]] = collections.deque()
        self._now = 0.0
        self._reset = threading.Event()
        self._stop = threading.Event()
        self._gone = False
        self._thread = threading.Thread(target=self._run, name=f"fake-avr {self.port}", daemon=True)

    # -- control -------------------------------------------------------------------------

    def start(self) -> FakeAvr:
        self._thread.start()
        return self

    def press_reset(self) -> None:
        """Press the reset button (a pty has no DTR line to do it)."""
        self._reset.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    @property
    def byte_s(self) -> float:
        """Time one byte takes on the line at the board's speed (10 bits, 8N1)."""
        return 10 / self.model.baudrate

    # -- the board's main loop -----------------------------------------------------------

    def _run(self) -> None:
        mode = "sketch"
        while not self._stop.is_set() and not self._gone:
            if self._reset.is_set():
                self._reset.clear()
                self.resets += 1
                mode = "sketch" if self.faults.no_reset else "bootloader"
            if self.faults.silent:
                self._drain(0.05)
            elif mode == "bootloader":
                self._bootloader()
                mode = "sketch"
            else:
                self._sketch()

    def _sketch(self) -> None:
        """Run the application until reset: print the sketch's line, ignore what arrives."""
        text = self.faults.sketch_text
        deadline = time.monotonic() + 0.1
        while not self._reset.is_set() and not self._stop.is_set() and not self._gone:
            self._drain(max(0.0, deadline - time.monotonic()))
            if text is not None and time.monotonic() >= deadline:
                self._send(text)
                deadline = time.monotonic() + 0.1
            elif text is None:
                deadline = time.monotonic() + 0.1

    def _bootloader(self) -> None:
        """optiboot's loop: serve commands until the watchdog or a bad byte starts the sketch."""
        self._rx.clear()
        self._now = time.monotonic()
        self._mark_busy(self.model.blink_s)
        last = time.monotonic()
        while not self._stop.is_set() and not self._gone:
            if self._reset.is_set():
                return
            wait = self.model.watchdog_s
            timeout = None if wait is None else last + wait - time.monotonic()
            if timeout is not None and timeout <= 0:
                return  # watchdog: the sketch starts
            ch = self._getch(min(0.05, timeout) if timeout is not None else 0.05)
            if ch is None:
                continue
            last = time.monotonic()
            if ch == self.faults.press_on_command:
                self.faults.press_on_command = None
                self.press_reset()  # a trainer pressing late: this command is lost
                return
            if not self._command(ch):
                self._mark_busy(0.016)
                return  # bad command: optiboot lets the watchdog reset into the sketch

    def _command(self, ch: int) -> bool:
        if ch == 0x30:  # GET_SYNC
            return self._reply(b"")
        if ch == 0x41:  # GET_PARAMETER
            which = self._need()
            value = {0x81: self.model.sw_major, 0x82: 4}.get(which, 3)
            return self._reply(bytes((value,)))
        if ch in (0x50, 0x52):  # ENTER_PROGMODE, CHIP_ERASE (ignored, as optiboot does)
            return self._reply(b"")
        if ch == 0x42:  # SET_DEVICE
            self._need(20)
            return self._reply(b"")
        if ch == 0x45:  # SET_DEVICE_EXT
            self._need(5)
            return self._reply(b"")
        if ch == 0x55:  # LOAD_ADDRESS, word address little endian
            lo, hi = self._need(), self._need()
            self._address = ((hi << 8) | lo) * 2
            return self._reply(b"")
        if ch == 0x56:  # UNIVERSAL
            self._need(4)
            return self._reply(b"\x00")
        if ch == 0x64:  # PROG_PAGE
            return self._prog_page()
        if ch == 0x74:  # READ_PAGE
            hi, lo, _memtype = self._need(), self._need(), self._need()
            length = ((hi << 8) | lo) & 0xFF or 256  # one length byte, as in optiboot 4.4
            if not self._eop():
                return False
            data = bytes(self.flash[self._address : self._address + length])
            self._address += length
            self._send(bytes((INSYNC,)) + data + bytes((OK,)))
            return True
        if ch == 0x75:  # READ_SIGN
            return self._reply(self.signature)
        if ch == 0x51:  # LEAVE_PROGMODE: watchdog 16 ms, then the sketch
            self._reply(b"")
            return False
        return self._reply(b"")  # anything else: optiboot checks the EOP and says OK

    def _prog_page(self) -> bool:
        hi, lo, _memtype = self._need(), self._need(), self._need()
        length = ((hi << 8) | lo) & 0xFF or 256
        page_index = self.pages_written
        vanish = self.faults.vanish_in_page
        if vanish is not None and page_index == vanish:
            self._need(length // 2)
            self._vanish()
            return False
        if page_index == self.faults.drop_in_page:
            self.faults.drop_in_page = None
            self._need(length // 2)
            self._need()  # this byte never made it: the rest of the frame slips by one
            self._need(length - length // 2)
            data = b""
        else:
            data = self._take(length) or b""
        if not self._eop() or not data:
            return False
        self._send(bytes((INSYNC,)))
        self._mark_busy(self.page_write_s)
        start = self._address - self._address % self.page_size
        for i, value in enumerate(data):
            if start + i != self.faults.stuck_address:
                self.flash[start + i] = value
        self.pages_written += 1
        self._send(bytes((OK,)))
        return True

    def _reply(self, payload: bytes) -> bool:
        if not self._eop():
            return False
        self._send(bytes((INSYNC,)) + payload + bytes((OK,)))
        return True

    def _eop(self) -> bool:
        return self._need() == 0x20

    # -- the line ------------------------------------------------------------------------

    def _need(self, count: int = 1) -> int:
        """Read ``count`` bytes (waiting as getch does); return the last. -1 when stopping."""
        value = -1
        for _ in range(count):
            ch = None
            while ch is None:
                if self._stop.is_set() or self._reset.is_set() or self._gone:
                    return -1
                ch = self._getch(0.05)
            value = ch
        return value

    def _take(self, count: int) -> bytes | None:
        """Read ``count`` bytes in one go (a page): wait only for the last one's arrival."""
        data = bytearray()
        arrives = 0.0
        while len(data) < count:
            if self._stop.is_set() or self._reset.is_set() or self._gone:
                return None
            if not self._rx:
                self._drain(0.05, keep=True)
                continue
            while self._rx and len(data) < count:
                ch, arrives = self._rx.popleft()
                data.append(ch)
        self._now = max(self._now, arrives)
        return bytes(data)

    def _getch(self, timeout: float) -> int | None:
        """The next byte the firmware reads, at the time it has fully arrived."""
        deadline = time.monotonic() + timeout
        while not self._rx:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._gone:
                return None
            self._drain(remaining, keep=True)
        ch, arrives = self._rx.popleft()
        self._now = max(self._now, arrives)
        return ch

    def _drain(self, timeout: float, *, keep: bool = False) -> None:
        """Take what the host wrote; each byte arrives one byte time after the previous.

        Also puts on the wire the reply bytes whose time has come (the UART shifts them out
        while the firmware goes on), so every wait of the firmware passes through here.
        """
        self._flush_due()
        if self._pending:
            timeout = min(timeout, self._pending[0][0] - time.monotonic())
        try:
            ready, _, _ = select.select([self._master], [], [], max(0.0, timeout))
            if not ready:
                self._flush_due()
                return
            chunk = os.read(self._master, 4096)
        except OSError:
            return
        now = time.monotonic()
        garble = self._host_baud() != self.model.baudrate
        for b in chunk:
            self._rx_clock = max(self._rx_clock, now) + (self.byte_s if self.rate_limited else 0)
            if not keep:
                continue
            if self._overrun(self._rx_clock):
                continue
            self._rx.append(((b * 7 + 0x5A) & 0xFF if garble else b, self._rx_clock))

    def _overrun(self, arrives: float) -> bool:
        """True when the byte arrives while the firmware is busy and the UART FIFO is full."""
        for start, end in self._busy:
            if start < arrives <= end:
                waiting = sum(1 for _, t in self._rx if start < t <= end)
                return waiting >= UART_FIFO
        return False

    def _mark_busy(self, seconds: float) -> None:
        """The firmware does not read the UART for ``seconds`` (blink, page write)."""
        if not self.rate_limited:
            return
        start = self._clock()
        self._busy = [(s, e) for s, e in self._busy if e > start] + [(start, start + seconds)]
        self._now = start + seconds

    def _clock(self) -> float:
        """The firmware's own time: it runs ahead of the host's wall clock, never behind.

        Every event is scheduled from this clock rather than from when this thread woke up,
        so a late wake-up on a busy host does not pile up into a slower board.
        """
        self._now = max(self._now, time.monotonic() - 0.05)
        return self._now

    def _send(self, data: bytes) -> None:
        """Send ``data`` at line rate: each chunk reaches the host when its last byte would.

        Like putch, this returns once all but the last two bytes (the UART's transmit buffer
        and shift register) are on their way.
        """
        if self._host_baud() != self.model.baudrate:
            data = bytes((b * 13 + 0xA5) & 0xFF for b in data)
        if not self.rate_limited:
            self._write(data)
            return
        start = self._clock()
        clock = max(self._tx_clock, start)
        for i in range(0, len(data), 32):
            piece = data[i : i + 32]
            clock += len(piece) * self.byte_s
            self._pending.append((clock, piece))
        self._tx_clock = clock
        self._busy = [(s, e) for s, e in self._busy if e > start] + [(start, clock)]
        # putch returns once the last two bytes sit in the UART's buffer and shift register
        self._now = max(start, clock - 2 * self.byte_s)

    def _flush_due(self) -> None:
        now = time.monotonic()
        while self._pending and self._pending[0][0] <= now:
            self._write(self._pending.popleft()[1])

    def _write(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except OSError:
            self._gone = True

    def _host_baud(self) -> int:
        try:
            speed = termios.tcgetattr(self._master)[4]
        except termios.error:
            return self.model.baudrate
        return _SPEEDS.get(speed, 0)

    def _vanish(self) -> None:
        """The USB cable is pulled: the port disappears."""
        self._gone = True
        with contextlib.suppress(OSError):
            os.close(self._master)
        with contextlib.suppress(OSError):
            os.close(self._slave)

    _address = 0


_SPEEDS = {
    getattr(termios, f"B{rate}"): rate
    for rate in (9600, 19200, 38400, 57600, 115200, 230400)
    if hasattr(termios, f"B{rate}")
}


def main(argv: list[str] | None = None) -> int:
    """Serve ``--count`` fake boards until stdin closes; ``reset N`` presses board N's reset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--bootloader", choices=("optiboot", "atmegaboot"), default="optiboot")
    args = parser.parse_args(argv)
    model = OPTIBOOT if args.bootloader == "optiboot" else ATMEGABOOT
    boards = [FakeAvr(model=model).start() for _ in range(args.count)]
    for board in boards:
        print(f"pty {board.port}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "reset":
            boards[int(words[1])].press_reset()
    for board in boards:
        board.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
