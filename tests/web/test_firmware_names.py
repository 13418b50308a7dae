"""Firmware uploads whose file names cannot be kept, and where uploaded firmware is kept.

A name too long, a file and a folder of the same name, a name given twice or one holding
invisible characters is refused at upload with a message (never a 500), and nothing of it
is kept. What is kept in ``firmware/`` is for the app's account alone, whatever the umask.
Through the firmware page (Flask test client), on a real SQLite file.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kitmanager.boards.services import BUILTIN_DIR, load_library_firmware
from kitmanager.extensions import db
from kitmanager.models import Firmware
from tests.web.conftest import csrf_token, login

KITBOT_HEX = BUILTIN_DIR / "kitbot-avr" / "kitbot.hex"
KITBOT_MICROPYTHON = BUILTIN_DIR / "kitbot-micropython"


def _upload(client, files: list[tuple[str, bytes]], *, version: str = "2.0.0"):
    data = {
        "csrf_token": csrf_token(client, "/boards/firmware"),
        "name": "kitbot-lab",
        "version": version,
        "family": "",
        "address": "",
        "notes": "",
        "files": [(io.BytesIO(content), name) for name, content in files],
    }
    return client.post("/boards/firmware", data=data, content_type="multipart/form-data")


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _kitbot_files() -> dict[str, bytes]:
    """The MicroPython kit firmware's files, as a kit folder holds them."""
    return {p.name: p.read_bytes() for p in sorted(KITBOT_MICROPYTHON.iterdir()) if p.is_file()}


def _uploaded(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Firmware.id)).where(Firmware.builtin.is_(False)))


def _firmware_folder(app) -> Path:
    return Path(app.config["DATA_DIR"]) / "firmware"


def _nothing_kept(app) -> bool:
    folder = _firmware_folder(app)
    return _uploaded(app) == 0 and (not folder.exists() or not any(folder.iterdir()))


def test_a_file_name_longer_than_the_library_keeps_is_refused_with_the_limit(app, client):
    login(client, "tom")
    name = "a" * 296 + ".hex"  # 300 characters: more than any file system keeps in one name
    reply = _upload(client, [(name, KITBOT_HEX.read_bytes())])
    page = reply.get_data(as_text=True)
    assert reply.status_code == 400
    assert (
        f"The file name “{'a' * 40}…” is 300 characters long with its folders; the limit is "
        "200. Rename it and upload it again."
    ) in page
    # inside a ZIP, a name longer than file systems keep is refused before it is unpacked
    long_entry = "lib/" + "é" * 130 + ".py"  # 130 characters, 260 bytes
    reply = _upload(client, [("kit.zip", _zip({**_kitbot_files(), long_entry: b"x = 1\n"}))])
    page = reply.get_data(as_text=True)
    assert reply.status_code == 400
    assert "kit.zip holds a file or folder name longer than 255 bytes (lib/ééé" in page
    assert "Shorten it and upload again." in page
    assert _nothing_kept(app)


def test_a_zip_with_a_file_and_a_folder_of_the_same_name_is_refused(app, client):
    login(client, "tom")
    files = {**_kitbot_files(), "lib.py": b"x = 1\n", "lib.py/x.py": b"y = 2\n"}
    reply = _upload(client, [("kit.zip", _zip(files))])
    page = reply.get_data(as_text=True)
    assert reply.status_code == 400
    assert (
        "kit.zip holds a file lib.py and a folder of the same name (for lib.py/x.py): a board "
        "cannot keep both. Rename one of them and upload again."
    ) in page
    # two names a board's file system takes for one
    files = {**_kitbot_files(), "Motors.py": b"x = 1\n", "motors.py": b"y = 2\n"}
    page = _upload(client, [("kit.zip", _zip(files))]).get_data(as_text=True)
    assert (
        "kit.zip holds Motors.py and motors.py, the same name on a board (capitals aside). "
        "Keep one of them and upload again."
    ) in page
    # the same clash between the files of a folder picked in the browser
    folder = [(f"kit/{name}", content) for name, content in _kitbot_files().items()]
    folder += [("kit/lib.py", b"x = 1\n"), ("kit/lib.py/x.py", b"y = 2\n")]
    reply = _upload(client, folder)
    assert reply.status_code == 400
    assert "The firmware holds a file lib.py and a folder of the same name" in reply.get_data(
        as_text=True
    )
    assert _nothing_kept(app)


def test_a_file_name_with_invisible_characters_is_refused_and_shown(app, client):
    login(client, "tom")
    # "notes" + U+202E + "yp.txt" shows as "notestxt.py": a text file disguised as Python
    files = {**_kitbot_files(), "notes\u202eyp.txt": b"x = 1\n"}
    reply = _upload(client, [("kit.zip", _zip(files))])
    page = reply.get_data(as_text=True)
    assert reply.status_code == 400
    assert (
        "The file name “notes[U+202E]yp.txt” holds invisible characters (shown here as [U+…]) "
        "that can hide or disguise a name. Rename the file without them and upload it again."
    ) in page
    assert "\u202e" not in page
    reply = _upload(client, [("kit\x1b[2J.hex", KITBOT_HEX.read_bytes())])
    assert reply.status_code == 400
    assert "kit[U+001B][2J.hex" in reply.get_data(as_text=True)
    assert _nothing_kept(app)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Files made while the test runs get whatever mode they are asked for: a umask of 0."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


def _modes(folder: Path) -> dict[str, int]:
    """Each folder and file under ``folder`` (and itself, as "."), with its permission bits."""
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[path.relative_to(folder).as_posix()] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_uploaded_firmware_is_kept_for_the_app_account_alone(app, client, open_umask):
    login(client, "tom")
    files = {**_kitbot_files(), "lib/motors.py": b"SPEED = 3\n"}
    reply = _upload(client, [("kit.zip", _zip(files))])
    assert reply.status_code == 302, reply.get_data(as_text=True)
    root = _firmware_folder(app)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    with app.app_context():
        sha = db.session.scalar(select(Firmware.sha256).where(Firmware.version == "2.0.0"))
    kept = root / sha
    modes = _modes(kept)
    assert modes["."] == 0o700 and modes["lib"] == 0o700
    assert {name: mode for name, mode in modes.items() if name not in (".", "lib")} == {
        name: 0o600 for name in files
    }
    assert [p.name for p in root.iterdir()] == [sha]  # no partial folder left beside it

    # kept by an older version open to every account: tightened when the firmware is used
    for path in (root, kept, kept / "lib"):
        path.chmod(0o755)
    (kept / "main.py").chmod(0o644)
    reply = _upload(client, [("kit.zip", _zip(files))], version="2.0.1")  # the same files
    assert reply.status_code == 302, reply.get_data(as_text=True)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert set(_modes(kept).values()) == {0o700, 0o600}
    assert _modes(kept)["main.py"] == 0o600
    kept.chmod(0o755)
    with app.app_context(), app.test_request_context():
        row = db.session.scalar(select(Firmware).where(Firmware.version == "2.0.1"))
        load_library_firmware(row)  # what a flash does first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o700
