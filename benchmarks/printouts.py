"""Figures the printouts package promises, each measured in this run against its target.

    .venv/bin/python benchmarks/printouts.py

- 1,000 badges on an Avery L7160 sheet (vector QR codes + names): median of 5 runs <= 1.0 s
- the same sheet the naive way (a qrcode PNG per badge placed with drawImage), measured
  here in the same run: the package must be at least 10x faster
- 500 certificates (logo, two signature images, QR): median of 3 runs <= 2.0 s
- peak memory of a process that renders 5,000 badges (resource.getrusage ru_maxrss of a
  fresh subprocess, so interpreter and imports are included) <= 300 MB
- PDF of 1,000 badges <= 2 MB

Exits 1 if any target is missed. Fonts and layouts are loaded once before timing, as in a
running web app.
"""

from __future__ import annotations

import io
import os
import random
import statistics
import string
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# This file is named like the package it measures: keep its folder off the import path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import qrcode  # noqa: E402
from qrcode.constants import ERROR_CORRECT_M  # noqa: E402
from reportlab.lib.utils import ImageReader  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402

from printouts import BadgeData, load_layout, render_badges, render_certificates  # noqa: E402
from printouts.samples import sample_certificates  # noqa: E402
from printouts.text import font_name  # noqa: E402

MM = 72.0 / 25.4
NAMES = [
    ("Adébáyọ̀ Ọlápọ̀", "Lagos Robotics Club"),
    ("Nguyễn Thị Hồng Nhung", "Hanoi Makerspace"),
    ("Wanjiru Kamau", "Nairobi Girls in STEM"),
    ("Kouadio Aya Marie-Ange", "Lycée Moderne d'Abidjan"),
    ("محمد عبد الله", "Cairo AI Society"),
    ("Αλέξανδρος Παπαδόπουλος", "Athens Robotics"),
    ("Юлия Смирнова", "Kazan Tech School"),
    ("Jordan Rivera-Washington", "Bronx Community College"),
]


def make_badges(count: int, seed: int = 1) -> list[BadgeData]:
    """Badges with unguessable-looking 32-character tokens in ~60-character URLs."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_"
    badges = []
    for i in range(count):
        name, organisation = NAMES[i % len(NAMES)]
        token = "".join(rng.choice(alphabet) for _ in range(32))
        badges.append(
            BadgeData(
                name=f"{name} {i}",
                url=f"https://kit.example.org/b/{token}",
                organisation=organisation,
                role=("participant", "trainer", "mentor", "guest")[i % 4],
                workshop="Robotics & AI Bootcamp 2026",
            )
        )
    return badges


def naive_sheet(badges: list[BadgeData]) -> bytes:
    """The baseline: qrcode's automatic fit and mask, a PNG per badge, drawImage, and the
    same two lines of text in the same font on the same L7160 grid."""
    layout = load_layout("avery-l7160")
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(layout.page_width * MM, layout.page_height * MM))
    bold, regular = font_name("bold"), font_name("regular")
    for index, badge in enumerate(badges):
        slot = index % layout.slots_per_page
        if index and slot == 0:
            canvas.showPage()
        x, y, _, h = layout.slot_box(slot + 1)
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
        code.add_data(badge.url)
        code.make(fit=True)
        png = io.BytesIO()
        code.make_image().save(png)
        png.seek(0)
        bottom = (layout.page_height - y - h) * MM
        canvas.drawImage(ImageReader(png), (x + 2) * MM, bottom + 2 * MM, 29 * MM, 29 * MM)
        canvas.setFont(bold, 10)
        canvas.drawString((x + 32.5) * MM, bottom + 25 * MM, badge.name)
        canvas.setFont(regular, 8)
        canvas.drawString((x + 32.5) * MM, bottom + 15 * MM, badge.organisation)
    canvas.save()
    return buffer.getvalue()


def timed(action: Callable[[], object], runs: int) -> tuple[float, float, object]:
    """Median wall time and median CPU time of ``runs`` calls, and the last call's result.
    CPU time is shown so a slow figure on a busy machine can be told from a slow program."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = action()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def peak_memory_mb() -> float:
    """ru_maxrss (kB on Linux) of a fresh process rendering 5,000 badges."""
    code = (
        "import resource, runpy\n"
        f"bench = runpy.run_path({__file__!r}, run_name='printouts_bench')\n"
        "from printouts import render_badges\n"
        "result = render_badges(bench['make_badges'](5000), 'avery-l7160')\n"
        "assert result.pages == 239, result.pages\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def main() -> int:
    results: list[bool] = []

    def report(label: str, value: str, target: str, ok: bool) -> None:
        results.append(ok)
        print(f"{label:<32} {value:<44} target {target:<10} {'PASS' if ok else 'FAIL'}")

    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} (figures are wall time)")
    badges = make_badges(1000)
    render_badges(badges[:21])  # load fonts and layout once, as a running app has
    render_certificates(sample_certificates(1))

    vector_time, vector_cpu, vector_result = timed(lambda: render_badges(badges, "avery-l7160"), 5)
    shown = f"{vector_time:.3f} s (CPU {vector_cpu:.3f} s, median of 5)"
    report("1,000 badges, L7160, vector QR", shown, "<= 1.0 s", vector_time <= 1.0)

    naive_time, _, _ = timed(lambda: naive_sheet(badges), 1)
    ratio = naive_time / vector_time
    report("speed-up over PNG-per-badge", f"{ratio:.1f}x (naive {naive_time:.2f} s)", ">= 10x",
           ratio >= 10)  # fmt: skip

    size_mb = len(vector_result.pdf) / 1e6
    report("PDF size, 1,000 badges", f"{size_mb:.2f} MB ({vector_result.pages} pages)", "<= 2 MB",
           size_mb <= 2)  # fmt: skip

    certificates = sample_certificates(500)
    cert_time, cert_cpu, cert_result = timed(lambda: render_certificates(certificates), 3)
    shown = f"{cert_time:.3f} s (CPU {cert_cpu:.3f} s, median of 3)"
    report("500 certificates, A4", shown, "<= 2.0 s", cert_time <= 2.0 and cert_result.pages == 500)

    peak = peak_memory_mb()
    report("peak RSS, 5,000 badges (maxrss)", f"{peak:.0f} MB (whole process)", "<= 300 MB",
           peak <= 300)  # fmt: skip

    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
