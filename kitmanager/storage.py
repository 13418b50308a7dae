"""Files the app keeps in the data dir (import uploads, generated PDFs, firmware) and when
they go.

Uploads and PDFs hold personal data, so they live only as long as the task that needs them:
an upload or a sheet for a few hours, a kept PDF until what is printed on it changes or its
holder is deleted. Every folder and file the app makes there is for its own account alone
(folders 0700 by :func:`private_folder`, files 0600 by :func:`write_file`), whatever the
umask, and folders made by older versions are tightened when they are used again.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, abort, current_app, jsonify, render_template, request, session
from flask_babel import gettext

from kitmanager.config import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, keep_private

__all__ = [
    "StorageError",
    "cannot_save",
    "data_folder",
    "forget_files_of",
    "forget_generated",
    "init_storage",
    "is_database_busy",
    "is_disk_full",
    "keep_generated_pdf",
    "keep_tree_private",
    "kept_file",
    "new_file_id",
    "owned_file",
    "private_folder",
    "prune",
    "read_info",
    "remember_file",
    "storage_error_page",
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


def is_database_busy(exc: BaseException) -> bool:
    """True when ``exc`` (a database error) means another writer held the database longer
    than the wait allowed: SQLite's ``database is locked`` after its busy timeout, or
    PostgreSQL's lock timeout or deadlock. Trying again a moment later can succeed."""
    orig = getattr(exc, "orig", None)
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return getattr(orig, "sqlstate", None) in ("55P03", "40P01")


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
        raise cannot_save(path.parent, exc) from exc
    return path


def cannot_save(folder: Path, exc: OSError) -> StorageError:
    """The StorageError to raise when writing in ``folder`` failed with ``exc``: the disk is
    full, or the folder cannot be written."""
    if is_disk_full(exc):
        return StorageError(_disk_full_message())
    return StorageError(
        gettext(
            "Cannot save the file in the data folder %(folder)s (%(reason)s). Check that "
            "the folder exists and can be written.",
            folder=str(folder),
            reason=exc.strerror or str(exc),
        ),
    )


def data_folder(kind: str) -> Path:
    """``uploads``, ``generated`` or ``firmware`` inside the data dir."""
    return Path(current_app.config["DATA_DIR"]) / kind


def private_folder(path: Path) -> Path:
    """``path``, a folder in the data dir, made if missing with each folder between the data
    dir and it: every one 0700 whatever the umask. Those already there are tightened to 0700
    (an older version made some 0755); none is ever widened.

    :raise StorageError: a folder cannot be made (a full disk, no permission).
    """
    root = Path(current_app.config["DATA_DIR"])
    below = [path, *path.parents]
    below = below[: below.index(root)] if root in below else [path]
    for folder in reversed(below):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            keep_private(folder, PRIVATE_DIR_MODE)
        except OSError as exc:
            raise cannot_save(folder, exc) from exc
        else:
            os.chmod(folder, PRIVATE_DIR_MODE)  # a umask may take more than group and world
    return path


def keep_tree_private(folder: Path) -> None:
    """Tighten ``folder``, the folders in it (0700) and their files (0600): what an older
    version wrote open to other accounts becomes the app's alone when it is used again."""
    keep_private(folder, PRIVATE_DIR_MODE)
    for parent, folders, files in os.walk(folder):
        for name in folders:
            keep_private(Path(parent, name), PRIVATE_DIR_MODE)
        for name in files:
            keep_private(Path(parent, name), PRIVATE_FILE_MODE)


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


_makers_lock = threading.Lock()
# name -> [its lock, how many requests hold or wait for it]; gone when none does
_makers: dict[str, list] = {}


@contextmanager
def _one_maker(name: str) -> Iterator[None]:
    """Let one thread at a time make the file ``name``; the others wait for it."""
    with _makers_lock:
        entry = _makers.setdefault(name, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _makers_lock:
            entry[1] -= 1
            if entry[1] == 0:
                del _makers[name]


def _read_if_there(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def kept_file(name: str, make: Callable[[], bytes], info: dict[str, Any]) -> tuple[bytes, bool]:
    """The generated file ``name``, made by ``make()`` only when it is not kept yet; requests
    for the same ``name`` at the same moment wait for one making. ``info`` goes beside it
    (``participant_ids`` lets :func:`forget_files_of` find it). Returns the bytes and
    whether they were made now.

    ``name`` must say everything the content depends on (a hash of it): the file is never
    made again while it exists.

    :raise StorageError: the file cannot be saved.
    """
    path = data_folder("generated") / name
    data = _read_if_there(path)
    if data is not None:
        return data, False
    with _one_maker(name):
        data = _read_if_there(path)  # made while this request waited
        if data is not None:
            return data, False
        data = make()
        private_folder(path.parent)
        write_info(path, info)  # first, so a file with personal data is never unlisted
        write_file(path, data)
        return data, True


def forget_generated(pattern: str, keep: str = "") -> None:
    """Delete the generated files matching ``pattern`` (and their info), except ``keep``."""
    for path in data_folder("generated").glob(pattern):
        if path.name != keep:
            try:
                path.unlink(missing_ok=True)
                path.with_suffix(".json").unlink(missing_ok=True)
            except OSError:
                pass  # held open by a download on Windows: its key is stale, never served


def forget_files_of(folder: Path, pattern: str, participant_id: int) -> None:
    """Delete every generated file whose info lists ``participant_id`` (and its info)."""
    for path in folder.glob(pattern):
        if participant_id in read_info(path).get("participant_ids", []):
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)


def storage_error_page(exc: Exception) -> Any:
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

    app.register_error_handler(StorageError, storage_error_page)
    app.register_error_handler(OperationalError, storage_error_page)
