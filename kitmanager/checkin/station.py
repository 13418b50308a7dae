"""The scan station: a page for phones and laptops at the door, and its kiosk mode.

The page itself is a small offline-first app (static/scan/): it posts each scan to
``POST /api/v1/scans`` with a client id, queues scans in IndexedDB while the laptop is out of
reach and sends them when it is back. Kiosk mode keeps a shared laptop or tablet on this page
until a trainer's PIN ends it: every other page of the app redirects back to it meanwhile.
The server keeps the kiosk's workshop and session (:func:`kitmanager.web.kiosk_scope`): its
scans go there, whatever a browser's developer tools make the page send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import NotFound

from kitmanager.checkin import bp
from kitmanager.checkin.services import running_session
from kitmanager.models import Role, Workshop
from kitmanager.scans import station_name, station_vocabulary
from kitmanager.security import CONTENT_SECURITY_POLICY_WASM, current_actor, require_role
from kitmanager.web import end_kiosk, keep_kiosk_scope, kiosk, row_id, start_kiosk
from kitmanager.workshops.services import get_workshop, list_workshops, utc_to_local

# While a kiosk runs in a browser, only these endpoints answer it; everything else goes back
# to the kiosk page.
KIOSK_ENDPOINTS = frozenset(
    {
        "checkin.scan_station",
        "checkin.kiosk_exit",
        "checkin.service_worker",
        "checkin.manifest",
        "core.language",
        "api.scan",
        "api.scan_undo",
        "api.workshop_roster",
        "static",
    }
)
KIOSK_PIN_ATTEMPTS = 5
_STATIC_SCAN = "scan"


def _default_workshop() -> Workshop | None:
    """The workshop a station opens on: the one running today, else the only one there is."""
    rows = [workshop for workshop, _count in list_workshops()]
    today = date.today()
    running = [w for w in rows if w.starts_on <= today <= w.ends_on]
    if len(running) == 1:
        return running[0]
    return rows[0] if len(rows) == 1 else None


def _station_scope(args: Mapping[str, str]) -> tuple[Workshop | None, int | None]:
    """The workshop a station page's query (``workshop=slug&session=id``) names, or the
    default one, and the chosen session's id when it is one of that workshop's.

    :raise NotFound: a ``workshop`` slug that names no workshop.
    """
    slug = args.get("workshop", "")
    workshop = get_workshop(slug) if slug else _default_workshop()
    if workshop is None:
        if slug:
            abort(404)
        return None, None
    chosen = row_id(args.get("session", ""))
    if chosen is None:
        return workshop, None
    return workshop, next((s.id for s in workshop.sessions if s.id == chosen), None)


def _scope_of(url: str) -> tuple[int | None, int | None]:
    """The ids of the workshop and session the station page at ``url`` scans for.

    :raise NotFound: the page names no workshop there is.
    """
    workshop, chosen_id = _station_scope(dict(parse_qsl(urlsplit(url).query)))
    return (workshop.id if workshop is not None else None), chosen_id


def _messages() -> dict[str, str]:
    """What the station's script says, in the page's language (``{name}`` is filled in there)."""
    return {
        "waiting_one": _("1 scan waiting to be sent"),
        "waiting_many": _("%(n)s scans waiting to be sent", n="{n}"),
        "all_sent": _("All scans sent"),
        "offline_saved": _("Saved on this device: it will be sent when the laptop is reachable."),
        "offline_known": _(
            "%(name)s — saved, will be sent when the laptop is reachable", name="{name}"
        ),
        "not_a_badge": _("Not a badge of this workshop. Please ask a trainer."),
        "nothing_to_undo": _("Nothing to undo."),
        "undo_offline": _("The laptop is out of reach: undo needs it. Try again in a moment."),
        "undo_queued_check_in": _(
            "Check-in of %(name)s taken back: it had not been sent yet.", name="{name}"
        ),
        "undo_queued_handout": _(
            "Handout of %(code)s to %(name)s taken back: it had not been sent yet.",
            code="{code}",
            name="{name}",
        ),
        "undo_queued_return": _(
            "Return of %(code)s taken back: it had not been sent yet.", code="{code}"
        ),
        "undo_when_back": _(
            "This change may already have reached the laptop: it will be taken back there as "
            "soon as the laptop is reachable."
        ),
        "undo_forbidden": _("Undo is not allowed on this station. Please ask a trainer."),
        "kit_replaced": _(
            "%(old)s no longer waits; %(code)s waits for a badge", old="{old}", code="{code}"
        ),
        "offline_neither": _(
            "“%(text)s” is neither a badge nor a kit on this device's list.", text="{text}"
        ),
        "undo_queued_scan": _(
            "The scan saved on this device was taken back: it had not been sent."
        ),
        "camera_needs_https": _(
            "The camera works only on a secure page (HTTPS or this laptop itself). "
            "The scanner field below still works."
        ),
        "camera_failed": _("The camera could not start: %(reason)s", reason="{reason}"),
        "camera_on": _("Camera on: hold a badge in front of it."),
        "camera_off": _("Camera off."),
        "loading_decoder": _("Loading the QR reader…"),
        "server_refused": _("The laptop refused this scan: %(reason)s", reason="{reason}"),
        "login_again": _("Your login ended: log in again, the waiting scans are kept."),
        "offline_return": _(
            "Return of %(code)s saved on this device: it will be sent when the laptop is "
            "reachable.",
            code="{code}",
        ),
        "offline_handout": _(
            "Handout of %(code)s to %(name)s saved on this device: it will be sent when the "
            "laptop is reachable.",
            code="{code}",
            name="{name}",
        ),
        "offline_kit_out": _(
            "%(code)s is out: its return needs the laptop. Scan it again when the laptop is "
            "reachable.",
            code="{code}",
        ),
        "offline_kit_unknown": _(
            "This kit is not in this device's list: scan it again when the laptop is reachable."
        ),
        "kit_waits": _("%(code)s waits for a badge", code="{code}"),
        "seconds_left": _("%(n)s s left", n="{n}"),
        "kit_wait_over": _(
            "%(code)s waited too long: scan it again, then the badge.", code="{code}"
        ),
        "hand_question": _("Hand %(code)s to %(name)s?", code="{code}", name="{name}"),
        "badge_holder": _("the holder of this badge"),
        "a_badge": _("a badge"),
        "next": _("Next, once this is done: %(scans)s", scans="{scans}"),
        "checklist_title": _("What came back in %(code)s?", code="{code}"),
        "not_handed_out": _("%(code)s was not handed out.", code="{code}"),
        "not_returned": _("The return of %(code)s was not recorded.", code="{code}"),
        "consumable": _("(consumable)"),
        "count_back": _("came back"),
        "damaged": _("damaged"),
    }


@bp.route("/scan")
@require_role(Role.VOLUNTEER)
def scan_station():
    """The scan station for the chosen workshop (``?workshop=slug``; ``&session=id``).

    ``&station=label`` names this device among the login's stations: scans are recorded as
    ``user:amina · label`` (:func:`~kitmanager.scans.station_name`), never under another's.
    """
    workshop, chosen_id = _station_scope(request.args)
    if workshop is None:
        return render_template("checkin/scan_choose.html", rows=list_workshops())
    this_kiosk = kiosk()
    sessions = [
        {
            "id": s.id,
            "title": s.title,
            "starts": utc_to_local(s.starts_at, workshop.timezone),
        }
        for s in workshop.sessions
    ]
    running = running_session(workshop)
    version = _assets_version()
    config: dict[str, Any] = {
        "workshop": workshop.slug,
        "session": chosen_id,
        "kiosk": bool(this_kiosk),
        "csrf": generate_csrf(),
        # The name this station's scans are recorded under (the server decides it again).
        "station": station_name(current_actor(), request.args.get("station", "")[:80]),
        "api": {
            "scan": url_for("api.scan"),
            "undo": url_for("api.scan_undo"),
            "roster": url_for("api.workshop_roster", slug=workshop.slug),
            # The label token goes in place of __token__.
            "kitReturn": url_for("api.kit_return", token="__token__"),  # noqa: S106
        },
        # Paths, code patterns, outcomes and the pairing window, as the server reads them.
        "scan": station_vocabulary(workshop),
        "vendor": {
            "ponyfill": url_for("static", filename="vendor/barcode-detector/dist/es/ponyfill.js"),
            "wasm": url_for("static", filename="vendor/zxing-wasm/dist/reader/zxing_reader.wasm"),
        },
        "serviceWorker": url_for("checkin.service_worker"),
        # What the page needs to open with no connection (the QR reader is cached on first use).
        "precache": [
            _asset_url(name, version)
            for name in (
                "style.css",
                "app.js",
                "favicon.svg",
                "scan/station.css",
                "scan/station.js",
                "scan/sha256.js",
            )
        ],
        "scope": url_for("checkin.scan_station"),
        "messages": _messages(),
    }
    response = make_response(
        render_template(
            "checkin/scan.html",
            workshop=workshop,
            sessions=sessions,
            chosen_id=chosen_id,
            running=running,
            kiosk=this_kiosk,
            config=config,
            station_css=_asset_url("scan/station.css", version),
            station_js=_asset_url("scan/station.js", version),
        )
    )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY_WASM
    return response


# The station's own files carry a version in their URL: the service worker answers static
# files from its cache first, and an old script must never run on a new page.
_VERSIONED = ("scan/station.css", "scan/station.js")


def _assets_version() -> str:
    folder = Path(current_app.static_folder or "")
    stamps = tuple((name, (folder / name).stat().st_mtime_ns) for name in _VERSIONED)
    return _digest_of(folder, stamps)


@cache
def _digest_of(folder: Path, stamps: tuple[tuple[str, int], ...]) -> str:
    """The files' content digest, computed once for each set of modification times."""
    digest = hashlib.sha256()
    for name, _stamp in stamps:
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:12]


