"""The `kitmanager` command: serve, demo, backup, restore, and each feature's commands."""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from flask import Flask, current_app
from flask.cli import FlaskGroup, NoAppException, ScriptInfo, with_appcontext

from kitmanager.extensions import db

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


def _listen_error(exc: OSError, host: str, port: int) -> str:
    """What to do when the server cannot listen on ``host``:``port``."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"Port {port} is already in use on {host}. Is kitmanager already running? "
            "Stop it, or try another port with --port."
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (
            f"Not allowed to listen on port {port} (ports below 1024 need administrator "
            "rights). Choose another with --port, e.g. --port 5000."
        )
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return (
            f"{host} is not an address of this laptop. Use --host 0.0.0.0 (phones on the "
            "Wi-Fi can join) or --host 127.0.0.1 (this laptop only)."
        )
    return f"Cannot listen on {host}:{port} ({exc.strerror or exc}). Try another --port or --host."


def _print_terminal_qr(url: str) -> None:
    import qrcode

    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    try:
        code.print_ascii(out=sys.stdout, invert=True)
    except UnicodeEncodeError:  # a console that cannot show block characters
        code.print_tty() if sys.stdout.isatty() else None


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
    from kitmanager.audit import cli_actor
    from kitmanager.auth.services import ensure_first_organiser
    from kitmanager.network import check_address, lan_ip, lan_url
    from kitmanager.scans.cli import pruned_message
    from kitmanager.scans.housekeeping import keep_scan_answers_for, prune_scan_requests
    from kitmanager.settings.services import (
        SettingError,
        check_base_url,
        set_badge_base_url,
        stored_base_url,
    )

    app = current_app._get_current_object()
    app.config["SERVER_PORT"] = port
    everywhere = host in ("0.0.0.0", "::", "")  # noqa: S104
    url_host = f"[{host}]" if ":" in host else host  # an IPv6 address needs brackets in a URL
    scheme = "https" if use_https else "http"
    lan = lan_url(port, scheme=scheme) if everywhere else lan_url(port, url_host, scheme=scheme)
    # Bound to one address, the server answers only there, not on 127.0.0.1.
    local = f"{scheme}://127.0.0.1:{port}" if everywhere else f"{scheme}://{url_host}:{port}"
    if base_url:
        try:
            base_url = check_base_url(base_url)
        except SettingError:
            raise click.BadParameter(
                f"'{base_url}' is not a web address: start it with http:// or https://, "
                "e.g. http://10.42.0.1:5000.",
                param_hint="--base-url",
            ) from None
    # One full garbage collection now, over what start-up made: otherwise the collector's first
    # full passes come during the first scans and stall one for 50-80 ms. After this one, a full
    # pass waits until the objects alive grow by a quarter.
    gc.collect()
    certificate = None
    # Bodies over the app's limit are refused by the server before they are read.
    max_body = app.config["MAX_CONTENT_LENGTH"]
    try:
        if use_https:
            from kitmanager.tls import HttpsServer, ensure_certificate

            names = [lan_ip()] if everywhere else [host]
            certificate = ensure_certificate(Path(app.config["DATA_DIR"]), names)
            server: Any = HttpsServer(app, host, port, threads, certificate, max_body=max_body)
        else:
            from kitmanager.tls import http_server

            server = http_server(app, host, port, threads, max_body=max_body)
    except OSError as exc:
        raise click.ClickException(_listen_error(exc, host, port)) from None
    # Only once the port is ours: a start that fails must not use up the one-time password.
    created = ensure_first_organiser()
    # The badge address lives in the database, so `kitmanager badges` and the web agree:
    # --base-url replaces it; otherwise a stored address stays (badges already printed carry
    # it), unless there is none or only a loopback one, which no phone reaches: then the URL
    # printed below is stored (the Wi-Fi one when there is a network).
    stored = stored_base_url()
    badges_url = base_url or stored
    if badges_url is None or (not base_url and check_address(badges_url).problem == "loopback"):
        badges_url = lan
    if badges_url != stored:
        set_badge_base_url(cli_actor(), badges_url)
    pruned = prune_scan_requests()
    db.session.commit()
    if pruned:
        click.echo(pruned_message(pruned, keep_scan_answers_for()))

    click.echo(f"kitmanager is running. Data folder: {app.config['DATA_DIR']}")
    click.echo(f"  On this laptop:  {local}/")
    if host.startswith("127.") or host in ("localhost", "::1"):
        click.echo(f"  Listening on this laptop only (--host {host}): phones cannot join.")
    elif lan_ip() != "127.0.0.1":
        click.echo(f"  On the Wi-Fi:    {lan}/   (phones: scan this)")
        _print_terminal_qr(lan + "/")
    else:
        click.echo("  No network found: phones cannot join until this laptop is on a Wi-Fi.")
    click.echo(f"  Badges point to: {badges_url}")
    problem = check_address(badges_url).problem
    if problem == "loopback":
        click.echo("  (only this laptop reaches that address: phones cannot open the badges)")
    elif problem:
        click.echo(
            "  (not an address of this laptop now: change it on the Settings page or "
            "with --base-url, unless a proxy answers for it)"
        )
    if certificate is not None:
        click.echo(
            f"  HTTPS certificate for {', '.join(certificate.names)}"
            + ("" if certificate.created else " (made earlier)")
        )
        click.echo(f"  Its fingerprint (SHA-256): {certificate.fingerprint}")
        if certificate.created:
            click.echo(
                "  New certificate: each phone must accept it once. Open the Wi-Fi URL, tap "
                "'Advanced' > 'Proceed', and check that the fingerprint shown by the browser "
                "(padlock > certificate) is the one above."
            )
    if created is not None:
        user, password = created
        click.echo("")
        click.echo(f"  First start: log in as '{user.username}' with password: {password}")
        click.echo(
            "  (shown only this once; `kitmanager users reset-password organiser` makes a new one)"
        )
    click.echo("Press Ctrl-C to stop.")
    sys.stdout.flush()

    def _stop(signum: int, frame: Any) -> None:
        # A service manager's SIGTERM stops the server the same clean way as Ctrl-C.
        raise KeyboardInterrupt

    in_main_thread = threading.current_thread() is threading.main_thread()
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in stop_signals}
    if in_main_thread:
        signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if in_main_thread:
            # A second Ctrl-C while shutting down must not cut the clean stop short.
            for sig in stop_signals:
                signal.signal(sig, signal.SIG_IGN)
        server.close()
        db.engine.dispose()
        if in_main_thread:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    click.echo("kitmanager stopped.")


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
