"""Languages: English and French from the start. The page speaks the reader's language.

The language follows the person, never the workshop on the page: their account's choice,
else the choice made with the language switcher in this browser, else the browser's
Accept-Language. So a message flashed before a redirect is in the language of the page
after it. (What is printed on paper speaks the workshop's language: see kitmanager.printing.)
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import Babel
from flask_login import current_user

__all__ = ["init_i18n", "select_locale"]

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


def select_locale() -> str:
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
    return request.accept_languages.best_match(languages) or languages[0]


def init_i18n(app: Flask, babel: Babel) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=select_locale)
