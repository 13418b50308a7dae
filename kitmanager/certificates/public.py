"""Public pages: ``/verify/<code>`` for anyone holding a certificate, the holder's own
certificate from their badge page (``/b/<token>/certificate.pdf`` and ``.jwt``), and the
revocation lists their Open Badges point to (``/credentials/status/<key>``): this
installation's, and those brought here from the laptops it trusts."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from kitmanager.certificates import bp
from kitmanager.certificates.imported_lists import imported_list, issuer_status
from kitmanager.certificates.openbadges import (
    STATUS_LIST_PATH,
    STATUS_LIST_TTL_S,
    credential_jwt,
    kept_revocation_list,
    status_list_key_id,
)
from kitmanager.certificates.printing import (
    certificate_file_name,
    dates_text,
    kept_certificate_pdf,
)
from kitmanager.certificates.ratelimit import FixedWindowLimiter
from kitmanager.certificates.services import (
    certificate_base_url,
    certificate_by_code,
    current_certificate,
    normalise_code,
)
from kitmanager.certificates.verification import Problem, SignedFacts, check_signed_facts
from kitmanager.checkin.services import find_badge
from kitmanager.scans import badge_route
from kitmanager.security import public
from kitmanager.signing import b64url_encode, installation_key, trusted_public_keys

# 30 checks a minute per address: a person checking a pile of certificates by hand never
# reaches it; a script trying codes is slowed to a crawl.
DEFAULT_RATE_LIMIT = (30, 60)

_FORM_CHANGED = _l("The signed details are not in the form certificates are issued in.")
# Why a certificate is not valid, as the verify page tells its reader.
_REASONS = {
    Problem.ENCODING: _l(
        "Its link is not written the way certificates write it: scan the QR code on the "
        "certificate again rather than using a copied link."
    ),
    Problem.SIGNATURE: _l(
        "The signature does not match these details: they were changed after issuing, or the "
        "certificate was issued elsewhere."
    ),
    Problem.NOT_JSON: _FORM_CHANGED,
    Problem.NOT_CANONICAL: _FORM_CHANGED,
    Problem.MISSING_FACT: _FORM_CHANGED,
    Problem.OTHER_CODE: _l("The code in the link is not the code these details were issued with."),
}


def _limiter() -> FixedWindowLimiter:
    limiter = current_app.extensions.get("verify_limiter")
    if limiter is None:
        limit, window = current_app.config["VERIFY_RATE_LIMIT"]
        limiter = current_app.extensions.setdefault(
            "verify_limiter", FixedWindowLimiter(limit, window)
        )
    return limiter


def rate_limited(view: Callable[..., Any]) -> Callable[..., Any]:
    """429 with Retry-After (and a page saying when) once an address checked too often."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wait = _limiter().hit(request.remote_addr or "unknown")
        if wait:
            page = render_template("certificates/too_many.html", seconds=wait)
            return Response(page, status=429, headers={"Retry-After": str(wait)})
        return view(*args, **kwargs)

    return wrapper


@bp.route("/verify/")
@public
@rate_limited
def verify_form():
    """Type a certificate's code by hand (when its QR code cannot be scanned)."""
    typed = request.args.get("code", "")
    code = normalise_code(typed)
    if code:
        return redirect(url_for("certificates.verify", code=code))
    return render_template("certificates/verify_form.html", typed=typed, error=bool(typed))


