"""Files the app keeps in the data dir (import uploads, generated PDFs) and when they go.

Both hold personal data, so they live only as long as the task that needs them.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from flask import current_app

__all__ = ["data_folder", "forget_files_of", "new_file_id", "prune", "read_info", "write_info"]


def data_folder(kind: str) -> Path:
    """``uploads`` or ``generated`` inside the data dir."""
    return Path(current_app.config["DATA_DIR"]) / kind


def new_file_id() -> str:
    return secrets.token_hex(16)


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
