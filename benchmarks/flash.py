"""Flash speed on a line-rate-limited fake Uno (optiboot timing), one board and 24 at once.

    .venv/bin/python benchmarks/flash.py [--boards 24]

Figures, each printed with its target, ratio and PASS/FAIL (exit status 1 on any miss):
1. a full Uno image (32,256 B) written and verified, against the line-rate floor
   2 x 32,256 B / 11,520 B/s (115200 baud 8N1): target ratio <= 1.3;
2. 24 boards flashed at once through firmware_tools.operations.run_batch (a thread per board
   when that module is missing), against one board alone in the same run: target <= 1.5;
3. `firmware-tools ports`, when that command exists: target < 0.5 s.
Also printed, for the choice of how unchanged images are skipped: the time to find an image
unchanged and to re-flash an image with one page changed.

The fake boards run in their own process (tests/firmware_tools/fake_avr.py), as real boards
would be on their own chips; the trainer's reset press is a line on that process's stdin.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firmware_tools.drivers.avr import AvrBoard  # noqa: E402
from firmware_tools.images import FirmwareImage  # noqa: E402

IMAGE_SIZE = 32256
LINE_RATE = 115200 / 10  # bytes per second each way, 8N1
FLOOR_S = 2 * IMAGE_SIZE / LINE_RATE


class FakeBoards:
    """The fake boards' process: ``ports`` to flash, ``press_reset(i)`` as a trainer would."""

    def __init__(self, count: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/firmware_tools/fake_avr.py"), "--count", str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.ports = [self.process.stdout.readline().split()[1] for _ in range(count)]
        self._lock = threading.Lock()

    def press_reset(self, index: int) -> None:
        assert self.process.stdin is not None
        with self._lock:
            self.process.stdin.write(f"reset {index}\n")
            self.process.stdin.flush()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


def flash_one(boards: FakeBoards, index: int, image: FirmwareImage) -> dict:
    board = AvrBoard(boards.ports[index], reset="none", notice=lambda _: boards.press_reset(index))
    started = time.monotonic()
    report = board.flash(image)
    return {**report.details, "total_s": time.monotonic() - started, "report": report}


def flash_many(boards: FakeBoards, image: FirmwareImage, count: int) -> tuple[float, str]:
    """Flash ``count`` boards at once through the operations layer's batch, when it exists."""
    started = time.monotonic()
    try:
        from firmware_tools.operations import Firmware, flash_job, run_batch
    except ImportError:
        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(lambda i: flash_one(boards, i, image), range(count)))
        return time.monotonic() - started, "a thread per board"
    index = {port: i for i, port in enumerate(boards.ports[:count])}

    def on_progress(event: object) -> None:
        if getattr(event, "phase", "") == "notice" and "Press the reset" in event.message:
            boards.press_reset(index[event.port])

    job = flash_job(Firmware("avr", "benchmark image", image=image), family="avr", reset="none")
    batch = run_batch(list(index), job, concurrency=count, on_progress=on_progress)
    if not batch.ok:
        failed = [board.message for board in batch.boards if not board.ok]
        raise SystemExit(f"batch flash failed: {failed[:3]}")
    return time.monotonic() - started, "operations.run_batch"


def line(name: str, value: float, unit: str, target: str, ratio: float, ok: bool) -> bool:
    verdict = "PASS" if ok else "FAIL"
    print(f"{name:<44} {value:8.3f} {unit:<3} target {target:<22} ratio {ratio:5.2f}  {verdict}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="flash speed on rate-limited fake boards")
    parser.add_argument("--boards", type=int, default=24)
    args = parser.parse_args(argv)
    rng = random.Random(328)
    image = FirmwareImage(bytes(rng.randrange(256) for _ in range(IMAGE_SIZE)), 0, "atmega328p")
    one_page = bytearray(image.data)
    one_page[IMAGE_SIZE // 2] ^= 0xFF
    changed = FirmwareImage(bytes(one_page), 0, "atmega328p")
    results = []

    boards = FakeBoards(args.boards)
    try:
        single = flash_one(boards, 0, image)
        program_s = single["write_s"] + single["verify_s"]
        results.append(
            line(
                "1 board: 32,256 B written + verified",
                program_s,
                "s",
                f"<= 1.3 x {FLOOR_S:.2f} s",
                program_s / FLOOR_S,
                program_s <= 1.3 * FLOOR_S,
            )
        )
        print(
            f"{'  (whole flash call incl. reset + sync)':<44} {single['total_s']:8.3f} s   "
            f"sync {single['sync_s']:.3f} s, compare {single['compare_s']:.3f} s"
        )
        unchanged = flash_one(boards, 0, image)
        assert unchanged["report"].skipped_unchanged
        print(f"{'  same image again (skipped unchanged)':<44} {unchanged['total_s']:8.3f} s")
        one = flash_one(boards, 0, changed)
        assert one["report"].bytes_written == 128
        print(f"{'  one page changed (only it written)':<44} {one['total_s']:8.3f} s")

        # Every board gets a full write: an image none of them holds yet.
        fresh = FirmwareImage(bytes(b ^ 0x55 for b in image.data), 0, "atmega328p")
        wall, how = flash_many(boards, fresh, args.boards)
        alone = single["total_s"]
        results.append(
            line(
                f"{args.boards} boards at once ({how})",
                wall,
                "s",
                f"<= 1.5 x {alone:.2f} s (1)",
                wall / alone,
                wall <= 1.5 * alone,
            )
        )
    finally:
        boards.close()

    if importlib.util.find_spec("firmware_tools.cli") is None:
        print(f"{'firmware-tools ports':<44} not measured (firmware_tools.cli does not exist)")
    else:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-c", "from firmware_tools.cli import main; main(['ports'])"],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        took = time.monotonic() - started
        results.append(line("firmware-tools ports", took, "s", "< 0.5 s", took / 0.5, took < 0.5))
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
