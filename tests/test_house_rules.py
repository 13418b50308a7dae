"""The house rules of kitmanager/ (issue 17), read from the code with ``ast``.

- Views, API handlers and commands own no transaction: a module that registers routes, and a
  command module (``cli.py``), calls no ``.commit()`` or ``.rollback()``; they go through the
  unit of work (kitmanager/unit_of_work.py, kitmanager/web.py). Services flush and never
  commit, except those that commit a long import in batches or a board job in its own thread
  (each says so): that is why the rule is about views and commands.
- No feature imports another feature's views (a module that registers routes): what pages
  share lives in kitmanager/web.py.
- No module imports another module's ``_private`` name.
- Services (``services.py``) read no ``request``, ``session``, ``g`` or ``current_user``: the
  web layer reads them and passes plain values in.

Each failure lists the offenders as ``path:line``. The last tests run the unit of work in a
real app: a refusal is rolled back and shown as a message, whoever forgot to answer it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from flask import Flask, redirect
from sqlalchemy import select

from kitmanager import create_app
from kitmanager.audit import cli_actor
from kitmanager.auth.services import AuthError, create_token, create_user
from kitmanager.database import upgrade_database
from kitmanager.extensions import db
from kitmanager.models import Role, User, Workshop
from kitmanager.security import public
from kitmanager.web import page_unit_of_work

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "kitmanager"
# The migration history is written once and never tidied.
SKIPPED = (APP / "migrations",)
ROUTE_METHODS = frozenset({"route", "get", "post", "put", "patch", "delete"})
# The app factory wires every feature's blueprint and the core pages together.
APP_FACTORY = "kitmanager"
REQUEST_STATE = {"flask": {"request", "session", "g"}, "flask_login": {"current_user"}}


@dataclass(frozen=True)
class Module:
    path: Path
    tree: ast.Module

    @property
    def name(self) -> str:
        """The dotted name: ``kitmanager.auth.views``; ``kitmanager.auth`` for a package."""
        parts = self.path.relative_to(REPO).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    @property
    def feature(self) -> str:
        """The first name under kitmanager/: ``auth`` for kitmanager/auth/views.py, ``web``
        for kitmanager/web.py; the app factory (kitmanager/__init__.py) is none."""
        return self.name.split(".")[1] if "." in self.name else ""

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(REPO)}:{node.lineno}"

    def imported_from(self, node: ast.ImportFrom) -> str:
        """The absolute module a ``from ... import`` reads, relative ones resolved."""
        if not node.level:
            return node.module or ""
        package = self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        return f"{base}.{node.module}" if node.module else base

    def imports(self) -> list[tuple[ast.AST, str]]:
        """Every module this one imports, with the statement: ``from A import b`` counts as
        ``A`` and as ``A.b`` (``b`` may be a module)."""
        found = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                found += [(node, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = self.imported_from(node)
                found.append((node, source))
                found += [(node, f"{source}.{alias.name}") for alias in node.names]
        return found


@cache
def modules() -> tuple[Module, ...]:
    found = []
    for path in sorted(APP.rglob("*.py")):
        if any(skipped in path.parents for skipped in SKIPPED):
            continue
        found.append(Module(path, ast.parse(path.read_text(encoding="utf-8"), str(path))))
    return tuple(found)


def registers_routes(module: Module) -> bool:
    """A decorator ``X.route(...)``, ``X.get(...)``, ... or a call ``X.add_url_rule(...)``."""
    for node in ast.walk(module.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr in ROUTE_METHODS
                ):
                    return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_url_rule"
        ):
            return True
    return False


@cache
def route_modules() -> frozenset[str]:
    return frozenset(module.name for module in modules() if registers_routes(module))


def test_the_rules_see_the_app_as_it_is():
    """The rules below read what they mean to: routes in the feature views, services found."""
    names = route_modules()
    for expected in ("kitmanager.views", "kitmanager.kits.views", "kitmanager.api.scans"):
        assert expected in names
    assert "kitmanager.web" not in names
    assert any(module.path.name == "services.py" for module in modules())


def test_views_api_handlers_and_commands_neither_commit_nor_roll_back():
    offenders = [
        f"{module.where(node)} .{node.func.attr}()"
        for module in modules()
        if module.name in route_modules() or module.path.name == "cli.py"
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("commit", "rollback")
    ]
    assert not offenders, (
        "views, API handlers and commands go through the unit of work "
        "(kitmanager.unit_of_work.unit_of_work, kitmanager.web.page_unit_of_work, "
        "api_unit_of_work, command_unit_of_work); they commit or roll back here:\n"
        + "\n".join(offenders)
    )


def test_no_feature_imports_another_features_views():
    views = route_modules()
    offenders = sorted(
        {
            f"{module.where(node)} {module.feature or APP_FACTORY} imports {imported}"
            for module in modules()
            if module.name != APP_FACTORY
            for node, imported in module.imports()
            if imported in views and imported.split(".")[1] != module.feature
        }
    )
    assert not offenders, (
        "what pages share lives in kitmanager/web.py; these import another feature's "
        "views:\n" + "\n".join(offenders)
    )


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_module_imports_another_modules_private_names():
    offenders = [
        f"{module.where(node)} {alias.name} from {module.imported_from(node)}"
        for module in modules()
        for node in ast.walk(module.tree)
        if isinstance(node, ast.ImportFrom) and module.imported_from(node) != module.name
        for alias in node.names
        if _is_private(alias.name)
    ]
    assert not offenders, (
        "a name another module needs is public (no leading underscore, named for what it "
        "does); these import a private one:\n" + "\n".join(offenders)
    )


def test_services_read_no_request_session_or_user():
    offenders = []
    for module in modules():
        if module.path.name != "services.py":
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom) and node.module in REQUEST_STATE:
                offenders += [
                    f"{module.where(node)} {alias.name} from {node.module}"
                    for alias in node.names
                    if alias.name in REQUEST_STATE[node.module]
                ]
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.attr in REQUEST_STATE.get(node.value.id, ())
            ):
                offenders.append(f"{module.where(node)} {node.value.id}.{node.attr}")
    assert not offenders, (
        "services take plain values and an explicit actor (the web layer, kitmanager/web.py, "
        "reads the request); these read the request's state:\n" + "\n".join(offenders)
    )


# ---- the unit of work, in a real app ---------------------------------------------------------

REFUSAL = "Choose another name: this one is refused."


def _write_then(refuse: bool) -> None:
    """Create an account through its service; then refuse, as a service that finds a problem
    after writing does."""
    create_user(cli_actor(), "amina", Role.TRAINER, "trainer-password-1")
    if refuse:
        raise AuthError(REFUSAL)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The app on a migrated SQLite file, with pages that write and maybe refuse."""
    app = create_app({"DATA_DIR": tmp_path, "TESTING": True, "WTF_CSRF_ENABLED": False})
    upgrade_database(app)

    @app.post("/test/page/<int:refuse>")
    @public
    def page(refuse: int):
        with page_unit_of_work() as work:
            _write_then(bool(refuse))
        return redirect("/healthz") if work.committed else ("form shown again", 400)

    # Views that forgot to answer the refusal.
    @app.post("/test/unanswered")
    @public
    def unanswered():
        _write_then(True)
        return "not reached"

    @app.post("/api/v1/test/unanswered")
    @public
    def api_unanswered():
        _write_then(True)
        return "not reached"

    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _accounts(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(User.username)))