def _asset_url(name: str, version: str) -> str:
    if name in _VERSIONED:
        return url_for("static", filename=name, v=version)
    return url_for("static", filename=name)


def _pin_proof(pin: str, nonce: str) -> str:
    """What the browser's cookie keeps of a kiosk PIN: an HMAC under the server's secret key.

    The cookie is signed but readable; without the key, a 4-digit PIN in it cannot be guessed
    offline. Wrong tries are counted in the server, so an old cookie does not reset them.
    """
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, f"kiosk:{nonce}:{pin}".encode(), hashlib.sha256).hexdigest()


_kiosk_failures: dict[str, int] = {}
_kiosk_lock = threading.Lock()


@bp.post("/scan/kiosk")
@require_role(Role.TRAINER)
def kiosk_start():
    """Lock this browser on the scan station until the PIN chosen here is typed again.

    The server keeps the station's workshop and chosen session with the kiosk
    (:func:`kitmanager.web.kiosk_scope`): the kiosk's scans go there and nowhere else.
    """
    pin = request.form.get("pin", "")
    target = request.form.get("next", "")
    station = url_for("checkin.scan_station")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path != station:
        target = station  # the station page itself, never another page that redirects back
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 12):
        flash(_("Choose a PIN of 4 to 12 digits to start kiosk mode."), "error")
        return redirect(target)
    workshop_id, session_id = _scope_of(target)
    if workshop_id is None:
        flash(_("Open the scan station of one workshop, then start kiosk mode there."), "error")
        return redirect(target)
    nonce = secrets.token_hex(16)
    start_kiosk(_pin_proof(pin, nonce), nonce, target, workshop_id, session_id)
    return redirect(target)


