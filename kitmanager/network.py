"""The laptop's addresses on the network, and the address badge QR codes carry.

The badge address is stored once (the ``badge_base_url`` app setting) so the web app and the
command line print the same codes. Precedence, highest first:

1. ``--base-url URL`` of ``kitmanager badges`` / ``participants export``: that file only.
2. The stored setting. ``kitmanager serve --base-url URL`` (or ``KITMANAGER_BASE_URL``)
   stores URL at start; an organiser changes it on the Settings page; when nothing is stored,
   or only a loopback address (which no phone reaches), ``serve`` stores the URL it prints:
   the Wi-Fi one when the laptop has a network.
3. ``BASE_URL`` of the app configuration (``KITMANAGER_BASE_URL`` when the app was built).
4. In a web request, the address the browser used. The command line never guesses a port.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import sys
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request

__all__ = [
    "DEFAULT_PORT",
    "AddressCheck",
    "NoBadgeAddress",
    "base_url",
    "check_address",
    "is_local_address",
    "lan_ip",
    "lan_url",
    "local_addresses",
]

DEFAULT_PORT = 5000
_RESOLVE_SECONDS = 1.0  # a name that does not resolve offline must not hang the print page


class NoBadgeAddress(LookupError):
    """No badge address is stored or configured, and no request says where the app is."""


def lan_ip() -> str:
    """This laptop's address on the Wi-Fi/LAN, or 127.0.0.1 when it has none.

    A UDP "connect" sends nothing; it only asks the OS which interface would route out.
    """
    for probe in ("10.255.255.255", "192.168.255.255"):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.connect((probe, 1))
            address = sock.getsockname()[0]
        except OSError:
            continue
        finally:
            sock.close()
        if address and not address.startswith("127."):
            return address
    return "127.0.0.1"


def lan_url(port: int = DEFAULT_PORT, host: str | None = None, scheme: str = "http") -> str:
    return f"{scheme}://{host or lan_ip()}:{port}"


def _interface_ipv4(name: str) -> str | None:
    """The IPv4 address of one interface (Linux ioctl SIOCGIFADDR), or None."""
    import fcntl

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        packed = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))
    except OSError:
        return None
    finally:
        sock.close()
    return socket.inet_ntoa(packed[20:24])


def local_addresses() -> list[str]:
    """This laptop's IPv4 addresses now, loopback left out (Wi-Fi, cable, its own hotspot)."""
    found: set[str] = set()
    if sys.platform.startswith("linux"):
        for _, name in socket.if_nameindex():
            address = _interface_ipv4(name)
            if address:
                found.add(address)
    else:  # elsewhere the name of the machine and the route out are what is portable
        with contextlib.suppress(OSError):
            found.update(socket.gethostbyname_ex(socket.gethostname())[2])
    found.add(lan_ip())
    return sorted(
        (a for a in found if not ipaddress.ip_address(a).is_loopback),
        key=lambda a: ipaddress.ip_address(a),
    )


def is_local_address(address: str) -> bool:
    """True when ``address`` (an IP) belongs to this laptop now: the OS lets us bind to it."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    except ValueError:
        return False
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


def _resolve(host: str) -> list[str]:
    """The addresses a name resolves to, or [] when that takes too long or fails."""
    found: list[str] = []

    def lookup() -> None:
        with contextlib.suppress(OSError, UnicodeError):
            found.extend({info[4][0] for info in socket.getaddrinfo(host, None)})

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(_RESOLVE_SECONDS)
    return list(found)


@dataclass(frozen=True)
class AddressCheck:
    """What a badge address means for phones: ``problem`` is None, "loopback" or "elsewhere"."""

    url: str
    host: str
    problem: str | None


def check_address(url: str) -> AddressCheck:
    """Whether phones scanning a badge with ``url`` reach this laptop now.

    "loopback": only this laptop itself answers there (127.0.0.1, localhost);
    "elsewhere": no address of this laptop right now (another network, an old Wi-Fi, or a
    name a proxy answers for).
    """
    host = (urlsplit(url).hostname or "").strip("[]")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            return AddressCheck(url, host, "loopback")
        addresses = _resolve(host) if host else []
    if addresses and all(ipaddress.ip_address(a).is_loopback for a in addresses):
        return AddressCheck(url, host, "loopback")
    if any(is_local_address(a) for a in addresses):
        return AddressCheck(url, host, None)
    return AddressCheck(url, host, "elsewhere")


def base_url() -> str:
    """The address badge QR codes carry (the module docstring gives the precedence).

    :raise NoBadgeAddress: outside a request, when nothing is stored or configured.
    """
    from kitmanager.settings.services import stored_base_url

    stored = stored_base_url()
    if stored:
        return stored
    configured = current_app.config.get("BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    raise NoBadgeAddress(
        "No badge address is stored yet: start `kitmanager serve` once (it stores the Wi-Fi "
        "address it prints), set it on the Settings page of the app, or pass --base-url URL."
    )
