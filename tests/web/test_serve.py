"""`kitmanager serve` and the CLI as a user meets them: real processes, a real port, real HTTP."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kitmanager.config import DATABASE_FILE, SECRET_KEY_FILE
from tests.web.e2e import (
    STOPPED_LINE,
    Browser,
    ParticipantWriter,
    Server,
    free_port,
    kitmanager_exe,
    run_kitmanager,
)

PASSWORD_LINE = re.compile(r"log in as '([^']+)' with password: (\S+)")
# Half blocks of a terminal QR code; ASCII-only consoles would not show them.
QR_BLOCKS = ("█", "▀", "▄")


def assert_no_traceback(*outputs: str) -> None:
    for output in outputs:
        assert "Traceback" not in output, output


def first_password(output: str) -> tuple[str, str]:
    match = PASSWORD_LINE.search(output)
    assert match, f"no first-start password in:\n{output}"
    return match.group(1), match.group(2)


def test_first_start_creates_the_data_dir_and_prints_a_password_that_logs_in(tmp_path: Path):
    data_dir = tmp_path / "new" / "kitmanager-data"
    with Server(data_dir) as server:
        username, password = first_password(server.stdout)
        assert server.stdout.count(password) == 1
        assert f"http://127.0.0.1:{server.port}/" in server.stdout
        assert str(data_dir) in server.stdout

        database = data_dir / DATABASE_FILE
        with sqlite3.connect(database) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        secret = data_dir / SECRET_KEY_FILE
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        key = secret.read_text()

        browser = Browser(server.url)
        wrong = browser.login(username, password + "x")
        assert wrong.status == 401
        assert not browser.logged_in()
        page = browser.login(username, password)
        assert page.status == 200 and page.url.endswith("/workshops/")
        assert browser.logged_in()
        assert server.stop() == 0

    with Server(data_dir, port=server.port) as again:
        assert PASSWORD_LINE.search(again.stdout) is None
        assert "password" not in again.stdout.lower()
        assert secret.read_text() == key
        # Same key, so the cookie signed by the first run still holds the session.
        assert browser.logged_in()
        assert again.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_stop_the_server_cleanly(tmp_path: Path, sig: int):
    with Server(tmp_path / "data") as server:
        assert Browser(server.url).get("/healthz").status == 200
        code = server.stop(sig)
        assert code == 0, server.stderr
        assert server.stdout.rstrip().endswith(STOPPED_LINE)
        assert_no_traceback(server.stdout, server.stderr)
        # The port is free again at once.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_ctrl_c_while_a_request_is_open_still_stops_cleanly(tmp_path: Path):
    with Server(tmp_path / "data") as server:
        # A half-sent request keeps a connection open in the server.
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            code = server.stop(signal.SIGINT)
        finally:
            sock.close()
        assert code == 0
        assert STOPPED_LINE in server.stdout
        assert_no_traceback(server.stdout, server.stderr)


def test_ctrl_c_during_a_rush_of_writes_stops_cleanly_and_keeps_every_confirmed_row(
    tmp_path: Path,
):
    data_dir = tmp_path / "data"
    assert run_kitmanager(
        data_dir, "workshops", "create", "Nairobi Robotics", "--slug", "nairobi",
        "--starts", "2026-12-01",
    ).returncode == 0  # fmt: skip
    made = run_kitmanager(data_dir, "tokens", "create", "desk", "--role", "trainer")
    secret = made.stdout.strip().splitlines()[-1]
    with Server(data_dir) as server:
        writers = [
            ParticipantWriter(server.url, secret, "nairobi", prefix)
            for prefix in ("Achieng Otieno", "Baraka Mwangi", "Chebet Koech")
        ]
        for writer in writers:
            writer.start()
        try:
            for writer in writers:
                writer.wait_for(10)
            code = server.stop(signal.SIGINT)
        finally:
            for writer in writers:
                writer.halt.set()
                writer.join(timeout=30)
        assert code == 0, server.stderr
        assert STOPPED_LINE in server.stdout
        assert_no_traceback(server.stdout, server.stderr)
    with sqlite3.connect(data_dir / DATABASE_FILE) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in conn.execute("SELECT full_name FROM participant")}
    confirmed = {name for writer in writers for name in writer.committed}
    assert confirmed <= stored


UNSHARE = shutil.which("unshare")
IP = shutil.which("ip") or "/usr/sbin/ip"
# A private network namespace whose only way out is a fake "Wi-Fi" address on its own loopback:
# the server may listen on 0.0.0.0 there without being reachable from any real network.
NAMESPACE_SETUP = (
    f"{IP} link set lo up && {IP} addr add 10.77.0.2/32 dev lo && "
    f"{IP} route add default dev lo src 10.77.0.2"
)


def _namespaces_work() -> bool:
    if UNSHARE is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        [UNSHARE, "-n", "sh", "-c", NAMESPACE_SETUP],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return probe.returncode == 0


def test_listening_on_every_interface_prints_the_lan_url_and_a_terminal_qr(tmp_path: Path):
    if not _namespaces_work():
        pytest.skip("needs root and `unshare -n` to listen on every interface of a private network")
    port = 5000
    setup_then = f'{NAMESPACE_SETUP} && exec "$0" "$@"'
    expected = subprocess.run(
        [
            UNSHARE,
            "-n",
            "sh",
            "-c",
            setup_then,
            sys.executable,
            "-c",
            f"from kitmanager.network import lan_url; print(lan_url({port}))",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    assert expected == f"http://10.77.0.2:{port}"

    server = Server(
        tmp_path / "data", host="0.0.0.0", port=port, prefix=[UNSHARE, "-n", "sh", "-c", setup_then]
    )
    try:
        server.start()
        lan_lines = [line for line in server.stdout.splitlines() if "On the Wi-Fi" in line]
        assert len(lan_lines) == 1, server.stdout
        assert f"{expected}/" in lan_lines[0]
        assert f"Badges point to: {expected}" in server.stdout
        qr_lines = [
            line for line in server.stdout.splitlines() if any(b in line for b in QR_BLOCKS)
        ]
        # A QR code of a short URL is at least 21 modules high, two modules per text line.
        assert len(qr_lines) >= 11
        assert len({len(line.rstrip("\n")) for line in qr_lines}) == 1, "QR rows differ in width"
        assert server.stop() == 0
        assert_no_traceback(server.stdout, server.stderr)
    finally:
        server.kill()


def test_listening_everywhere_without_any_network_says_phones_cannot_join(tmp_path: Path):
    if not _namespaces_work():
        pytest.skip("needs root and `unshare -n` to listen on every interface of a private network")
    # A private network namespace with nothing but loopback: a laptop with Wi-Fi switched off.
    no_network = [UNSHARE, "-n", "sh", "-c", f'{IP} link set lo up && exec "$0" "$@"']
    server = Server(tmp_path / "data", host="0.0.0.0", port=5000, prefix=no_network)
    try:
        server.start()
        assert "No network found: phones cannot join" in server.stdout
        assert "On the Wi-Fi" not in server.stdout
        assert not any(block in server.stdout for block in QR_BLOCKS)
        assert server.stop() == 0
        assert_no_traceback(server.stdout, server.stderr)
    finally:
        server.kill()


@pytest.mark.parametrize("host", ["10.77.0.2", "::1"], ids=["lan-address", "ipv6-loopback"])
def test_listening_on_one_address_prints_urls_that_answer_there(tmp_path: Path, host: str):
    if not _namespaces_work() or shutil.which("nsenter") is None:
        pytest.skip("needs root, `unshare -n` and `nsenter` to use a private network")
    setup_then = f'{NAMESPACE_SETUP} && exec "$0" "$@"'
    server = Server(
        tmp_path / "data", host=host, port=5000, prefix=[UNSHARE, "-n", "sh", "-c", setup_then]
    )
    url = "http://[::1]:5000" if host == "::1" else f"http://{host}:5000"
    try:
        server.start()
        assert f"On this laptop:  {url}/" in server.stdout
        assert f"Badges point to: {url}" in server.stdout
        assert "127.0.0.1" not in server.stdout
        assert server.process is not None
        # Ask from inside the server's private network whether the printed URL answers.
        probe = subprocess.run(
            ["nsenter", f"--net=/proc/{server.process.pid}/ns/net", sys.executable, "-c",
             f"import urllib.request; print(urllib.request.urlopen('{url}/healthz').status)"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert probe.stdout.strip() == "200", probe.stderr
        assert server.stop() == 0
    finally:
        server.kill()


def test_port_already_in_use_is_a_clear_error_and_keeps_the_first_password(tmp_path: Path):
    data_dir = tmp_path / "data"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_kitmanager(data_dir, "serve", "--host", "127.0.0.1", "--port", str(port))
    assert_one_clear_error(result, f"Port {port}", "already in use", "--port")
    assert "kitmanager is running" not in result.stdout
    # The failed start showed no password, so the first start that works must show one.
    with Server(data_dir) as server:
        username, password = first_password(server.stdout)
        assert Browser(server.url).login(username, password).status == 200
        assert server.stop() == 0


def test_accounts_and_tokens_made_with_the_cli_work_against_the_running_server(tmp_path: Path):
    data_dir = tmp_path / "data"
    with Server(data_dir) as server:
        created = run_kitmanager(
            data_dir,
            "users",
            "create",
            "amina",
            "--role",
            "trainer",
            "--password-stdin",
            stdin="Sokoine-Robotics-2026\n",
        )
        assert created.returncode == 0, created.stderr
        assert "Sokoine-Robotics-2026" not in created.stdout

        browser = Browser(server.url)
        assert browser.login("amina", "Sokoine-Robotics-2026").status == 200
        assert browser.logged_in()

        reset = run_kitmanager(data_dir, "users", "reset-password", "amina")
        assert reset.returncode == 0, reset.stderr
        new_password = reset.stdout.strip().split()[-1]
        # Resetting ends open sessions; the old password no longer works, the new one does.
        assert not browser.logged_in()
        assert Browser(server.url).login("amina", "Sokoine-Robotics-2026").status == 401
        assert Browser(server.url).login("amina", new_password).status == 200

        made = run_kitmanager(data_dir, "tokens", "create", "door-scanner", "--role", "volunteer")
        assert made.returncode == 0, made.stderr
        secret = made.stdout.strip().splitlines()[-1]
        assert len(secret) >= 32 and made.stdout.count(secret) == 1
        bearer = {"Authorization": f"Bearer {secret}"}
        me = Browser(server.url).get("/api/v1/me", headers=bearer)
        assert me.status == 200, me.body
        assert '"role":"volunteer"' in me.body.replace(" ", "")
        listed = run_kitmanager(data_dir, "tokens", "list")
        assert "door-scanner" in listed.stdout and secret not in listed.stdout

        revoked = run_kitmanager(data_dir, "tokens", "revoke", "door-scanner")
        assert revoked.returncode == 0, revoked.stderr
        assert Browser(server.url).get("/api/v1/me", headers=bearer).status == 401
        assert server.stop() == 0


def test_workshop_sessions_and_an_import_with_a_bad_row_from_the_cli(tmp_path: Path):
    data_dir = tmp_path / "data"
    made = run_kitmanager(
        data_dir,
        "workshops",
        "create",
        "Atelier robotique Abidjan",
        "--slug",
        "abidjan",
        "--starts",
        "2026-12-05",
        "--ends",
        "2026-12-06",
        "--timezone",
        "Africa/Abidjan",
    )
    assert made.returncode == 0, made.stderr
    session = run_kitmanager(
        data_dir,
        "sessions",
        "add",
        "abidjan",
        "Capteurs",
        "--starts",
        "2026-12-05 09:00",
        "--ends",
        "2026-12-05 12:00",
    )
    assert session.returncode == 0, session.stderr
    assert "2026-12-05 09:00 (Africa/Abidjan)" in session.stdout

    signups = tmp_path / "inscriptions.csv"
    signups.write_bytes(
        "Nom;Prénom;Adresse e-mail\n"
        "Koné;Awa;awa.kone@example.ci\n"
        "N'Guessan;Kouassi;pas-une-adresse\n"
        "Traoré;Fatou;fatou@example.ci\n".encode("cp1252")
    )
    refused = run_kitmanager(data_dir, "participants", "import", "abidjan", str(signups))
    assert refused.returncode != 0
    assert "line 3" in refused.stderr
    assert_no_traceback(refused.stdout, refused.stderr)
    listed = run_kitmanager(data_dir, "participants", "list", "abidjan")
    assert listed.returncode == 0 and listed.stdout.strip() == ""
    workshops = run_kitmanager(data_dir, "workshops", "list")
    assert re.search(r"abidjan\s+2026-12-05\s+0 participants", workshops.stdout), workshops.stdout


def assert_one_clear_error(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert_no_traceback(result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for phrase in phrases:
        assert phrase in lines[0]


SERVE_ARGS = ("serve", "--host", "127.0.0.1", "--port", "1")


def test_unwritable_data_dir_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for args in (("workshops", "list"), SERVE_ARGS):
        result = run_kitmanager(blocker / "data", *args)
        assert_one_clear_error(result, str(blocker / "data"), "--data-dir")


def test_a_relative_data_dir_keeps_everything_in_that_folder(tmp_path: Path):
    made = subprocess.run(
        [str(kitmanager_exe()), "--data-dir", "workshop-data", "workshops", "create",
         "Kisumu Robotics", "--starts", "2026-12-01"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    data_dir = tmp_path / "workshop-data"
    assert (data_dir / SECRET_KEY_FILE).is_file()
    with sqlite3.connect(data_dir / DATABASE_FILE) as conn:
        assert conn.execute("SELECT title FROM workshop").fetchall() == [("Kisumu Robotics",)]
    listed = run_kitmanager(data_dir, "workshops", "list")
    assert "Kisumu Robotics" in listed.stdout


def test_a_damaged_database_is_a_clear_error(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / DATABASE_FILE).write_bytes(b"this laptop's disk had a bad day" * 100)
    for args in (("workshops", "list"), SERVE_ARGS):
        result = run_kitmanager(data_dir, *args)
        assert_one_clear_error(result, str(data_dir / DATABASE_FILE), "kitmanager restore")


def test_a_database_from_a_newer_kitmanager_is_a_clear_error(tmp_path: Path):
    data_dir = tmp_path / "data"
    assert run_kitmanager(data_dir, "workshops", "list").returncode == 0
    with sqlite3.connect(data_dir / DATABASE_FILE) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999_from_the_future'")
    for args in (("workshops", "list"), SERVE_ARGS):
        result = run_kitmanager(data_dir, *args)
        assert_one_clear_error(result, "newer kitmanager", "0999_from_the_future", "Update")


def test_an_address_this_laptop_does_not_have_is_a_clear_error(tmp_path: Path):
    # 192.0.2.1 is reserved for documentation: never an address of a real machine.
    result = run_kitmanager(
        tmp_path / "data", "serve", "--host", "192.0.2.1", "--port", str(free_port())
    )
    assert_one_clear_error(result, "192.0.2.1", "--host 0.0.0.0", "--host 127.0.0.1")


def test_pressing_ctrl_c_twice_still_stops_cleanly(tmp_path: Path):
    with Server(tmp_path / "data") as server:
        assert server.process is not None
        server.process.send_signal(signal.SIGINT)
        server.process.send_signal(signal.SIGINT)
        assert server.wait_for_exit() == 0, server.stderr
        assert STOPPED_LINE in server.stdout
        assert_no_traceback(server.stdout, server.stderr)


def test_create_app_with_a_relative_data_dir_keeps_the_database_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from kitmanager import create_app
    from kitmanager.database import upgrade_database
    from kitmanager.extensions import db

    monkeypatch.chdir(tmp_path)
    app = create_app({"DATA_DIR": "relative-data", "SECRET_KEY": "test"})
    try:
        upgrade_database(app)
    finally:
        with app.app_context():
            db.engine.dispose()
    assert (tmp_path / "relative-data" / DATABASE_FILE).is_file()


def test_base_url_option_sets_the_address_in_badge_qr_codes(tmp_path: Path):
    data_dir = tmp_path / "data"
    for args in (
        ("workshops", "create", "Proxy day", "--slug", "proxy", "--starts", "2026-12-01"),
        ("participants", "add", "proxy", "Kamau Njoroge"),
    ):
        assert run_kitmanager(data_dir, *args).returncode == 0
    made = run_kitmanager(data_dir, "tokens", "create", "script", "--role", "trainer")
    bearer = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    with Server(data_dir, extra_args=["--base-url", "https://kits.example.org/"]) as server:
        assert "Badges point to: https://kits.example.org" in server.stdout
        people = Browser(server.url).get("/api/v1/workshops/proxy/participants", headers=bearer)
        assert people.status == 200, people.body
        assert re.search(r'"badge_url":\s*"https://kits\.example\.org/b/[\w-]{32}"', people.body)
        assert server.stop() == 0

    bad = subprocess.run(
        [str(kitmanager_exe()), "--data-dir", str(data_dir), "serve", "--base-url", "kits.local"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode != 0
    assert "start it with http:// or https://" in bad.stderr
    assert_no_traceback(bad.stdout, bad.stderr)


def test_the_first_serve_stores_its_wifi_address_and_the_cli_prints_the_same_badges(
    tmp_path: Path,
):
    """The server runs on 5077-like ports; `kitmanager badges` and `participants export` once
    guessed port 5000. Now both read the address `serve` stored."""
    from kitmanager.network import lan_ip, lan_url, local_addresses
    from tests.printouts.reading import all_codes, read_pdf

    if lan_ip() == "127.0.0.1":
        pytest.skip("needs a network address besides 127.0.0.1")
    data_dir = tmp_path / "data"
    for args in (
        ("workshops", "create", "Venue day", "--slug", "venue", "--starts", "2026-12-01"),
        ("participants", "add", "venue", "Kamau Njoroge"),
    ):
        assert run_kitmanager(data_dir, *args).returncode == 0
    before = run_kitmanager(data_dir, "badges", "venue", "-o", str(tmp_path / "none.pdf"))
    assert before.returncode != 0
    assert "No badge address is stored yet" in before.stderr
    assert_no_traceback(before.stdout, before.stderr)

    # A start on this laptop only stores its loopback address (with a plain warning)...
    with Server(data_dir) as local:
        assert f"Badges point to: {local.url}" in local.stdout
        assert "phones cannot open the badges" in local.stdout
        assert local.stop() == 0
    pdf = tmp_path / "badges.pdf"
    made = run_kitmanager(data_dir, "badges", "venue", "-o", str(pdf))
    assert made.returncode == 0, made.stderr
    assert all_codes(read_pdf(pdf.read_bytes()))[0].startswith(f"{local.url}/b/")

    # ...which the first start with a network replaces by the Wi-Fi address.
    port = free_port()
    expected = lan_url(port)
    with Server(data_dir, host="0.0.0.0", port=port) as server:
        assert f"Badges point to: {expected}" in server.stdout
        assert server.stop() == 0

    made = run_kitmanager(data_dir, "badges", "venue", "-o", str(pdf))
    assert made.returncode == 0, made.stderr
    [code] = all_codes(read_pdf(pdf.read_bytes()))
    assert re.fullmatch(rf"{re.escape(expected)}/b/[\w-]{{32}}", code)
    exported = run_kitmanager(data_dir, "participants", "export", "venue")
    assert code in exported.stdout

    # A later start on another port keeps the stored address (badges already printed stay
    # valid) and says so; --base-url replaces it for everyone.
    with Server(data_dir, host="127.0.0.1") as again:
        assert f"Badges point to: {expected}" in again.stdout
        assert again.stop() == 0
    hotspot = "http://10.42.0.1:5077"
    with Server(data_dir, extra_args=["--base-url", hotspot]) as fixed:
        assert f"Badges point to: {hotspot}" in fixed.stdout
        if "10.42.0.1" not in local_addresses():
            assert "not an address of this laptop now" in fixed.stdout
        assert fixed.stop() == 0
    made = run_kitmanager(data_dir, "badges", "venue", "-o", str(pdf))
    assert all_codes(read_pdf(pdf.read_bytes())) == [code.replace(expected, hotspot)]


def test_a_first_start_after_only_a_volunteer_was_made_still_gives_an_organiser(tmp_path: Path):
    data_dir = tmp_path / "data"
    made = run_kitmanager(
        data_dir, "users", "create", "vera", "--role", "volunteer", "--password-stdin",
        stdin="door-volunteer-2026\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with Server(data_dir) as server:
        assert first_password(server.stdout)[0] == "organiser"
    with Server(data_dir) as again:  # an organiser exists now: nothing more is printed
        assert PASSWORD_LINE.search(again.stdout) is None
    listed = run_kitmanager(data_dir, "users", "list").stdout
    assert "organiser" in listed and "vera" in listed
