"""Certificates: who earned one, issuing (signed facts + code), revoking, re-issuing.

Services take an explicit actor, flush and never commit; every change writes one audit row.
The facts a certificate vouches for are a small canonical JSON (sorted keys, no spaces,
UTF-8) signed with the installation's Ed25519 key (:mod:`kitmanager.signing`); the QR carries
them with the signature, so anyone with the public key alone can check them
(:mod:`kitmanager.certificates.verification`).
"""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import format_decimal, gettext, ngettext
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from kitmanager.audit import Actor, record_event
from kitmanager.certificates.status_list import index_secret, status_index
from kitmanager.certificates.verification import canonical_facts
from kitmanager.extensions import db
from kitmanager.models import (
    Certificate,
    CertificateOverride,
    CertificateRule,
    CheckIn,
    KitHandout,
    Participant,
    Workshop,
    WorkshopSession,
    utcnow,
)
from kitmanager.participants.services import list_participants
from kitmanager.signing import b64url_encode, installation_key
from kitmanager.text import column_limit, safe_text
from kitmanager.unit_of_work import UserError

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "CertificateError",
    "IssueResult",
    "Standing",
    "certificate_base_url",
    "certificate_by_code",
    "clear_override",
    "current_certificate",
    "eligibility",
    "issue_certificates",
    "new_code",
    "normalise_code",
    "reissue_certificate",
    "revoke_certificate",
    "rule_for",
    "set_override",
    "standing_of",
    "update_rule",
    "valid_certificates",
]

# Crockford's base32 without the characters people misread (0/O, 1/I/L) and U:
# 30 symbols, 10 of them = 49 bits, drawn with ``secrets``.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
_REASON_LIMIT = CertificateOverride.__table__.c.reason.type.length


class CertificateError(UserError):
    """A certificate action the user can fix; the message says how."""


def new_code() -> str:
    """A random certificate code, e.g. ``7KQ2M9XHTR``."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """A code as typed (spaces, dashes, lower case) in its stored form; '' if it cannot be one."""
    code = "".join(ch for ch in (text or "").upper() if ch not in " -")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return ""
    return code


# ---------------------------------------------------------------- the rule


_RULE_FIELDS = tuple(
    column.name for column in CertificateRule.__table__.columns if not column.primary_key
)


def rule_for(workshop: Workshop) -> CertificateRule:
    """The workshop's rule; the default one (75 % of sessions), not yet stored, if never set."""
    rule = db.session.get(CertificateRule, workshop.id)
    if rule is None:
        # the column defaults are the default rule (75 % of sessions, A4, nothing printed yet)
        rule = CertificateRule(
            workshop_id=workshop.id,
            **{
                column.name: column.default.arg if column.default is not None else None
                for column in CertificateRule.__table__.columns
                if column.name in _RULE_FIELDS
            },
        )
    return rule


def update_rule(actor: Actor, workshop: Workshop, **values: Any) -> CertificateRule:
    """Change the workshop's rule and what its certificates print (only the names given).

    :raise CertificateError: a share outside 0-100, negative hours, an unknown layout.
    """
    unknown = set(values) - set(_RULE_FIELDS)
    if unknown:
        raise TypeError(f"not a rule field: {', '.join(sorted(unknown))}")
    if "min_percent" in values and not 0 <= int(values["min_percent"]) <= 100:
        raise CertificateError(gettext("The share of sessions is a percentage from 0 to 100."))
    if values.get("min_hours") is not None and float(values["min_hours"]) < 0:
        raise CertificateError(gettext("The minimum hours cannot be negative."))
    if "layout" in values:
        from kitmanager.certificates.printing import certificate_layouts

        if values["layout"] not in {lay.id for lay in certificate_layouts()}:
            raise CertificateError(gettext("Choose one of the certificate layouts offered."))
    for name in ("issuer", "signatory_name", "signatory_title"):
        if name in values:
            # Cleaned as names are (the form cleans too; the CLI and the API meet this only),
            # then cut to the column: these lines are signed into every certificate.
            column = CertificateRule.__table__.c[name]
            values[name] = " ".join(safe_text(str(values[name] or "")).split())[
                : column_limit(column)
            ]
    rule = rule_for(workshop)
    changed = {k: v for k, v in values.items() if getattr(rule, k) != v}
    if db.session.get(CertificateRule, workshop.id) is None:
        db.session.add(rule)
    for name, value in changed.items():
        setattr(rule, name, value)
    if changed:
        from kitmanager.certificates.printing import forget_certificate_pdfs

        record_event(actor, "certificate.rule_changed", "workshop", workshop.id, **changed)
        forget_certificate_pdfs(workshop.id)  # they print the rule: made again when asked
    db.session.flush()
    return rule


# ---------------------------------------------------------------- eligibility


