"""Secure by default: every view needs a login unless marked ``@public``; headers on every reply.

Web pages authenticate with a session cookie (and CSRF on every form); scripts and scanner apps
send ``Authorization: Bearer <token>`` and never need a cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Flask,
    abort,
    current_app,
    g,
    has_request_context,
    jsonify,
    redirect,
    request,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from kitmanager.audit import Actor
from kitmanager.extensions import login_manager
from kitmanager.models import Role

__all__ = ["current_actor", "init_security", "is_public", "public", "require_role"]

F = TypeVar("F", bound=Callable[..., Any])
_PUBLIC = "_kitmanager_public"

# No inline script or style anywhere: pages load /static files only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# A page that decodes QR codes with the vendored WebAssembly reader may compile WebAssembly
# (and nothing else that 'unsafe-eval' would allow).
CONTENT_SECURITY_POLICY_WASM = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'"
)
# Sent only on HTTPS replies: a browser that saw the app over HTTPS keeps using HTTPS for it.
HSTS_SECONDS = 365 * 24 * 3600


class SchemeAwareSessionInterface(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over HTTPS.

    Decided per request from the actual scheme, so the same server answers plain HTTP on the
    workshop LAN (no ``Secure``: the browser would drop the cookie) and HTTPS (``Secure``: the
    cookie never leaks onto plain HTTP). ``SESSION_COOKIE_SECURE`` still forces it on.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        forced = bool(app.config.get("SESSION_COOKIE_SECURE"))
        return forced or (has_request_context() and request.is_secure)

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        # A request without the cookie (a scanner's token request) gets the empty session
        # Flask would give it, without building the cookie's signer first (a tenth of a
        # millisecond on every scan).
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def public(view: F) -> F:
    """Mark a view as reachable without logging in (login, public badge, verification)."""
    setattr(view, _PUBLIC, True)
    return view


def is_public(view: Callable[..., Any] | None) -> bool:
    return bool(view is not None and getattr(view, _PUBLIC, False))


def current_actor() -> Actor:
    """The logged-in user or API token behind this request, as the actor services take."""
    principal = current_user._get_current_object()
    device = (request.headers.get("User-Agent", "") or "")[:150]
    if request.remote_addr:
        device = f"{request.remote_addr} {device}".strip()
    user_id = principal.id if getattr(principal, "username", None) else None
    return Actor(name=principal.actor, role=principal.role_enum, device=device, user_id=user_id)


def require_role(needed: Role) -> Callable[[F], F]:
    """Refuse (403) anyone whose role does not include ``needed``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.role_enum.allows(needed):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.headers.get("Authorization", "").startswith(
        "Bearer "
    )


def _require_login() -> Any:
    if request.endpoint is None or request.endpoint == "static":
        return None

    view = current_app.view_functions.get(request.endpoint)
    if is_public(view):
        return None
    if current_user.is_authenticated:
        return None
    if _wants_json():
        response = jsonify(
            error=gettext("authentication required"),
            hint=gettext("send Authorization: Bearer <token>"),
        )
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="kitmanager"'
        return response
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _limit_plain_forms() -> None:
    """A form without files (``application/x-www-form-urlencoded``) is read and parsed whole,
    so its body is held to the app's form limit (``MAX_FORM_MEMORY_SIZE``, 500 KB), not the
    upload limit: a 19 MB login form of two million fields cost five seconds of the server's
    time before it was refused. Larger bodies are refused (413) before they are read."""
    if request.mimetype == "application/x-www-form-urlencoded":
        request.max_content_length = current_app.config["MAX_FORM_MEMORY_SIZE"]


def _security_headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Badge and kit URLs carry tokens: never leak them to another site in a Referer.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault(
        "Permissions-Policy", "camera=(self), microphone=(), geolocation=()"
    )
    if getattr(g, "no_store", False) or current_user.is_authenticated:
        response.headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
    return response


def init_security(app: Flask) -> None:
    from kitmanager.auth.services import load_session_user, load_token_principal
    from kitmanager.web import login_nonce

    app.session_interface = SchemeAwareSessionInterface()
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def _load_from_session(session_id: str) -> Any:
        return load_session_user(session_id, login_nonce())

    @login_manager.request_loader
    def _load_from_header(req: Any) -> Any:
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        return load_token_principal(header[len("Bearer ") :].strip())

    @login_manager.unauthorized_handler
    def _unauthorized() -> Any:
        return _require_login() or abort(401)

    # First of all, before CSRFProtect reads the form to find its token.
    app.before_request_funcs.setdefault(None, []).insert(0, _limit_plain_forms)
    app.before_request(_require_login)
    app.after_request(_security_headers)
