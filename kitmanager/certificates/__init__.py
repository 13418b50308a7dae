"""Certificates: eligibility from attendance, issuing signed certificates, PDFs, Open Badges,
and the public page that verifies them."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("certificates", __name__)


def init_app(app: Flask) -> None:
    from kitmanager.certificates import cli, public, views  # noqa: F401  (registers routes)

    app.config.setdefault("VERIFY_RATE_LIMIT", public.DEFAULT_RATE_LIMIT)
    from kitmanager.certificates.services import current_certificate

    app.register_blueprint(bp)
    # the participant's page and their badge page offer their certificate when they have one
    app.jinja_env.globals["current_certificate"] = current_certificate
    cli.register(app)