@dataclass
class Standing:
    """Where one participant stands: what they attended, whether they earned a certificate
    (by the rule or an override) and, if not yet, why."""

    participant: Participant
    attended: int
    sessions: int
    hours: float
    meets_rule: bool
    reasons: list[str] = field(default_factory=list)
    override: CertificateOverride | None = None
    certificate: Certificate | None = None
    open_kits: int = 0

    @property
    def eligible(self) -> bool:
        return self.meets_rule or self.override is not None


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _open_handouts(workshop: Workshop, people: Sequence[Participant]) -> dict[int, int]:
    """Kits still out with each of ``people``: handed to them, or to their team."""
    mine = Participant.id == KitHandout.participant_id
    rows = db.session.execute(
        select(KitHandout.participant_id, KitHandout.team_id)
        .join(Participant, mine)
        .where(Participant.workshop_id == workshop.id, KitHandout.returned_at.is_(None))
    ).all()
    by_person: dict[int, int] = defaultdict(int)
    by_team: dict[int, int] = defaultdict(int)
    for participant_id, team_id in rows:
        if team_id is not None:
            by_team[team_id] += 1
        else:
            by_person[participant_id] += 1
    return {
        p.id: by_person.get(p.id, 0) + (by_team.get(p.team_id, 0) if p.team_id else 0)
        for p in people
    }


def _meets(rule: CertificateRule, attended: int, total: int, hours: float) -> list[str]:
    """Why the attendance does not meet ``rule`` (empty: it does)."""
    if total == 0:
        return [gettext("the workshop has no sessions yet")]
    if rule.min_hours is not None:
        if hours + 1e-9 < rule.min_hours:
            return [
                gettext(
                    "attended %(hours)s of the %(needed)s hours needed",
                    hours=format_decimal(round(hours, 2)),
                    needed=format_decimal(rule.min_hours),
                )
            ]
        return []
    # integers, so exactly 75 % is 75 % (3 of 4 sessions meets a 75 % rule)
    if attended * 100 < rule.min_percent * total:
        return [
            ngettext(
                "attended %(attended)s of %(num)s session",
                "attended %(attended)s of %(num)s sessions",
                total,
                attended=attended,
            )
        ]
    return []


def eligibility(
    workshop: Workshop, participants: Sequence[Participant] | None = None
) -> list[Standing]:
    """Everyone of the workshop (or ``participants``) with their standing, in name order."""
    rule = rule_for(workshop)
    people = list(participants) if participants is not None else list_participants(workshop)
    sessions = {s.id: s for s in workshop.sessions}
    attended: dict[int, list[WorkshopSession]] = defaultdict(list)
    for pid, sid in db.session.execute(
        select(CheckIn.participant_id, CheckIn.session_id)
        .join(WorkshopSession, CheckIn.session_id == WorkshopSession.id)
        .where(WorkshopSession.workshop_id == workshop.id)
    ):
        attended[pid].append(sessions[sid])
    ids = [p.id for p in people]
    overrides = {
        o.participant_id: o
        for o in db.session.scalars(
            select(CertificateOverride).where(CertificateOverride.participant_id.in_(ids))
        )
    }
    certificates = {
        c.participant_id: c
        for c in db.session.scalars(
            select(Certificate).where(
                Certificate.workshop_id == workshop.id, Certificate.revoked_at.is_(None)
            )
        )
    }
    open_kits = _open_handouts(workshop, people) if rule.kit_returned else {}
    standings = []
    for person in people:
        mine = attended.get(person.id, [])
        hours = _hours(sum((s.ends_at - s.starts_at for s in mine), timedelta()))
        reasons = _meets(rule, len(mine), len(sessions), hours)
        kits = open_kits.get(person.id, 0)
        if kits:
            reasons.append(
                ngettext("%(num)s kit not returned yet", "%(num)s kits not returned yet", kits)
            )
        standings.append(
            Standing(
                participant=person,
                attended=len(mine),
                sessions=len(sessions),
                hours=hours,
                meets_rule=not reasons,
                reasons=reasons,
                override=overrides.get(person.id),
                certificate=certificates.get(person.id),
                open_kits=kits,
            )
        )
    return standings


def standing_of(participant: Participant) -> Standing:
    return eligibility(participant.workshop, [participant])[0]


def set_override(actor: Actor, participant: Participant, reason: str) -> CertificateOverride:
    """Let ``participant`` earn a certificate whatever the rule says, for ``reason``.

    :raise CertificateError: no reason given.
    """
    text = " ".join((reason or "").split())
    if not text:
        raise CertificateError(
            gettext("Say why this person earns a certificate anyway: the reason is kept.")
        )
    text = text[:_REASON_LIMIT]
    override = db.session.get(CertificateOverride, participant.id)
    if override is None:
        override = CertificateOverride(participant_id=participant.id, reason=text, by=actor.name)
        db.session.add(override)
    else:
        override.reason, override.by, override.at = text, actor.name[:120], utcnow()
    record_event(actor, "certificate.override_set", "participant", participant.id, reason=text)
    db.session.flush()
    return override


