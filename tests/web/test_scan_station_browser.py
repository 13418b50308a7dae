"""The scan station in a real Chromium against a real `kitmanager serve`.

Three ways a badge reaches it: a keyboard-wedge scanner (keyboard only), the camera (Chromium's
fake camera showing a badge cut from the real badge PDF), and scans made while the laptop is out
of reach, queued on the device and sent when the connection returns.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.e2e import Server, run_kitmanager
from tests.web.station_day import SLUG, make_day, ok, wait_for_roster
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, PageProblems

VOLUNTEER = ("vera", "door-volunteer-2026")
PEOPLE = (
    "Amina Yusuf",
    "Kofi Mensah",
    "Éloïse Diallo",
    "Wanjiru Mwangi",
    "Aïssatou Koné",
    "Tom Otieno",
)
# A first load of the station must stay small on a slow Wi-Fi; the QR reader (1 MB of
# WebAssembly) loads only when the camera starts on a browser without BarcodeDetector.
FIRST_LOAD_LIMIT = 150_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


_ok = ok  # kept for the station tests that import it


@pytest.fixture(scope="module")
def workshop_day(tmp_path_factory) -> Iterator[tuple[Server, Path, dict[str, str]]]:
    """A server with a workshop whose session runs now, six participants and a volunteer."""
    data_dir = tmp_path_factory.mktemp("station") / "data"
    tokens, _kits = make_day(data_dir, PEOPLE, [(*VOLUNTEER, "volunteer")])
    with Server(data_dir) as server:
        yield server, data_dir, tokens


def _check_ins(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "kitmanager.sqlite3") as conn:
        conn.execute("PRAGMA busy_timeout=5000")
        return sorted(
            row[0]
            for row in conn.execute(
                "SELECT p.full_name FROM check_in c JOIN participant p ON p.id = c.participant_id"
            )
        )


def _clear_check_ins(data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "kitmanager.sqlite3") as conn:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("DELETE FROM check_in")


@pytest.fixture
def browser_factory():
    from playwright.sync_api import sync_playwright

    launched = []
    with sync_playwright() as playwright:

        def launch(*extra: str):
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra]
            )
            launched.append(browser)
            return browser

        try:
            yield launch
        finally:
            for browser in launched:
                browser.close()


def _log_in(page, server: Server, *, french: bool = False) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Nom d'utilisateur" if french else "User name").fill(VOLUNTEER[0])
    page.get_by_label("Mot de passe" if french else "Password").fill(VOLUNTEER[1])
    page.get_by_role("button", name="Se connecter" if french else "Log in").click()
    page.wait_for_url(re.compile(r"/workshops/$"))


def _open_station(page, server: Server, query: str = "") -> None:
    page.goto(f"{server.url}/scan?workshop={SLUG}{query}")
    page.wait_for_selector("body[data-station-ready='1']")


def test_a_keyboard_wedge_scanner_checks_in_and_undo_takes_it_back(workshop_day, browser_factory):
    server, data_dir, tokens = workshop_day
    _clear_check_ins(data_dir)
    browser = browser_factory()
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = PageProblems(page)
    _log_in(page, server)
    loaded: list[tuple[str, int]] = []
    page.on("requestfinished", lambda request: loaded.append((request.url, _size(request))))
    _open_station(page, server)

    # Nobody clicks anything: the scanner types into whatever has focus.
    assert page.evaluate("document.activeElement.id") == "wedge-input"
    badge = f"http://192.168.8.100:5000/b/{tokens['Amina Yusuf']}"
    page.keyboard.type(badge)
    page.keyboard.press("Enter")
    result = page.locator("#result")
    expect_text(result, "Amina Yusuf — checked in to Premier robot")
    assert result.get_attribute("data-kind") == "ok"
    assert page.evaluate("document.activeElement.id") == "wedge-input"

    page.keyboard.type(badge)
    page.keyboard.press("Enter")
    expect_text(result, "Amina Yusuf was already checked in at")
    assert result.get_attribute("data-kind") == "warn"

    # A kit's code is read as one (and this laptop has no such kit).
    page.keyboard.type("KIT-017")
    page.keyboard.press("Enter")
    expect_text(result, "“KIT-017” is neither a badge nor a kit of this laptop.")
    assert result.get_attribute("data-kind") == "bad"

    page.keyboard.type(tokens["Kofi Mensah"])
    page.keyboard.press("Enter")
    expect_text(result, "Kofi Mensah — checked in")
    assert _check_ins(data_dir) == ["Amina Yusuf", "Kofi Mensah"]
    # Keyboard only: Tab to the undo button and press it; it names what it took back.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "undo"
    page.keyboard.press("Enter")
    expect_text(result, "Check-in of Kofi Mensah undone")
    assert _check_ins(data_dir) == ["Amina Yusuf"]
    expect_text(page.locator("#queue"), "All scans sent")

    first_load = sum(size for url, size in loaded if "/api/" not in url)
    assert first_load <= FIRST_LOAD_LIMIT, loaded
    assert not [url for url, _ in loaded if "/vendor/" in url]
    assert problems.messages == []
    context.close()


def _size(request) -> int:
    try:
        return request.sizes()["responseBodySize"]
    except Exception:  # a request without a body
        return 0


def expect_text(locator, text: str) -> None:
    from playwright.sync_api import expect

    expect(locator).to_contain_text(text, timeout=15_000)


def test_scans_made_offline_are_kept_through_a_reload_and_each_counts_once(
    workshop_day, browser_factory
):
    server, data_dir, tokens = workshop_day
    _clear_check_ins(data_dir)
    browser = browser_factory()
    context = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    page = context.new_page()
    _log_in(page, server)
    _open_station(page, server)
    # The page is kept for offline use and the roster copy has arrived.
    page.wait_for_selector("body[data-offline-ready='1']")
    kept = "async () => !!(await (await caches.open('kitmanager-station-v1')).match(location.href))"
    page.wait_for_function(kept)
    wait_for_roster(page, "people", 6)

    context.set_offline(True)
    names = ["Amina Yusuf", "Kofi Mensah", "Éloïse Diallo", "Wanjiru Mwangi", "Aïssatou Koné"]
    for name in names:
        page.keyboard.type(f"http://10.42.0.1:5000/b/{tokens[name]}")
        page.keyboard.press("Enter")
        expect_text(page.locator("#result"), f"{name} — saved, will be sent")
    # The same badge twice while offline: queued twice, counted once.
    page.keyboard.type(tokens["Amina Yusuf"])
    page.keyboard.press("Enter")
    expect_text(page.locator("#queue"), "6 scans waiting to be sent")
    assert _check_ins(data_dir) == []

    # A reload with no connection: the service worker opens the page, the queue is still there.
    page.reload()
    page.wait_for_selector("body[data-station-ready='1']")
    expect_text(page.locator("#queue"), "6 scans waiting to be sent")

    context.set_offline(False)
    expect_text(page.locator("#queue"), "All scans sent")
    assert _check_ins(data_dir) == sorted(names)

    # Logging out deletes the copy of the names from the device.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login"))
    databases = page.evaluate("async () => (await indexedDB.databases()).map((d) => d.name)")
    assert "kitmanager-roster" not in databases
    context.close()


def _badge_feed(data_dir: Path, token: str, out: Path) -> Path:
    """A fake-camera video (.y4m) of the first badge of the real badge sheet PDF."""
    import pypdfium2
    import zxingcpp
    from PIL import Image

    pdf = data_dir.parent / "badges.pdf"
    _ok(run_kitmanager(data_dir, "badges", SLUG, "-o", str(pdf)))
    page = pypdfium2.PdfDocument(str(pdf))[0]
    image = page.render(scale=3).to_pil().convert("L")
    found = [b for b in zxingcpp.read_barcodes(image) if b.text.endswith(token)]
    assert found, "the badge sheet holds this participant's QR code"
    corners = found[0].position
    xs = [corners.top_left.x, corners.top_right.x, corners.bottom_left.x, corners.bottom_right.x]
    ys = [corners.top_left.y, corners.top_right.y, corners.bottom_left.y, corners.bottom_right.y]
    margin = (max(xs) - min(xs)) // 3
    badge = image.crop((min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin))
    frame = Image.new("L", (640, 480), 235)
    badge.thumbnail((400, 400))
    frame.paste(badge, ((640 - badge.width) // 2, (480 - badge.height) // 2))
    chroma = bytes([128]) * (320 * 240)
    with out.open("wb") as video:
        video.write(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n")
        for _ in range(15):
            video.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)
    return out


def test_the_camera_reads_a_printed_badge_on_a_french_phone_without_any_other_host(
    workshop_day, browser_factory, tmp_path
):
    server, data_dir, tokens = workshop_day
    _clear_check_ins(data_dir)
    feed = _badge_feed(data_dir, tokens["Éloïse Diallo"], tmp_path / "badge.y4m")
    browser = browser_factory(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={feed}",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    )
    context = browser.new_context(
        locale="fr-FR",
        viewport={"width": 375, "height": 740},
        is_mobile=True,
        has_touch=True,
        permissions=["camera"],
    )
    page = context.new_page()
    problems = PageProblems(page)
    other_hosts: list[str] = []
    page.on(
        "request",
        lambda request: (
            other_hosts.append(request.url) if not request.url.startswith(server.url) else None
        ),
    )
    _log_in(page, server, french=True)
    _open_station(page, server, "&camera=1")
    assert page.evaluate("typeof BarcodeDetector") == "undefined"  # the bundled reader runs
    expect_text(page.locator("#result"), "Éloïse Diallo — présence enregistrée pour Premier robot")
    assert _check_ins(data_dir) == ["Éloïse Diallo"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path="/tmp/kitmanager-scan-station-375px-fr.png")
    assert other_hosts == []
    assert problems.csp_violations() == []
    context.close()


def test_the_board_on_a_projector_fills_up_as_badges_are_scanned(workshop_day, browser_factory):
    server, data_dir, tokens = workshop_day
    _clear_check_ins(data_dir)
    browser = browser_factory()
    context = browser.new_context(locale="en-GB", viewport={"width": 1920, "height": 1080})
    station = context.new_page()
    _log_in(station, server)
    with sqlite3.connect(data_dir / "kitmanager.sqlite3") as conn:
        (session_id,) = conn.execute("SELECT id FROM workshop_session").fetchone()
    board = context.new_page()
    board.goto(f"{server.url}/workshops/{SLUG}/sessions/{session_id}/board")
    expect_text(board.locator("#board-present"), "0")
    expect_text(board.locator("#board-expected"), "6")
    _open_station(station, server)
    station.keyboard.type(tokens["Wanjiru Mwangi"])
    station.keyboard.press("Enter")
    expect_text(station.locator("#result"), "Wanjiru Mwangi — checked in")
    # No reload: the board asks the laptop again by itself.
    expect_text(board.locator("#board-present"), "1")
    expect_text(board.locator("#board-last"), "Wanjiru Mwangi")
    assert "Wanjiru Mwangi" not in board.locator("#board-missing").inner_text()
    context.close()
