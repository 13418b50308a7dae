"""Files the app keeps in the data dir (import uploads, generated PDFs) and when they go.

Both hold personal data, so they live only as long as the task that needs them.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from flask import abort, current_app, session

__all__ = [
    "data_folder",
    "forget_files_of",
    "new_file_id",
    "owned_file",
    "prune",
    "read_info",
    "remember_file",
    "write_info",
]

# How many recent files a browser session can open again (its upload, its badge sheets).
KEEP_PER_SESSION = 10


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
    path.with_suffix(".json").write_text(json.dumps(info), encoding="utf-8")


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
