"""`kitmanager users ...` and `kitmanager tokens ...`."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from flask import Flask
from flask.cli import AppGroup

from kitmanager.audit import cli_actor
from kitmanager.auth.services import (
    create_token,
    create_user,
    find_user,
    generate_password,
    list_tokens,
    list_users,
    no_such_user,
    reset_password,
    revoke_token,
    set_user_active,
    set_user_role,
)
from kitmanager.models import Role, User
from kitmanager.unit_of_work import command_unit_of_work

ROLE_CHOICE = click.Choice([r.value for r in Role])

users = AppGroup("users", help="Accounts of organisers, trainers and volunteers.")
tokens = AppGroup("tokens", help="Bearer tokens for scripts and scanner apps.")


@users.command("create")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the account may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--language", type=click.Choice(["en", "fr"]), default=None)
@click.option("--display-name", default="", help="Name shown in the app (default: NAME).")
def users_create(
    name: str, role: str, password_stdin: bool, language: str | None, display_name: str
) -> None:
    """Create an account; without --password-stdin a password is generated and shown once."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else generate_password()
    with command_unit_of_work():
        user = create_user(
            cli_actor(), name, role, password, display_name=display_name, language=language
        )
    click.echo(f"Created {user.role} '{user.username}'.")
    if not password_stdin:
        click.echo(f"Password (shown once): {password}")


@users.command("reset-password")
@click.argument("name")
def users_reset_password(name: str) -> None:
    """Give an account a new generated password; its open sessions end."""
    with command_unit_of_work():
        password = reset_password(cli_actor(), name)
    click.echo(f"New password for '{name}' (shown once): {password}")


@users.command("list")
def users_list() -> None:
    """List the accounts."""
    for user in list_users():
        state = "" if user.is_active else " (disabled)"
        click.echo(f"{user.username:<24} {user.role:<10}{state}")


def _change_user(name: str, change: Callable[[User], None], done: str) -> None:
    """Apply ``change`` to the account NAME through its service, commit, say ``done``."""
    with command_unit_of_work():
        user = find_user(name)
        if user is None:
            raise no_such_user(name)
        change(user)
    click.echo(done.format(username=user.username, role=user.role))


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=ROLE_CHOICE)
def users_set_role(name: str, role: str) -> None:
    """Give an account another role (one organiser at least always stays)."""
    _change_user(
        name, lambda user: set_user_role(cli_actor(), user, role), "'{username}' is now {role}."
    )


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Stop an account from logging in; its open sessions end at once."""
    _change_user(
        name, lambda user: set_user_active(cli_actor(), user, False), "'{username}' is disabled."
    )


@users.command("enable")
@click.argument("name")
def users_enable(name: str) -> None:
    """Let a disabled account log in again."""
    _change_user(
        name,
        lambda user: set_user_active(cli_actor(), user, True),
        "'{username}' can log in again.",
    )


@tokens.command("create")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True)
def tokens_create(name: str, role: str) -> None:
    """Create a bearer token; it is printed once and only its hash is kept."""
    with command_unit_of_work():
        _token, secret = create_token(cli_actor(), name, role)
    click.echo(f"Token '{name}' ({role}), shown once; send it as 'Authorization: Bearer <token>':")
    click.echo(secret)


@tokens.command("revoke")
@click.argument("name")
def tokens_revoke(name: str) -> None:
    """Revoke a token at once."""
    with command_unit_of_work():
        revoke_token(cli_actor(), name)
    click.echo(f"Token '{name}' revoked.")


@tokens.command("list")
def tokens_list() -> None:
    """List tokens (never their secrets), with when each was last used."""
    for token in list_tokens():
        state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
        used = (
            f"last used {token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never used"
        )
        click.echo(f"{token.name:<24} {token.role:<10} {state:<24} {used}")


def register(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(tokens)
