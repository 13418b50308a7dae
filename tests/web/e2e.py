"""Helpers for end-to-end tests: the installed `kitmanager` command as a real process, over HTTP.

Everything here talks to the app the way a user does: the console script in a subprocess, a
real TCP port on 127.0.0.1, cookies and CSRF tokens read from the pages.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "READY_LINE",
    "STOPPED_LINE",
    "Browser",
    "ParticipantWriter",
    "Reply",
    "Server",
    "free_port",
    "kitmanager_exe",
    "run_kitmanager",
]

READY_LINE = "Press Ctrl-C to stop."
STOPPED_LINE = "kitmanager stopped."
CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
WRITE_SECONDS = 20  # upper bound on how long a ParticipantWriter keeps adding participants


def kitmanager_exe() -> Path:
    """The `kitmanager` console script installed in the same environment as this Python."""
    exe = Path(sys.executable).with_name("kitmanager")
    assert exe.is_file(), f"{exe} is missing: install the project (pip install -e .)"
    return exe


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, seconds: float = 30) -> None:
    """Wait until something listens on 127.0.0.1:``port``; OSError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # The data dir always comes from --data-dir in these tests, never from the caller's shell.
    env.pop("KITMANAGER_DATA_DIR", None)
    env.pop("KITMANAGER_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    return env


def run_kitmanager(
    data_dir: Path, *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``kitmanager --data-dir DATA_DIR ARGS...`` to completion and return its output."""
    return subprocess.run(
        [str(kitmanager_exe()), "--data-dir", str(data_dir), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        check=False,
    )


class Server:
    """A running ``kitmanager serve`` subprocess; use as a context manager (killed on exit).

    ``prefix`` runs the command through another program (e.g. a network namespace).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        prefix: Sequence[str] = (),
        extra_args: Sequence[str] = (),
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port or free_port()
        self.command = [
            *prefix,
            str(kitmanager_exe()),
            "--data-dir",
            str(data_dir),
            "serve",
            "--host",
            host,
            "--port",
            str(self.port),
            *extra_args,
        ]
        self.process: subprocess.Popen[str] | None = None
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._readers: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def start(self, timeout: float = 60) -> Server:
        """Start the server and wait until it prints that it is ready (it listens by then)."""
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for stream, sink in (
            (self.process.stdout, self._stdout),
            (self.process.stderr, self._stderr),
        ):
            reader = threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
            reader.start()
            self._readers.append(reader)
        deadline = time.monotonic() + timeout
        while READY_LINE not in self.stdout:
            if self.process.poll() is not None:
                self._join_readers()
                raise RuntimeError(
                    f"kitmanager serve exited with {self.process.returncode}\n"
                    f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"kitmanager serve not ready:\n{self.stdout}\n{self.stderr}")
            time.sleep(0.05)
        return self

    def wait_for_exit(self, timeout: float = 30) -> int:
        """Wait for the process to end on its own; return its exit code."""
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        self._join_readers()
        return code

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        """Send ``sig`` (Ctrl-C by default) and return the exit code."""
        assert self.process is not None
        self.process.send_signal(sig)
        return self.wait_for_exit(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._join_readers()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()

    @staticmethod
    def _pump(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(timeout=5)


@dataclass
class Reply:
    status: int
    url: str
    body: str
    headers: dict[str, str]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie-keeping HTTP client that fills forms the way a browser does (CSRF included)."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.cookies = http.cookiejar.CookieJar()
        cookie_handler = urllib.request.HTTPCookieProcessor(self.cookies)
        self._follow = urllib.request.build_opener(cookie_handler)
        self._stay = urllib.request.build_opener(cookie_handler, _NoRedirect())

    def request(
        self,
        path: str,
        *,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        follow: bool = True,
    ) -> Reply:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base_url + path, data=body, headers=headers or {})
        opener = self._follow if follow else self._stay
        try:
            with opener.open(req, timeout=self.timeout) as response:
                return Reply(
                    response.status,
                    response.url,
                    response.read().decode("utf-8", "replace"),
                    dict(response.headers),
                )
        except urllib.error.HTTPError as exc:
            return Reply(
                exc.code, exc.url, exc.read().decode("utf-8", "replace"), dict(exc.headers)
            )

    def get(self, path: str, **kwargs) -> Reply:
        return self.request(path, **kwargs)

    def csrf_token(self, path: str) -> str:
        page = self.get(path)
        match = CSRF_PATTERN.search(page.body)
        assert match, f"no CSRF token on {path} ({page.status})"
        return match.group(1)

    def submit(self, path: str, fields: dict[str, str], *, follow: bool = True) -> Reply:
        """GET the form on ``path`` for its CSRF token, then POST ``fields`` to it."""
        return self.request(
            path, data={**fields, "csrf_token": self.csrf_token(path)}, follow=follow
        )

    def login(self, username: str, password: str) -> Reply:
        """Log in through the login form; the reply is the page after the redirect."""
        return self.submit("/login", {"username": username, "password": password})

    def logged_in(self) -> bool:
        return self.get("/workshops/", follow=False).status == 200


class ParticipantWriter(threading.Thread):
    """Adds participants through the running server's API until told to stop."""

    def __init__(self, base_url: str, token: str, slug: str, prefix: str = "Wanjiru Kamau") -> None:
        super().__init__(daemon=True)
        self.prefix = prefix
        self.url = f"{base_url}/api/v1/workshops/{slug}/participants"
        self.token = token
        self.committed: list[str] = []  # names the server confirmed (201), in order
        self.failures: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + WRITE_SECONDS
        number = 0
        while not self.halt.is_set() and time.monotonic() < deadline:
            number += 1
            name = f"{self.prefix} {number:04d}"
            request = urllib.request.Request(
                self.url,
                data=json.dumps({"full_name": name}).encode(),
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/json",
                },
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    if response.status == 201:
                        self.committed.append(name)
                    else:
                        self.failures.append(f"{name}: HTTP {response.status}")
            except (urllib.error.URLError, OSError) as exc:
                self.failures.append(f"{name}: {exc}")

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.committed) < count:
            assert not self.failures, self.failures
            assert time.monotonic() < deadline, f"only {len(self.committed)} participants added"
            time.sleep(0.02)
