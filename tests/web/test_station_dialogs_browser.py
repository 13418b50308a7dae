"""The scan station records nothing that a person did not see and confirm (issue 15), in a real
Chromium against a real `kitmanager serve`: a keyboard-wedge scanner (keys only), Chromium's
fake camera showing a QR code, phones at 375×740, French, and the laptop out of reach.

Each test reproduces one way the station used to misfire: a scanner's Enter or a camera read
taking an open return checklist, a stray kit handed to the next badge with no question, a
waiting kit surviving a reload, an out kit refused after a badge, an undo that undid nothing,
a camera status that stayed "on", dialogs without focus or Escape, a phone layout with the
answer and the camera preview a screen apart, a typed kit code read as "not a badge".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.e2e import Server
from tests.web.station_day import checked_in, holders, make_day, query, wait_for_roster, wedge
from tests.web.test_browser import CHROMIUM, PHONE, PageProblems
from tests.web.test_scan_station_browser import (
    VOLUNTEER,
    _log_in,
    _open_station,
    browser_factory,  # noqa: F401  (fixture)
    expect_text,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]

PEOPLE = (
    "Amina Yusuf",
    "Kofi Mensah",
    "Éloïse Diallo",
    "Wanjiru Mwangi",
    "Aïssatou Koné",
    "Tom Otieno",
    "Awa Traoré",
    "Yao Kouadio",
    "Nia Achieng",
    "Moussa Camara",
    "Fatou Ndiaye",
    "Kwame Asante",
    "Zainab Bello",
    "Chidi Okafor",
    "Ama Owusu",
    "Kojo Boateng",
    "Esi Appiah",
)
HOST = "http://10.42.0.1:5000"
TRAINER = ("tess", "door-trainer-2026")


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> Iterator[tuple[Server, Path, dict[str, str], dict[str, str]]]:
    """A session running now, seventeen participants, a volunteer and fourteen kits (the last
    one needs attention)."""
    data_dir = tmp_path_factory.mktemp("dialogs") / "data"
    users = [(*VOLUNTEER, "volunteer"), (*TRAINER, "trainer")]
    tokens, kits = make_day(data_dir, PEOPLE, users, kits=14)
    with Server(data_dir) as server:
        yield server, data_dir, tokens, kits


def _returns(data_dir: Path, code: str) -> int:
    (count,) = query(
        data_dir,
        "SELECT count(*) FROM kit_handout h JOIN kit k ON k.id = h.kit_id "
        f"WHERE k.code = '{code}' AND h.returned_at IS NOT NULL",
    )[0]
    return count


def _active(page) -> str:
    return page.evaluate("document.activeElement.id")


def _station(browser, server: Server, *, french: bool = False, phone: bool = False, query=""):
    options = PHONE if phone else {"viewport": {"width": 1280, "height": 800}}
    context = browser.new_context(locale="fr-FR" if french else "en-GB", **options)
    page = context.new_page()
    problems = PageProblems(page)
    _log_in(page, server, french=french)
    _open_station(page, server, query)
    return context, page, problems


def _hand_out(page, badge: str, label: str, code: str, name: str, button="Hand out") -> None:
    """Badge, then kit, then the question's Hand out: a handout as a trainer makes it."""
    wedge(page, badge)
    wedge(page, label)
    expect_text(page.locator("#kit-question"), f"{code}")
    page.locator("#kit-question").get_by_role("button", name=button, exact=True).click()
    expect_text(page.locator("#result"), f"{code} → {name}")


