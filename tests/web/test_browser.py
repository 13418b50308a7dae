"""A real Chromium against a real `kitmanager serve`: the pages as a trainer meets them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.e2e import Server, run_kitmanager

CHROMIUM = Path("/usr/bin/chromium")
# Offline and as root: no sandbox, and nothing that tries to reach the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path("/tmp/kitmanager-participants-375px.png")
ORGANISER = ("olga", "Abidjan-Nairobi-2026")
NAMES = ("Adébáyọ̀ Ọlápọ̀", "Nguyễn Thị Hồng Nhung", "Awa Koné", "Kouassi N'Guessan")

# A sign-up export as a French spreadsheet saves it: semicolons, UTF-8 with a BOM, CRLF.
# Line 4 has a broken email; line 6 is Awa signing up twice.
SIGNUP_CSV = (
    "\ufeffNom complet;Adresse e-mail;École;Équipe\r\n"
    "Adébáyọ̀ Ọlápọ̀;adebayo@example.ng;Lycée Sainte-Marie de Cocody;Les Éclaireurs\r\n"
    "Nguyễn Thị Hồng Nhung;nhung@example.vn;École Internationale, Abidjan;Robots du Sud\r\n"
    "Yao Kouadio;yao.kouadio@;Collège Moderne d'Abobo;Robots du Sud\r\n"
    "Awa Koné;awa.kone@example.ci;Lycée Sainte-Marie de Cocody;Les Éclaireurs\r\n"
    "Awa Koné;awa.kone@example.ci;Lycée Sainte-Marie de Cocody;Les Éclaireurs\r\n"
    "Kouassi N'Guessan;;Collège Moderne d'Abobo;Robots du Sud\r\n"
).encode()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data_dir = tmp_path / "data"
    username, password = ORGANISER
    made = run_kitmanager(
        data_dir, "users", "create", username, "--role", "organiser", "--password-stdin",
        stdin=password + "\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with Server(data_dir) as running:
        yield running
        assert running.stop() == 0


OFFLINE_REFUSALS = {
    f"console error: Failed to load resource: net::{error}"
    for error in ("ERR_INTERNET_DISCONNECTED", "ERR_FAILED")
}


class PageProblems:
    """Console errors (CSP violations among them) and uncaught script errors of a page."""

    def __init__(self, page) -> None:
        self.messages: list[str] = []
        page.on(
            "console",
            lambda message: (
                self.messages.append(f"console {message.type}: {message.text}")
                if message.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda error: self.messages.append(f"page error: {error}"))

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m]

    def besides_offline_refusals(self) -> list[str]:
        """Messages other than a request refused because the device is offline.

        Chromium reports a request made offline as ERR_INTERNET_DISCONNECTED, and one that was
        in flight when the network went, or that a service worker could not fetch, as ERR_FAILED.
        """
        return [m for m in self.messages if m not in OFFLINE_REFUSALS]


@pytest.fixture
def page(chromium, server: Server):
    context = chromium.new_context(base_url=server.url, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.problems = PageProblems(page)
    try:
        yield page
    finally:
        context.close()


# A phone as the browser tests meet one: 375 px wide, touch, a high-density screen.
PHONE = {
    "viewport": {"width": 375, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def log_in(page) -> None:
    username, password = ORGANISER
    page.goto("/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/workshops/$"))


def create_workshop(page, title: str, slug: str) -> None:
    page.get_by_role("link", name="New workshop").first.click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Short name in links").fill(slug)
    page.get_by_label("First day").fill("2026-12-05")
    page.get_by_label("Last day").fill("2026-12-06")
    page.get_by_label("Time zone").fill("Africa/Abidjan")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/workshops/{slug}/$"))


def test_organiser_imports_a_french_signup_export_through_the_pages(page, tmp_path: Path):
    from playwright.sync_api import expect

    log_in(page)
    create_workshop(page, "Atelier robotique Abidjan", "abidjan")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Atelier robotique Abidjan")

    page.get_by_role("link", name="Open list").click()
    expect(page.get_by_text("Nobody registered yet")).to_be_visible()
    page.get_by_role("link", name="Import CSV").click()
    upload = tmp_path / "inscriptions-atelier.csv"
    upload.write_bytes(SIGNUP_CSV)
    page.locator("input[type=file]").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and check").click()

    # The preview: the broken row with its line number, the duplicate, the people to add.
    page.wait_for_url(re.compile(r"/import/[0-9a-f]+$"))
    problems = page.locator("#row-errors")
    expect(problems).to_be_visible()
    bad_row = problems.locator("tbody tr")
    expect(bad_row).to_have_count(1)
    expect(bad_row.locator("td").first).to_have_text("4")
    expect(bad_row).to_contain_text("yao.kouadio@")
    duplicate = page.locator("#duplicates tbody tr")
    expect(duplicate).to_have_count(1)
    expect(duplicate.locator("td").first).to_have_text("6")
    preview = page.locator("#preview tbody tr")
    expect(preview).to_have_count(4)
    for name in NAMES:
        expect(page.locator("#preview")).to_contain_text(name)

    # Without ticking the box, the bad row blocks everything.
    page.get_by_role("button", name="Import now").click()
    expect(page.locator(".flash-error")).to_be_visible()
    page.get_by_label("Import only the valid rows").check()
    page.get_by_role("button", name="Import now").click()

    page.wait_for_url(re.compile(r"/workshops/abidjan/participants/$"))
    expect(page.locator(".flash-success")).to_contain_text("4 added")
    listing = page.locator("table.list tbody")
    expect(listing.locator("tr")).to_have_count(4)
    for name in NAMES:
        expect(listing.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(listing).not_to_contain_text("Yao Kouadio")
    assert page.problems.messages == [], page.problems.messages


def test_participant_list_fits_a_375px_phone_without_sideways_scrolling(
    chromium, server: Server, tmp_path: Path
):
    signups = tmp_path / "signups.csv"
    signups.write_bytes(SIGNUP_CSV)
    assert run_kitmanager(
        server.data_dir, "workshops", "create", "Atelier robotique Abidjan", "--slug", "abidjan",
        "--starts", "2026-12-05",
    ).returncode == 0  # fmt: skip
    imported = run_kitmanager(
        server.data_dir, "participants", "import", "abidjan", str(signups), "--only-valid"
    )
    assert imported.returncode == 0, imported.stderr

    context = chromium.new_context(base_url=server.url, **PHONE)
    try:
        page = context.new_page()
        problems = PageProblems(page)
        log_in(page)
        page.goto("/workshops/abidjan/participants/")
        assert page.locator("table.list tbody tr").count() == 4
        assert_fits_a_phone(page, problems, SCREENSHOT)
    finally:
        context.close()


def assert_fits_a_phone(page, problems: PageProblems, screenshot: Path) -> None:
    """The page needs no sideways scrolling on a 375 px screen and logged no problem."""
    page.screenshot(path=str(screenshot), full_page=True)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= 375, f"page is {widths[0]} px wide on a 375 px screen"
    assert problems.messages == [], problems.messages


def focused(page) -> dict[str, str]:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {tag: el.tagName.toLowerCase(), name: el.getAttribute("name") || "",
                    text: (el.innerText || el.value || "").trim(),
                    outline: style.outlineStyle === "none" ? "" : style.outlineWidth};
        }"""
    )


