"""Login throttling per user name and address, and password checks that run side by side."""

from __future__ import annotations

import re
import threading

import pytest

import kitmanager.auth.services as auth_services
from tests.web.conftest import PASSWORDS, csrf_token

ATTACKER = "10.0.0.66"
AMINA_PHONE = "10.0.0.7"


def attempt(client, username: str, password: str, address: str):
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def hash_checks(monkeypatch) -> list[str]:
    """Every password hash the server computes (the slow step whose timing could tell)."""
    calls: list[str] = []
    real = auth_services.check_password_hash

    def counted(pwhash: str, password: str) -> bool:
        calls.append(password)
        return real(pwhash, password)

    monkeypatch.setattr(auth_services, "check_password_hash", counted)
    return calls


def test_guessing_at_one_address_does_not_lock_the_trainer_out_on_her_phone(app):
    attacker, phone = app.test_client(), app.test_client()
    limit = app.config["LOGIN_MAX_FAILURES"]
    statuses = [attempt(attacker, "tom", f"guess-{i}", ATTACKER).status_code for i in range(8)]
    assert statuses == [401] * limit + [429] * (8 - limit)
    # Even the right password waits at the attacker's address ...
    assert attempt(attacker, "tom", PASSWORDS["tom"], ATTACKER).status_code == 429
    # ... while Tom logs in from his own phone as usual.
    assert attempt(phone, "tom", PASSWORDS["tom"], AMINA_PHONE).status_code == 302
    assert phone.get("/workshops/").status_code == 200


def _visible(response, name: str) -> tuple:
    """What a person (or a script) sees of a login reply, less the per-form CSRF token and the
    name they typed (the form shows it again)."""
    body = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", response.get_data(as_text=True))
    body = body.replace(f'value="{name}"', 'value="NAME"')
    body = re.sub(r"\d+ s\.", "N s.", body)  # the seconds left count down
    return response.status_code, "Retry-After" in response.headers, body


def test_a_throttled_unknown_name_looks_exactly_like_a_throttled_real_one(app, hash_checks):
    limit = app.config["LOGIN_MAX_FAILURES"]
    seen = {}
    for name in ("tom", "nobody-here"):
        client = app.test_client()
        wrong = [attempt(client, name, f"guess-{i}", ATTACKER) for i in range(limit)]
        assert {r.status_code for r in wrong} == {401}
        before = len(hash_checks)
        throttled = attempt(client, name, "one-more-guess", ATTACKER)
        # A throttled attempt checks no password, known name or not: the same timing class.
        assert len(hash_checks) == before
        seen[name] = _visible(throttled, name)
        assert "Too many failed logins. Try again in" in seen[name][2]
        assert 0 < int(throttled.headers["Retry-After"]) <= app.config["LOGIN_LOCK_SECONDS"] + 1
    assert seen["tom"] == seen["nobody-here"]
    assert seen["tom"][0] == 429
    # Before the limit each wrong attempt checked exactly one password, for both names.
    assert len(hash_checks) == 2 * limit


def test_a_new_password_lifts_the_wait(app, runner):
    client = app.test_client()
    for i in range(app.config["LOGIN_MAX_FAILURES"]):
        attempt(client, "vera", f"guess-{i}", ATTACKER)
    result = runner.invoke(args=["users", "reset-password", "vera"])
    password = result.output.strip().rsplit(" ", 1)[-1]
    assert attempt(client, "vera", password, ATTACKER).status_code == 302


def test_one_slow_password_check_does_not_hold_up_other_logins(app, monkeypatch):
    """No lock around password checks: while one check runs, another login completes."""
    inside, release = threading.Event(), threading.Event()
    real = auth_services.check_password_hash

    def slow_for_olga(pwhash: str, password: str) -> bool:
        if password == PASSWORDS["olga"]:
            inside.set()
            release.wait(30)
        return real(pwhash, password)

    monkeypatch.setattr(auth_services, "check_password_hash", slow_for_olga)
    olga, vera = app.test_client(), app.test_client()
    olga_token, vera_token = csrf_token(olga, "/login"), csrf_token(vera, "/login")
    result: list[int] = []
    data = {"username": "olga", "password": PASSWORDS["olga"], "csrf_token": olga_token}
    first = threading.Thread(
        target=lambda: result.append(olga.post("/login", data=data).status_code)
    )
    first.start()
    try:
        assert inside.wait(30)
        done = threading.Event()
        second_status: list[int] = []

        def vera_logs_in() -> None:
            data = {"username": "vera", "password": PASSWORDS["vera"], "csrf_token": vera_token}
            second_status.append(vera.post("/login", data=data).status_code)
            done.set()

        threading.Thread(target=vera_logs_in, daemon=True).start()
        # Vera's login finishes while Olga's check is still held: nothing serialises them.
        assert done.wait(30)
        assert not release.is_set() and first.is_alive()
        assert second_status == [302]
    finally:
        release.set()
        first.join(30)
    assert result == [302]
