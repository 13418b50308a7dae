"""The boards page in a real Chromium against a real `kitmanager serve`, with simulated boards:
the real MicroPython behind ptys, and fake optiboot boards (one that vanishes mid-flash, one
with a slow chip) on which the test presses reset when the page asks, as a trainer would.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.firmware_tools.fake_avr import FakeAvr, Faults
from tests.firmware_tools.micropython_board import MicroPythonPty, micropython_available
from tests.web.e2e import Server, run_kitmanager
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, PHONE, PageProblems, assert_fits_a_phone

TRAINER = ("tina", "workshop-trainer-2026")
HEALTHY_KIT = {"motors_ma": [249, 251], "distance_mv": 1197, "line": [409, 511, 613]}
HEALTHY_KIT["battery_mv"] = 7398

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


def _ok(result) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def _prepare(data_dir: Path) -> None:
    """A trainer, kit types "Kitbot Pico" (MicroPython) and "Kitbot Uno" (AVR), two kits of
    each, and the built-in kitbot firmware as each type's current firmware."""
    _ok(
        run_kitmanager(
            data_dir, "users", "create", TRAINER[0], "--role", "trainer", "--password-stdin",
            stdin=TRAINER[1] + "\n",
        )
    )  # fmt: skip
    from kitmanager import create_app
    from kitmanager.audit import cli_actor
    from kitmanager.boards.services import firmware_library, set_current_firmware
    from kitmanager.extensions import db
    from kitmanager.kits.services import ComponentLine, create_kit_type, create_kits

    app = create_app({"DATA_DIR": data_dir})
    with app.app_context():
        library = {row.family: row for row in firmware_library()}
        for name, family in (("Kitbot Pico", "micropython"), ("Kitbot Uno", "avr")):
            kit_type = create_kit_type(cli_actor(), name, [ComponentLine("Board")])
            create_kits(cli_actor(), kit_type, 2)
            set_current_firmware(cli_actor(), kit_type, library[family])
        db.session.commit()
        db.engine.dispose()


def _kit(data_dir: Path, code: str) -> dict:
    with sqlite3.connect(data_dir / "kitmanager.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=5000")
        return dict(conn.execute("SELECT * FROM kit WHERE code = ?", (code,)).fetchone())


