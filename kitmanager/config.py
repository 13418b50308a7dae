"""Where kitmanager keeps its data and how it is configured.

Precedence, highest first: the ``config`` mapping given to ``create_app``, ``KITMANAGER_*``
environment variables (and ``DATABASE_URL``), then the defaults below. The data dir holds the
SQLite database, the secret key, uploads and generated files.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, MutableMapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import platformdirs

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "ConfigError",
    "build_config",
    "default_data_dir",
    "keep_private",
    "load_or_create_secret_key",
    "prepare_data_dir",
]

APP_NAME = "kitmanager"
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name
DATABASE_FILE = "kitmanager.sqlite3"
LANGUAGES = ("en", "fr")
# How long a scan's stored answer is kept: longer than any station stays offline with queued
# scans, so a late retry still gets its answer instead of being applied again.
SCAN_REQUEST_DAYS = 90
SCAN_REQUEST_DAYS_MOST = 36500  # a hundred years: "keep them all", and dates stay in range
# The data dir holds personal data and the key that signs logins: for this account's eyes only.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


class ConfigError(Exception):
    """The configuration cannot work; the message says what to change."""


def default_data_dir() -> Path:
    """The data dir: ``KITMANAGER_DATA_DIR`` or the platform's per-user data folder."""
    env = os.environ.get("KITMANAGER_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def keep_private(path: Path, mode: int = PRIVATE_FILE_MODE) -> None:
    """Take group and world access away from ``path`` if it exists (never widen it).

    Data dirs made by older versions were world-readable; a file we do not own stays as it is.
    """
    try:
        current = path.stat().st_mode & 0o777
        if current & ~mode:
            path.chmod(current & mode)
    except (FileNotFoundError, PermissionError):
        pass


def _private_folder(path: Path) -> None:
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    keep_private(path, PRIVATE_DIR_MODE)


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use 0644); its -wal and -shm
    files then get the same mode, as SQLite gives them its database file's permissions."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    except OSError:
        return  # opening the database will explain what is wrong with it
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"):
        keep_private(path.with_name(name))


def load_or_create_secret_key(data_dir: Path) -> str:
    """Read the secret key from the data dir, creating it (mode 0600) on first start.

    There is no default secret: every installation signs its cookies with its own key.
    """
    path = data_dir / SECRET_KEY_FILE
    keep_private(path)
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    key = secrets.token_hex(32)
    # O_EXCL so two processes starting at once cannot both write a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def _database_url(data_dir: Path) -> str:
    url = os.environ.get("KITMANAGER_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{data_dir / DATABASE_FILE}"
    # Hosting services hand out postgres:// URLs; SQLAlchemy wants the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _whole_number(value: object, setting: str, *, example: int, most: int) -> int:
    """``value`` (a number, or text from the environment) as a whole number from 1 to ``most``.

    :raise ConfigError: anything else, naming ``setting`` and what to write instead.
    """
    text = str(value).strip()
    whole = not isinstance(value, bool) and text.isascii() and text.isdigit()
    if not whole or not 1 <= int(text) <= most:
        raise ConfigError(
            f"{setting} must be a whole number from 1 to {most}, e.g. {example}; it is "
            f"{value!r}. Change it, or remove it to use the default ({example})."
        )
    return int(text)


def build_config(
    overrides: Mapping[str, Any] | None = None, *, make_data_dir: bool = True
) -> dict[str, Any]:
    """Return the app configuration, creating the data dir and secret key if needed.

    With ``make_data_dir=False`` nothing on disk is touched (no folder, no database file, no
    secret key; ``SECRET_KEY`` stays unset unless given): enough to list the commands for
    ``kitmanager --help``. :func:`prepare_data_dir` does the rest when a command runs.

    :raise ConfigError: when a setting is wrong, or the data dir cannot be created or written.
    """
    overrides = dict(overrides or {})
    # Absolute, so the SQLite URL never ends up relative to Flask's instance folder.
    data_dir = Path(overrides.pop("DATA_DIR", None) or default_data_dir()).expanduser().resolve()
    config: dict[str, Any] = {
        "DATA_DIR": data_dir,
        "SQLALCHEMY_DATABASE_URI": _database_url(data_dir),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "kitmanager_session",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "WTF_CSRF_TIME_LIMIT": None,  # the session lifetime already bounds the token
        # Pages send no Referer (Referrer-Policy: no-referrer), so Flask-WTF's HTTPS-only
        # Referer check would refuse every form over HTTPS; the token and SameSite guard them.
        "WTF_CSRF_SSL_STRICT": False,
        "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "LANGUAGES": LANGUAGES,
        "BASE_URL": os.environ.get("KITMANAGER_BASE_URL", ""),
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_LOCK_SECONDS": 60,
        "AUTO_UPGRADE_DB": False,
        "SCAN_REQUEST_DAYS": os.environ.get("KITMANAGER_SCAN_REQUEST_DAYS") or SCAN_REQUEST_DAYS,
    }
    config.update(overrides)
    config["SCAN_REQUEST_DAYS"] = _whole_number(
        config["SCAN_REQUEST_DAYS"],
        "KITMANAGER_SCAN_REQUEST_DAYS (the days a scan's stored answer is kept)",
        example=SCAN_REQUEST_DAYS,
        most=SCAN_REQUEST_DAYS_MOST,
    )
    if make_data_dir:
        prepare_data_dir(config)
    return config


def prepare_data_dir(config: MutableMapping[str, Any]) -> None:
    """Create what ``config`` (from :func:`build_config`) needs on disk: the data dir and its
    folders, the SQLite file (private) and, unless ``SECRET_KEY`` is set, the secret key, which
    goes into ``config``.

    :raise ConfigError: when the data dir cannot be created or written.
    """
    data_dir = Path(config["DATA_DIR"])
    try:
        _private_folder(data_dir)
        for sub in ("uploads", "generated"):
            _private_folder(data_dir / sub)
    except OSError as exc:
        raise ConfigError(
            f"Cannot use {data_dir} as the data folder ({exc.strerror}). "
            "Choose another with --data-dir or KITMANAGER_DATA_DIR."
        ) from exc
    _private_sqlite_file(config["SQLALCHEMY_DATABASE_URI"])
    if not config.get("SECRET_KEY"):
        try:
            config["SECRET_KEY"] = load_or_create_secret_key(data_dir)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the secret key in {data_dir} ({exc.strerror}). "
                "Check the folder's permissions or choose another with --data-dir."
            ) from exc
