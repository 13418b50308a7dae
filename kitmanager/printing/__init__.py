"""Printing from the app: badge sheets for a workshop, layout previews.

The PDF work is done by the ``printouts`` package; this feature maps models to its plain data.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("printing", __name__)


def init_app(app: Flask) -> None:
    from kitmanager.printing import cli, views  # noqa: F401  (registers routes)

    app.register_blueprint(bp)
    cli.register(app)
