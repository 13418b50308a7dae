"""`kitmanager serve --https`: a self-signed certificate made once, a real TLS server."""

from __future__ import annotations

import http.client
import json
import re
import signal
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509

from kitmanager.tls import HttpsServer, ensure_certificate
from tests.web.e2e import STOPPED_LINE, Server, free_port, run_kitmanager
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

FINGERPRINT = re.compile(r"fingerprint \(SHA-256\): ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})")


def _pinned(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = True
    return context


def _get(port: int, cert: Path, path: str, **headers: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=_pinned(cert), timeout=10)
    conn.request("GET", path, headers=headers)
    return conn.getresponse()


def test_https_makes_a_certificate_once_and_serves_the_app_over_tls(tmp_path: Path):
    data_dir = tmp_path / "data"
    with Server(data_dir, extra_args=("--https",)) as server:
        printed = FINGERPRINT.search(server.stdout)
        assert printed, server.stdout
        assert f"https://127.0.0.1:{server.port}/" in server.stdout
        cert_file = data_dir / "https-cert.pem"
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        fingerprint = ":".join(f"{b:02X}" for b in cert.fingerprint(cert.signature_hash_algorithm))
        assert printed.group(1) == fingerprint
        assert stat.S_IMODE((data_dir / "https-key.pem").stat().st_mode) == 0o600
        # A client that trusts exactly this certificate talks to the server, name checked.
        reply = _get(server.port, cert_file, "/healthz")
        assert reply.status == 200 and json.loads(reply.read()) == {"status": "ok"}
        # Over HTTPS the browser is told to stay on HTTPS, and the login cookie is Secure.
        login = _get(server.port, cert_file, "/login")
        assert "max-age" in login.getheader("Strict-Transport-Security", "")
        assert "Secure" in login.getheader("Set-Cookie", "")
        # Plain HTTP on the HTTPS port is not served.
        plain = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            plain.request("GET", "/healthz")
            status = plain.getresponse().status
        except (http.client.HTTPException, OSError):
            status = None
        assert status != 200
        assert "accept" in server.stdout  # a new certificate: phones must accept it once
        assert server.stop(signal.SIGINT) == 0
        assert STOPPED_LINE in server.stdout
    with Server(data_dir, extra_args=("--https",)) as again:
        assert FINGERPRINT.search(again.stdout).group(1) == fingerprint  # reused, not remade
        assert "made earlier" in again.stdout


def test_https_on_a_busy_port_is_the_same_clear_error(tmp_path: Path):
    data_dir = tmp_path / "data"
    with Server(data_dir) as first:
        second = run_kitmanager(data_dir, "serve", "--https", "--port", str(first.port))
        assert second.returncode != 0
        assert f"Port {first.port} is already in use" in second.stderr
        assert "Traceback" not in second.stderr


def test_behind_the_tls_front_the_app_sees_the_phone_and_https(tmp_path: Path):
    """The front hands each phone's bytes to waitress on a loopback port; the app must still
    see the phone's address (login throttling, audit) and the scheme and port it used."""
    seen: list[dict[str, str]] = []

    def app(environ, start_response):
        keys = ("REMOTE_ADDR", "REMOTE_PORT", "SERVER_PORT", "wsgi.url_scheme")
        seen.append({key: environ[key] for key in keys})
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    cert = ensure_certificate(tmp_path, [])
    port = free_port()
    server = HttpsServer(app, "127.0.0.1", port, 2, cert, max_body=1024)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=_pinned(cert.cert_path))
        conn.connect()
        phone_port = conn.sock.getsockname()[1]
        for _ in range(2):  # the same connection, kept alive
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"ok"
        conn.close()
    finally:
        server.close()
        serving.join(10)
    assert not serving.is_alive()
    expected = {"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": str(phone_port),
                "SERVER_PORT": str(port), "wsgi.url_scheme": "https"}  # fmt: skip
    assert seen == [expected, expected]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_a_phone_that_accepted_the_certificate_gets_the_camera_and_offline_station(
    tmp_path: Path,
):
    from playwright.sync_api import sync_playwright

    data_dir = tmp_path / "data"
    made = run_kitmanager(
        data_dir, "users", "create", "vera", "--role", "volunteer", "--password-stdin",
        stdin="door-volunteer-2026\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    made = run_kitmanager(data_dir, "workshops", "create", "Door", "--slug", "door",
                          "--starts", "2026-12-01")  # fmt: skip
    assert made.returncode == 0, made.stderr
    with Server(data_dir, extra_args=("--https",)) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # What a phone does once its user accepted the certificate.
            args=[*CHROMIUM_ARGS, "--ignore-certificate-errors"],
        )
        page = browser.new_page(viewport={"width": 375, "height": 740})
        base = f"https://127.0.0.1:{server.port}"
        page.goto(f"{base}/login")
        page.get_by_label("User name").fill("vera")
        page.get_by_label("Password").fill("door-volunteer-2026")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/workshops/$"))
        page.goto(f"{base}/scan?workshop=door")
        page.wait_for_selector("body[data-station-ready='1']")
        assert page.evaluate("window.isSecureContext") is True
        assert page.locator("#camera-toggle").is_enabled()
        page.wait_for_selector("body[data-offline-ready='1']")  # the service worker runs
        browser.close()
