"""Boards: the firmware library, the boards on the hub and the kit each belongs to, and
flashes and checks run in the background with their results kept on every kit."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("boards", __name__, url_prefix="/boards")


def init_app(app: Flask) -> None:
    from kitmanager.boards import cli, views  # noqa: F401  (registers routes)
    from kitmanager.boards.jobs import JobManager

    app.extensions["boards_jobs"] = JobManager(app)
    app.register_blueprint(bp)
    cli.register(app)
