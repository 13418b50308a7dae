"""The `kitmanager` command: serve, demo, backup, restore, and each feature's commands."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from flask import Flask, current_app
from flask.cli import FlaskGroup, NoAppException, ScriptInfo, with_appcontext

from kitmanager.extensions import db
from kitmanager.serving import announce, checked_base_url, listen, prepare, run
from kitmanager.unit_of_work import unit_of_work

__all__ = ["main", "register_commands"]


def _open_database(app: Flask) -> None:
    """Bring the database up to date, or explain in one line why it cannot be used.

    :raise NoAppException: when the database is damaged or was made by a newer kitmanager.
    """
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.exc import DatabaseError

    from kitmanager.backup import newer_schema_message
    from kitmanager.database import upgrade_database

    with app.app_context():
        url = db.engine.url
        where = url.database if url.get_backend_name() == "sqlite" else url.render_as_string()
        try:
            with db.engine.connect() as connection:
                revisions = set(MigrationContext.configure(connection).get_current_heads())
        except DatabaseError as exc:
            raise NoAppException(
                f"Cannot open the database {where} ({exc.orig}). If it is damaged, move it out "
                "of the data folder, then `kitmanager restore BACKUP` or start afresh."
            ) from None
        finally:
            db.engine.dispose()
    newer = newer_schema_message(f"The database {where}", revisions)
    if newer:
        raise NoAppException(newer)
    upgrade_database(app)


def _app_with_nothing_on_disk() -> Flask:
    """The app with its commands, its data dir not made yet: enough for help pages."""
    from kitmanager import create_app
    from kitmanager.config import ConfigError

    try:
        return create_app(make_data_dir=False)
    except ConfigError as exc:
        raise NoAppException(str(exc)) from None


def _ready_to_run(app: Flask) -> Flask:
    """``app`` with its data dir, secret key and an up-to-date database, for a command to run.

    :raise NoAppException: when the data dir or the database cannot be used.
    """
    from kitmanager.config import ConfigError, prepare_data_dir

    try:
        prepare_data_dir(app.config)
    except ConfigError as exc:
        raise NoAppException(str(exc)) from None
    _open_database(app)
    return app


def _set_data_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        # Absolute, so the database (which Flask-SQLAlchemy would put relative to the app's
        # instance folder) lands in the same folder as the secret key.
        os.environ["KITMANAGER_DATA_DIR"] = str(Path(value).expanduser().absolute())


class _KitmanagerGroup(FlaskGroup):
    """FlaskGroup that stops with the app's error instead of adding "No such command"."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if click.Group.get_command(self, ctx, name) is None:
            try:
                ctx.ensure_object(ScriptInfo).load_app()
            except NoAppException as exc:
                raise click.ClickException(exc.format_message()) from None
        return super().get_command(ctx, name)


def _runs_a_command(group: click.Group, args: list[str], commands: ScriptInfo) -> bool:
    """Whether ``args`` may run a command, rather than end in help, the version or a wrong
    command name, none of which needs the data dir.

    Click reads ``args`` command by command as it does for shell completion (resilient: no
    callback runs, nothing fails). The run ends early when a command on the way is given its
    help option (the group also --version), or a group is given nothing at all, or a name that
    is none of its commands. Commands are looked up in ``commands``, whose app has nothing on
    disk. When unsure, True: the real run then says what is wrong.
    """
    command: click.Command | None = group
    name, rest, parent = "kitmanager", list(args), None
    with contextlib.ExitStack() as stack:
        try:
            while command is not None:
                if not rest and isinstance(command, click.Group) and command.no_args_is_help:
                    return False
                ctx = stack.enter_context(
                    command.make_context(
                        name, rest, parent=parent, resilient_parsing=True, obj=commands
                    )
                )
                ending = [command.get_help_option(ctx)]
                if parent is None:
                    ending += [p for p in command.params if p.name == "version"]
                if any(
                    option is not None
                    and option.name is not None
                    and ctx.get_parameter_source(option.name) not in (None, ParameterSource.DEFAULT)
                    for option in ending
                ):
                    return False
                if not isinstance(command, click.Group):
                    return True
                # What follows the group's own options; click keeps the subcommand's name apart
                # (where its shell completion reads it too).
                rest = [*ctx._protected_args, *ctx.args]
                if not rest:
                    return command.invoke_without_command
                name, command, rest = command.resolve_command(ctx, rest)
                parent = ctx
        except Exception:  # e.g. the app cannot be made: the real run says why
            return True
    return False  # no such command