@bp.route("/verify/<code>")
@public
@rate_limited
def verify(code: str):
    """Whether a certificate is genuine: the facts it carries (name, workshop, dates, issuer)
    and valid / not valid, plus revoked (date, reason) when its record is in this database,
    or as the revocation list brought here from the trusted laptop that issued it says."""
    g.no_store = True
    public_key = trusted_public_keys(Path(current_app.config["DATA_DIR"]))
    data, signature = request.args.get("d", ""), request.args.get("s", "")
    record = certificate_by_code(code)
    # A deleted person's record keeps no facts: by its code alone it tells nothing about them,
    # but the facts their QR carries are checked, and a revocation still shows.
    known = record is not None and record.participant.deleted_at is None
    if data or signature:
        check = check_signed_facts(SignedFacts(code, data, signature), public_key)
    elif record is not None and known:
        check = check_signed_facts(
            SignedFacts(record.code, b64url_encode(record.facts.encode("utf-8")), record.signature),
            public_key,
        )
    else:
        return render_template("certificates/verify.html", check=None, code=code[:20]), 404
    facts = check.facts or {}

    def day(key: str) -> date | None:
        try:
            return date.fromisoformat(str(facts.get(key, "")))
        except ValueError:
            return None

    revoked = record if check.valid and record is not None and record.revoked_at else None
    # a certificate of a trusted laptop: what the laptop's list, brought here, says
    issuer = issuer_status(check.signer, facts) if check.valid and check.signer else None
    first, last = day("first_date"), day("last_date")
    dates = ""
    if first and last and first <= last:
        dates = dates_text(first, last, str(get_locale() or "en"))
    return render_template(
        "certificates/verify.html",
        check=check,
        code=code[:20],
        # what was claimed, even unsigned: only plain text and numbers (true is no number)
        facts={
            k: v
            for k, v in facts.items()
            if isinstance(v, (str, int, float)) and not isinstance(v, bool)
        },
        dates=dates,
        issued=day("issued"),
        revoked=revoked,
        issuer=issuer,
        reason=_REASONS.get(check.problem, ""),
    )


def _holder_certificate(token: str):
    participant, _retired = find_badge(token)
    if participant is None:
        abort(404)
    certificate = current_certificate(participant)
    if certificate is None:
        abort(404)
    return participant, certificate


@bp.route(badge_route("/certificate.pdf"))
@public
def badge_certificate_pdf(token: str):
    """The badge holder's own certificate as a PDF: made once and kept until something on it
    changes (:func:`kept_certificate_pdf`), with its key as ETag, so asking again costs a
    file read, and a phone that kept it gets a 304."""
    participant, certificate = _holder_certificate(token)
    kept = kept_certificate_pdf(certificate, certificate_base_url())
    name = certificate_file_name(participant.full_name, certificate.code)
    response = download(kept.pdf, "application/pdf", name, etag=kept.etag)
    if current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"  # a shared laptop keeps nothing
    else:
        # The holder's phone may keep it, and asks each time whether it is still current.
        response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.route(badge_route("/certificate.jwt"))
@public
def badge_certificate_badge(token: str):
    """The badge holder's certificate as an Open Badges 3.0 credential (VC-JWT)."""
    _participant, certificate = _holder_certificate(token)
    g.no_store = True
    jwt = credential_jwt(certificate, certificate_base_url(), installation_key())
    return download(jwt.encode("ascii"), "application/vc+jwt", f"{certificate.code}.jwt")


@bp.route(f"{STATUS_LIST_PATH}<key_id>")
@public
def revocation_list(key_id: str):
    """The revocation list (W3C Bitstring Status List) of this installation's Open Badges, a
    VC-JWT signed like them, or the list of a trusted laptop's, as it was brought here
    (:mod:`kitmanager.certificates.imported_lists`). Wallets and verifiers fetch it from a
    badge's credentialStatus; it names no one, so anyone may keep it for its ``ttl``, and
    pages of any site may read it. Any other key has no list here (404)."""
    key = installation_key()
    if key_id == status_list_key_id(key.public_key()):
        kept = kept_revocation_list(certificate_base_url(), key)
        jwt, etag = kept.jwt, kept.etag
    else:
        imported = imported_list(key_id)
        if imported is None:
            abort(404)
        jwt, etag = imported.list.jwt.encode("ascii"), imported.list.etag
    response = Response(jwt, mimetype="application/vc+jwt")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={STATUS_LIST_TTL_S}"
    response.headers["Access-Control-Allow-Origin"] = "*"  # web wallets check from their page
    return response.make_conditional(request)


def download(data: bytes, mimetype: str, name: str, *, etag: str | None = None) -> Response:
    """``data`` as a file download named ``name``; with ``etag``, a request whose
    If-None-Match holds it gets a 304 without the data."""
    return send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=True,
        download_name=name,
        etag=etag or False,
        conditional=etag is not None,
    )
