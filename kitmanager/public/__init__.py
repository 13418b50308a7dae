"""Pages anyone may open without an account: the page behind a badge QR."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("public", __name__)


def init_app(app: Flask) -> None:
    from kitmanager.public import views  # noqa: F401  (registers routes)

    app.register_blueprint(bp)