@pytest.fixture
def workshop(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    with Server(data_dir) as server:
        yield server, data_dir


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _log_in(page) -> None:
    page.goto("/login")
    page.locator("input[name=username]").fill(TRAINER[0])
    page.locator("input[name=password]").fill(TRAINER[1])
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/workshops/$"))


def _add_port(page, device: str, family: str) -> None:
    page.locator("#device").fill(device)
    page.locator("#family").select_option(family)
    page.locator("#add-title ~ form button[type=submit]").click()
    page.wait_for_load_state()


def _bind(page, device: str, label: str) -> None:
    row = page.locator(f'li.port[data-port="{device}"]')
    row.locator("input[name=label]").fill(label)
    row.locator("input[name=label]").press("Enter")
    page.wait_for_load_state()
    from playwright.sync_api import expect

    code = label if label.startswith("KIT-") else None
    expect(page.locator(f'li.port[data-port="{device}"] .kit')).to_contain_text(code or "KIT-")


def _row(page, device: str):
    return page.locator(f'#job li.job-board[data-port="{device}"]')


def _wait_until_finished(page, press: dict[str, FakeAvr] | None = None, timeout: float = 120):
    """Watch the job's progress as it comes in (no reload), pressing a fake board's reset
    button when its row asks for it; returns when the page says the job finished."""
    pressed: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.locator("#job").get_attribute("data-running") == "no":
            return
        for device, board in (press or {}).items():
            notice = _row(page, device).locator(".notice-text").inner_text()
            if "reset" in notice.lower() and device not in pressed:
                pressed.add(device)
                board.press_reset()
        time.sleep(0.2)
    raise AssertionError(page.locator("#job").inner_text())


@pytest.mark.micropython
@pytest.mark.skipif(not micropython_available(), reason="needs micropython and socat")
def test_a_trainer_binds_two_boards_flashes_and_checks_them_on_a_phone(
    workshop, browser, tmp_path: Path
):
    from playwright.sync_api import expect

    server, data_dir = workshop
    boards = [MicroPythonPty(tmp_path / name) for name in ("pico-a", "pico-b")]
    try:
        for board in boards:
            board.file("kit_sim.json").write_text(json.dumps(HEALTHY_KIT))
        context = browser.new_context(base_url=server.url, **PHONE)
        page = context.new_page()
        problems = PageProblems(page)
        _log_in(page)
        page.get_by_role("link", name="Boards").click()
        page.wait_for_url(re.compile(r"/boards/$"))
        _add_port(page, boards[0].port, "micropython")
        # a port added meanwhile (here from the command line) shows up without a reload
        _ok(
            run_kitmanager(
                data_dir, "boards", "ports", "add", boards[1].port, "--family", "micropython"
            )
        )
        expect(page.locator(f'li.port[data-port="{boards[1].port}"]')).to_be_visible(timeout=10_000)
        # one label typed, the other scanned (a scanner types the label's address)
        _bind(page, boards[0].port, "KIT-001")
        token = _kit(data_dir, "KIT-002")["label_token"]
        _bind(page, boards[1].port, f"{server.url}/k/{token}")

        page.get_by_role("button", name="Flash all").click()
        page.wait_for_url(re.compile(r"job="))
        expect(page.locator("#job-state")).to_have_text("running")
        # leaving the page does not stop the job; coming back shows it
        page.get_by_role("link", name="Workshops").click()
        page.wait_for_url(re.compile(r"/workshops/$"))
        page.get_by_role("link", name="Boards").click()
        expect(page.locator("#job")).to_be_visible()
        _wait_until_finished(page)
        expect(page.locator("#job-summary")).to_contain_text("2 of 2 boards done: 2 passed")
        expect(page.locator("#job-state")).to_have_text("finished")
        for board in boards:
            expect(_row(page, board.port).locator(".result")).to_have_text("PASS")
            expect(_row(page, board.port).locator("progress")).to_have_attribute("value", "100")
        assert_fits_a_phone(page, problems, tmp_path / "boards-flash.png")

        page.get_by_role("button", name="Check all").click()
        page.wait_for_url(re.compile(r"job="))
        _wait_until_finished(page)
        expect(page.locator("#job-summary")).to_contain_text("2 of 2 boards done: 2 passed")

        for code in ("KIT-001", "KIT-002"):
            page.goto(f"/kits/{_kit(data_dir, code)['id']}")  # the kit's own page
            history = page.locator("#history")
            expect(history.locator("li.history-board_check")).to_contain_text("Board checked: PASS")
            expect(history.locator("li.history-board_flash")).to_contain_text(
                "Board flashed with kitbot 1.2.0"
            )
            expect(history.locator("li.history-board_flash")).to_contain_text(TRAINER[0])
            kit = _kit(data_dir, code)
            assert kit["last_check_ok"] == 1 and kit["firmware_version"] == "1.2.0"
        assert_fits_a_phone(page, problems, tmp_path / "boards-kit.png")
        context.close()
    finally:
        for board in boards:
            board.stop()


def test_a_board_lost_mid_flash_and_a_stop_leave_every_kit_done_or_marked_in_french(
    workshop, browser, tmp_path: Path
):
    """In French: one board vanishes while it is written (its reason shows, its kit is
    marked for re-flash); Stop in the middle of the other's writing marks it too."""
    from playwright.sync_api import expect

    server, data_dir = workshop
    lost = FakeAvr(faults=Faults(vanish_in_page=3)).start()
    slow = FakeAvr(page_write_s=0.4).start()  # ~21 pages: about 9 s of writing
    try:
        context = browser.new_context(base_url=server.url, locale="fr-FR", **PHONE)
        page = context.new_page()
        problems = PageProblems(page)
        _log_in(page)
        page.goto("/boards/")
        page.locator("select[name=language]").select_option("fr")
        page.locator("form.lang button").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Cartes")
        _add_port(page, lost.port, "avr")
        _add_port(page, slow.port, "avr")
        _bind(page, lost.port, "KIT-003")
        _bind(page, slow.port, "KIT-004")

        page.get_by_role("button", name="Tout flasher").click()
        page.wait_for_url(re.compile(r"job="))
        deadline = time.monotonic() + 60
        pressed: set[str] = set()
        while time.monotonic() < deadline:
            for device, board in ((lost.port, lost), (slow.port, slow)):
                notice = _row(page, device).locator(".notice-text").inner_text()
                if "reset" in notice.lower() and device not in pressed:
                    pressed.add(device)
                    board.press_reset()
            writing = page.evaluate(
                "(port) => Number(document.querySelector("
                "`#job li[data-port='${port}'] progress`).value || 0)",
                slow.port,
            )
            lost_done = _row(page, lost.port).locator(".result").inner_text()
            if lost_done and 0 < writing < 50:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(page.locator("#job").inner_text())
        lost_row = _row(page, lost.port)
        expect(lost_row.locator(".result")).to_have_text("ÉCHEC")
        # the board went away: the reason says so, as the command line does, in French
        expect(lost_row.locator(".summary")).to_contain_text("vérifiez que la carte est branchée")
        expect(lost_row.locator(".summary")).to_contain_text("(à reflasher)")
        expect(lost_row.locator(".summary")).not_to_contain_text("plugged in")
        expect(lost_row.locator(".reflash")).to_be_visible()

        page.get_by_role("button", name="Arrêter").click()
        _wait_until_finished(page, timeout=30)
        slow_row = _row(page, slow.port)
        expect(slow_row.locator(".result")).to_have_text("ÉCHEC")
        expect(slow_row.locator(".summary")).to_contain_text("arrêté avant la fin : relancez")
        expect(slow_row.locator(".summary")).not_to_contain_text("cancelled")
        expect(slow_row.locator(".reflash")).to_be_visible()
        assert 0 < slow.pages_written < 21
        assert_fits_a_phone(page, problems, tmp_path / "boards-stop-fr.png")

        page.goto("/boards/firmware")
        expect(page.get_by_role("heading", level=1)).to_have_text("Bibliothèque de firmwares")
        assert_fits_a_phone(page, problems, tmp_path / "boards-firmware-fr.png")
        for code in ("KIT-003", "KIT-004"):
            kit = _kit(data_dir, code)
            assert kit["needs_reflash"] == 1 and kit["condition"] == "needs_attention", kit
            page.goto(f"/kits/{kit['id']}")  # the kit's own page
            expect(page.locator("#history li.history-board_flash")).to_contain_text("à reflasher")
            expect(page.locator("#history li.history-board_flash")).to_contain_text("ÉCHEC")
        context.close()
    finally:
        lost.stop()
        slow.stop()
