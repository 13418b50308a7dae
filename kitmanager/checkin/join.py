"""`/join`: the laptop's address as a large QR code, for volunteers' phones to open the app."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import render_template

from kitmanager.checkin import bp
from kitmanager.models import Role
from kitmanager.network import base_url
from kitmanager.security import require_role
from printouts.qr import QUIET_ZONE_MODULES, encode_qr

_DARK_RUN = re.compile("1+")


@dataclass(frozen=True)
class QrDrawing:
    """A QR code for SVG: ``side`` modules square (quiet zone included), dark runs in ``path``."""

    side: int
    path: str


def qr_drawing(text: str) -> QrDrawing:
    """``text`` as a QR code drawn by one SVG path of dark runs (templates/checkin/join.html)."""
    symbol = encode_qr(text)
    stride = symbol.size + 1
    runs = []
    for match in _DARK_RUN.finditer(symbol.flat):
        row, column = divmod(match.start(), stride)
        x, y = column + QUIET_ZONE_MODULES, row + QUIET_ZONE_MODULES
        runs.append(f"M{x} {y}h{match.end() - match.start()}v1H{x}z")
    return QrDrawing(symbol.size_with_quiet_zone, "".join(runs))


@bp.route("/join")
@require_role(Role.VOLUNTEER)
def join():
    """Show on the laptop: volunteers scan it with their phone's camera to open the app."""
    address = base_url()
    return render_template("checkin/join.html", address=address, qr=qr_drawing(address))
