"""The laptop's address on the local network, and the base URL badges and labels point to."""

from __future__ import annotations

import socket

from flask import current_app, has_request_context, request

__all__ = ["DEFAULT_PORT", "base_url", "lan_ip", "lan_url"]

DEFAULT_PORT = 5000


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


def lan_url(port: int = DEFAULT_PORT, host: str | None = None) -> str:
    return f"http://{host or lan_ip()}:{port}"


def base_url() -> str:
    """Where phones reach this app: ``BASE_URL`` if set, else the serving LAN URL."""
    configured = current_app.config.get("BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return lan_url(current_app.config.get("SERVER_PORT", DEFAULT_PORT))
