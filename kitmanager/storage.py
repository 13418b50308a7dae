"""Files the app keeps in the data dir (import uploads, generated PDFs) and when they go.

Both hold personal data, so they live only as long as the task that needs them.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from flask import Flask, abort, current_app, jsonify, render_template, request, session
from flask_babel import gettext

from kitmanager.config import PRIVATE_FILE_MODE

__all__ = [
    "StorageError",
    "data_folder",
    "forget_files_of",
    "init_storage",
    "is_disk_full",
    "keep_generated_pdf",
    "new_file_id",
    "owned_file",
    "prune",
    "read_info",
    "remember_file",
    "write_file",
    "write_info",
]

# How many recent files a browser session can open again (its upload, its badge sheets).
KEEP_PER_SESSION = 10


class StorageError(Exception):
    """A file could not be saved in the data dir; the message says what to do."""


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (an OSError, or a database error from SQLite or PostgreSQL) means the
    disk holding the data is full."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    orig = getattr(exc, "orig", None)
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return getattr(orig, "sqlstate", None) == "53100"  # PostgreSQL: disk_full


def _disk_full_message() -> str:
    return gettext(
        "The laptop's disk is full, so nothing was saved. Free some space (delete large files "
        "you no longer need, empty the bin), then try again."
    )


def write_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (mode 0600) all at once: the file is complete or absent.

    The bytes go to a ``.partial-*`` file beside it first (so ``prune`` patterns still match a
    leftover one), then take the real name.

    :raise StorageError: the disk is full, or the data dir cannot be written.
    """
    partial = path.with_name(f"{path.name}.partial-{secrets.token_hex(4)}")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            # Some filesystems only report a full disk when the data is really written.
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise StorageError(_disk_full_message()) from exc
        raise StorageError(
            gettext(
                "Cannot save the file in the data folder %(folder)s (%(reason)s). Check that "
                "the folder exists and can be written.",
                folder=str(path.parent),
                reason=exc.strerror or str(exc),
            ),
        ) from exc
    return path


def data_folder(kind: str) -> Path:
    """``uploads`` or ``generated`` inside the data dir."""
    return Path(current_app.config["DATA_DIR"]) / kind


def new_file_id() -> str:
    return secrets.token_hex(16)


def remember_file(kind: str, file_id: str) -> None:
    """Let this browser session open ``file_id`` of ``kind`` later (and only this session)."""
    recent = session.get(kind, [])[-(KEEP_PER_SESSION - 1) :]
    session[kind] = [*recent, file_id]


def owned_file(kind: str, file_id: str, path: Path) -> Path:
    """``path`` if this session made file ``file_id`` of ``kind`` and it still exists; else 404.

    Uploads and badge sheets are lists of people: one trainer never opens another's.
    """
    if not file_id.isalnum() or file_id not in session.get(kind, []) or not path.is_file():
        abort(404)
    return path


def prune(folder: Path, pattern: str, max_age_s: float) -> None:
    """Delete the files matching ``pattern`` older than ``max_age_s``."""
    cutoff = time.time() - max_age_s
    for path in folder.glob(pattern):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass  # gone already, or held open by a download on Windows: next time


def write_info(path: Path, info: dict[str, Any]) -> None:
    """Describe a generated file in a ``.json`` beside it."""
    write_file(path.with_suffix(".json"), json.dumps(info).encode("utf-8"))


# A generated sheet (badges, kit labels) is kept this long for its download link.
SHEET_MAX_AGE_S = 3600


def keep_generated_pdf(prefix: str, session_kind: str, pdf: bytes, info: dict[str, Any]) -> str:
    """Store a generated PDF (and its ``info`` beside it) for this browser session to download;
    older sheets of the same ``prefix`` are pruned. Returns the file id."""
    folder = data_folder("generated")
    prune(folder, f"{prefix}-*", SHEET_MAX_AGE_S)
    file_id = new_file_id()
    path = folder / f"{prefix}-{file_id}.pdf"
    write_file(path, pdf)
    write_info(path, info)
    remember_file(session_kind, file_id)
    return file_id


def read_info(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def forget_files_of(folder: Path, pattern: str, participant_id: int) -> None:
    """Delete every generated file whose info lists ``participant_id`` (and its info)."""
    for path in folder.glob(pattern):
        if participant_id in read_info(path).get("participant_ids", []):
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)


def _storage_error_page(exc: Exception) -> Any:
    """A clear page (507) instead of a crash when the disk is full or a file cannot be saved."""
    from sqlalchemy.exc import OperationalError

    from kitmanager.extensions import db

    if isinstance(exc, OperationalError) and not is_disk_full(exc):
        raise exc  # any other database error stays a logged 500
    db.session.rollback()
    message = str(exc) if isinstance(exc, StorageError) else _disk_full_message()
    if request.path.startswith("/api/"):
        return jsonify(error=message), 507
    return render_template("storage_error.html", message=message), 507


def init_storage(app: Flask) -> None:
    """Answer a full disk (in a file write or in the database) with a message, not a 500."""
    from sqlalchemy.exc import OperationalError

    app.register_error_handler(StorageError, _storage_error_page)
    app.register_error_handler(OperationalError, _storage_error_page)
