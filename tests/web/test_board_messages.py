"""Boards speak the page's language: what firmware_tools says about a board (a failed check, a
stopped flash, "press reset") is said in French on a French Boards page and in a French kit
history, from the code and parameters each run keeps; an older run kept as English text only
is shown as it was. Every code of the library has this app's words.

Real jobs on real ports through the Flask test client: a port that is not plugged in (its
check fails at once) and a pty with nothing behind it (an AVR board without a reset line).
"""

from __future__ import annotations

import html
import os
import re
import time
from string import Formatter

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from firmware_tools.base import Outcome
from firmware_tools.messages import MESSAGES
from firmware_tools.operations import PORTS
from kitmanager.audit import cli_actor
from kitmanager.boards.messages import PAGE_PARAMS, WORDS
from kitmanager.extensions import db
from kitmanager.kits.services import ComponentLine, create_kit_type, create_kits
from kitmanager.models import BoardRun, BoardRunStatus, Firmware, Kit, utcnow
from tests.web.conftest import csrf_token, login

FRENCH = "fr"
NOT_PLUGGED_IN = "/dev/ttyUSB-kit-absent"  # a serial device path: accepted, cannot be opened


@pytest.fixture(autouse=True)
def fresh_port_marks():
    PORTS.forget()
    yield
    PORTS.forget()


@pytest.fixture
def kits(app):
    with app.app_context():
        kit_type = create_kit_type(cli_actor(), "Kitbot", [ComponentLine("Board")])
        create_kits(cli_actor(), kit_type, 2)
        db.session.commit()


@pytest.fixture
def silent_port():
    """A pty with nothing behind it: no reset line, and a board that never answers."""
    controller, device = os.openpty()
    yield os.ttyname(device)
    os.close(controller)
    os.close(device)


def _text(reply) -> str:
    return html.unescape(reply.get_data(as_text=True))


def _post(client, url: str, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, "/boards/"), **data})


def _start(client, action: str, **data) -> str:
    reply = _post(client, "/boards/jobs", action=action, **data)
    assert reply.status_code == 302 and "job=" in reply.headers["Location"], _text(reply)
    return reply.headers["Location"].split("job=")[1]


def _wait(client, job: str, until, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/boards/jobs/{job}").get_json()
        if until(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job}: not there after {timeout} s: {state}")


def _history(client, app, code: str) -> str:
    with app.app_context():
        kit_id = db.session.scalar(select(Kit.id).where(Kit.code == code))
    page = _text(client.get(f"/kits/{kit_id}"))
    found = re.search(r'<section class="card" id="history">.*?</section>', page, re.S)
    assert found, page
    return found.group(0)


def test_a_board_run_is_running_or_came_to_one_of_the_library_outcomes():
    """A new outcome of firmware_tools without its status (and label) fails here, not when a
    run that came to it is stored."""
    assert {status.value for status in BoardRunStatus} == {"running", *Outcome}
    assert all(BoardRunStatus(outcome).label for outcome in Outcome)


def test_every_message_of_the_library_has_words_in_the_app():
    """A code added to firmware_tools without this app's words would reach a French page in
    English: it fails here first."""
    assert sorted(set(MESSAGES) - set(WORDS)) == []


def test_the_apps_words_use_only_values_the_library_gives(app):
    with app.test_request_context(), force_locale("en"):
        for code, english in MESSAGES.items():
            given = {field for _text, field, _spec, _conv in Formatter().parse(english) if field}
            wanted = set(re.findall(r"%\((\w+)\)s", str(WORDS[code])))
            assert wanted <= given | set(PAGE_PARAMS), code


def test_a_french_boards_page_and_kit_history_say_board_messages_in_french(
    app, client, kits, silent_port
):
    login(client, "tom")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = FRENCH
    for device, family, kit in (
        (NOT_PLUGGED_IN, "micropython", "KIT-001"),
        (silent_port, "avr", "KIT-002"),
    ):
        _post(client, "/boards/ports/add", device=device, family=family)
        _post(client, "/boards/bind", device=device, label=kit)

    # a check of a board that is not plugged in fails at once
    job = _start(client, "check-selected", port=NOT_PLUGGED_IN)
    (failed,) = _wait(client, job, lambda state: not state["running"])["boards"]
    assert failed["status_label"] == "ÉCHEC"
    assert failed["summary"].startswith(f"impossible d'ouvrir {NOT_PLUGGED_IN} (")
    assert "vérifiez que la carte est branchée" in failed["summary"]
    assert "cannot open" not in failed["summary"]
    # the same stored run, read by an English page, is in English
    english = app.test_client()
    login(english, "olga")
    (same,) = english.get(f"/boards/jobs/{job}").get_json()["boards"]
    assert same["summary"].startswith(f"cannot open {NOT_PLUGGED_IN} (")

    # an AVR board without a reset line: the trainer is asked to press reset, then stops
    with app.app_context():
        avr = db.session.scalar(
            select(Firmware.id).where(Firmware.family == "avr", Firmware.builtin.is_(True))
        )
    job = _start(client, "flash-selected", port=silent_port, firmware=str(avr))
    state = _wait(client, job, lambda state: state["boards"][0]["notice"])
    press = f"Appuyez maintenant sur le bouton reset de la carte sur {silent_port}"
    assert state["boards"][0]["notice"] == press
    page = _text(client.get(f"/boards/?job={job}"))
    assert press in page and "Press the reset button" not in page
    _post(client, f"/boards/jobs/{job}/stop")
    (stopped,) = _wait(client, job, lambda state: not state["running"], timeout=30)["boards"]
    assert stopped["reason"] == "cancelled"
    assert stopped["summary"] == "arrêté avant la fin : relancez"

    page = _text(client.get(f"/boards/?job={job}"))
    assert "Dernier contrôle : ÉCHEC · impossible d'ouvrir" in page
    assert "Dernier flashage : ÉCHEC · arrêté avant la fin : relancez" in page
    for english_words in ("cannot open", "cancelled before it finished", "Press the reset"):
        assert english_words not in page

    checked = _history(client, app, "KIT-001")
    assert "Carte vérifiée : ÉCHEC · impossible d'ouvrir" in checked
    assert "cannot open" not in checked
    flashed = _history(client, app, "KIT-002")
    assert "ÉCHEC · arrêté avant la fin : relancez · à reflasher" in flashed
    assert "cancelled before it finished" not in flashed


def test_a_run_kept_before_codes_shows_its_english_as_it_was(app, client, kits):
    """Runs stored by an older version have their English line only: a French page shows it
    rather than nothing."""
    with app.app_context():
        kit = db.session.scalar(select(Kit).where(Kit.code == "KIT-001"))
        db.session.add(
            BoardRun(
                job="older",
                kind="check",
                kit_id=kit.id,
                port="/dev/ttyUSB0",
                status="fail",
                reason="no-response",
                message="no answer to 'hello' within 8 s: flash the kit firmware, or press reset",
                started_by="user:tom",
                finished_at=utcnow(),
            )
        )
        db.session.commit()
    login(client, "tom")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = FRENCH
    history = _history(client, app, "KIT-001")
    assert "Carte vérifiée : ÉCHEC · no answer to 'hello' within 8 s" in history
