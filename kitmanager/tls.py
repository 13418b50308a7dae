"""The laptop's listeners: plain HTTP, and HTTPS with a self-signed certificate made once.

Both serve the app with waitress, whose loop reads each request whole before a worker thread
sees it: a phone (or anyone on the Wi-Fi) that opens connections and sends nothing, or sends
a request a byte at a time, holds a socket, never one of the ``--threads`` workers. On top of
waitress's defaults (:func:`http_server`): when the connections reach the limit, the one idle
the longest makes room instead of new ones waiting (waitress stops accepting: 100-200
half-sent requests left ``/healthz`` unanswered); a body over the app's limit is refused from
its Content-Length before it is read (the app's own 413 page; what the browser still sends is
read and dropped for a while, so it shows that page rather than a reset), a chunked one where
it passes the limit (waitress spooled up to 1 GB of it to the temporary folder); idle
connections close after :data:`IDLE_SECONDS`.

Phone browsers give the camera only to secure pages, so `kitmanager serve --https` serves the
app over TLS: a front (asyncio, one thread) does each handshake without blocking, within
:data:`HANDSHAKE_SECONDS`, and hands the decrypted bytes to the same waitress on a loopback
port; the app sees the phone's address, not the front's. (cheroot, used before, did the
handshake in its accept loop and gave each new connection a worker: 8 silent connections left
every request unanswered for 55 s or more.) The certificate is made for the laptop's own
addresses, kept in the data folder (key 0600) and made again only when the laptop's Wi-Fi
address is not in it (another venue, another network). Phones must accept it once; its SHA-256
fingerprint, printed by `serve`, lets a trainer check on the phone that it is this laptop's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Certificate", "HttpsServer", "ensure_certificate", "http_server"]

CERT_FILE = "https-cert.pem"
KEY_FILE = "https-key.pem"
# Long enough for a programme's year of workshops; browsers do not cap a certificate the
# person accepted by hand.
VALID_DAYS = 825

# Open connections at most (fewer if the process may not open that many files). A phone keeps
# about 6; 60 phones, 360. When full, the connection idle the longest makes room.
CONNECTION_LIMIT = 500
# A connection with no request under way and no byte received for this long is closed; a
# phone opens a new one in a few milliseconds.
IDLE_SECONDS = 30
# A TLS handshake not done by then is dropped: one takes 1-2 round trips, under 0.5 s on a
# crowded Wi-Fi.
HANDSHAKE_SECONDS = 10
# Handshakes under way at once at most; a new connection beyond them drops the oldest.
HANDSHAKING_MOST = 100
# How long a connection whose body was refused keeps reading (and dropping) it after the 413,
# so the browser reads the answer rather than a reset: a 20 MB upload takes 10-20 s on a
# crowded Wi-Fi.
LINGER_SECONDS = 30
# A phone still sending when waitress ends the connection (an upload it refused) is read, and
# what it sends dropped, until it has been quiet this long.
LINGER_QUIET_SECONDS = 1
# Request line and headers at most: a browser sends 1-8 KB; waitress allows 256 KB, which a
# few hundred half-sent requests would hold in memory.
HEADER_BYTES = 64 * 1024
# Files kept for everything but connections: the database, uploads, logs, the loop's own.
_SPARE_FILES = 256
# select() (waitress's loop where there is no poll(), e.g. on Windows) takes 512 sockets.
_SELECT_SOCKETS = 512


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


def _connection_limit(files_per_connection: int) -> int:
    """:data:`CONNECTION_LIMIT`, or what the process's file limit leaves room for, after
    raising that limit (its soft value, up to the hard one) when it is lower."""
    wanted = CONNECTION_LIMIT * files_per_connection + _SPARE_FILES
    if not hasattr(select, "poll"):
        wanted = min(wanted, _SELECT_SOCKETS)
    try:
        import resource
    except ImportError:  # Windows: a process may open far more sockets than select() takes
        return max(1, (wanted - _SPARE_FILES // 4) // files_per_connection)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass  # keep the soft limit; fewer connections below
    if soft != resource.RLIM_INFINITY:
        wanted = min(wanted, soft)
    return max(16, min(CONNECTION_LIMIT, (wanted - _SPARE_FILES) // files_per_connection))


def _listener_class() -> type:
    from waitress.channel import HTTPChannel
    from waitress.server import TcpWSGIServer
    from waitress.task import ErrorTask, WSGITask
    from waitress.utilities import RequestEntityTooLarge

    class RefusedTask(WSGITask):  # type: ignore[misc]
        """A request waitress refused. One refused for its declared size goes to the app
        without its body, so the app answers with its own 413 page in the reader's language
        (it refuses from the Content-Length before reading); then the connection ends, the
        rest of the body never stored. Any other refusal is waitress's plain one."""

        def execute(self) -> None:
            too_large = isinstance(self.request.error, RequestEntityTooLarge)
            self.channel.body_refused = too_large
            if too_large and not self.request.chunked:
                self.set_close_on_finish()
                super().execute()
            else:
                self.complete = True  # as ErrorTask, which writes without start_response
                ErrorTask.execute(self)

    class Channel(HTTPChannel):  # type: ignore[misc]
        """A connection whose body was refused lingers after the answer: it reads and drops
        what the client still sends, for up to LINGER_SECONDS, so that a browser still
        uploading reads the answer instead of a reset (and shows the app's 413 page)."""

        error_task_class = RefusedTask
        body_refused = False
        linger_until = 0.0

        def handle_close(self) -> None:
            if self.body_refused and not self.linger_until and self.connected:
                try:
                    self.socket.shutdown(socket.SHUT_WR)  # the answer is out: end it
                except OSError:
                    pass
                else:
                    self.linger_until = time.time() + LINGER_SECONDS
                    self.will_close = False
                    return
            super().handle_close()

        def received(self, data: bytes) -> bool:
            if not self.linger_until:
                return bool(super().received(data))
            if time.time() > self.linger_until:
                self.will_close = True
            return False  # the refused body: dropped

    class Listener(TcpWSGIServer):  # type: ignore[misc]
        """waitress's TCP server, but when its connections reach the limit it closes the one
        idle the longest, instead of no longer accepting until one ends on its own."""

        channel_class = Channel

        def maintenance(self, now: float) -> None:
            super().maintenance(now)
            for channel in self.active_channels.values():
                if channel.linger_until and channel.linger_until < now:
                    channel.will_close = True

        def readable(self) -> bool:
            now = time.time()
            if now >= self.next_channel_cleanup:
                self.next_channel_cleanup = now + self.adj.cleanup_interval
                self.maintenance(now)
            if not self.accepting:
                return False
            if len(self.active_channels) < self.adj.connection_limit:
                return True
            channels = list(self.active_channels.values())
            closing = sum(1 for channel in channels if channel.will_close)
            if len(channels) - closing < self.adj.connection_limit:
                return True
            # Idle: no request queued or running and nothing left to send; one a byte short
            # of a whole request counts too (it holds no worker, and may never finish).
            idle = [
                channel
                for channel in channels
                if not (
                    channel.requests
                    or channel.total_outbufs_len
                    or channel.will_close
                    or channel.close_when_flushed
                )
            ]
            if not idle:
                return False  # every connection is being served: wait, as waitress does
            idle.sort(key=lambda channel: channel.last_activity)
            for channel in idle[: max(1, self.adj.connection_limit // 32)]:
                channel.will_close = True  # closed by the loop before its next accept
            return True

    return Listener


def http_server(
    app: Callable[..., Iterable[bytes]],
    host: str,
    port: int,
    threads: int,
    *,
    max_body: int,
    url_scheme: str = "http",
    files_per_connection: int = 1,
) -> Any:
    """waitress serving ``app`` on ``host``:``port`` with the limits of the module docstring;
    a request body over ``max_body`` bytes (the app's MAX_CONTENT_LENGTH) is refused with a
    413 before it is read. Has ``run()`` and ``close()``.

    :raise OSError: the address cannot be listened on (busy port, not this laptop's).
    """
    from waitress.adjustments import Adjustments
    from waitress.server import MultiSocketServer
    from waitress.task import ThreadedTaskDispatcher

    adjustments = Adjustments(
        host=host,
        port=port,
        threads=threads,
        ident="kitmanager",
        url_scheme=url_scheme,
        connection_limit=_connection_limit(files_per_connection),
        channel_timeout=IDLE_SECONDS,
        cleanup_interval=max(1, IDLE_SECONDS // 3),
        max_request_header_size=HEADER_BYTES,
        # waitress refuses from this size on, the app above it: one more byte makes them agree.
        max_request_body_size=max_body + 1,
        asyncore_use_poll=True,  # select() fails past 1,024 open files
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(threads)
    listener, sockets = _listener_class(), {}
    servers = [
        listener(app, sockets, dispatcher=dispatcher, adj=adjustments, sockinfo=info)
        for info in adjustments.listen  # "localhost" may be two addresses
    ]
    if len(servers) == 1:
        return servers[0]
    listening = [(server.effective_host, server.effective_port) for server in servers]
    return MultiSocketServer(sockets, adjustments, listening, dispatcher, servers[0].log_info)


class _ClientAddress:
    """The app behind the TLS front: REMOTE_ADDR and REMOTE_PORT of the phone (the front's
    loopback connection, by its port, names it), SERVER_PORT of the HTTPS port."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], clients: dict[int, tuple[str, int]], port: int
    ) -> None:
        self._app = app
        self._clients = clients
        self._port = str(port)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("REMOTE_ADDR") == "127.0.0.1":
            client = self._clients.get(int(environ.get("REMOTE_PORT") or 0))
            if client is not None:
                environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
        environ["SERVER_PORT"] = self._port
        return self._app(environ, start_response)


class _Front(asyncio.Protocol):
    """One phone's connection: TLS handshake within HANDSHAKE_SECONDS, then its decrypted bytes
    to waitress and back, each side paused while the other cannot take more.

    When waitress ends its side (the request said so, the connection was idle, its place was
    needed, or a body was refused), the phone's ends too: at once if the phone is quiet; if it
    is still sending (an upload waitress refused), once it has been quiet for
    :data:`LINGER_QUIET_SECONDS`, dropping what it sends, so that it reads the answer rather
    than a reset (for :data:`LINGER_SECONDS` at most).
    """

    def __init__(self, server: HttpsServer) -> None:
        self._server = server
        self._tcp: Any = None
        self._phone: Any = None  # the TCP transport, then the TLS one over it
        self._waitress: asyncio.Transport | None = None
        self._early: list[bytes] = []  # what the phone sent before waitress was there
        self._client: tuple[str, int] = ("", 0)
        self._heard = 0.0  # when the phone last sent something (loop time)
        self._ended = 0.0  # when waitress ended its side, if it did

    def connection_made(self, transport: Any) -> None:
        self._tcp = self._phone = transport
        self._client = tuple(transport.get_extra_info("peername")[:2])
        if self._server.opened(self):
            self._server.loop.create_task(self._start())
        else:
            transport.abort()  # beyond what waitress can take: a phone retries

    async def _start(self) -> None:
        server = self._server
        try:
            self._phone = await server.loop.start_tls(
                self._phone,
                self,
                server.context,
                server_side=True,
                ssl_handshake_timeout=HANDSHAKE_SECONDS,
            )
        except (OSError, ssl.SSLError, ConnectionError, asyncio.TimeoutError, RuntimeError):
            self.close()
            server.gone(self)  # asyncio tells a protocol nothing of a failed handshake
            return
        finally:
            server.handshake_done(self)
        if self._phone is None:
            # Aborted during the handshake (closed to make room for a newer one): asyncio
            # then ends start_tls without an error and without a transport.
            server.gone(self)
            return
        self._phone.pause_reading()  # until waitress is there to take the bytes
        try:
            waitress, _back = await server.loop.create_connection(
                lambda: _Back(self), "127.0.0.1", server.inner_port
            )
        except OSError:
            self.close()
            return
        if self._phone is None or self._phone.is_closing():
            waitress.close()
            return
        server.clients[waitress.get_extra_info("sockname")[1]] = self._client
        self._waitress = waitress
        waitress.write(b"".join(self._early))
        self._early.clear()
        self._phone.resume_reading()

    def data_received(self, data: bytes) -> None:
        self._heard = self._server.loop.time()
        if self._ended:
            return  # waitress has answered: the rest of a refused upload, dropped
        if self._waitress is not None:
            self._waitress.write(data)
        else:  # decrypted with the end of the handshake, before reading was paused
            self._early.append(data)

    def pause_writing(self) -> None:  # the phone reads slowly: stop reading the response
        if self._waitress is not None:
            self._waitress.pause_reading()

    def resume_writing(self) -> None:
        if self._waitress is not None:
            self._waitress.resume_reading()

    def eof_received(self) -> bool:
        return False  # the phone is done: close both sides

    def connection_lost(self, exc: Exception | None) -> None:
        self._phone = None
        self._server.gone(self)
        if self._waitress is not None:
            self._waitress.close()

    def to_phone(self, data: bytes) -> None:
        if self._phone is not None:
            self._phone.write(data)

    def pause_phone(self, paused: bool) -> None:
        if self._phone is not None and not self._phone.is_closing():
            (self._phone.pause_reading if paused else self._phone.resume_reading)()

    def waitress_ended(self) -> None:
        """waitress closed its side, or all of the connection."""
        if self._ended:
            return
        self._ended = self._server.loop.time()
        if self._waitress is not None:
            self._server.clients.pop(self._waitress.get_extra_info("sockname")[1], None)
        self._server.closed(self)  # its place at waitress is free
        self._end_when_quiet()

    def _end_when_quiet(self) -> None:
        if self._phone is None:
            return
        now = self._server.loop.time()
        if now - self._heard < LINGER_QUIET_SECONDS and now - self._ended < LINGER_SECONDS:
            self._server.loop.call_later(LINGER_QUIET_SECONDS, self._end_when_quiet)
            return
        if self._waitress is not None:
            self._waitress.close()
        if self._phone.get_write_buffer_size() or self._tcp.get_write_buffer_size():
            self._phone.close()  # sends the rest, then the TLS goodbye
            self._server.loop.call_later(IDLE_SECONDS, self.close)
        else:
            # Nothing left to send: closing at once frees the socket, where the TLS goodbye
            # would wait up to 30 s for a phone that may never answer.
            self._phone.abort()

    def close(self) -> None:
        for transport in (self._phone, self._waitress):
            if transport is not None:
                transport.abort()


class _Back(asyncio.Protocol):
    """The front's loopback connection to waitress, for one phone."""

    def __init__(self, front: _Front) -> None:
        self._front = front

    def data_received(self, data: bytes) -> None:
        self._front.to_phone(data)

    def pause_writing(self) -> None:  # waitress reads slowly: stop reading the phone
        self._front.pause_phone(True)

    def resume_writing(self) -> None:
        self._front.pause_phone(False)

    def eof_received(self) -> bool:
        self._front.waitress_ended()
        return True  # the front closes this side when it ends the phone's

    def connection_lost(self, exc: Exception | None) -> None:
        self._front.waitress_ended()


class HttpsServer:
    """The app over TLS: the front of the module docstring, on ``host``:``port``, before
    :func:`http_server` on a loopback port; waitress's ``run()``/``close()`` shape.

    ``run()`` runs waitress in the calling thread; the front runs in a daemon thread, so Ctrl-C
    and SIGTERM reach the main thread and a connection stuck in a handshake cannot keep the
    process alive.
    """

    STOP_SECONDS = 10

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        host: str,
        port: int,
        threads: int,
        cert: Certificate,
        *,
        max_body: int,
    ) -> None:
        """:raise OSError: the address cannot be listened on (busy port, not this laptop's)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family, backlog=1024)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(cert.cert_path, cert.key_path)
        # Loopback port of the front's connection to waitress -> the phone's address.
        self.clients: dict[int, tuple[str, int]] = {}
        # The front holds two files per phone, waitress one.
        self._http = http_server(
            _ClientAddress(app, self.clients, port),
            "127.0.0.1",
            0,
            threads,
            max_body=max_body,
            url_scheme="https",
            files_per_connection=3,
        )
        self.inner_port = int(self._http.effective_port)
        self._most = self._http.adj.connection_limit + HANDSHAKING_MOST
        self._alive: set[_Front] = set()
        self._fronts: dict[_Front, None] = {}  # those with a place at waitress, or a handshake
        self._handshaking: dict[_Front, None] = {}  # oldest first
        self.loop = asyncio.new_event_loop()
        self._listening: asyncio.AbstractServer | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="https", daemon=True)
        self._thread.start()
        self._ready.wait()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def listen() -> None:
            self._listening = await self.loop.create_server(
                lambda: _Front(self), sock=self._socket, backlog=1024
            )

        self.loop.run_until_complete(listen())
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(asyncio.sleep(0.1))  # the connections closing at the stop
        self.loop.close()

    def opened(self, front: _Front) -> bool:
        """Count ``front`` in; False when there are already as many as waitress can take."""
        if len(self._fronts) >= self._most:
            return False
        self._alive.add(front)
        self._fronts[front] = None
        self._handshaking[front] = None
        if len(self._handshaking) > HANDSHAKING_MOST:
            oldest = next(iter(self._handshaking))
            self._handshaking.pop(oldest)
            oldest.close()
        return True

    def handshake_done(self, front: _Front) -> None:
        self._handshaking.pop(front, None)

    def closed(self, front: _Front) -> None:
        """``front`` no longer holds a place at waitress (its TLS goodbye may last)."""
        self._fronts.pop(front, None)
        self._handshaking.pop(front, None)

    def gone(self, front: _Front) -> None:
        self.closed(front)
        self._alive.discard(front)

    def run(self) -> None:
        self._http.run()

    def close(self) -> None:
        def stop() -> None:
            if self._listening is not None:
                self._listening.close()
            for front in list(self._alive):
                front.close()
            self.loop.call_soon(self.loop.stop)

        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(stop)
            self._thread.join(self.STOP_SECONDS)
        self._http.close()
