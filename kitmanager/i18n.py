"""Languages: English and French from the start. Per user, then per workshop, then browser."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, has_request_context, request, session
from flask_babel import Babel
from flask_login import current_user

__all__ = ["init_i18n", "select_locale"]

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


def select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    override = getattr(g, "locale_override", None)
    if override in languages:
        return override
    language = getattr(current_user, "language", None) if current_user else None
    if language in languages:
        return language
    chosen = session.get("language")
    if chosen in languages:
        return chosen
    workshop = getattr(g, "workshop", None)
    if workshop is not None and workshop.language in languages:
        return workshop.language
    return request.accept_languages.best_match(languages) or languages[0]


def init_i18n(app: Flask, babel: Babel) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=select_locale)
