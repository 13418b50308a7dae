"""HTTPS for the laptop: a self-signed certificate made once and reused, and a TLS server.

Phone browsers give the camera only to secure pages, so `kitmanager serve --https` serves the
app over TLS with a certificate this module makes for the laptop's own addresses. It is kept in
the data folder (key 0600) and made again only when the laptop's Wi-Fi address is not in it
(another venue, another network). Phones must accept it once; its SHA-256 fingerprint, printed
by `serve`, lets a trainer check on the phone that it is this laptop's.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Certificate", "HttpsServer", "ensure_certificate"]

CERT_FILE = "https-cert.pem"
KEY_FILE = "https-key.pem"
# Long enough for a programme's year of workshops; browsers do not cap a certificate the
# person accepted by hand.
VALID_DAYS = 825


@dataclass(frozen=True)
class Certificate:
    cert_path: Path
    key_path: Path
    fingerprint: str  # SHA-256, "AB:CD:..."
    names: tuple[str, ...]  # the addresses and host names it is valid for
    created: bool  # made just now (phones must accept it again)


def _fingerprint(cert: x509.Certificate) -> str:
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def _san_names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return names | set(san.get_values_for_type(x509.DNSName))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def ensure_certificate(folder: Path, addresses: list[str]) -> Certificate:
    """The certificate in ``folder`` if it covers ``addresses``, else a new one that does.

    ``addresses`` are the IPs and host names phones use for this laptop; localhost, 127.0.0.1
    and the laptop's host name are always added.
    """
    wanted = {"localhost", "127.0.0.1", socket.gethostname(), *addresses}
    wanted = {name for name in wanted if name}
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    if cert_path.exists() and key_path.exists():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            still_valid = cert.not_valid_after_utc > dt.datetime.now(dt.timezone.utc)
            if still_valid and wanted <= _san_names(cert):
                return Certificate(
                    cert_path,
                    key_path,
                    _fingerprint(cert),
                    tuple(sorted(_san_names(cert))),
                    False,
                )
        except ValueError:
            pass  # damaged: make a new one below
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "kitmanager on this laptop"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kitmanager"),
        ]
    )
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in sorted(wanted)]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for path, data, mode in (
        (key_path, key_bytes, 0o600),
        (cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644),
    ):
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        temporary.replace(path)
    return Certificate(cert_path, key_path, _fingerprint(cert), tuple(sorted(wanted)), True)


class HttpsServer:
    """The app over TLS (cheroot: waitress has no TLS), with waitress's run()/close() shape.

    cheroot serves in daemon threads, so Ctrl-C and SIGTERM always reach the main thread (which
    only waits), and a connection stuck in a TLS handshake cannot keep the process alive.
    """

    STOP_SECONDS = 10

    def __init__(self, app: Any, host: str, port: int, threads: int, cert: Certificate) -> None:
        from cheroot.ssl.builtin import BuiltinSSLAdapter
        from cheroot.wsgi import Server

        # cheroot's own bind error has no errno; try the address first so a busy port or a
        # foreign address gets the same message as without --https. :raise OSError:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
        self._server = Server((host, port), app, numthreads=threads, server_name="kitmanager")
        self._server.ssl_adapter = BuiltinSSLAdapter(str(cert.cert_path), str(cert.key_path))
        self._server.shutdown_timeout = 2
        self._ready = threading.Event()
        self._error: BaseException | None = None
        # Threads inherit "daemon" from the thread that starts them: prepare() (which starts
        # the workers) and serve() both run in this daemon thread.
        self._thread = threading.Thread(target=self._serve, name="https", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _serve(self) -> None:
        try:
            self._server.prepare()
        except BaseException as exc:  # handed to the main thread, which reports it
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._server.serve()

    def run(self) -> None:
        while self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        stopper = threading.Thread(target=self._server.stop, name="https-stop", daemon=True)
        stopper.start()
        stopper.join(self.STOP_SECONDS)