@bp.post("/scan/kiosk/exit")
@require_role(Role.VOLUNTEER)
def kiosk_exit():
    record = kiosk()
    if record is None:
        return redirect(url_for("checkin.scan_station"))
    nonce = record.get("nonce", "")
    with _kiosk_lock:
        failures = _kiosk_failures.get(nonce, 0)
        if failures >= KIOSK_PIN_ATTEMPTS:
            flash(_("Too many wrong PINs: log in on another device and end this login."), "error")
            return redirect(record["url"])
        if hmac.compare_digest(record["pin"], _pin_proof(request.form.get("pin", ""), nonce)):
            _kiosk_failures.pop(nonce, None)
            end_kiosk()
            flash(_("Kiosk mode ended."), "success")
            return redirect(record["url"])
        _kiosk_failures[nonce] = failures + 1
    flash(_("Wrong PIN."), "error")
    return redirect(record["url"])


def keep_kiosk_on_its_page() -> Any:
    """Before every request: a browser in kiosk mode reaches only the scan station.

    A kiosk lives inside the login that started it. When that login ended (the account's
    password was reset or the account disabled), the kiosk ends with it: the station sends
    the browser to the login page, and the login page shows (no longer back to the station).
    Whoever logs in there next finds an ordinary station, which sends the scans still waiting
    on the device; a trainer starts kiosk mode again with a new PIN.
    """
    record = kiosk()
    if record is None:
        return None
    if "workshop" not in record:  # a kiosk started before the server kept its scope
        try:
            keep_kiosk_scope(*_scope_of(record["url"]))
        except NotFound:
            keep_kiosk_scope(None, None)  # its workshop is gone: it scans for none
    if request.endpoint == "checkin.scan_station" and request.full_path.rstrip("?") != record[
        "url"
    ].rstrip("?"):
        return redirect(record["url"])  # not another workshop's or session's station either
    if request.endpoint in KIOSK_ENDPOINTS:
        return None
    if not current_user.is_authenticated:  # only pages open to anyone come this far
        end_kiosk()
        flash(_("The kiosk's login ended. A trainer logs in here to start it again."), "info")
        return None
    if request.method in ("GET", "HEAD"):
        return redirect(record["url"])
    abort(403)


@bp.route("/scan/sw.js")
@require_role(Role.VOLUNTEER)
def service_worker():
    """The station's service worker, allowed to control /scan (it lives one level below)."""
    folder = current_app.static_folder
    assert folder is not None
    response = send_from_directory(folder, f"{_STATIC_SCAN}/sw.js", max_age=0)
    response.headers["Service-Worker-Allowed"] = url_for("checkin.scan_station")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/scan/manifest.webmanifest")
@require_role(Role.VOLUNTEER)
def manifest():
    data = {
        "name": _("Kit manager scan station"),
        "short_name": _("Scan"),
        "start_url": url_for("checkin.scan_station"),
        "scope": url_for("checkin.scan_station"),
        "display": "standalone",
        "background_color": "#f6f7f8",
        "theme_color": "#0b6e4f",
        "icons": [
            {
                "src": url_for("static", filename="favicon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
            }
        ],
    }
    response = make_response(json.dumps(data, ensure_ascii=False))
    response.headers["Content-Type"] = "application/manifest+json"
    return response
