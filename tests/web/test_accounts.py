"""Organisers manage accounts and API tokens in the app: the /accounts pages and their services."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from kitmanager.extensions import db
from kitmanager.models import ApiToken, AuditEvent, User, utcnow
from tests.web.conftest import PASSWORDS, csrf_token, login

SHOWN_ONCE = re.compile(r'id="secret" type="text" readonly value="([^"]+)"')


def _post(client, url: str, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, "/accounts/"), **data})


def _user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def _audit(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (e.actor, e.action)
            for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def _log_in_as(app, username: str, password: str):
    client = app.test_client()
    token = csrf_token(client, "/login")
    reply = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    return client, reply.status_code


@pytest.mark.parametrize("who", ["tom", "vera"])
def test_only_organisers_reach_the_accounts_pages(app, client, who):
    login(client, who)
    assert client.get("/accounts/").status_code == 403
    token = csrf_token(client, "/workshops/")
    olga = _user_id(app, "olga")
    for url, data in (
        ("/accounts/users/new", {"username": "mallory", "role": "organiser"}),
        (f"/accounts/users/{olga}/role", {"role": "volunteer"}),
        (f"/accounts/users/{olga}/disable", {}),
        (f"/accounts/users/{olga}/password", {}),
        ("/accounts/tokens/new", {"name": "backdoor", "role": "organiser"}),
    ):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403
    assert "Accounts" not in client.get("/workshops/").get_data(as_text=True)
    assert ("user:tom", "user.created") not in _audit(app)


def test_every_accounts_form_needs_its_csrf_token(app, organiser):
    tom = _user_id(app, "tom")
    for url in (
        "/accounts/users/new",
        f"/accounts/users/{tom}/role",
        f"/accounts/users/{tom}/disable",
        f"/accounts/users/{tom}/password",
        "/accounts/tokens/new",
        "/accounts/tokens/1/revoke",
    ):
        assert organiser.post(url, data={"role": "organiser", "name": "x"}).status_code == 400
    with app.app_context():
        assert db.session.get(User, tom).role == "trainer"


def test_an_organiser_creates_an_account_whose_password_is_shown_once(app, organiser):
    page = organiser.get("/workshops/").get_data(as_text=True)
    assert 'href="/accounts/"' in page
    reply = _post(
        organiser, "/accounts/users/new", username="amina", display_name="Amina Diallo",
        role="trainer", password="",
    )  # fmt: skip
    assert reply.status_code == 200
    password = SHOWN_ONCE.search(reply.get_data(as_text=True)).group(1)
    assert "shown only this once" in reply.get_data(as_text=True)
    # Never in the cookie (signed, not encrypted) nor on the list page.
    assert password not in (organiser.get_cookie("kitmanager_session").value or "")
    assert password not in organiser.get("/accounts/").get_data(as_text=True)
    _, status = _log_in_as(app, "amina", password)
    assert status == 302
    assert ("user:olga", "user.created") in _audit(app)


def test_an_organiser_can_give_the_password_instead(app, organiser):
    reply = _post(
        organiser, "/accounts/users/new", username="kofi", role="volunteer",
        password="Kofi-scans-badges-1",
    )  # fmt: skip
    assert reply.status_code == 302
    assert "Kofi-scans-badges-1" not in organiser.get("/accounts/").get_data(as_text=True)
    assert _log_in_as(app, "kofi", "Kofi-scans-badges-1")[1] == 302


def test_bad_account_requests_show_the_reason_next_to_the_field(organiser):
    for fields, message in (
        ({"username": "OLGA", "role": "trainer"}, "already exists"),
        ({"username": "x", "role": "trainer"}, "not a valid user name"),
        ({"username": "zed", "role": "trainer", "password": "short"}, "too short"),
        ({"username": "zed", "role": "admin"}, "Not a valid choice"),
    ):
        reply = _post(organiser, "/accounts/users/new", **fields)
        assert reply.status_code == 400
        assert message in reply.get_data(as_text=True)


def test_disabling_ends_the_sessions_and_enabling_lets_them_back(app, organiser):
    tom_browser, status = _log_in_as(app, "tom", PASSWORDS["tom"])
    assert status == 302
    tom = _user_id(app, "tom")
    reply = _post(organiser, f"/accounts/users/{tom}/disable")
    assert reply.status_code == 302
    assert "disabled" in organiser.get("/accounts/").get_data(as_text=True)
    assert tom_browser.get("/workshops/").status_code == 302
    assert _log_in_as(app, "tom", PASSWORDS["tom"])[1] == 401

    _post(organiser, f"/accounts/users/{tom}/enable")
    # The old session stays ended; logging in again works.
    assert tom_browser.get("/workshops/").status_code == 302
    assert _log_in_as(app, "tom", PASSWORDS["tom"])[1] == 302
    actions = _audit(app)
    assert ("user:olga", "user.disabled") in actions and ("user:olga", "user.enabled") in actions


def test_changing_a_role_takes_effect_at_once(app, organiser):
    vera_browser, _ = _log_in_as(app, "vera", PASSWORDS["vera"])
    assert vera_browser.get("/workshops/new").status_code == 403
    vera = _user_id(app, "vera")
    assert _post(organiser, f"/accounts/users/{vera}/role", role="organiser").status_code == 302
    assert vera_browser.get("/workshops/new").status_code == 200
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user.role_changed")
        ).one()
        assert event.details == {"before": "volunteer", "after": "organiser"}


def test_a_password_reset_is_shown_once_and_ends_that_persons_sessions(app, organiser):
    vera_browser, _ = _log_in_as(app, "vera", PASSWORDS["vera"])
    vera = _user_id(app, "vera")
    reply = _post(organiser, f"/accounts/users/{vera}/password")
    assert reply.status_code == 200
    password = SHOWN_ONCE.search(reply.get_data(as_text=True)).group(1)
    assert vera_browser.get("/workshops/").status_code == 302
    assert _log_in_as(app, "vera", PASSWORDS["vera"])[1] == 401
    assert _log_in_as(app, "vera", password)[1] == 302
    assert organiser.get("/accounts/").status_code == 200  # the organiser stays logged in
    assert ("user:olga", "user.password_changed") in _audit(app)


def test_the_last_organiser_cannot_disable_or_demote_themself(app, organiser):
    olga = _user_id(app, "olga")
    for url, data in (
        (f"/accounts/users/{olga}/role", {"role": "trainer"}),
        (f"/accounts/users/{olga}/disable", {}),
    ):
        page = _post(organiser, url, **data)
        assert page.status_code == 302
        shown = organiser.get("/accounts/").get_data(as_text=True)
        assert "the only organiser left" in shown
    with app.app_context():
        assert db.session.get(User, olga).role == "organiser"
        assert db.session.get(User, olga).is_active
    # With a second organiser, Olga may step down.
    tom = _user_id(app, "tom")
    _post(organiser, f"/accounts/users/{tom}/role", role="organiser")
    assert _post(organiser, f"/accounts/users/{olga}/role", role="trainer").status_code == 302
    with app.app_context():
        assert db.session.get(User, olga).role == "trainer"
    assert organiser.get("/accounts/").status_code == 403


def test_the_cli_keeps_an_organiser_too(runner):
    assert runner.invoke(args=["users", "disable", "olga"]).exit_code == 1
    result = runner.invoke(args=["users", "set-role", "olga", "volunteer"])
    assert result.exit_code == 1 and "only organiser left" in result.output
    assert runner.invoke(args=["users", "set-role", "tom", "organiser"]).exit_code == 0
    assert runner.invoke(args=["users", "disable", "olga"]).exit_code == 0
    assert "(disabled)" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "enable", "olga"]).exit_code == 0
    assert "No user named 'ghost'" in runner.invoke(args=["users", "disable", "ghost"]).output


def test_an_organiser_creates_a_token_sees_its_last_use_and_revokes_it(app, organiser):
    reply = _post(organiser, "/accounts/tokens/new", name="door-scanner", role="volunteer")
    assert reply.status_code == 200
    secret = SHOWN_ONCE.search(reply.get_data(as_text=True)).group(1)
    assert secret.startswith("km_")
    page = organiser.get("/accounts/").get_data(as_text=True)
    assert "door-scanner" in page and "never used" in page and secret not in page

    scanner = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert scanner.get("/api/v1/me", headers=headers).status_code == 200
    assert "last used" in organiser.get("/accounts/").get_data(as_text=True)

    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.name == "door-scanner"))
    assert _post(organiser, f"/accounts/tokens/{token_id}/revoke").status_code == 302
    assert scanner.get("/api/v1/me", headers=headers).status_code == 401
    assert "revoked" in organiser.get("/accounts/").get_data(as_text=True)
    actions = _audit(app)
    assert ("user:olga", "token.created") in actions and ("user:olga", "token.revoked") in actions


def test_token_use_is_stamped_at_most_once_a_minute(app, client, runner):
    made = runner.invoke(args=["tokens", "create", "registration", "--role", "trainer"])
    headers = {"Authorization": f"Bearer {made.output.strip().splitlines()[-1]}"}

    def last_used():
        with app.app_context():
            return db.session.scalar(
                select(ApiToken.last_used_at).where(ApiToken.name == "registration")
            )

    assert last_used() is None
    client.get("/api/v1/me", headers=headers)
    first = last_used()
    assert first is not None
    client.get("/api/v1/me", headers=headers)
    assert last_used() == first  # no write for a second request within the minute
    with app.app_context():
        db.session.execute(update(ApiToken).values(last_used_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    client.get("/api/v1/me", headers=headers)
    assert last_used() > first - timedelta(seconds=1)
    assert "last used" in runner.invoke(args=["tokens", "list"]).output


def test_the_accounts_page_speaks_french(app, organiser):
    organiser.post(
        "/language", data={"language": "fr", "csrf_token": csrf_token(organiser, "/accounts/")}
    )
    page = organiser.get("/accounts/").get_data(as_text=True)
    assert "Comptes" in page and "Jetons d'API" in page and "Créer le compte" in page