@click.command("serve")
@click.option(
    "--host",
    default="0.0.0.0",  # noqa: S104 - phones on the Wi-Fi must reach the laptop
    show_default=True,
    help="Address to listen on (0.0.0.0: every network).",
)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--base-url",
    envvar="KITMANAGER_BASE_URL",
    help="Address badge QR codes open; stored, so the app and the CLI use it (default: the "
    "stored one, else the Wi-Fi URL below), e.g. http://10.42.0.1:5000 on the laptop's own "
    "hotspot or https://kits.example.org behind a proxy.",
)
@click.option(
    "--https",
    "use_https",
    is_flag=True,
    help="Serve over HTTPS with a certificate made once for this laptop (phone cameras need "
    "a secure page); phones accept it once.",
)
@with_appcontext
def serve_command(
    host: str, port: int, threads: int, base_url: str | None, use_https: bool
) -> None:
    """Run the app with waitress (or, with --https, over TLS); phones on the same Wi-Fi join
    through the LAN URL."""
    app = current_app._get_current_object()
    base_url = checked_base_url(base_url)
    listening = listen(app, host, port, threads, use_https)
    with unit_of_work():
        prepared = prepare(listening, base_url)
    announce(app, listening, prepared)
    run(listening)


def register_commands(app: Flask) -> None:
    from kitmanager.backup import backup_command, restore_command
    from kitmanager.demo import demo_command
    from kitmanager.scans import cli as scans_cli

    for command in (serve_command, demo_command, backup_command, restore_command):
        app.cli.add_command(command)
    scans_cli.register(app)  # the scan core has commands but no pages


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the `kitmanager` console script.

    Help pages and --version touch nothing on disk: commands are listed from an app whose data
    dir is not made; only when a command runs are the data dir, secret key and database made.
    """
    data_dir = click.Option(
        ["--data-dir"],
        help="Folder for the database, secret key and files (default: your user data folder).",
        envvar="KITMANAGER_DATA_DIR",
        is_eager=True,
        expose_value=False,
        callback=_set_data_dir,
        type=click.Path(file_okay=False, path_type=str),
    )
    group = _KitmanagerGroup(
        name="kitmanager",
        help="Run hands-on robotics and AI workshops from one laptop.",
        add_default_commands=False,
        add_version_option=False,
        load_dotenv=False,
        set_debug_flag=False,
        params=[data_dir],
    )
    # FlaskGroup's --app/--env-file/--debug make no sense for an installed app.
    group.params = [p for p in group.params if p.name not in ("app", "env_file", "debug")]
    # The version is read from the installed package's metadata, only when asked for.
    group = click.version_option(package_name="kitmanager", prog_name="kitmanager")(group)

    commands = ScriptInfo(
        create_app=_app_with_nothing_on_disk, set_debug_flag=False, load_dotenv_defaults=False
    )
    info = commands
    if _runs_a_command(group, sys.argv[1:] if argv is None else list(argv), commands):
        info = ScriptInfo(
            create_app=lambda: _ready_to_run(commands.load_app()),
            set_debug_flag=False,
            load_dotenv_defaults=False,
        )
    return group.main(args=argv, prog_name="kitmanager", obj=info)


if __name__ == "__main__":  # pragma: no cover
    main()