def test_a_page_commits_what_its_unit_of_work_did(app):
    response = app.test_client().post("/test/page/0")
    assert response.status_code == 302
    assert _accounts(app) == ["amina"]


def test_a_refusal_on_a_page_is_rolled_back_and_flashed(app):
    client = app.test_client()
    assert client.post("/test/page/1").status_code == 400
    with client.session_transaction() as cookie:
        assert cookie["_flashes"] == [("error", REFUSAL)]
    assert _accounts(app) == []


def test_a_refusal_no_view_answered_is_rolled_back_and_shown_not_a_500(app):
    client = app.test_client()
    page = client.post("/test/unanswered")
    assert page.status_code == 400
    assert REFUSAL in page.get_data(as_text=True)
    api = client.post("/api/v1/test/unanswered")
    assert (api.status_code, api.json) == (422, {"error": REFUSAL})
    assert _accounts(app) == []


def test_a_refusal_in_the_api_is_a_422_with_its_message_and_nothing_kept(app):
    with app.app_context():
        _token, secret = create_token(cli_actor(), "script", Role.ORGANISER)
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"title": "Robots", "starts_on": "2026-12-01", "language": "xx"}
    refused = client.post("/api/v1/workshops", json=body, headers=headers)
    assert refused.status_code == 422
    assert refused.json["error"]
    with app.app_context():
        assert list(db.session.scalars(select(Workshop.title))) == []
