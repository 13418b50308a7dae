"""Installation-wide settings an organiser changes in the app (the badge address, ...)."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("settings", __name__, url_prefix="/settings")


def init_app(app: Flask) -> None:
    from kitmanager.settings import views  # noqa: F401  (registers routes)

    app.register_blueprint(bp)
