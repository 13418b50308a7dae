"""``python -m printouts`` and PNG previews, as the web app and a trainer use them."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from PIL import Image

from printouts import PrintoutError, layout_names, load_layout, render_preview_png
from printouts.cli import main

from .reading import all_codes, read_pdf


def test_layouts_lists_every_layout_with_kind_and_sheet_size(capsys):
    assert main(["layouts"]) == 0
    out = capsys.readouterr().out
    for name in layout_names():
        assert name in out
    assert "avery-l7160          badge,kit-label      210 x 297       63.5 x 38.1     21" in out


def test_layouts_json_is_machine_readable(capsys):
    assert main(["layouts", "--json", "--kind", "certificate"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [x["id"] for x in listed] == ["certificate-a4", "certificate-letter"]
    assert listed[0]["page_mm"] == [297.0, 210.0] and listed[0]["kinds"] == ["certificate"]


def test_sample_writes_a_pdf_that_scans(tmp_path):
    out = tmp_path / "kit.pdf"
    assert main(["sample", "brother-ql-62", "--kind", "kit-label", "-o", str(out)]) == 0
    (page,) = read_pdf(out.read_bytes(), dpi=200)
    assert all_codes([page]) == ["https://kit.example.org/k/KIT-001-x4Tq"]


def test_calibrate_and_preview_write_files(tmp_path):
    assert main(["calibrate", "avery-5160", "-o", str(tmp_path / "cal.pdf")]) == 0
    assert (
        read_pdf((tmp_path / "cal.pdf").read_bytes(), decode=False)[0].chars_in(
            load_layout("avery-5160").slot_box(30)
        )
        == "30"
    )
    assert main(["preview", "cr80-badge", "--dpi", "50", "-o", str(tmp_path / "p.png")]) == 0
    assert Image.open(tmp_path / "p.png").size == pytest.approx((413, 585), abs=1)


def test_a_user_error_is_one_line_on_stderr_and_exit_2(capsys, tmp_path):
    assert main(["sample", "avery-l7161", "-o", str(tmp_path / "x.pdf")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown layout 'avery-l7161'; use one of:" in err
    assert "Traceback" not in err
    assert main(["sample", "certificate-a4", "--kind", "badge", "-o", str(tmp_path / "x")]) == 2
    assert "prints certificate, not badges; pick one of those" in capsys.readouterr().err


def test_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "printouts", "layouts", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(json.loads(done.stdout)) == len(layout_names())


@pytest.mark.parametrize("name", layout_names())
def test_a_preview_of_every_layout_is_a_png_of_the_page_size(name):
    png = render_preview_png(name, dpi=40)
    image = Image.open(io.BytesIO(png))
    lay = load_layout(name)
    assert image.format == "PNG"
    assert image.size == pytest.approx(
        (lay.page_width / 25.4 * 40, lay.page_height / 25.4 * 40), abs=1
    )
    assert len(set(image.convert("L").tobytes())) > 2  # something is drawn


def test_preview_dpi_out_of_range_is_refused():
    with pytest.raises(PrintoutError, match="use 10 to 600"):
        render_preview_png("avery-l7160", dpi=5000)