def clear_override(actor: Actor, participant: Participant) -> bool:
    """Let the rule alone decide again; False when there was no override."""
    override = db.session.get(CertificateOverride, participant.id)
    if override is None:
        return False
    db.session.delete(override)
    record_event(actor, "certificate.override_cleared", "participant", participant.id)
    db.session.flush()
    return True


# ---------------------------------------------------------------- issuing


@dataclass
class IssueResult:
    issued: list[Certificate]
    already: int
    not_eligible: list[Standing]


def _facts(
    code: str, participant: Participant, workshop: Workshop, issuer: str, hours: float, today: date
) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "code": code,
        "name": participant.full_name,
        "workshop": workshop.title,
        "first_date": workshop.starts_on.isoformat(),
        "last_date": workshop.ends_on.isoformat(),
        "issued": today.isoformat(),
        "issuer": issuer,
    }
    if hours > 0:
        # 6 rather than 6.0: the same number reads the same in any JSON tool
        facts["hours"] = int(hours) if float(hours).is_integer() else hours
    return facts


def _insert_ignoring(dialect: str):
    table = Certificate.__table__
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing().returning(table.c.id)
    return sqlite.insert(table).on_conflict_do_nothing()


def _check_fits(base_url: str, code: str, facts: bytes, person: Participant) -> None:
    """Refuse a certificate whose QR code (which carries its facts) could not be printed."""
    from kitmanager.certificates.printing import fits_every_layout
    from kitmanager.certificates.verification import verify_url

    if not fits_every_layout(verify_url(base_url, code, facts, bytes(64))):
        raise CertificateError(
            gettext(
                "%(name)s's certificate would carry too much text for its QR code: shorten the "
                "workshop title, the issuer's name or the certificate address, then issue again.",
                name=person.full_name,
            )
        )


def _issue_one(
    actor: Actor,
    standing: Standing,
    workshop: Workshop,
    issuer: str,
    now: datetime,
    base_url: str | None = None,
) -> Certificate | None:
    """Insert one signed certificate; None when the person got one meanwhile.

    INSERT ... ON CONFLICT DO NOTHING: the partial unique index (one valid certificate per
    person) decides between two organisers issuing at once; a clash of random codes (about
    one in 10^14) just draws a new one. With ``base_url``, a certificate whose QR code could
    not be printed is refused (:raise CertificateError:).

    The signed facts hold the certificate's place in the revocation list (``status``), which
    comes from its row id: the row is inserted first, then signed, in the same transaction.
    """
    key = installation_key()
    dialect = db.session.get_bind().dialect.name
    person = standing.participant
    for _attempt in range(5):
        code = new_code()
        values = {
            "uuid": str(uuid.uuid4()),
            "code": code,
            "workshop_id": workshop.id,
            "participant_id": person.id,
            "facts": "",  # signed below, once the row has its id
            "signature": "",
            "issued_at": now,
            "issued_by": actor.name[:120],
            "revoke_reason": "",
            "revoked_by": "",
        }
        result = db.session.connection().execute(_insert_ignoring(dialect), values)
        added = result.first() is not None if dialect == "postgresql" else result.rowcount == 1
        if added:
            certificate = db.session.scalars(
                select(Certificate).where(Certificate.code == code)
            ).one()
            facts = _facts(code, person, workshop, issuer, standing.hours, now.date())
            facts["status"] = status_index(certificate.id, index_secret(key))
            signed = canonical_facts(facts)
            if base_url is not None:
                _check_fits(base_url, code, signed, person)  # refused: all rolled back
            certificate.facts = signed.decode("utf-8")
            certificate.signature = b64url_encode(key.sign(signed))
            record_event(
                actor,
                "certificate.issued",
                "certificate",
                certificate.id,
                code=code,
                participant_id=person.id,
                override=standing.override.reason if standing.override else None,
            )
            return certificate
        if current_certificate(person) is not None:
            return None
    raise CertificateError(gettext("Could not draw a free certificate code; try again."))


def _issuer_of(workshop: Workshop) -> str:
    issuer = rule_for(workshop).issuer.strip()
    if not issuer:
        raise CertificateError(
            gettext(
                "Say who issues these certificates first (your organisation's name) in the "
                "certificate settings of the workshop."
            )
        )
    return issuer


