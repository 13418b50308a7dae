"""A kiosk whose login ended, in a real Chromium against a real `kitmanager serve` (issue 16).

It used to bounce between /scan and /login (the kiosk sent every page back to the station,
the station sent a browser without a login to the login page). Now the kiosk ends with its
login: the next scan takes the page to the login form, the scan waits on the device, and once
someone logs in the station sends it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.e2e import Server, run_kitmanager
from tests.web.station_day import SLUG, checked_in, make_day, ok, wedge
from tests.web.test_browser import CHROMIUM, PageProblems
from tests.web.test_scan_station_browser import (
    _open_station,
    browser_factory,  # noqa: F401  (fixture)
    expect_text,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]

TRAINER = ("tess", "door-trainer-2026")
HOST = "http://10.42.0.1:5000"


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> Iterator[tuple[Server, Path, dict[str, str]]]:
    """A session running now, two participants and a trainer."""
    data_dir = tmp_path_factory.mktemp("kiosk") / "data"
    tokens, _kits = make_day(data_dir, {"Amina Yusuf", "Kofi Mensah"}, [(*TRAINER, "trainer")])
    with Server(data_dir) as server:
        yield server, data_dir, tokens


def _log_in(page, server: Server, password: str) -> None:
    page.get_by_label("User name").fill(TRAINER[0])
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_a_kiosk_whose_login_ended_goes_to_the_login_page_and_keeps_thewedge(
    day,
    browser_factory,  # noqa: F811
):
    server, data_dir, tokens = day
    context = browser_factory().new_context(locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(f"{server.url}/login")
    _log_in(page, server, TRAINER[1])
    page.wait_for_url(re.compile(r"/workshops/$"))
    _open_station(page, server)
    page.get_by_text("Kiosk mode: participants scan their own badge").click()
    page.get_by_label("A PIN of 4 to 12 digits").fill("2468")
    page.get_by_role("button", name="Start kiosk mode").click()
    page.wait_for_selector("body.kiosk[data-station-ready='1']")
    wedge(page, f"{HOST}/b/{tokens['Amina Yusuf']}")
    expect_text(page.locator("#result"), "Amina Yusuf")

    # The login ends on the laptop: the trainer's password is reset.
    reset = run_kitmanager(data_dir, "users", "reset-password", TRAINER[0])
    ok(reset)
    password = reset.stdout.strip().splitlines()[-1].split()[-1]

    # The next participant scans: the kiosk goes to the login page and stays there.
    wedge(page, f"{HOST}/b/{tokens['Kofi Mensah']}")
    page.wait_for_url(re.compile(r"/login\?next="))
    login_url = page.url
    time.sleep(1)  # a page bouncing back to /scan would have left by now
    assert page.url == login_url
    assert page.get_by_label("Password").is_visible()
    assert checked_in(data_dir) == {"Amina Yusuf"}

    # A trainer logs in: an ordinary station, which sends the scan that waited.
    _log_in(page, server, password)
    page.wait_for_url(re.compile(rf"/scan\?workshop={SLUG}$"))
    page.wait_for_selector("body[data-station-ready='1']")
    assert page.locator("body.kiosk").count() == 0
    assert page.locator("#undo").is_visible()
    deadline = time.monotonic() + 15
    while checked_in(data_dir) != {"Amina Yusuf", "Kofi Mensah"} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert checked_in(data_dir) == {"Amina Yusuf", "Kofi Mensah"}
    # The refused scan and the redirect the page followed are no script errors.
    assert [m for m in problems.messages if "401" not in m] == []
    context.close()
