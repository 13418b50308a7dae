"""The scan core's structure: one home for codes and outcomes, features that plug in without
importing each other, and a station that reads the server's vocabulary."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from kitmanager.scans import (
    BADGE_PATH,
    KIT_LABEL_PATH,
    CodeKind,
    Outcome,
    badge_url,
    classify_code,
    kit_label_url,
    station_vocabulary,
)
from tests.web.helpers import make_workshop, post_workshop_form

PACKAGE = Path(__file__).resolve().parents[2] / "kitmanager"


def _imports(folder: str) -> dict[str, set[str]]:
    """Every ``kitmanager...`` module each file of ``folder`` imports, at any depth."""
    found = {}
    for path in (PACKAGE / folder).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(PACKAGE))] = names
    return found


def _offenders(folder: str, forbidden: str) -> list[str]:
    return [
        f"{path} imports {name}"
        for path, names in _imports(folder).items()
        for name in sorted(names)
        if name == forbidden or name.startswith(forbidden + ".")
    ]


def test_check_in_imports_nothing_from_kits_and_kits_nothing_from_boards():
    assert _offenders("checkin", "kitmanager.kits") == []
    assert _offenders("kits", "kitmanager.boards") == []
    # The core knows no feature: features register with it.
    for feature in ("checkin", "kits", "boards", "api"):
        assert _offenders("scans", f"kitmanager.{feature}") == []


def test_the_badge_and_kit_paths_are_written_once():
    """Routes, URL builders, the station and the boards page derive from the scan core."""
    literal = re.compile(r"""["'](?:[^"'\n]*[^A-Za-z_"'\n])?/(?:b|k)/""")
    written = []
    for path in PACKAGE.rglob("*.py"):
        if path.parts[-2] in ("scans", "migrations"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if literal.search(code) and '"""' not in code and "``" not in code:
                written.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    templates = Path(__file__).resolve().parents[2] / "templates"
    for path in templates.rglob("*.html"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "/b/" in line or "/k/" in line:
                written.append(f"{path.relative_to(templates)}:{number}: {line.strip()}")
    assert written == []
    assert badge_url("http://10.42.0.1:5000/", "t" * 20) == f"http://10.42.0.1:5000{BADGE_PATH}" + (
        "t" * 20
    )
    assert classify_code(kit_label_url("http://x", "k" * 20)).kind is CodeKind.KIT
    assert KIT_LABEL_PATH == "/k/"


def test_openapi_lists_exactly_the_outcomes_of_the_enum():
    spec = json.loads((PACKAGE / "api" / "openapi.json").read_text(encoding="utf-8"))
    listed = spec["components"]["schemas"]["ScanResult"]["properties"]["outcome"]["enum"]
    assert sorted(listed) == sorted(outcome.value for outcome in Outcome)


def test_the_station_reads_its_vocabulary_from_the_server(app):
    make_workshop(app)
    with app.app_context():
        from kitmanager.workshops.services import get_workshop

        vocabulary = station_vocabulary(get_workshop("nairobi"))
    assert vocabulary["paths"] == {"badge": "/b/", "kit": "/k/"}
    assert vocabulary["pair_window"] == 60
    assert set(vocabulary["outcomes"]) == {outcome.value for outcome in Outcome}
    assert vocabulary["outcomes"]["checked_in"] == {"tone": "ok", "change": True}
    assert vocabulary["outcomes"]["kit_waiting"] == {"tone": "warn", "change": False}
    assert re.fullmatch(vocabulary["token"].strip("^$"), "a" * 16)
    assert re.fullmatch(vocabulary["kit_code"].strip("^$"), "KIT-002")
    script = (PACKAGE / "static" / "scan" / "station.js").read_text(encoding="utf-8")
    # The script keeps no table of tones: outcomes it merely shows are not named in it.
    for outcome in ("unknown_code", "revoked", "wrong_workshop", "kit_not_out", "kit_label"):
        assert outcome not in script, outcome
    assert '"/b/"' not in script and '"/k/"' not in script


def test_the_pairing_window_is_a_workshop_setting_the_station_gets(app, organiser):
    make_workshop(app)
    page = organiser.get("/workshops/nairobi/edit").get_data(as_text=True)
    assert 'name="pair_window_seconds"' in page and 'value="60"' in page
    refused = post_workshop_form(
        organiser, "/workshops/nairobi/edit", slug="nairobi", pair_window_seconds="5"
    )
    assert refused.status_code == 200
    assert "Number must be between 10 and 600." in refused.get_data(as_text=True)
    saved = post_workshop_form(
        organiser, "/workshops/nairobi/edit", slug="nairobi", pair_window_seconds="90"
    )
    assert saved.status_code == 302
    with app.app_context():
        from kitmanager.workshops.services import get_workshop

        assert station_vocabulary(get_workshop("nairobi"))["pair_window"] == 90
    # Left empty on the form, the window stays as it was.
    post_workshop_form(organiser, "/workshops/nairobi/edit", slug="nairobi")
    with app.app_context():
        assert get_workshop("nairobi").pair_window_seconds == 90
