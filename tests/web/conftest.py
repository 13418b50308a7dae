"""Fixtures for the app: a real SQLite file per test, migrated by the real migrations."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kitmanager import create_app
from kitmanager.audit import cli_actor
from kitmanager.auth.services import create_user, ip_throttle
from kitmanager.config import DATABASE_FILE
from kitmanager.database import upgrade_database
from kitmanager.extensions import db

PASSWORDS = {
    "olga": "organiser-password-1",
    "tom": "trainer-password-1",
    "vera": "volunteer-password-1",
}


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database built by running every migration, copied for each test (fast and real)."""
    data_dir = tmp_path_factory.mktemp("template")
    app = create_app({"DATA_DIR": data_dir, "SECRET_KEY": "test"})
    upgrade_database(app)
    with app.app_context():
        actor = cli_actor()
        create_user(actor, "olga", "organiser", PASSWORDS["olga"], display_name="Olga Organiser")
        create_user(actor, "tom", "trainer", PASSWORDS["tom"], display_name="Tom Trainer")
        create_user(actor, "vera", "volunteer", PASSWORDS["vera"], display_name="Vera Volunteer")
        db.session.commit()
        db.engine.dispose()
    return data_dir / DATABASE_FILE


@pytest.fixture
def data_dir(tmp_path: Path, migrated_db: Path) -> Path:
    target = tmp_path / "data"
    target.mkdir()
    shutil.copy(migrated_db, target / DATABASE_FILE)
    return target


@pytest.fixture
def app(data_dir: Path) -> Iterator[Flask]:
    ip_throttle.clear()
    app = create_app({"DATA_DIR": data_dir, "TESTING": True, "BASE_URL": "http://kit.test"})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


def csrf_token(client: FlaskClient, url: str) -> str:
    """The CSRF token of the form on ``url``, read from the page like a browser would."""
    import re

    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def login(client: FlaskClient, username: str) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORDS[username], "csrf_token": token},
    )
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def organiser(client: FlaskClient) -> FlaskClient:
    login(client, "olga")
    return client


@pytest.fixture
def trainer(client: FlaskClient) -> FlaskClient:
    login(client, "tom")
    return client


@pytest.fixture
def volunteer(client: FlaskClient) -> FlaskClient:
    login(client, "vera")
    return client
