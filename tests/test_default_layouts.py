"""The layout each kind prints on by default has one home, ``printouts.DEFAULT_LAYOUTS``: the
pages and commands offer it first, and no kitmanager module types one of those ids itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from kitmanager.audit import cli_actor
from kitmanager.extensions import db
from kitmanager.kits.services import ComponentLine, create_kit_type, create_kits
from printouts import DEFAULT_LAYOUTS
from tests.web.conftest import (  # noqa: F401  (fixtures)
    app,
    client,
    data_dir,
    migrated_db,
    organiser,
    runner,
    trainer,
)
from tests.web.helpers import make_workshop

KITMANAGER = Path(__file__).resolve().parents[1] / "kitmanager"
# Migrations are history: what an old revision wrote stays as it was written.
NOT_SCANNED = (KITMANAGER / "migrations",)


def _typed_layout_ids(path: Path, root: Path) -> list[str]:
    """``path:line: 'text'`` (``path`` from ``root``) for each string in the module ``path``
    that types a default layout id, f-strings' pieces included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if any(layout_id in node.value for layout_id in DEFAULT_LAYOUTS.values()):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
    return found


def test_no_kitmanager_module_types_a_default_layout_id():
    offenders = [
        offence
        for path in sorted(KITMANAGER.rglob("*.py"))
        if not any(path.is_relative_to(skipped) for skipped in NOT_SCANNED)
        for offence in _typed_layout_ids(path, KITMANAGER.parent)
    ]
    fix = "type printouts.DEFAULT_LAYOUTS[kind] instead of the id in:\n"
    assert offenders == [], fix + "\n".join(offenders)


def test_the_scan_finds_a_typed_default_layout_id(tmp_path: Path):
    label, card = DEFAULT_LAYOUTS["kit-label"], DEFAULT_LAYOUTS["kit-card"]
    typed = tmp_path / "labels.py"
    typed.write_text(
        f'LAYOUT = "{label}"\nDERIVED = LAYOUTS["kit-card"]\nHELP = f"{card}, not {{LAYOUT}}"\n'
    )
    assert _typed_layout_ids(typed, tmp_path) == [
        f"labels.py:1: {label!r}",
        f"labels.py:3: {card + ', not '!r}",
    ]


def _checked(page: str, name: str) -> list[str]:
    """The values of the radio buttons ``name`` that the page ticks."""
    return re.findall(rf'name="{name}" value="([^"]+)"\s+checked', page)


def test_the_pages_tick_each_kinds_default_layout(app, trainer):  # noqa: F811
    make_workshop(app)
    with app.app_context(), app.test_request_context():
        line_follower = create_kit_type(cli_actor(), "Line follower", [ComponentLine("Nano")])
        create_kits(cli_actor(), line_follower, 1)
        db.session.commit()
    badges = trainer.get("/workshops/nairobi/badges").get_data(as_text=True)
    assert _checked(badges, "layout") == [DEFAULT_LAYOUTS["badge"]]
    labels = trainer.get("/kits/labels").get_data(as_text=True)
    assert _checked(labels, "layout") == [DEFAULT_LAYOUTS["kit-label"]]
    assert _checked(labels, "card_layout") == [DEFAULT_LAYOUTS["kit-card"]]


def test_a_new_workshops_certificates_print_on_the_default_layout(app, organiser):  # noqa: F811
    make_workshop(app)
    page = organiser.get("/workshops/nairobi/certificates").get_data(as_text=True)
    selected = re.findall(r'<option selected value="([^"]+)"', page)
    assert selected == [DEFAULT_LAYOUTS["certificate"]]


def test_the_commands_name_the_default_layouts(runner):  # noqa: F811
    badges = runner.invoke(args=["badges", "--help"])
    assert f"[default: {DEFAULT_LAYOUTS['badge']}]" in badges.output
    labels = runner.invoke(args=["kits", "labels", "--help"])
    flat = " ".join(labels.output.split())
    assert f"default {DEFAULT_LAYOUTS['kit-label']};" in flat
    assert f"with --cards {DEFAULT_LAYOUTS['kit-card']})" in flat
