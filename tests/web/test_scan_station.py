"""The scan station page as the server serves it: config, kiosk mode, service worker, undo."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import timedelta

import pytest

from kitmanager.models import utcnow
from tests.web.conftest import csrf_token
from tests.web.helpers import add_people, make_workshop
from tests.web.test_checkin import _badge, _session


@pytest.fixture
def day(app):
    make_workshop(app)
    running = _session(app, "nairobi", "Session 2", utcnow() - timedelta(minutes=5))
    (amina,) = add_people(app, "nairobi", "Amina Yusuf", email="amina@example.org")
    return {"running": running, "amina": amina}


def _config(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="station-config">(.*?)</script>', page)
    assert match
    return json.loads(match.group(1))


def test_the_station_opens_on_todays_workshop_for_a_volunteer(app, volunteer, day):
    response = volunteer.get("/scan")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    config = _config(page)
    assert config["workshop"] == "nairobi" and config["session"] is None
    assert "Running now: Session 2" in page
    assert config["api"]["scan"] == "/api/v1/scans"
    # The QR reader's WebAssembly may compile on this page, and on no other.
    assert "'wasm-unsafe-eval'" in response.headers["Content-Security-Policy"]
    assert "wasm" not in volunteer.get("/workshops/").headers["Content-Security-Policy"]
    assert "amina@example.org" not in page


def test_a_chosen_session_is_kept_and_an_unknown_workshop_is_a_404(app, volunteer, day):
    page = volunteer.get(f"/scan?workshop=nairobi&session={day['running']}").get_data(True)
    assert _config(page)["session"] == day["running"]
    assert volunteer.get("/scan?workshop=nowhere").status_code == 404


def test_with_several_workshops_today_the_station_asks_which(app, volunteer, day):
    make_workshop(app, "abidjan", "Défi IA Abidjan")
    page = volunteer.get("/scan").get_data(as_text=True)
    assert "Which workshop is this station for?" in page
    assert "/scan?workshop=abidjan" in page and "/scan?workshop=nairobi" in page


def test_the_station_needs_a_login(client):
    assert client.get("/scan").status_code == 302


def test_the_roster_copy_has_names_and_token_digests_only(app, volunteer, day):
    people = volunteer.get("/api/v1/workshops/nairobi/roster").json["people"]
    token = _badge(app, day["amina"])
    import hashlib

    assert people == [
        {"h": hashlib.sha256(token.encode()).hexdigest()[:32], "name": "Amina Yusuf", "team": None}
    ]
    assert token not in json.dumps(people)


def test_undo_takes_back_the_check_in_of_that_scan_only(app, volunteer, day):
    token = csrf_token(volunteer, "/scan")
    headers = {"X-CSRFToken": token}
    code = _badge(app, day["amina"])
    volunteer.post("/api/v1/scans", json={"code": code, "client_id": "s1"}, headers=headers)
    again = volunteer.post("/api/v1/scans", json={"code": code, "client_id": "s2"}, headers=headers)
    assert again.json["outcome"] == "already_checked_in"
    # Undoing the second scan (which added nothing) keeps the check-in.
    volunteer.post("/api/v1/scans/undo", json={"client_id": "s2"}, headers=headers)
    db = app.config["DATA_DIR"] / "kitmanager.sqlite3"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM check_in").fetchone()[0] == 1
    undone = volunteer.post("/api/v1/scans/undo", json={"client_id": "s1"}, headers=headers)
    assert undone.json["undone"] is True
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM check_in").fetchone()[0] == 0
    missing = volunteer.post("/api/v1/scans/undo", json={"client_id": "nope"}, headers=headers)
    assert missing.status_code == 404


def test_kiosk_mode_keeps_the_browser_on_the_station_until_the_pin(app, trainer, day):
    volunteer = trainer  # a trainer starts the kiosk; the browser then only scans
    token = csrf_token(volunteer, "/scan")
    short = volunteer.post(
        "/scan/kiosk", data={"csrf_token": token, "pin": "12"}, follow_redirects=True
    )
    assert "Choose a PIN of 4 to 12 digits" in short.get_data(as_text=True)
    assert volunteer.get("/workshops/").status_code == 200  # a refused PIN starts nothing

    volunteer.post(
        "/scan/kiosk", data={"csrf_token": token, "pin": "2468", "next": "/scan?workshop=nairobi"}
    )
    away = volunteer.get("/workshops/")
    assert away.status_code == 302 and away.headers["Location"] == "/scan?workshop=nairobi"
    assert volunteer.post("/logout", data={"csrf_token": token}).status_code == 403
    page = volunteer.get("/scan?workshop=nairobi").get_data(as_text=True)
    assert _config(page)["kiosk"] is True and "End kiosk mode" in page
    # Scans still work from the kiosk.
    scan = volunteer.post(
        "/api/v1/scans", json={"code": _badge(app, day["amina"])}, headers={"X-CSRFToken": token}
    )
    assert scan.json["outcome"] == "checked_in"

    wrong = volunteer.post(
        "/scan/kiosk/exit", data={"csrf_token": token, "pin": "0000"}, follow_redirects=True
    )
    assert "Wrong PIN." in wrong.get_data(as_text=True)
    assert volunteer.get("/workshops/").status_code == 302
    volunteer.post("/scan/kiosk/exit", data={"csrf_token": token, "pin": "2468"})
    assert volunteer.get("/workshops/").status_code == 200


def test_five_wrong_pins_lock_the_kiosk(app, trainer, day):
    volunteer = trainer
    token = csrf_token(volunteer, "/scan")
    volunteer.post("/scan/kiosk", data={"csrf_token": token, "pin": "2468"})
    for _ in range(5):
        volunteer.post("/scan/kiosk/exit", data={"csrf_token": token, "pin": "1111"})
    locked = volunteer.post(
        "/scan/kiosk/exit", data={"csrf_token": token, "pin": "2468"}, follow_redirects=True
    )
    assert "Too many wrong PINs" in locked.get_data(as_text=True)
    assert volunteer.get("/workshops/").status_code == 302


def test_the_service_worker_may_control_the_station_and_the_manifest_is_json(volunteer, day):
    worker = volunteer.get("/scan/sw.js")
    assert worker.status_code == 200
    assert worker.headers["Service-Worker-Allowed"] == "/scan"
    assert "javascript" in worker.headers["Content-Type"]
    manifest = volunteer.get("/scan/manifest.webmanifest")
    assert manifest.headers["Content-Type"] == "application/manifest+json"
    assert manifest.json["start_url"] == "/scan"


def test_the_vendored_reader_matches_its_recorded_checksums(app):
    import hashlib
    from pathlib import Path

    import kitmanager

    vendor = Path(kitmanager.__file__).parent / "static" / "vendor"
    manifest = json.loads((vendor / "VENDOR.json").read_text())
    names = {p["name"]: p for p in manifest["packages"]}
    assert names["barcode-detector"]["version"] == "3.2.2"
    assert all(p["license"] == "MIT" for p in manifest["packages"])
    for package in manifest["packages"]:
        for name, digest in package["files"].items():
            assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name


def test_join_shows_the_laptops_address_as_a_qr_a_phone_can_read(app, volunteer, day):
    page = volunteer.get("/join").get_data(as_text=True)
    assert "http://kit.test" in page
    assert _qr_text(page) == "http://kit.test"
    assert "Sign a volunteer's phone in" not in page  # organisers only


def _qr_text(page: str, index: int = 0) -> str:
    """Decode the ``index``-th SVG QR code of a page, drawn the way a screen shows it."""
    import zxingcpp
    from PIL import Image, ImageDraw

    found = re.findall(r'<svg[^>]*viewBox="0 0 (\d+) \1".*?<path d="([^"]+)"', page, re.S)
    side, path = int(found[index][0]), found[index][1]
    scale = 8
    image = Image.new("L", (side * scale, side * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1H\d+z", path):
        x, y, width = int(x), int(y), int(width)
        draw.rectangle([x * scale, y * scale, (x + width) * scale - 1, (y + 1) * scale - 1], fill=0)
    (code,) = zxingcpp.read_barcodes(image)
    return code.text


def test_a_one_time_code_signs_one_phone_in_as_a_volunteer(app, organiser, day):
    token = csrf_token(organiser, "/join")
    shown = organiser.post("/join/phone", data={"csrf_token": token, "label": "Door phone 1"})
    page = shown.get_data(as_text=True)
    assert "Door phone 1" in page and "within 5 minutes" in page
    link = _qr_text(page)
    assert link.startswith("http://kit.test/join/")
    path = link[len("http://kit.test") :]
    with sqlite3.connect(app.config["DATA_DIR"] / "kitmanager.sqlite3") as conn:
        dump = "\n".join(conn.iterdump())
    assert path.rsplit("/", 1)[1] not in dump  # only the hash is kept

    phone = app.test_client()
    confirm = phone.get(path)
    assert confirm.status_code == 200 and "Door phone 1" in confirm.get_data(as_text=True)
    signed = phone.post(path, data={"csrf_token": csrf_token(phone, path)})
    assert signed.status_code == 302 and signed.headers["Location"] == "/scan"
    assert phone.get("/scan").status_code == 200
    assert phone.get("/api/v1/me").json["role"] == "volunteer"
    # A volunteer phone scans; it cannot open the accounts page.
    assert phone.get("/workshops/nairobi/participants/").status_code == 403

    second = app.test_client()
    again = second.get(path)
    assert again.status_code == 404 and "already used or has expired" in again.get_data(True)


def test_an_expired_phone_code_and_a_volunteer_making_one_are_refused(app, client, day):
    from tests.web.conftest import login

    login(client, "olga")
    token = csrf_token(client, "/join")
    page = client.post("/join/phone", data={"csrf_token": token, "label": ""}).get_data(True)
    path = _qr_text(page)[len("http://kit.test") :]
    with sqlite3.connect(app.config["DATA_DIR"] / "kitmanager.sqlite3") as conn:
        conn.execute("UPDATE one_time_login SET expires_at = '2000-01-01 00:00:00'")
    phone = app.test_client()
    assert phone.get(path).status_code == 404
    assert phone.post(path, data={"csrf_token": csrf_token(phone, "/login")}).status_code == 404
    assert phone.get("/scan").status_code == 302  # not signed in

    client.post("/logout", data={"csrf_token": token})
    login(client, "vera")
    refused = client.post("/join/phone", data={"csrf_token": csrf_token(client, "/join")})
    assert refused.status_code == 403


def test_a_volunteer_cannot_start_a_kiosk(app, volunteer, day):
    page = volunteer.get("/scan").get_data(as_text=True)
    assert "Start kiosk mode" not in page
    token = csrf_token(volunteer, "/workshops/")
    assert (
        volunteer.post("/scan/kiosk", data={"csrf_token": token, "pin": "2468"}).status_code == 403
    )


def test_a_kiosk_cannot_be_moved_to_another_station_and_keeps_no_pin_hash_in_its_cookie(
    app, trainer, day
):
    make_workshop(app, "abidjan", "Défi IA Abidjan")
    token = csrf_token(trainer, "/scan?workshop=nairobi")
    trainer.post(
        "/scan/kiosk", data={"csrf_token": token, "pin": "2468", "next": "/scan?workshop=nairobi"}
    )
    moved = trainer.get("/scan?workshop=abidjan")
    assert moved.status_code == 302 and moved.headers["Location"] == "/scan?workshop=nairobi"
    assert trainer.get(f"/scan?workshop=nairobi&session={day['running']}").status_code == 302
    page = trainer.get("/scan?workshop=nairobi").get_data(as_text=True)
    assert 'class="session-switch"' not in page  # nobody at the kiosk switches the session
    from flask.sessions import SecureCookieSessionInterface

    cookie = trainer.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    data = SecureCookieSessionInterface().get_signing_serializer(app).loads(cookie.value)
    assert "scrypt" not in str(data["kiosk"]) and "2468" not in str(data["kiosk"])
