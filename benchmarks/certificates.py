"""Certificates for a whole workshop: issuing and printing 500, against printouts alone.

    .venv/bin/python benchmarks/certificates.py [--count 500] [--runs 3]

Measured in one run, on a fresh SQLite data folder, for COUNT participants who all attended:

- issue: COUNT certificates issued (eligibility, a random code, canonical facts, an Ed25519
  signature, one INSERT and one audit row each), committed;
- pdf: the workshop's certificates as one PDF, as the page and `certificates pdf` make it
  (records -> signed facts -> CertificateData -> PDF, logo and signature image included);
- zip: the ZIP of COUNT PDFs, one per participant (rendered as one PDF, then split by page);
- and the baselines, the same certificates rendered by printouts alone from ready-made
  CertificateData: one PDF of COUNT pages, and COUNT one-page PDFs.

Prints each figure (median of RUNS, issue once) and the ratios app / printouts alone, so the
cost the app adds around the renderer shows. Nothing is asserted: these are figures to watch.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

# This folder holds a printouts.py: keep it off the import path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from PIL import Image  # noqa: E402

from kitmanager import create_app  # noqa: E402
from kitmanager.audit import cli_actor  # noqa: E402
from kitmanager.certificates.printing import (  # noqa: E402
    certificate_datas,
    certificates_pdf,
    certificates_zip,
    save_image,
)
from kitmanager.certificates.services import (  # noqa: E402
    issue_certificates,
    rule_for,
    update_rule,
    valid_certificates,
)
from kitmanager.database import upgrade_database  # noqa: E402
from kitmanager.extensions import db  # noqa: E402
from kitmanager.models import CheckIn, Participant  # noqa: E402
from kitmanager.workshops.services import (  # noqa: E402
    WorkshopFields,
    add_session,
    create_workshop,
)
from printouts import render_certificates  # noqa: E402

BASE_URL = "https://certificates.example.org"
NAMES = (
    "Adébáyọ̀ Ọlápọ̀",
    "Nguyễn Thị Hồng Nhung",
    "Wanjiru Kamau",
    "Kouadio Aya Marie-Ange",
    "Jordan Rivera-Washington",
    "Awa Koné",
)


def _png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def _workshop(count: int):
    actor = cli_actor()
    workshop = create_workshop(
        actor,
        WorkshopFields(
            title="Robotics & AI Bootcamp 2026",
            slug="bootcamp",
            starts_on=date(2026, 12, 1),
            ends_on=date(2026, 12, 3),
            timezone="Africa/Nairobi",
        ),
    )
    session = add_session(
        actor, workshop, "Day 1", datetime(2026, 12, 1, 9), datetime(2026, 12, 1, 17)
    )
    db.session.add_all(
        Participant(workshop_id=workshop.id, full_name=f"{NAMES[i % len(NAMES)]} {i:03d}")
        for i in range(count)
    )
    db.session.flush()
    people = db.session.scalars(db.select(Participant.id)).all()
    db.session.add_all(
        CheckIn(participant_id=pid, session_id=session.id, at=session.starts_at, by="bench")
        for pid in people
    )
    update_rule(
        actor,
        workshop,
        issuer="Nairobi Girls in STEM",
        signatory_name="Grace Wanjiku",
        signatory_title="Lead trainer",
        logo_file=save_image(workshop, "logo", _png((600, 240), (200, 30, 30))),
        signature_file=save_image(workshop, "signature", _png((600, 200), (20, 20, 120))),
    )
    db.session.commit()
    return workshop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DATA_DIR": Path(folder)})
        upgrade_database(app)
        with app.app_context():
            workshop = _workshop(args.count)
            start = time.perf_counter()
            result = issue_certificates(cli_actor(), workshop)
            db.session.commit()
            issue_s = time.perf_counter() - start
            assert len(result.issued) == args.count, result
            certificates = valid_certificates(workshop)
            layout = rule_for(workshop).layout
            ready = certificate_datas(workshop, certificates, BASE_URL)

            def alone() -> object:
                return render_certificates(ready, layout, language=workshop.language)

            def each_alone() -> object:
                return [render_certificates([d], layout, language=workshop.language) for d in ready]

            def app_pdf() -> object:
                return certificates_pdf(workshop, certificates, BASE_URL)

            def app_zip() -> object:
                return certificates_zip(workshop, certificates, BASE_URL)

            # One untimed round first (fonts, layout, images and the QR drawing caches warm up,
            # as in a running web app), then the baseline and the app in turn, run after run,
            # so both meet the same machine load.
            times: dict[str, list[float]] = {"one": [], "pdf": [], "each": [], "zip": []}
            for round_ in range(args.runs + 1):
                for name, work in (
                    ("one", alone),
                    ("pdf", app_pdf),
                    ("each", each_alone),
                    ("zip", app_zip),
                ):
                    start = time.perf_counter()
                    work()
                    if round_:
                        times[name].append(time.perf_counter() - start)
            one_s, pdf_s, each_s, zip_s = (
                statistics.median(times[k]) for k in ("one", "pdf", "each", "zip")
            )
            size = len(certificates_pdf(workshop, certificates, BASE_URL).pdf)
            zip_size = len(certificates_zip(workshop, certificates, BASE_URL)[0])
            db.session.remove()
            db.engine.dispose()
    n = args.count
    print(f"{n} certificates, median of {args.runs} runs (issue: one run)")
    print(f"  printouts alone, one PDF of {n} pages      {one_s:7.2f} s")
    print(f"  printouts alone, {n} one-page PDFs          {each_s:7.2f} s")
    print(f"  issue {n} (sign + insert + audit, commit)   {issue_s:7.2f} s")
    print(f"  app: one PDF of {n}                        {pdf_s:7.2f} s  ({size / 1e6:.1f} MB)")
    zip_mb = zip_size / 1e6
    print(f"  app: ZIP of {n} PDFs                        {zip_s:7.2f} s  ({zip_mb:.1f} MB)")
    print(f"  ratio one PDF / printouts alone            {pdf_s / one_s:7.2f}")
    print(f"  ratio issue + one PDF / printouts alone    {(issue_s + pdf_s) / one_s:7.2f}")
    print(f"  ratio ZIP / printouts alone (one PDF)      {zip_s / one_s:7.2f}")
    print(f"  ratio ZIP / printouts alone ({n} PDFs)      {zip_s / each_s:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