def _qr_feed(text: str, out: Path) -> Path:
    """A fake-camera video (.y4m) showing one QR code holding ``text``."""
    import qrcode
    from PIL import Image

    code = qrcode.make(text, box_size=8, border=4).get_image().convert("L")
    frame = Image.new("L", (640, 480), 235)
    code.thumbnail((400, 400))
    frame.paste(code, ((640 - code.width) // 2, (480 - code.height) // 2))
    chroma = bytes([128]) * (320 * 240)
    with out.open("wb") as video:
        video.write(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n")
        for _ in range(15):
            video.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)
    return out


def _camera_browser(launch, feed: Path):
    return launch(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={feed}",
    )


def test_a_scanners_enter_in_an_open_checklist_records_nothing_and_its_badge_comes_next(
    day,
    browser_factory,  # noqa: F811
):
    """The scanner types the next child's badge and Enter while the return checklist of a kit
    has focus: the checklist stays open and untouched, the badge waits as "Next" and is
    applied once the return is recorded by its button; Enter in the note records nothing."""
    server, data_dir, tokens, kits = day
    context, page, problems = _station(browser_factory(), server)
    checklist = page.locator("#kit-return")
    _hand_out(page, f"{HOST}/b/{tokens['Amina Yusuf']}", f"{HOST}/k/{kits['KIT-001']}",
              "KIT-001", "Amina Yusuf")  # fmt: skip

    wedge(page, f"{HOST}/k/{kits['KIT-001']}")
    expect_text(checklist, "What came back in KIT-001?")
    assert _active(page) == checklist.locator("input[id^='back-']").first.get_attribute("id")
    # The next child's badge, typed by the scanner into the focused checkbox.
    wedge(page, f"{HOST}/b/{tokens['Kofi Mensah']}")
    expect_text(page.locator("#next"), "Next, once this is done: Kofi Mensah")
    assert checklist.is_visible()
    assert all(box.is_checked() for box in checklist.locator("input[id^='back-']").all())
    assert _returns(data_dir, "KIT-001") == 0
    assert "Kofi Mensah" not in checked_in(data_dir)
    # A count typed by a person, then a badge scanned a moment later into the same field: the
    # count stays, the badge waits.
    count = checklist.locator("li", has_text="Jumper wires").locator("input[type='number']")
    count.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("15", delay=120)
    page.wait_for_timeout(100)
    wedge(page, f"{HOST}/b/{tokens['Awa Traoré']}")
    expect_text(page.locator("#next"), "Kofi Mensah, Awa Traoré")
    assert count.input_value() == "15"
    # A person's note and Enter: still nothing recorded. A bare kit code scanned into the note
    # (at a scanner's pace) is pulled out of it and waits too.
    checklist.locator("#kit-return-note").click()
    page.keyboard.type("box lid cracked")
    page.keyboard.press("Enter")
    page.wait_for_timeout(100)
    wedge(page, "KIT-012")
    expect_text(page.locator("#next"), "Kofi Mensah, Awa Traoré, KIT-012")
    assert checklist.locator("#kit-return-note").input_value() == "box lid cracked"
    assert checklist.is_visible() and _returns(data_dir, "KIT-001") == 0

    checklist.get_by_role("button", name="Record the return").click()
    # The return first, then the waiting scans in their order: the kit after Awa's badge asks.
    expect_text(page.locator("#kit-question"), "Hand KIT-012 to Awa Traoré?")
    assert _returns(data_dir, "KIT-001") == 1
    # The answers replaced at once stay readable under the result, newest first.
    history = page.locator("#history li")
    expect_text(history.nth(0), "Awa Traoré — checked in")
    expect_text(history.nth(1), "Kofi Mensah — checked in")
    expect_text(page.locator("#history"), "KIT-001")
    assert history.nth(0).get_attribute("data-kind") == "ok"
    assert page.locator("#history").get_attribute("aria-live") == "polite"
    assert {"Kofi Mensah", "Awa Traoré"} <= checked_in(data_dir)
    assert page.locator("#next").is_hidden()
    page.keyboard.press("Escape")
    expect_text(page.locator("#kit-pending"), "KIT-012 waits for a badge")
    page.keyboard.press("Escape")
    assert page.locator("#kit-pending").is_hidden()
    assert "KIT-012" not in holders(data_dir)
    assert _active(page) == "wedge-input"
    assert problems.messages == []
    context.close()


def test_a_camera_read_of_a_badge_leaves_a_checklist_with_an_unticked_part_open(
    day,
    browser_factory,  # noqa: F811
    tmp_path,
):
    """On a French phone: a kit's checklist is open with the sensor unticked when the camera
    reads a badge. The checklist stays as it was; the badge waits; the return records the
    missing sensor, then the badge checks in. The camera status follows the camera."""
    server, data_dir, tokens, kits = day
    feed = _qr_feed(f"{HOST}/b/{tokens['Éloïse Diallo']}", tmp_path / "badge.y4m")
    browser = _camera_browser(browser_factory, feed)
    context, page, problems = _station(browser, server, french=True, phone=True)
    result, checklist = page.locator("#result"), page.locator("#kit-return")
    _hand_out(page, f"{HOST}/b/{tokens['Tom Otieno']}", f"{HOST}/k/{kits['KIT-002']}",
              "KIT-002", "Tom Otieno", button="Remettre")  # fmt: skip

    wedge(page, f"{HOST}/k/{kits['KIT-002']}")
    expect_text(checklist, "Qu'est-ce qui est revenu dans KIT-002 ?")
    sensor = checklist.locator("li", has_text="Ultrasonic sensor").locator("input[id^='back-']")
    sensor.uncheck()
    page.get_by_role("button", name="Caméra").click()
    expect_text(page.locator("#camera-status"), "Caméra allumée")
    expect_text(page.locator("#next"), "Éloïse Diallo")
    assert checklist.is_visible() and not sensor.is_checked()
    assert "Éloïse Diallo" not in checked_in(data_dir)
    assert _returns(data_dir, "KIT-002") == 0

    checklist.get_by_role("button", name="Enregistrer le retour").click()
    expect_text(result, "Éloïse Diallo — présence enregistrée pour Premier robot")
    assert _returns(data_dir, "KIT-002") == 1
    assert "KIT-002" not in holders(data_dir)
    # The camera's read did not reach the checklist: the sensor is recorded as missing.
    assert query(
        data_dir,
        "SELECT i.note, t.missing FROM kit_incident i JOIN kit k ON k.id = i.kit_id "
        "JOIN kit_incident_item t ON t.incident_id = i.id WHERE k.code = 'KIT-002'",
    ) == [("", 1)]

    page.get_by_role("button", name="Caméra").click()
    expect_text(page.locator("#camera-status"), "Caméra éteinte.")
    assert page.locator("#camera").is_hidden()
    assert page.get_by_role("button", name="Caméra").get_attribute("aria-pressed") == "false"
    assert problems.messages == []
    context.close()


def test_a_stray_kit_then_a_badge_asks_first_and_the_question_is_keyboard_friendly(
    day,
    browser_factory,  # noqa: F811
):
    """A ready kit scanned alone waits on a card with a countdown; the next badge checks in
    and asks "Hand KIT-003 to …?". The question has focus, Tab goes through its buttons before
    the scan field, Escape says the kit was not handed out; only Hand out hands it out."""
    server, data_dir, tokens, kits = day
    context, page, problems = _station(browser_factory(), server)
    result, question = page.locator("#result"), page.locator("#kit-question")

    wedge(page, f"{HOST}/k/{kits['KIT-003']}")
    expect_text(page.locator("#kit-pending"), "KIT-003 waits for a badge")
    seconds = page.locator("#kit-pending-left")
    expect_text(seconds, " s left")
    first = int(re.search(r"\d+", seconds.inner_text()).group())
    assert 50 <= first <= 60
    page.wait_for_function(
        f"() => parseInt(document.getElementById('kit-pending-left').textContent) < {first}"
    )

    wedge(page, f"{HOST}/b/{tokens['Wanjiru Mwangi']}")
    expect_text(question, "Hand KIT-003 to Wanjiru Mwangi?")
    expect_text(question.locator("#kit-question-check-in"), "Wanjiru Mwangi — checked in")
    expect_text(result, "Wanjiru Mwangi — checked in to Premier robot")
    assert "Wanjiru Mwangi" in checked_in(data_dir)
    assert "KIT-003" not in holders(data_dir)
    assert page.locator("#kit-pending").is_hidden()
    # The question itself has focus (not Hand out: Enter or Space commits nothing); Tab goes
    # through its buttons, then to the scan field.
    assert _active(page) == "kit-question-title"
    page.keyboard.press("Enter")
    page.keyboard.press("Space")
    page.wait_for_timeout(300)
    assert question.is_visible() and "KIT-003" not in holders(data_dir)
    page.keyboard.press("Tab")
    assert _active(page) == "kit-hand-out"
    page.keyboard.press("Tab")
    assert _active(page) == "kit-not-this-person"
    page.keyboard.press("Tab")
    assert _active(page) == "wedge-input"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Escape")
    expect_text(result, "KIT-003 was not handed out.")
    assert question.is_hidden()
    assert _active(page) == "wedge-input"
    assert "KIT-003" not in holders(data_dir)
    assert "Wanjiru Mwangi" in checked_in(data_dir)  # the check-in stays
    # Not that person: the kit waits again for the right badge, with a fresh countdown.
    expect_text(page.locator("#kit-pending"), "KIT-003 waits for a badge")

    # Asked again: Hand out (by keyboard, Tab then Enter) makes the handout.
    wedge(page, f"{HOST}/b/{tokens['Wanjiru Mwangi']}")
    expect_text(question, "Hand KIT-003 to Wanjiru Mwangi?")
    expect_text(result, "Wanjiru Mwangi was already checked in")
    assert _active(page) == "kit-question-title"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect_text(result, "KIT-003 → Wanjiru Mwangi, due ")
    assert holders(data_dir)["KIT-003"] == "Wanjiru Mwangi"
    assert _active(page) == "wedge-input"
    assert problems.messages == []
    context.close()


def test_a_waiting_kit_is_forgotten_by_a_reload(day, browser_factory):  # noqa: F811
    """The stray kit of the last minute is not paired with a badge on a freshly loaded page."""
    server, data_dir, tokens, kits = day
    context, page, problems = _station(browser_factory(), server, phone=True)
    wedge(page, f"{HOST}/k/{kits['KIT-004']}")
    expect_text(page.locator("#kit-pending"), "KIT-004 waits for a badge")
    page.reload()
    page.wait_for_selector("body[data-station-ready='1']")
    assert page.locator("#kit-pending").is_hidden()
    wedge(page, f"{HOST}/b/{tokens['Yao Kouadio']}")
    expect_text(page.locator("#result"), "Yao Kouadio — checked in to Premier robot")
    page.wait_for_timeout(500)
    assert page.locator("#kit-question").is_hidden()
    assert "KIT-004" not in holders(data_dir)
    assert problems.messages == []
    context.close()


def test_an_out_kit_scanned_after_a_badge_opens_its_return(day, browser_factory):  # noqa: F811
    """Kit returns come in while badges are scanned: a kit that is out opens its checklist,
    badge before it or not."""
    server, data_dir, tokens, kits = day
    context, page, problems = _station(browser_factory(), server)
    _hand_out(page, f"{HOST}/b/{tokens['Aïssatou Koné']}", f"{HOST}/k/{kits['KIT-005']}",
              "KIT-005", "Aïssatou Koné")  # fmt: skip
    wedge(page, f"{HOST}/b/{tokens['Nia Achieng']}")
    expect_text(page.locator("#result"), "Nia Achieng — checked in")
    wedge(page, f"{HOST}/k/{kits['KIT-005']}")
    expect_text(page.locator("#kit-return"), "What came back in KIT-005?")
    expect_text(page.locator("#result"), "KIT-005 is back from Aïssatou Koné")
    assert page.locator("#kit-question").is_hidden()
    page.keyboard.press("Escape")
    expect_text(page.locator("#result"), "The return of KIT-005 was not recorded.")
    assert holders(data_dir)["KIT-005"] == "Aïssatou Koné"
    # The badge was used up by the kit scan: the next kit waits for its own badge.
    wedge(page, f"{HOST}/k/{kits['KIT-006']}")
    expect_text(page.locator("#kit-pending"), "KIT-006 waits for a badge")
    assert problems.messages == []
    context.close()


def test_undo_takes_back_the_last_change_and_names_it(day, browser_factory):  # noqa: F811
    """With nothing changed, Undo is marked disabled and says so; after a check-in and an
    unknown code, it takes back the check-in and names it; a handout is named too."""
    server, data_dir, tokens, kits = day
    context, page, problems = _station(browser_factory(), server)
    result, undo = page.locator("#result"), page.locator("#undo")
    assert undo.get_attribute("aria-disabled") == "true"
    wedge(page, "not-a-code!")
    expect_text(result, "Not a badge or a kit")
    assert undo.get_attribute("aria-disabled") == "true"
    undo.focus()
    page.keyboard.press("Enter")
    expect_text(result, "Nothing to undo.")

    page.locator("#wedge-input").focus()
    wedge(page, f"{HOST}/b/{tokens['Moussa Camara']}")
    expect_text(result, "Moussa Camara — checked in")
    wedge(page, "not-a-code!")
    expect_text(result, "Not a badge or a kit")
    assert undo.get_attribute("aria-disabled") == "false"
    undo.click()
    expect_text(result, "Check-in of Moussa Camara undone")
    assert "Moussa Camara" not in checked_in(data_dir)
    assert undo.get_attribute("aria-disabled") == "true"
    # The undone badge is forgotten: the next kit waits for a badge of its own.
    page.locator("#wedge-input").focus()
    wedge(page, "kit-012")
    expect_text(page.locator("#kit-pending"), "KIT-012 waits for a badge")
    assert page.locator("#kit-question").is_hidden()
    page.keyboard.press("Escape")  # Escape lets the waiting kit go too
    expect_text(result, "KIT-012 was not handed out.")
    assert page.locator("#kit-pending").is_hidden()

    _hand_out(page, f"{HOST}/b/{tokens['Moussa Camara']}", f"{HOST}/k/{kits['KIT-007']}",
              "KIT-007", "Moussa Camara")  # fmt: skip
    assert holders(data_dir)["KIT-007"] == "Moussa Camara"
    undo.click()
    expect_text(result, "Handout of KIT-007 to Moussa Camara undone")
    assert "KIT-007" not in holders(data_dir)
    assert "Moussa Camara" in checked_in(data_dir)  # the check-in was not the last change
    # Undo is a stack: pressed again, it takes back the change before (the check-in).
    undo.click()
    expect_text(result, "Check-in of Moussa Camara undone")
    assert "Moussa Camara" not in checked_in(data_dir)

    # Undo while the question about a check-in is open: the question closes with it.
    page.locator("#wedge-input").focus()
    wedge(page, f"{HOST}/b/{tokens['Esi Appiah']}")
    expect_text(result, "Esi Appiah — checked in")
    wedge(page, "kit-012")
    expect_text(page.locator("#kit-question"), "Hand KIT-012 to Esi Appiah?")
    undo.click()
    expect_text(result, "Check-in of Esi Appiah undone")
    expect_text(result, "KIT-012 was not handed out.")
    assert page.locator("#kit-question").is_hidden()
    assert "Esi Appiah" not in checked_in(data_dir)
    assert "KIT-012" not in holders(data_dir)
    assert problems.messages == []
    context.close()


def test_undo_after_a_lost_answer_takes_back_what_the_laptop_applied(
    day,
    browser_factory,  # noqa: F811
):
    """The laptop applies a check-in, then a handout, but each answer is lost on the way back
    (the Wi-Fi drops): Undo does not claim they "had not been sent" and drop them; the station
    sends each again (applied once), then takes it back on the laptop, with its message."""
    server, data_dir, tokens, kits = day
    context, page, problems = _station(browser_factory(), server)
    result, undo = page.locator("#result"), page.locator("#undo")
    lost = []

    def lose_the_answer(route):
        body = route.request.post_data_json or {}
        applied = "/b/" in body.get("code", "") if not lost else body.get("confirm")
        if applied and len(lost) < 2:
            lost.append(route.fetch().json()["outcome"])  # the laptop applies it
            route.abort("internetdisconnected")  # ... and its answer never comes back
        else:
            route.continue_()

    page.route("**/api/v1/scans", lose_the_answer)
    wedge(page, f"{HOST}/b/{tokens['Ama Owusu']}")
    page.wait_for_function("() => document.getElementById('result').dataset.kind === 'queued'")
    assert lost == ["checked_in"] and "Ama Owusu" in checked_in(data_dir)
    undo.click()
    expect_text(result, "Check-in of Ama Owusu undone")
    assert "had not been sent" not in result.inner_text()
    assert "Ama Owusu" not in checked_in(data_dir)
    expect_text(page.locator("#queue"), "All scans sent")

    page.locator("#wedge-input").focus()
    wedge(page, f"{HOST}/b/{tokens['Kojo Boateng']}")
    expect_text(result, "Kojo Boateng — checked in")
    wedge(page, f"{HOST}/k/{kits['KIT-012']}")
    expect_text(page.locator("#kit-question"), "Hand KIT-012 to Kojo Boateng?")
    page.get_by_role("button", name="Hand out").click()
    page.wait_for_function("() => document.getElementById('result').dataset.kind === 'queued'")
    assert lost == ["checked_in", "kit_handed_out"]
    assert holders(data_dir)["KIT-012"] == "Kojo Boateng"
    undo.click()
    expect_text(result, "Handout of KIT-012 to Kojo Boateng undone")
    assert "KIT-012" not in holders(data_dir)
    assert "Kojo Boateng" in checked_in(data_dir)
    expect_text(page.locator("#queue"), "All scans sent")
    # A laptop that refuses undo here (a kiosk's) says so plainly.
    page.route("**/api/v1/scans/undo", lambda route: route.fulfill(status=403, json={}))
    undo.click()
    expect_text(result, "Undo is not allowed on this station")
    assert "Kojo Boateng" in checked_in(data_dir)
    assert [m for m in problems.besides_offline_refusals() if "status of 403" not in m] == []
    context.close()


def test_a_bare_kit_code_typed_is_a_kit(day, browser_factory):  # noqa: F811
    """A typed "kit-008" is KIT-008 waiting for a badge, not "not a badge"; its question keeps
    a scanner's Enter off its focused button."""
    server, data_dir, tokens, _kits = day
    context, page, problems = _station(browser_factory(), server)
    wedge(page, "kit-012")
    expect_text(page.locator("#kit-pending"), "KIT-012 waits for a badge")
    wedge(page, "kit-008")
    expect_text(page.locator("#kit-pending"), "KIT-008 waits for a badge")
    # Another kit replaces the waiting one, and says so.
    expect_text(page.locator("#result"), "KIT-012 no longer waits; KIT-008 waits for a badge")
    assert "not a badge" not in page.locator("#result").inner_text().lower()
    wedge(page, tokens["Fatou Ndiaye"])  # a bare badge token, as some scanners send it
    expect_text(page.locator("#kit-question"), "Hand KIT-008 to Fatou Ndiaye?")
    # The scanner's next badge and Enter land on the focused question: it waits, and nothing
    # is pressed.
    assert _active(page) == "kit-question-title"
    wedge(page, f"{HOST}/b/{tokens['Awa Traoré']}")
    expect_text(page.locator("#next"), "Awa Traoré")
    assert page.locator("#kit-question").is_visible()
    assert "KIT-008" not in holders(data_dir)
    # Not this person: the kit still waits, and the next badge (Awa's) is asked about.
    page.get_by_role("button", name="Not this person").click()
    expect_text(page.locator("#kit-question"), "Hand KIT-008 to Awa Traoré?")
    assert "KIT-008" not in holders(data_dir)
    page.get_by_role("button", name="Not this person").click()
    expect_text(page.locator("#kit-pending"), "KIT-008 waits for a badge")
    page.locator("#kit-pending").get_by_role("button", name="Cancel").click()
    assert page.locator("#kit-pending").is_hidden()
    assert page.locator("#kit-question").is_hidden()
    assert "KIT-008" not in holders(data_dir)
    assert problems.messages == []
    context.close()


def test_on_a_phone_the_answer_and_the_camera_preview_share_the_screen(
    day,
    browser_factory,  # noqa: F811
    tmp_path,
):
    """375×740 with the camera on, in French (longer words): the result box and the camera
    preview are both inside the viewport, with no scrolling, after a scan."""
    server, _data_dir, tokens, _kits = day
    feed = _qr_feed(f"{HOST}/b/{tokens['Kwame Asante']}", tmp_path / "kwame.y4m")
    browser = _camera_browser(browser_factory, feed)
    context, page, problems = _station(browser, server, french=True, phone=True, query="&camera=1")
    expect_text(page.locator("#result"), "Kwame Asante — présence enregistrée pour Premier robot")
    page.wait_for_function("document.getElementById('camera').videoHeight > 0")
    assert page.evaluate("window.scrollY") == 0
    boxes = page.evaluate(
        """() => ['result', 'camera'].map((id) => {
            const r = document.getElementById(id).getBoundingClientRect();
            return {id, top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                    height: r.height};
        })"""
    )
    for box in boxes:
        assert box["height"] > 40, box
        assert box["top"] >= 0 and box["bottom"] <= 740, boxes
        assert box["left"] >= 0 and box["right"] <= 375, boxes
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path="/tmp/kitmanager-station-camera-375x740-fr.png")

    # The preview stays in sight while a question, a checklist or a waiting kit is open.
    wedge(page, "kit-013")
    expect_text(page.locator("#kit-question"), "Remettre KIT-013 à Kwame Asante ?")
    _camera_in_view(page, 375, 740, buttons="#kit-question button")
    page.get_by_role("button", name="Remettre", exact=True).click()
    expect_text(page.locator("#result"), "KIT-013 → Kwame Asante")
    wedge(page, "kit-013")
    expect_text(page.locator("#kit-return"), "KIT-013")
    _camera_in_view(page, 375, 740)
    page.keyboard.press("Escape")
    wedge(page, "kit-012")
    expect_text(page.locator("#kit-pending"), "KIT-012")
    _camera_in_view(page, 375, 740, buttons="#kit-pending button")
    page.keyboard.press("Escape")
    assert problems.messages == []
    context.close()

    # A laptop (1280×800): the same, the preview inside the window.
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = PageProblems(page)
    _log_in(page, server, french=True)
    _open_station(page, server, "&camera=1")
    expect_text(page.locator("#result"), "Kwame Asante")
    page.wait_for_function("() => document.getElementById('camera').videoHeight > 0")
    _camera_in_view(page, 1280, 800)
    wedge(page, "kit-012")
    expect_text(page.locator("#kit-question"), "Remettre KIT-012 à Kwame Asante ?")
    _camera_in_view(page, 1280, 800, buttons="#kit-question button")
    page.keyboard.press("Escape")  # not this person: KIT-012 waits again
    expect_text(page.locator("#kit-pending"), "KIT-012")
    _camera_in_view(page, 1280, 800, buttons="#kit-pending button")
    page.keyboard.press("Escape")
    wedge(page, "kit-013")
    expect_text(page.locator("#kit-return"), "KIT-013")
    _camera_in_view(page, 1280, 800)
    page.keyboard.press("Escape")
    assert problems.messages == []
    context.close()


def _camera_in_view(page, width: int, height: int, buttons: str = "") -> None:
    """The camera preview inside the viewport as the page stands (not scrolled), and not over
    the ``buttons`` given."""
    boxes = page.evaluate(
        """(buttons) => {
            const box = (node) => {
              const r = node.getBoundingClientRect();
              return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                      height: r.height};
            };
            return {camera: box(document.getElementById('camera')),
                    buttons: buttons ? [...document.querySelectorAll(buttons)].map(box) : []};
        }""",
        buttons,
    )
    camera = boxes["camera"]
    assert camera["height"] > 40, boxes
    assert camera["top"] >= 0 and camera["bottom"] <= height, boxes
    assert camera["left"] >= 0 and camera["right"] <= width, boxes
    for button in boxes["buttons"]:
        apart = (
            button["bottom"] <= camera["top"]
            or button["top"] >= camera["bottom"]
            or button["right"] <= camera["left"]
            or button["left"] >= camera["right"]
        )
        assert apart, boxes


def test_offline_the_phone_asks_from_its_roster_and_the_queue_carries_the_answers(
    day,
    browser_factory,  # noqa: F811
):
    """On a French phone with the laptop out of reach: a kit then a badge (and a badge then a
    kit) asks the question from the roster copy; Hand out queues the handout after the
    check-in; a kit the roster says is out needs the laptop; Undo takes back a queued check-in
    by name. Back online, the queue is applied as confirmed."""
    server, data_dir, tokens, kits = day
    context, page, problems = _station(browser_factory(), server, french=True, phone=True)
    result, question = page.locator("#result"), page.locator("#kit-question")
    _hand_out(page, f"{HOST}/b/{tokens['Kofi Mensah']}", f"{HOST}/k/{kits['KIT-009']}",
              "KIT-009", "Kofi Mensah", button="Remettre")  # fmt: skip
    wait_for_roster(page, "kits", 14)

    context.set_offline(True)
    wedge(page, f"{HOST}/k/{kits['KIT-010']}")
    expect_text(page.locator("#kit-pending"), "KIT-010 attend un badge")
    wedge(page, f"{HOST}/b/{tokens['Amina Yusuf']}")
    expect_text(question, "Remettre KIT-010 à Amina Yusuf ?")
    expect_text(question, "Amina Yusuf — enregistré, sera envoyé")
    question.get_by_role("button", name="Remettre").click()
    expect_text(result, "Remise de KIT-010 à Amina Yusuf gardée sur cet appareil")
    expect_text(page.locator("#queue"), "2 scans en attente d’envoi")

    # KIT-009 is out with Kofi: its return needs the laptop, nothing is queued.
    wedge(page, f"{HOST}/k/{kits['KIT-009']}")
    expect_text(result, "KIT-009 est sorti : son retour a besoin de l'ordinateur")
    assert page.locator("#kit-return").is_hidden()
    expect_text(page.locator("#queue"), "2 scans en attente d’envoi")

    # A badge checked in by mistake, taken back before it was ever sent.
    wedge(page, f"{HOST}/b/{tokens['Zainab Bello']}")
    expect_text(result, "Zainab Bello — enregistré, sera envoyé")
    page.get_by_role("button", name="Annuler la dernière modification").click()
    expect_text(result, "Présence annulée : Zainab Bello")
    expect_text(page.locator("#queue"), "2 scans en attente d’envoi")

    # Badge then kit, offline too: asked from the roster copy; "Not this person" queues
    # nothing more than the check-in.
    wedge(page, f"{HOST}/b/{tokens['Chidi Okafor']}")
    wedge(page, f"{HOST}/k/{kits['KIT-011']}")
    expect_text(question, "Remettre KIT-011 à Chidi Okafor ?")
    question.get_by_role("button", name="Pas cette personne").click()
    expect_text(result, "KIT-011 n'a pas été remis.")
    expect_text(page.locator("#queue"), "3 scans en attente d’envoi")
    # The kit waits for the right badge; its card's Cancel lets it go.
    expect_text(page.locator("#kit-pending"), "KIT-011 attend un badge")
    page.locator("#kit-pending").get_by_role("button", name="Annuler").click()
    assert page.locator("#kit-pending").is_hidden()
    # A word is neither a badge nor a kit of the roster copy: said so, nothing queued.
    page.locator("#wedge-input").focus()
    wedge(page, "bonjour")
    expect_text(result, "bonjour")
    assert result.get_attribute("data-kind") == "bad"
    assert page.locator("#kit-pending").is_hidden()
    expect_text(page.locator("#queue"), "3 scans en attente d’envoi")
    assert "KIT-010" not in holders(data_dir)

    context.set_offline(False)
    expect_text(page.locator("#queue"), "Tous les scans sont envoyés")
    out = holders(data_dir)
    assert out["KIT-010"] == "Amina Yusuf"
    assert "KIT-011" not in out
    present = checked_in(data_dir)
    assert {"Amina Yusuf", "Chidi Okafor"} <= present
    assert "Zainab Bello" not in present  # her scan was taken back before it left
    assert page.locator("#kit-question").is_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert problems.besides_offline_refusals() == []
    context.close()


def test_a_kiosk_offers_no_undo(day, browser_factory):  # noqa: F811
    """Participants scan their own badge at a kiosk: none of them may take back another's
    check-in, so the kiosk shows no Undo button."""
    server, _data_dir, tokens, _kits = day
    context = browser_factory().new_context(locale="en-GB")
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(f"{server.url}/login")
    page.get_by_label("User name").fill(TRAINER[0])
    page.get_by_label("Password").fill(TRAINER[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/workshops/$"))
    _open_station(page, server)
    assert page.locator("#undo").is_visible()
    page.get_by_text("Kiosk mode: participants scan their own badge").click()
    page.get_by_label("A PIN of 4 to 12 digits").fill("2468")
    page.get_by_role("button", name="Start kiosk mode").click()
    page.wait_for_selector("body.kiosk[data-station-ready='1']")
    wedge(page, f"{HOST}/b/{tokens['Amina Yusuf']}")
    expect_text(page.locator("#result"), "Amina Yusuf")
    assert page.locator("#undo").is_hidden()
    assert page.get_by_role("button", name="Undo last change").count() == 0
    assert problems.messages == []
    context.close()
