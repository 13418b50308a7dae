"""kitmanager: run hands-on robotics and AI workshops from one laptop, offline.

``create_app(config=None)`` builds the Flask app: configuration and data dir, extensions,
blueprints and CLI commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

__all__ = ["create_app"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def __getattr__(name: str) -> Any:
    # ``kitmanager.__version__``, read when asked for (as Flask does): the version is written
    # once, in pyproject.toml, and reading the installed metadata costs every start otherwise.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("kitmanager")
        except PackageNotFoundError:  # a checkout on sys.path that was never installed
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _templates_dir() -> Path:
    # Installed: templates ship inside the package. From a checkout: the top-level folder.
    inside = _PACKAGE_DIR / "templates"
    return inside if inside.is_dir() else _PACKAGE_DIR.parent / "templates"


def create_app(config: Mapping[str, Any] | None = None, *, make_data_dir: bool = True) -> Flask:
    """Build the app. ``config`` overrides everything else (tests pass ``DATA_DIR`` here).

    ``make_data_dir=False`` builds the same app, commands included, without touching the disk
    (no data dir, secret key or database file), for ``kitmanager --help``;
    ``kitmanager.config.prepare_data_dir(app.config)`` makes them later.

    :raise kitmanager.config.ConfigError: when the data dir or database cannot be used.
    """
    from kitmanager.compression import init_compression
    from kitmanager.config import build_config
    from kitmanager.extensions import babel, csrf, db, login_manager, migrate
    from kitmanager.i18n import init_i18n
    from kitmanager.security import init_security
    from kitmanager.storage import init_storage

    app = Flask(
        __name__,
        template_folder=str(_templates_dir()),
        static_folder=str(_PACKAGE_DIR / "static"),
    )
    app.config.update(build_config(config, make_data_dir=make_data_dir))

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_PACKAGE_DIR / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    init_i18n(app, babel)
    init_security(app)
    init_storage(app)
    init_compression(app)

    from werkzeug.routing import IntegerConverter

    class DatabaseIdConverter(IntegerConverter):
        """``<int:...>`` capped at the largest id a database holds, so a huge one is a 404."""

        def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("max", 2**63 - 1)
            super().__init__(url_map, *args, **kwargs)

    app.url_map.converters["int"] = DatabaseIdConverter

    from kitmanager import (
        accounts,
        api,
        auth,
        boards,
        certificates,
        checkin,
        kits,
        participants,
        printing,
        public,
        settings,
        workshops,
    )

    features = (
        auth,
        accounts,
        workshops,
        participants,
        printing,
        public,
        checkin,
        kits,
        boards,
        api,
        settings,
        certificates,
    )
    for feature in features:
        feature.init_app(app)

    from kitmanager.cli import register_commands
    from kitmanager.views import register_core_views

    register_core_views(app)
    register_commands(app)

    if make_data_dir and app.config.get("AUTO_UPGRADE_DB"):
        from kitmanager.database import upgrade_database

        upgrade_database(app)
    return app
