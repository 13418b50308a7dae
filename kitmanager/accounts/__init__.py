"""Account administration in the app: organisers manage users and API tokens."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


def init_app(app: Flask) -> None:
    from kitmanager.accounts import views  # noqa: F401  (registers routes)

    app.register_blueprint(bp)
