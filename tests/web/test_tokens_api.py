"""API tokens: printed once, stored hashed, accepted as Bearer, revocable; the JSON API."""

from __future__ import annotations

import sqlite3

from tests.web.helpers import add_people, make_workshop


def _token(runner, name="door-scanner", role="volunteer") -> str:
    result = runner.invoke(args=["tokens", "create", name, "--role", role])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("km_") and len(secret) > 40
    return secret


def test_token_is_shown_once_and_only_its_hash_is_stored(runner, data_dir):
    secret = _token(runner)
    with sqlite3.connect(data_dir / "kitmanager.sqlite3") as conn:
        dump = "\n".join(conn.iterdump())
    assert secret not in dump
    assert secret[3:] not in dump
    listing = runner.invoke(args=["tokens", "list"]).output
    assert "door-scanner" in listing and secret not in listing


def test_bearer_token_reads_the_api_and_revoking_ends_it(app, client, runner):
    make_workshop(app)
    add_people(app, "nairobi", "Wanjiru Mwangi")
    secret = _token(runner, "door-scanner", "trainer")
    headers = {"Authorization": f"Bearer {secret}"}
    me = client.get("/api/v1/me", headers=headers)
    assert me.json == {"actor": "token:door-scanner", "role": "trainer"}
    people = client.get("/api/v1/workshops/nairobi/participants", headers=headers).json
    assert [p["full_name"] for p in people["participants"]] == ["Wanjiru Mwangi"]
    assert people["participants"][0]["badge_url"].startswith("http://kit.test/b/")
    # A volunteer scans badges; the list of everyone's personal data is not theirs to read.
    volunteer = {"Authorization": f"Bearer {_token(runner, 'door-2', 'volunteer')}"}
    assert (
        client.get("/api/v1/workshops/nairobi/participants", headers=volunteer).status_code == 403
    )

    result = runner.invoke(args=["tokens", "revoke", "door-scanner"])
    assert result.exit_code == 0
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_wrong_or_missing_token_gets_401_json(client):
    response = client.get("/api/v1/workshops", headers={"Authorization": "Bearer km_nope"})
    assert response.status_code == 401
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert client.get("/api/v1/workshops").status_code == 401


def test_token_roles_limit_api_writes(app, client, runner):
    make_workshop(app)
    volunteer = {"Authorization": f"Bearer {_token(runner, 'v1', 'volunteer')}"}
    trainer = {"Authorization": f"Bearer {_token(runner, 't1', 'trainer')}"}
    body = {"full_name": "Kouassi Yao", "team": "Éléphants"}
    url = "/api/v1/workshops/nairobi/participants"
    assert client.post(url, json=body, headers=volunteer).status_code == 403
    created = client.post(url, json=body, headers=trainer)
    assert created.status_code == 201
    assert created.json["team"] == "Éléphants"
    bad = client.post(url, json={"full_name": ""}, headers=trainer)
    assert bad.status_code == 422 and "full name" in bad.json["error"]


def test_api_writes_from_a_browser_session_are_refused(organiser, app):
    """CSRF is off for the API, so a cookie alone must never be enough to write."""
    response = organiser.post("/api/v1/workshops", json={"title": "X", "starts_on": "2026-12-01"})
    assert response.status_code == 401
    assert organiser.get("/api/v1/workshops").status_code == 200


def test_api_creates_and_describes_a_workshop(client, runner):
    headers = {"Authorization": f"Bearer {_token(runner, 'admin-script', 'organiser')}"}
    created = client.post(
        "/api/v1/workshops",
        json={"title": "Défi IA", "starts_on": "2026-12-01", "timezone": "Africa/Abidjan"},
        headers=headers,
    )
    assert created.status_code == 201, created.json
    assert created.json["slug"] == "defi-ia"
    detail = client.get("/api/v1/workshops/defi-ia", headers=headers).json
    assert detail["timezone"] == "Africa/Abidjan" and detail["sessions"] == []
    bad = client.post(
        "/api/v1/workshops", json={"title": "X", "starts_on": "1 Dec"}, headers=headers
    )
    assert bad.status_code == 422