def issue_certificates(
    actor: Actor, workshop: Workshop, participant_ids: Sequence[int] | None = None
) -> IssueResult:
    """Issue a certificate to everyone eligible (or to the chosen ids) who has none yet.

    Those not eligible are listed with why; those already holding a valid certificate are
    counted and left as they are, so issuing twice issues nothing new.

    :raise CertificateError: no issuer set, or an id not of this workshop.
    """
    issuer = _issuer_of(workshop)
    base_url = _known_base_url()
    people = list_participants(workshop)
    if participant_ids:
        wanted = set(participant_ids)
        missing = wanted - {p.id for p in people}
        if missing:
            raise CertificateError(
                gettext(
                    "No participant with id %(ids)s in this workshop.",
                    ids=", ".join(map(str, sorted(missing))),
                )
            )
        people = [p for p in people if p.id in wanted]
    now = utcnow()
    issued, already, not_eligible = [], 0, []
    for standing in eligibility(workshop, people):
        if standing.certificate is not None:
            already += 1
        elif not standing.eligible:
            not_eligible.append(standing)
        else:
            certificate = _issue_one(actor, standing, workshop, issuer, now, base_url)
            if certificate is None:
                already += 1
            else:
                issued.append(certificate)
    db.session.flush()
    return IssueResult(issued, already, not_eligible)


def current_certificate(participant: Participant) -> Certificate | None:
    """The participant's valid (not revoked) certificate, if any."""
    return db.session.scalars(
        select(Certificate).where(
            Certificate.participant_id == participant.id, Certificate.revoked_at.is_(None)
        )
    ).first()


def valid_certificates(workshop: Workshop) -> list[Certificate]:
    """The workshop's valid certificates of people not deleted, in name order."""
    return list(
        db.session.scalars(
            select(Certificate)
            .join(Participant, Participant.id == Certificate.participant_id)
            .where(
                Certificate.workshop_id == workshop.id,
                Certificate.revoked_at.is_(None),
                Participant.not_deleted,
            )
            .order_by(Participant.sort_key, Participant.full_name, Participant.id)
        )
    )


def certificate_by_code(code: str) -> Certificate | None:
    code = normalise_code(code)
    if not code:
        return None
    return db.session.scalars(select(Certificate).where(Certificate.code == code)).first()


def revoke_certificate(actor: Actor, code: str, reason: str) -> Certificate:
    """Revoke the certificate ``code``: the verify page says revoked, with date and reason.

    :raise CertificateError: unknown code, no reason, already revoked.
    """
    text = " ".join((reason or "").split())[: Certificate.__table__.c.revoke_reason.type.length]
    if not text:
        raise CertificateError(gettext("Give the reason for revoking: the verify page shows it."))
    certificate = certificate_by_code(code)
    if certificate is None:
        raise CertificateError(
            gettext("No certificate has the code %(code)s: check it and try again.", code=code)
        )
    if certificate.revoked_at is not None:
        raise CertificateError(
            gettext("Certificate %(code)s is already revoked.", code=certificate.code)
        )
    certificate.revoked_at = utcnow()
    certificate.revoke_reason = text
    certificate.revoked_by = actor.name[:120]
    record_event(
        actor,
        "certificate.revoked",
        "certificate",
        certificate.id,
        code=certificate.code,
        reason=text,
    )
    db.session.flush()
    from kitmanager.certificates.printing import forget_certificate_pdfs

    forget_certificate_pdfs(certificate.workshop_id, certificate.participant_id)
    return certificate


def reissue_certificate(actor: Actor, certificate: Certificate, reason: str = "") -> Certificate:
    """Revoke ``certificate`` and issue a new one (new code) with the facts as they are now,
    e.g. after a name typo was fixed. The old one points to the new one.

    :raise CertificateError: already revoked, or no issuer set.
    """
    if certificate.revoked_at is not None:
        raise CertificateError(
            gettext("Certificate %(code)s is already revoked.", code=certificate.code)
        )
    workshop = certificate.workshop
    issuer = _issuer_of(workshop)
    why = " ".join((reason or "").split()) or gettext("replaced by a new certificate")
    revoke_certificate(actor, certificate.code, why)
    standing = standing_of(certificate.participant)
    new = _issue_one(actor, standing, workshop, issuer, utcnow(), _known_base_url())
    if new is None:  # someone else re-issued at the same instant
        new = current_certificate(certificate.participant)
        assert new is not None
    certificate.replaced_by_id = new.id
    db.session.flush()
    return new


def _known_base_url() -> str | None:
    from kitmanager.network import NoBadgeAddress

    try:
        return certificate_base_url()
    except NoBadgeAddress:
        return None  # the command line before any start: checked again when printing


def certificate_base_url() -> str:
    """The public base URL certificate QR codes open: the stored setting, else the badge
    address (:func:`kitmanager.network.base_url`).

    :raise kitmanager.network.NoBadgeAddress: neither is known (command line, nothing stored).
    """
    from kitmanager.network import base_url
    from kitmanager.settings.services import CERTIFICATE_BASE_URL, get_setting

    return get_setting(CERTIFICATE_BASE_URL) or base_url()
