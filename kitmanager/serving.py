"""`kitmanager serve` in its steps: listen on the port, prepare the database, announce where
phones join, run until Ctrl-C. The click command in :mod:`kitmanager.cli` calls them in turn
and commits once, between preparing and announcing."""

from __future__ import annotations

import errno
import gc
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import qrcode
from flask import Flask

from kitmanager.audit import cli_actor
from kitmanager.auth.services import ensure_first_organiser
from kitmanager.extensions import db
from kitmanager.models import User
from kitmanager.network import check_address, lan_ip, lan_url
from kitmanager.scans.cli import pruned_message
from kitmanager.scans.housekeeping import keep_scan_answers_for, prune_scan_requests
from kitmanager.settings.services import (
    SettingError,
    check_base_url,
    set_badge_base_url,
    stored_base_url,
)
from kitmanager.tls import Certificate, HttpsServer, ensure_certificate, http_server

__all__ = ["Listening", "Prepared", "announce", "checked_base_url", "listen", "prepare", "run"]

EVERY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 - hosts that mean every network


@dataclass(frozen=True)
class Listening:
    """A server bound to its port, not answering yet, and the addresses it answers on."""

    server: Any  # waitress or HttpsServer: run() until stopped, then close()
    host: str
    local: str  # URL on this laptop
    lan: str  # URL phones on the Wi-Fi open (the bound address when bound to one)
    certificate: Certificate | None  # with --https


@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare` did that the console should tell."""

    badges_url: str
    first_organiser: tuple[User, str] | None  # the account made on the first start, password
    pruned: int  # stored scan answers removed


def checked_base_url(base_url: str | None) -> str | None:
    """``--base-url`` as stored, or None when not given.

    :raise click.BadParameter: not a web address.
    """
    if not base_url:
        return None
    try:
        return check_base_url(base_url)
    except SettingError:
        raise click.BadParameter(
            f"'{base_url}' is not a web address: start it with http:// or https://, "
            "e.g. http://10.42.0.1:5000.",
            param_hint="--base-url",
        ) from None


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


def listen(app: Flask, host: str, port: int, threads: int, use_https: bool) -> Listening:
    """Take ``host``:``port`` for ``app``, over TLS with this laptop's certificate when
    ``use_https``; nothing is answered until :func:`run`.

    :raise click.ClickException: the port cannot be listened on; the message says what to do.
    """
    app.config["SERVER_PORT"] = port
    everywhere = host in EVERY_ADDRESS
    url_host = f"[{host}]" if ":" in host else host  # an IPv6 address needs brackets in a URL
    scheme = "https" if use_https else "http"
    lan = lan_url(port, scheme=scheme) if everywhere else lan_url(port, url_host, scheme=scheme)
    # Bound to one address, the server answers only there, not on 127.0.0.1.
    local = f"{scheme}://127.0.0.1:{port}" if everywhere else f"{scheme}://{url_host}:{port}"
    # One full garbage collection now, over what start-up made: otherwise the collector's first
    # full passes come during the first scans and stall one for 50-80 ms. After this one, a full
    # pass waits until the objects alive grow by a quarter.
    gc.collect()
    certificate = None
    # Bodies over the app's limit are refused by the server before they are read.
    max_body = app.config["MAX_CONTENT_LENGTH"]
    try:
        if use_https:
            names = [lan_ip()] if everywhere else [host]
            certificate = ensure_certificate(Path(app.config["DATA_DIR"]), names)
            server: Any = HttpsServer(app, host, port, threads, certificate, max_body=max_body)
        else:
            server = http_server(app, host, port, threads, max_body=max_body)
    except OSError as exc:
        raise click.ClickException(_listen_error(exc, host, port)) from None
    return Listening(server, host, local, lan, certificate)


def prepare(listening: Listening, base_url: str | None) -> Prepared:
    """Once the port is ours (a start that fails must not use up the one-time password): the
    first organiser, the badge address, old scan answers pruned. Flushes; the caller commits.

    The badge address lives in the database, so `kitmanager badges` and the web agree:
    ``base_url`` replaces it; otherwise a stored address stays (badges already printed carry
    it), unless there is none or only a loopback one, which no phone reaches: then the Wi-Fi
    URL (or the local one when there is no network) is stored.
    """
    created = ensure_first_organiser()
    stored = stored_base_url()
    badges_url = base_url or stored
    if badges_url is None or (not base_url and check_address(badges_url).problem == "loopback"):
        badges_url = listening.lan
    if badges_url != stored:
        set_badge_base_url(cli_actor(), badges_url)
    return Prepared(badges_url, created, prune_scan_requests())


def _print_terminal_qr(url: str) -> None:
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    try:
        code.print_ascii(out=sys.stdout, invert=True)
    except UnicodeEncodeError:  # a console that cannot show block characters
        code.print_tty() if sys.stdout.isatty() else None


def _announce_addresses(listening: Listening, badges_url: str) -> None:
    host = listening.host
    click.echo(f"  On this laptop:  {listening.local}/")
    if host.startswith("127.") or host in ("localhost", "::1"):
        click.echo(f"  Listening on this laptop only (--host {host}): phones cannot join.")
    elif lan_ip() != "127.0.0.1":
        click.echo(f"  On the Wi-Fi:    {listening.lan}/   (phones: scan this)")
        _print_terminal_qr(listening.lan + "/")
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


def _announce_certificate(certificate: Certificate) -> None:
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


def _announce_first_organiser(user: User, password: str) -> None:
    click.echo("")
    click.echo(f"  First start: log in as '{user.username}' with password: {password}")
    click.echo(
        "  (shown only this once; `kitmanager users reset-password organiser` makes a new one)"
    )


def announce(app: Flask, listening: Listening, prepared: Prepared) -> None:
    """Tell the console where the app answers, where badges point, the HTTPS certificate to
    check on phones and, on the first start, the organiser's one-time password."""
    if prepared.pruned:
        click.echo(pruned_message(prepared.pruned, keep_scan_answers_for()))
    click.echo(f"kitmanager is running. Data folder: {app.config['DATA_DIR']}")
    _announce_addresses(listening, prepared.badges_url)
    if listening.certificate is not None:
        _announce_certificate(listening.certificate)
    if prepared.first_organiser is not None:
        _announce_first_organiser(*prepared.first_organiser)
    click.echo("Press Ctrl-C to stop.")
    sys.stdout.flush()


def run(listening: Listening) -> None:
    """Answer requests until Ctrl-C or SIGTERM, then close the server and the database's
    connections and say that kitmanager stopped."""

    def _stop(signum: int, frame: Any) -> None:
        # A service manager's SIGTERM stops the server the same clean way as Ctrl-C.
        raise KeyboardInterrupt

    in_main_thread = threading.current_thread() is threading.main_thread()
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in stop_signals}
    if in_main_thread:
        signal.signal(signal.SIGTERM, _stop)
    try:
        listening.server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if in_main_thread:
            # A second Ctrl-C while shutting down must not cut the clean stop short.
            for sig in stop_signals:
                signal.signal(sig, signal.SIG_IGN)
        listening.server.close()
        db.engine.dispose()
        if in_main_thread:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    click.echo("kitmanager stopped.")
