"""`kitmanager users ...` through Flask's CLI runner."""

from __future__ import annotations

from tests.web.conftest import csrf_token


def test_create_user_with_password_on_stdin_then_log_in(runner, client):
    result = runner.invoke(
        args=["users", "create", "amina", "--role", "trainer", "--password-stdin"],
        input="a-long-password-123\n",
    )
    assert result.exit_code == 0, result.output
    assert "a-long-password-123" not in result.output
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        data={"username": "amina", "password": "a-long-password-123", "csrf_token": token},
    )
    assert response.status_code == 302


def test_display_name_is_shown_in_the_page_header(runner, client):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "awa",
            "--role",
            "trainer",
            "--password-stdin",
            "--display-name",
            "Awa Ndiaye",
        ],
        input="a-long-password-456\n",
    )
    assert result.exit_code == 0, result.output
    token = csrf_token(client, "/login")
    client.post(
        "/login", data={"username": "awa", "password": "a-long-password-456", "csrf_token": token}
    )
    assert "Awa Ndiaye (trainer)" in client.get("/workshops/").get_data(as_text=True)


def test_create_user_without_stdin_prints_a_generated_password_once(runner):
    result = runner.invoke(args=["users", "create", "kofi", "--role", "volunteer"])
    assert result.exit_code == 0
    assert "Password (shown once):" in result.output
    assert "kofi" in runner.invoke(args=["users", "list"]).output


def test_bad_user_requests_get_clear_messages(runner):
    short = runner.invoke(
        args=["users", "create", "x1", "--role", "trainer", "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0 and "too short" in short.output
    taken = runner.invoke(args=["users", "create", "OLGA", "--role", "trainer"])
    assert taken.exit_code != 0 and "already exists" in taken.output
    role = runner.invoke(args=["users", "create", "zed", "--role", "admin"])
    assert role.exit_code != 0 and "admin" in role.output
    missing = runner.invoke(args=["users", "reset-password", "ghost"])
    assert missing.exit_code != 0 and "No user named 'ghost'" in missing.output
    for result in (short, taken, role, missing):
        assert "Traceback" not in result.output