def assert_focus_is_visible(element: dict[str, str]) -> None:
    # Someone on the keyboard must see where they are: at least a 2 px outline.
    assert element["outline"] and float(element["outline"].removesuffix("px")) >= 2, element


def tab_to(page, matches, limit: int = 30) -> dict[str, str]:
    """Press Tab until the focused element ``matches``; fail if it is never reached."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        element = focused(page)
        if matches(element):
            return element
        seen.append(element)
    pytest.fail(f"never reached by Tab; focus went through {seen}")


def log_in_by_keyboard(page) -> None:
    """Log in as the organiser with the keyboard alone: Tab to the name, type, Tab, Enter."""
    username, password = ORGANISER
    page.goto("/login")
    tab_to(page, lambda el: el["name"] == "username")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/workshops/$"))


def test_login_and_navigation_work_with_the_keyboard_alone(page, server: Server):
    from playwright.sync_api import expect

    assert run_kitmanager(
        server.data_dir, "workshops", "create", "Nairobi Robotics", "--slug", "nairobi",
        "--starts", "2026-12-01",
    ).returncode == 0  # fmt: skip
    username, password = ORGANISER
    page.goto("/login")

    # The first Tab reaches the skip link, so keyboard users can jump past the header.
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Skip to content"
    assert_focus_is_visible(tab_to(page, lambda el: el["name"] == "username"))
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "password"
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/workshops/$"))

    assert_focus_is_visible(
        tab_to(page, lambda el: el["tag"] == "a" and el["text"] == "Nairobi Robotics")
    )
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/workshops/nairobi/$"))
    tab_to(page, lambda el: el["tag"] == "a" and el["text"] == "Open list")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/workshops/nairobi/participants/$"))
    tab_to(page, lambda el: el["tag"] == "a" and el["text"] == "Add")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/participants/new$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    # Log out by keyboard as well.
    assert_focus_is_visible(
        tab_to(page, lambda el: el["tag"] == "button" and el["text"] == "Log out")
    )
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/login"))
    assert page.problems.messages == [], page.problems.messages


def test_the_browser_enforces_the_content_security_policy(page):
    log_in(page)
    # An injected inline script is what the policy exists to stop: it must not run.
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.head.appendChild(script);
        }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.injected === undefined")
    assert page.problems.csp_violations(), page.problems.messages


def test_browsing_the_language_choices_with_arrow_keys_does_not_reload_the_page(page):
    page.goto("/login")
    sent: list[str] = []
    page.on("request", lambda request: sent.append(f"{request.method} {request.url}"))
    page.focus("#language-select")
    page.keyboard.press("ArrowDown")
    # form.submit() sends its request within milliseconds; a second is ample.
    page.wait_for_timeout(1000)
    assert not [r for r in sent if r.startswith("POST") and "/language" in r], sent


def test_a_long_list_pages_and_prints_for_everyone_matching_on_a_phone_by_keyboard(
    chromium, server: Server, tmp_path: Path
):
    from playwright.sync_api import expect

    people = tmp_path / "people.csv"
    people.write_text(
        "Name,Team\n"
        + "".join(f"Person {i:03d},{'Lions' if i % 2 else 'Baobabs'}\n" for i in range(230)),
        encoding="utf-8",
    )
    assert run_kitmanager(
        server.data_dir, "workshops", "create", "Atelier robotique Abidjan", "--slug", "abidjan",
        "--starts", "2026-12-05",
    ).returncode == 0  # fmt: skip
    imported = run_kitmanager(server.data_dir, "participants", "import", "abidjan", str(people))
    assert imported.returncode == 0, imported.stderr

    context = chromium.new_context(
        base_url=server.url, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        problems = PageProblems(page)
        log_in(page)
        page.goto("/workshops/abidjan/participants/")
        expect(page.locator("#total")).to_have_text("230")
        expect(page.locator("table.list tbody tr")).to_have_count(100)
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= 375, f"page is {widths[0]} px wide on a 375 px screen"

        # Nobody ticked: a message, not a sheet for everyone.
        page.get_by_role("button", name="Print badges for the ticked people").click()
        expect(page.locator(".flash-error")).to_contain_text("Nobody is ticked")

        # The pages, by keyboard: the next-page link, then the third page.
        tab_to(page, lambda el: el["tag"] == "a" and el["text"] == "Next ›", limit=400)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"page=2"))
        expect(page.locator("table.list tbody tr").first).to_contain_text("Person 100")
        tab_to(page, lambda el: el["tag"] == "a" and el["text"] == "3", limit=400)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"page=3"))
        expect(page.locator("table.list tbody tr")).to_have_count(30)

        # Search, then everyone matching it across its pages, ticked and printed by keyboard.
        page.get_by_label("Search").fill("lions")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"q=lions"))
        expect(page.locator("#shown")).to_contain_text("115 people match")
        everyone = page.get_by_label(re.compile("Everyone matching this search"))
        page.focus("#q")
        assert_focus_is_visible(tab_to(page, lambda el: el["name"] == "all"))
        page.keyboard.press("Space")
        assert everyone.is_checked()
        tab_to(page, lambda el: el["tag"] == "button" and "ticked" in el["text"])
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/badges\?"))
        expect(page.get_by_text("Badges for 115 chosen people")).to_be_visible()
        assert problems.messages == [], problems.messages
    finally:
        context.close()
