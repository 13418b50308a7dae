"""``python -m printouts``: list layouts, write sample PDFs, previews and calibration pages."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import PrintoutError
from .layout import KINDS, list_layouts
from .messages import LANGUAGES
from .preview import pdf_page_to_png, render_sample
from .render import render_calibration

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m printouts", description="Badges, kit labels and certificates as PDF."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("layouts", help="list the layouts and their sheet sizes")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument("--kind", choices=KINDS, help="only layouts that print this kind")
    sample = commands.add_parser("sample", help="write a PDF of a layout with sample data")
    sample.add_argument("layout", help="layout id (see 'layouts') or path of a layout .json")
    sample.add_argument("-o", "--output", required=True, type=Path, help="PDF file to write")
    sample.add_argument("--kind", choices=KINDS, help="kind to print (default: the first)")
    sample.add_argument(
        "--language", choices=LANGUAGES, default="en", help="language of role bands and warnings"
    )
    preview = commands.add_parser("preview", help="write a PNG preview of a layout")
    preview.add_argument("layout")
    preview.add_argument("-o", "--output", required=True, type=Path, help="PNG file to write")
    preview.add_argument("--kind", choices=KINDS)
    preview.add_argument("--dpi", type=float, default=96)
    calibrate = commands.add_parser(
        "calibrate", help="write a page outlining every label, to check a sheet's alignment"
    )
    calibrate.add_argument("layout")
    calibrate.add_argument("-o", "--output", required=True, type=Path)
    return parser


def _print_layouts(as_json: bool, kind: str | None) -> None:
    layouts = [lay.describe() for lay in list_layouts(kind)]
    if as_json:
        print(json.dumps(layouts, indent=2, ensure_ascii=False))
        return
    print(f"{'layout':<20} {'kinds':<20} {'page mm':<15} {'label mm':<15} per page")
    for lay in layouts:
        page = "{:g} x {:g}".format(*lay["page_mm"])
        label = "{:g} x {:g}".format(*lay["label_mm"])
        kinds = ",".join(lay["kinds"])
        print(f"{lay['id']:<20} {kinds:<20} {page:<15} {label:<15} {lay['per_page']}")


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise PrintoutError(f"cannot write {path} ({exc.strerror}); choose another file") from None
    print(f"wrote {path} ({len(data):,} bytes)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 on a PrintoutError)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "layouts":
            _print_layouts(args.json, args.kind)
        elif args.command == "sample":
            result = render_sample(args.layout, args.kind, args.language)
            _write(args.output, result.pdf)
            for warning in result.warnings:
                print(f"warning: {warning}", file=sys.stderr)
        elif args.command == "preview":
            result = render_sample(args.layout, args.kind)
            _write(args.output, pdf_page_to_png(result.pdf, 0, args.dpi))
        else:
            _write(args.output, render_calibration(args.layout).pdf)
    except PrintoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
