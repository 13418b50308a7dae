"""`kitmanager --help` and `--version` touch nothing on disk; every import is a declared dependency.

The help pages run the installed `kitmanager` entry point in fresh processes whose data dir
(``KITMANAGER_DATA_DIR``) and home folder are empty temporary folders: a help page must leave
both as it found them, and a real command afterwards shows that the same setup does make the
data dir.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.web.e2e import kitmanager_exe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
# The packages the wheel ships: what the project imports of its own.
OWN_PACKAGES = tuple(PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
# Programs that run on the boards (MicroPython), shipped as data: not code of this machine.
BOARD_PROGRAMS = REPO / "firmware_tools" / "firmware"

pytestmark = pytest.mark.timeout(240)


class Sandbox:
    """An empty home folder and a data dir that does not exist yet, for `kitmanager` runs."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.home.mkdir()
        self.data_dir = root / "data"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("KITMANAGER_", "XDG_"))
        }
        self.env.pop("DATABASE_URL", None)
        self.env |= {"HOME": str(self.home), "KITMANAGER_DATA_DIR": str(self.data_dir)}

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def kitmanager(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(kitmanager_exe()), *args)

    def assert_untouched(self) -> None:
        assert not self.data_dir.exists(), sorted(map(str, self.data_dir.rglob("*")))
        assert not any(self.home.iterdir()), sorted(map(str, self.home.rglob("*")))


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def test_help_and_version_of_the_command_touch_nothing(sandbox: Sandbox):
    shown = sandbox.kitmanager("--help")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Usage: kitmanager")
    assert re.search(r"^\s+serve\s", shown.stdout, re.MULTILINE), shown.stdout  # app commands too
    version = sandbox.kitmanager("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"kitmanager, version {PYPROJECT['project']['version']}"
    with_option = sandbox.kitmanager("--data-dir", str(sandbox.data_dir / "given"), "--help")
    assert with_option.returncode == 0, with_option.stderr
    sandbox.assert_untouched()

    # The same setup does make the data dir once a command runs.
    listed = sandbox.kitmanager("workshops", "list")
    assert listed.returncode == 0, listed.stderr
    assert {"secret_key", "kitmanager.sqlite3"} <= {p.name for p in sandbox.data_dir.iterdir()}


# Every command path under the `kitmanager` group, run through the console script's entry point
# in one interpreter (a process per page would take minutes): each asked for its help, and each
# group also given nothing at all, which shows its help too (unless, like `boards ports`, it
# runs by itself).
EVERY_HELP_PAGE = textwrap.dedent(
    """
    import contextlib, io, json
    from importlib.metadata import distribution

    import click
    from kitmanager import create_app

    main = {ep.name: ep for ep in distribution("kitmanager").entry_points}["kitmanager"].load()

    def paths(group, prefix):
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            is_group = isinstance(command, click.Group)
            yield [*prefix, name], is_group and command.no_args_is_help
            if is_group:
                yield from paths(command, [*prefix, name])

    runs = [[]]
    for path, helps_given_nothing in paths(create_app(make_data_dir=False).cli, []):
        runs += [[*path, "--help"], *([path] if helps_given_nothing else [])]
    shown = {}
    for args in runs:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                main(args)
            except SystemExit as exit:
                code = exit.code
        shown[" ".join(args)] = [code, out.getvalue().splitlines()[0]]
    print(json.dumps(shown))
    """
)


def test_help_of_every_subcommand_touches_nothing(sandbox: Sandbox):
    result = sandbox.run(sys.executable, "-c", EVERY_HELP_PAGE, timeout=200)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.splitlines()[-1])
    # Top-level commands and nested ones (groups of groups, e.g. `boards ports add`).
    assert {"serve --help", "scans --help", "scans", "boards ports add --help"} <= set(shown)
    for args, (code, first_line) in shown.items():
        path = args.removesuffix("--help").strip()
        # Given nothing, click shows a group's help as a usage error (exit code 2).
        assert code == (0 if args.endswith("--help") else 2), (args, first_line)
        assert first_line.startswith(f"Usage: kitmanager {path}".strip() + " "), (args, first_line)
    sandbox.assert_untouched()


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalised as in PEP 503."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether ``node`` sits in a ``try`` body that catches ImportError (an optional import)."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                names = ast.unparse(handler.type) if handler.type is not None else ""
                if "ImportError" in names or "ModuleNotFoundError" in names:
                    return True
        child, parent = parent, parents.get(parent)
    return False


def _imports() -> Iterator[tuple[str, str, bool]]:
    """(top-level module, where, guarded) for every absolute import in the shipped packages."""
    for package in OWN_PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if BOARD_PROGRAMS in path.parents:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            parents = {
                child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                for name in names:
                    yield name.partition(".")[0], where, _guarded(node, parents)


def test_every_imported_module_comes_from_a_declared_dependency():
    project = PYPROJECT["project"]
    required = {_name(r) for r in project["dependencies"]}
    optional = {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    providers = packages_distributions()
    undeclared = []
    seen = set()
    for module, where, guarded in _imports():
        seen.add(module)
        if module in sys.stdlib_module_names or module in OWN_PACKAGES:
            continue
        distributions = {_name(d) for d in providers.get(module, ())}
        if distributions & required:
            continue
        if distributions & optional and guarded:
            continue  # an extra, imported where its absence is handled
        undeclared.append(
            f"{where}: {module} (from {sorted(distributions) or 'nothing installed'})"
        )
    assert not undeclared, "imported but not in pyproject.toml's dependencies:\n" + "\n".join(
        undeclared
    )
    # The walk did see the code: the web framework, the serial library, esptool's logger.
    assert {"flask", "serial", "esp_pylib"} <= seen
