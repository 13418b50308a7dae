"""The JSON API for scripts and scanner apps: ``Authorization: Bearer <token>``."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    from kitmanager.api import kits, scans, views  # noqa: F401  (registers routes)
    from kitmanager.extensions import csrf

    # Token requests carry no cookie, so there is nothing to forge; views.py refuses
    # cookie-authenticated writes so the exemption cannot be abused from a browser.
    csrf.exempt(bp)
    app.register_blueprint(bp)
