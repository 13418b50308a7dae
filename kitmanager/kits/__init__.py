"""Kits: kit types with their bill of materials, kits, handouts, returns and incidents."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("kits", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
