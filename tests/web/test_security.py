"""Secure by default: login everywhere but the public pages, CSRF, cookies, headers, roles."""

from __future__ import annotations

import re

import pytest

from kitmanager.security import is_public
from tests.web.conftest import PASSWORDS, csrf_token, login

PUBLIC_ENDPOINTS = {
    "auth.login",
    "public.badge",
    "core.healthz",
    "core.language",
    "static",
    "api.openapi",  # the API's description: no data in it
    "checkin.phone_login",  # a one-time sign-in code, scanned by a phone not yet signed in
    "kits.label",  # a kit's label QR: without login only its code, type and "return it"
    "certificates.verify",  # anyone holding a certificate checks it
    "certificates.verify_form",
    "certificates.badge_certificate_pdf",  # the badge holder's own certificate
    "certificates.badge_certificate_badge",
    "certificates.revocation_list",  # the Open Badges' revocation list: bits, no names
}


def _example_url(rule) -> str:
    values = {arg: "1" if arg.endswith("_id") else "x" for arg in rule.arguments}
    url = rule.rule
    for name, value in values.items():
        url = re.sub(rf"<(?:[a-z]+:)?{name}>", value, url)
    return url


def test_every_page_but_the_public_ones_needs_a_login(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in PUBLIC_ENDPOINTS:
            assert is_public(view) or rule.endpoint == "static"
            continue
        assert not is_public(view), f"{rule.endpoint} is public but not in the allowed list"
        url = _example_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            if url.startswith("/api/"):
                assert response.status_code == 401, (method, url)
                assert response.is_json
            else:
                assert response.status_code in (302, 400), (method, url, response.status_code)
                if response.status_code == 302:
                    assert response.headers["Location"].startswith("/login"), (method, url)
            checked += 1
    assert checked > 20


def test_public_pages_are_reachable_without_login(client):
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/b/no-such-token").status_code == 404  # reachable, just unknown


def test_security_headers_and_csp_without_inline_script(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = response.get_data(as_text=True)
    assert "<script>" not in page and " style=" not in page and "onclick" not in page
    assert "https://" not in page and "http://" not in page.replace("http://kit.test", "")


def test_session_cookie_is_httponly_and_samesite(client):
    login(client, "olga")
    cookie = client.get_cookie("kitmanager_session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_forms_refuse_posts_without_csrf_token(client):
    response = client.post("/login", data={"username": "olga", "password": PASSWORDS["olga"]})
    assert response.status_code == 400
    assert client.get("/workshops/").status_code == 302  # still not logged in


def test_logout_ends_the_session(organiser):
    token = csrf_token(organiser, "/workshops/")
    response = organiser.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert organiser.get("/workshops/").status_code == 302


def test_a_cookie_copied_before_logout_no_longer_logs_in(app, organiser):
    """On a shared Wi-Fi a cookie can be copied; logging out must end it everywhere."""
    copied = organiser.get_cookie("kitmanager_session").value
    token = csrf_token(organiser, "/workshops/")
    organiser.post("/logout", data={"csrf_token": token})
    replay = app.test_client()
    replay.set_cookie("kitmanager_session", copied)
    assert replay.get("/workshops/").status_code == 302


def test_logging_out_one_browser_keeps_the_others(app, client):
    phone = app.test_client()
    login(client, "vera")
    login(phone, "vera")
    token = csrf_token(client, "/workshops/")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/workshops/").status_code == 302
    assert phone.get("/workshops/").status_code == 200


def test_wrong_password_is_refused_with_one_message(client):
    token = csrf_token(client, "/login")
    for username in ("olga", "nobody"):
        response = client.post(
            "/login", data={"username": username, "password": "wrong-password", "csrf_token": token}
        )
        assert response.status_code == 401
        assert "Wrong user name or password." in response.get_data(as_text=True)


def test_login_is_throttled_after_repeated_failures(client):
    token = csrf_token(client, "/login")
    for _ in range(5):
        client.post("/login", data={"username": "tom", "password": "bad", "csrf_token": token})
    response = client.post(
        "/login", data={"username": "tom", "password": PASSWORDS["tom"], "csrf_token": token}
    )
    assert response.status_code == 429
    assert "Try again in" in response.get_data(as_text=True)
    assert client.get("/workshops/").status_code == 302


def test_sessions_expire(app, client):
    """A login lasts a working day by default; past its lifetime the cookie no longer counts."""
    import time
    from datetime import timedelta

    assert app.config["PERMANENT_SESSION_LIFETIME"] <= timedelta(hours=24)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=2)
    login(client, "olga")
    assert client.get("/workshops/").status_code == 200
    time.sleep(3)
    assert client.get("/workshops/").status_code == 302


def test_password_reset_ends_open_sessions(app, organiser, runner):
    assert organiser.get("/workshops/").status_code == 200
    result = runner.invoke(args=["users", "reset-password", "olga"])
    assert result.exit_code == 0, result.output
    assert "shown once" in result.output
    assert organiser.get("/workshops/").status_code == 302


@pytest.mark.parametrize(
    ("who", "url", "allowed"),
    [
        ("vera", "/workshops/new", False),
        ("tom", "/workshops/new", False),
        ("olga", "/workshops/new", True),
    ],
)
def test_roles_decide_who_creates_workshops(client, who, url, allowed):
    login(client, who)
    assert client.get(url).status_code == (200 if allowed else 403)


def test_user_text_is_escaped(organiser, app):
    from tests.web.helpers import make_workshop

    make_workshop(app, title="<script>alert(1)</script> Robotics")
    page = organiser.get("/workshops/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Robotics" in page


def _login_over(client, scheme: str):
    """Log in as olga over ``scheme``, as a browser does: no Referer (no-referrer policy)."""
    base = f"{scheme}://localhost"
    page = client.get("/login", base_url=base).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    return client.post(
        "/login",
        data={"username": "olga", "password": PASSWORDS["olga"], "csrf_token": token.group(1)},
        base_url=base,
    )


def _session_cookie_header(response) -> str:
    [cookie] = [
        value
        for value in response.headers.getlist("Set-Cookie")
        if value.startswith("kitmanager_session=")
    ]
    return cookie


def test_over_https_the_session_cookie_is_secure_and_hsts_is_sent(client):
    response = _login_over(client, "https")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "; Secure" in _session_cookie_header(response)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    page = client.get("/workshops/", base_url="https://localhost")
    assert page.status_code == 200
    assert "max-age=" in page.headers["Strict-Transport-Security"]


def test_plain_http_keeps_working_without_secure_cookie_or_hsts(client):
    response = _login_over(client, "http")
    assert response.status_code == 302
    assert "Secure" not in _session_cookie_header(response)
    assert "Strict-Transport-Security" not in response.headers
    assert client.get("/workshops/").status_code == 200
