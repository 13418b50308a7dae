"""The wheel: everything the app needs at run time ships inside it, and it runs from elsewhere.

The wheel is built from this checkout with pip (the build backend comes from the package index),
unpacked the way pip installs a pure-Python wheel, and run by a fresh interpreter outside the
repository, so nothing can be found by accident in the source tree.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("kitmanager", "printouts", "firmware_tools")

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (built,) = out.glob("kitmanager-*.whl")
    return built


def source_files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.rglob(pattern) if "__pycache__" not in p.parts and p.is_file())


def test_wheel_holds_templates_static_migrations_data_files_and_entry_points(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())

    expected = {"kitmanager/templates/base.html", "kitmanager/static/style.css"}
    # Templates live at the top of the repository and are moved into the package.
    expected |= {
        f"kitmanager/templates/{p.relative_to(REPO / 'templates').as_posix()}"
        for p in source_files(REPO / "templates", "*.html")
    }
    expected |= {
        p.relative_to(REPO).as_posix() for p in source_files(REPO / "kitmanager" / "static", "*")
    }
    migrations = REPO / "kitmanager" / "migrations"
    expected |= {"kitmanager/migrations/env.py", "kitmanager/migrations/alembic.ini"}
    versions = source_files(migrations / "versions", "*.py")
    assert versions, "no migration scripts in the checkout"
    expected |= {p.relative_to(REPO).as_posix() for p in versions}
    data_files = [
        *source_files(REPO / "printouts", "*.json"),
        *source_files(REPO / "printouts", "*.ttf"),
        *source_files(REPO / "firmware_tools" / "firmware", "*.hex"),
        *source_files(REPO / "kitmanager" / "translations", "*.mo"),
    ]
    assert any(p.suffix == ".json" for p in data_files), "no print layouts in the checkout"
    expected |= {p.relative_to(REPO).as_posix() for p in data_files}
    for package in PACKAGES:
        expected.add(f"{package}/__init__.py")

    missing = sorted(expected - names)
    assert not missing, f"missing from {wheel.name}: {missing}"
    assert not [n for n in names if n.startswith(("templates/", "tests/", ".venv/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".sqlite3"))]

    (entry_points_name,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    entry_points = configparser.ConfigParser()
    entry_points.read_string(zipfile.ZipFile(wheel).read(entry_points_name).decode())
    scripts = dict(entry_points["console_scripts"])
    assert scripts["kitmanager"] == "kitmanager.cli:main"
    assert scripts["firmware-tools"] == "firmware_tools.cli:main"


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A fresh interpreter that sees the unpacked wheel, plus the dependencies, and no checkout."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=60,
        capture_output=True,
    )
    site = root / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # Dependencies come from the project's environment; its editable-install hook (a .pth
    # file) is not read from PYTHONPATH, so the checkout itself stays out of sight.
    deps = sysconfig.get_paths()["purelib"]
    env = {
        "PYTHONPATH": f"{site}:{deps}",
        "PATH": "/usr/bin:/bin",
        "HOME": str(root),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return venv / "bin" / "python", env | {"KITMANAGER_SITE": str(site)}


def run_installed(
    installed: tuple[Path, dict], cwd: Path, *args: str
) -> subprocess.CompletedProcess:
    python, env = installed
    return subprocess.run(
        [str(python), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_installed_wheel_runs_the_cli_from_outside_the_checkout(installed, tmp_path: Path):
    data_dir = tmp_path / "data"
    result = run_installed(
        installed,
        tmp_path,
        "-m",
        "kitmanager.cli",
        "--data-dir",
        str(data_dir),
        "workshops",
        "list",
    )
    assert result.returncode == 0, result.stderr
    assert "No workshops yet" in result.stdout
    # The migrations shipped in the wheel built the database.
    assert (data_dir / "kitmanager.sqlite3").stat().st_size > 0


def test_installed_wheel_finds_its_templates_translations_and_entry_point(
    installed, tmp_path: Path
):
    check = textwrap.dedent(
        """
        import os, sys
        from importlib.metadata import distribution
        import kitmanager, printouts, firmware_tools
        from kitmanager import create_app

        site = os.environ["KITMANAGER_SITE"]
        for module in (kitmanager, printouts, firmware_tools):
            assert module.__file__.startswith(site), module.__file__
        app = create_app({"DATA_DIR": sys.argv[1], "AUTO_UPGRADE_DB": True})
        assert app.template_folder.startswith(site), app.template_folder
        client = app.test_client()
        english = client.get("/login")
        assert english.status_code == 200, english.status_code
        assert 'name="csrf_token"' in english.get_data(as_text=True)
        french = client.get("/login", headers={"Accept-Language": "fr"})
        assert "Se connecter" in french.get_data(as_text=True)
        assert client.get("/static/style.css").status_code == 200
        scripts = {ep.name: ep for ep in distribution("kitmanager").entry_points}
        assert scripts["kitmanager"].load() is __import__("kitmanager.cli").cli.main
        print("ok")
        """
    )
    result = run_installed(installed, tmp_path, "-c", check, str(tmp_path / "data"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("script", ["kitmanager", "firmware-tools"])
def test_installed_console_scripts_start(installed, tmp_path: Path, script: str):
    # What the script pip writes into bin/ does: load the entry point and call it.
    launcher = (
        "import sys; from importlib.metadata import distribution; "
        "eps = {ep.name: ep for ep in distribution('kitmanager').entry_points}; "
        "sys.argv[0] = sys.argv[1]; sys.exit(eps[sys.argv[1]].load()(sys.argv[2:]))"
    )
    result = run_installed(installed, tmp_path, "-c", launcher, script, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()
    assert script in result.stdout
