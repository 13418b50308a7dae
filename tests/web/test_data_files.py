"""The data folder on disk: private modes after a real start, and a full disk met with a message."""

from __future__ import annotations

import errno
import os
import secrets
import shlex
import shutil
import stat
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.web.e2e import CSRF_PATTERN, Browser, Reply, Server, run_kitmanager

ORGANISER = ("awa", "Cocody-Robots-2026")
SIGNUP_CSV = "Nom complet;Adresse e-mail\nAwa Koné;awa@example.ci\nYao Kouadio;yao@example.ci\n"


def prepare(data_dir: Path) -> None:
    """An organiser and a workshop, made with the CLI as a trainer would before the day."""
    username, password = ORGANISER
    made = run_kitmanager(
        data_dir, "users", "create", username, "--role", "organiser", "--password-stdin",
        stdin=password + "\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    made = run_kitmanager(
        data_dir, "workshops", "create", "Atelier Abidjan", "--slug", "abidjan",
        "--starts", "2026-12-05",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr


def upload(browser: Browser, path: str, filename: str, content: bytes) -> Reply:
    """POST ``content`` as the form's file field, multipart as a browser sends it."""
    token = CSRF_PATTERN.search(browser.get(path).body).group(1)
    boundary = secrets.token_hex(16)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    request = urllib.request.Request(browser.base_url + path, data=body, headers=headers)
    try:
        with browser._follow.open(request, timeout=browser.timeout) as response:
            return Reply(response.status, response.url, response.read().decode(), {})
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.url, exc.read().decode("utf-8", "replace"), {})


def test_the_data_folder_and_every_file_in_it_are_private_after_a_real_start(tmp_path: Path):
    data_dir = tmp_path / "kitmanager-data"
    prepare(data_dir)
    signup = tmp_path / "inscrits.csv"
    signup.write_text(SIGNUP_CSV, encoding="utf-8")
    imported = run_kitmanager(data_dir, "participants", "import", "abidjan", str(signup))
    assert imported.returncode == 0, imported.stderr
    with Server(data_dir) as server:
        browser = Browser(server.url)
        assert browser.login(*ORGANISER).status == 200
        uploaded = upload(
            browser, "/workshops/abidjan/participants/import", "inscrits.csv", SIGNUP_CSV.encode()
        )
        assert uploaded.status == 200 and "/import/" in uploaded.url
        made = browser.submit("/workshops/abidjan/badges", {})
        assert made.status == 200, made.body
        names = {p.name for p in data_dir.rglob("*")}
        # While the server runs, SQLite's -wal and -shm files exist beside the database.
        assert {"kitmanager.sqlite3-wal", "kitmanager.sqlite3-shm", "secret_key"} <= names
        assert any(n.endswith(".csv") for n in names) and any(n.endswith(".pdf") for n in names)
        modes = {
            str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode)
            for p in [data_dir, *data_dir.rglob("*")]
        }
        assert server.stop() == 0
    wrong = {
        path: oct(mode)
        for path, mode in modes.items()
        if mode != (0o700 if (tmp_path / path).is_dir() else 0o600)
    }
    assert not wrong, wrong


def test_an_existing_world_readable_data_folder_is_made_private(tmp_path: Path):
    data_dir = tmp_path / "data"
    prepare(data_dir)
    # As an older kitmanager (or a copy with cp) left it.
    for path in [data_dir, *data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert run_kitmanager(data_dir, "workshops", "list").returncode == 0
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for name in ("kitmanager.sqlite3", "secret_key"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600


def _can_mount_tmpfs(where: Path) -> str | None:
    """None when a private tmpfs can be mounted here; else the reason it cannot."""
    if shutil.which("unshare") is None:
        return "the unshare command is missing"
    where.mkdir(exist_ok=True)
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {shlex.quote(str(where))}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a mount namespace: {probe.stderr.strip()}"
    return None


def _fill(folder: Path) -> Path:
    """Write a file in ``folder`` until the disk holding it is full."""
    filler = folder / "filler.bin"
    with filler.open("wb", buffering=0) as handle:
        for size in (1 << 20, 1 << 12, 1):
            chunk = b"\0" * size
            while True:
                try:
                    handle.write(chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    return filler


def test_a_full_disk_gives_a_message_leaves_no_partial_upload_and_login_still_answers(
    tmp_path: Path,
):
    prepared = tmp_path / "prepared"
    prepare(prepared)
    mount_point = tmp_path / "small-disk"
    reason = _can_mount_tmpfs(mount_point)
    if reason:
        pytest.skip(f"needs a small real filesystem as the data folder: {reason}")
    # The server's own mount namespace: a 6 MB tmpfs as its data folder, the prepared data in it.
    script = (
        f"mount -t tmpfs -o size=6m,mode=0700 tmpfs {shlex.quote(str(mount_point))} && "
        f"cp -a {shlex.quote(str(prepared))}/. {shlex.quote(str(mount_point))}/ && "
        'exec "$0" "$@"'
    )
    with Server(mount_point, prefix=["unshare", "-m", "sh", "-c", script]) as server:
        # The test sees the tmpfs through the server process's view of the file system.
        disk = Path(f"/proc/{server.process.pid}/root") / str(mount_point).lstrip("/")
        assert (disk / "kitmanager.sqlite3").is_file()
        browser = Browser(server.url)
        assert browser.login(*ORGANISER).status == 200
        phone = Browser(server.url)

        filler = _fill(disk)
        big_csv = (
            "Nom complet;Adresse e-mail\n"
            + "".join(f"Personne {i};p{i}@example.ci\n" for i in range(20_000))
        ).encode()
        assert len(big_csv) > 256 * 1024
        uploaded = upload(browser, "/workshops/abidjan/participants/import", "big.csv", big_csv)
        assert uploaded.status == 507, uploaded.body[:500]
        assert "disk is full" in uploaded.body and "Free some space" in uploaded.body
        assert "Traceback" not in uploaded.body
        assert sorted(p.name for p in (disk / "uploads").iterdir()) == []

        # Logging in needs a write: with no room left it answers with the same message.
        for password in ("wrong-password", ORGANISER[1]):
            reply = phone.login(ORGANISER[0], password)
            assert reply.status == 507, (reply.status, reply.body[:500])
            assert "disk is full" in reply.body and "Something went wrong" not in reply.body

        # With space again, the same upload goes through.
        filler.unlink()
        again = upload(browser, "/workshops/abidjan/participants/import", "big.csv", big_csv)
        assert again.status == 200 and "/import/" in again.url
        assert [p.suffix for p in (disk / "uploads").iterdir()] == [".csv"]
        assert phone.login(*ORGANISER).status == 200
        assert server.stop() == 0
    os.rmdir(mount_point)
