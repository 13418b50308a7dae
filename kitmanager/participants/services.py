"""Participants and teams: add, edit, delete (anonymise), import from CSV, export to CSV.

Services take an explicit actor, flush, never commit. An import is all or nothing: it either
adds every planned row or raises before touching the database.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from flask_babel import gettext, ngettext
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from kitmanager.audit import Actor, record_event
from kitmanager.extensions import db
from kitmanager.models import Participant, ParticipantRole, Team, Workshop, new_token, utcnow
from kitmanager.participants.csv_io import (
    FIELDS,
    ParseResult,
    ParticipantRow,
    RowError,
    is_email_address,
    normalise_email,
    write_csv,
)

__all__ = [
    "Duplicate",
    "ImportPlan",
    "ImportRefused",
    "ImportSummary",
    "ParticipantError",
    "ParticipantFields",
    "apply_import",
    "badge_url",
    "create_participant",
    "delete_participant",
    "export_participants_csv",
    "get_or_create_team",
    "list_participants",
    "plan_import",
    "update_participant",
]

DuplicateChoice = Literal["skip", "update"]


class ParticipantError(ValueError):
    """A participant request the user can fix; the message says how."""


class ImportRefused(ParticipantError):
    """The import was refused whole; nothing was written."""


def badge_url(base_url: str, participant: Participant) -> str:
    """The URL a badge QR carries: the base URL and the participant's random token."""
    return f"{base_url.rstrip('/')}/b/{participant.badge_token}"


def _nfc(value: str | None) -> str:
    return unicodedata.normalize("NFC", (value or "").strip())


def _name_key(name: str) -> str:
    """How two spellings of one name compare: case- and space-insensitive, accents kept."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


@dataclass
class ParticipantFields:
    full_name: str
    badge_name: str = ""
    email: str | None = None
    organisation: str = ""
    role: str = ParticipantRole.PARTICIPANT.value
    team: str | None = None
    guardian_contact: str = ""
    photo_consent: bool | None = None
    notes: str = ""
    external_id: str | None = None

    @classmethod
    def from_row(cls, row: ParticipantRow) -> ParticipantFields:
        return cls(
            full_name=row.full_name,
            badge_name=row.badge_name or "",
            email=row.email,
            organisation=row.organisation,
            role=row.role,
            team=row.team,
            guardian_contact=row.guardian_contact,
            photo_consent=row.photo_consent,
            notes=row.notes,
            external_id=row.external_id,
        )


def _clean_fields(fields: ParticipantFields) -> ParticipantFields:
    full_name = _nfc(fields.full_name)
    if not full_name:
        raise ParticipantError(gettext("The participant needs a full name."))
    if len(full_name) > 200:
        raise ParticipantError(gettext("The full name is too long: keep it under 200 characters."))
    badge_name = _nfc(fields.badge_name)
    if len(badge_name) > 60:
        raise ParticipantError(gettext("The badge name is too long: keep it under 60 characters."))
    email = _nfc(fields.email) or None
    if email is not None:
        if not is_email_address(email) or len(email) > 254:
            raise ParticipantError(
                gettext(
                    "'%(email)s' is not an email address: fix it or leave it empty.", email=email
                )
            )
        email = normalise_email(email)
    try:
        role = ParticipantRole(fields.role).value
    except ValueError:
        choices = ", ".join(r.value for r in ParticipantRole)
        raise ParticipantError(
            gettext(
                "Unknown role '%(role)s': choose one of %(choices)s.",
                role=fields.role,
                choices=choices,
            )
        ) from None
    team = _nfc(fields.team) or None
    if team is not None and len(team) > 100:
        raise ParticipantError(gettext("The team name is too long: keep it under 100 characters."))
    return ParticipantFields(
        full_name=full_name,
        badge_name=badge_name,
        email=email,
        organisation=_nfc(fields.organisation)[:200],
        role=role,
        team=team,
        guardian_contact=_nfc(fields.guardian_contact)[:200],
        photo_consent=fields.photo_consent,
        notes=(fields.notes or "").strip(),
        external_id=_nfc(fields.external_id) or None,
    )


def get_or_create_team(workshop: Workshop, name: str | None) -> Team | None:
    """The workshop's team of that name, created if new (safe when two requests race)."""
    if not name:
        return None
    query = select(Team).where(Team.workshop_id == workshop.id, Team.name == name)
    team = db.session.scalar(query)
    if team is None:
        try:
            with db.session.begin_nested():
                team = Team(workshop_id=workshop.id, name=name)
                db.session.add(team)
                db.session.flush()
        except IntegrityError:
            team = db.session.scalar(query)  # another request created it a moment ago
    return team


def _apply(workshop: Workshop, participant: Participant, fields: ParticipantFields) -> None:
    participant.full_name = fields.full_name
    participant.badge_name = fields.badge_name
    participant.email = fields.email
    participant.organisation = fields.organisation
    participant.role = fields.role
    participant.team = get_or_create_team(workshop, fields.team)
    participant.guardian_contact = fields.guardian_contact
    participant.photo_consent = fields.photo_consent
    participant.notes = fields.notes
    participant.external_id = fields.external_id


def create_participant(actor: Actor, workshop: Workshop, fields: ParticipantFields) -> Participant:
    """Add one participant with a fresh random badge token. :raise ParticipantError:"""
    fields = _clean_fields(fields)
    participant = Participant(workshop_id=workshop.id)
    _apply(workshop, participant, fields)
    db.session.add(participant)
    db.session.flush()
    record_event(
        actor, "participant.created", "participant", participant.id, workshop=workshop.slug
    )
    return participant


def update_participant(
    actor: Actor, participant: Participant, fields: ParticipantFields
) -> Participant:
    fields = _clean_fields(fields)
    _apply(participant.workshop, participant, fields)
    db.session.flush()
    record_event(actor, "participant.updated", "participant", participant.id)
    return participant


def delete_participant(actor: Actor, participant: Participant) -> None:
    """Remove the person's data but keep an anonymous row, so counts stay right.

    The badge token is replaced, so a printed badge stops working.
    """
    participant.full_name = ""
    participant.badge_name = ""
    participant.email = None
    participant.organisation = ""
    participant.team = None
    participant.guardian_contact = ""
    participant.photo_consent = None
    participant.notes = ""
    participant.external_id = None
    participant.badge_token = new_token()
    participant.deleted_at = utcnow()
    db.session.flush()
    record_event(actor, "participant.deleted", "participant", participant.id)


def list_participants(workshop: Workshop, search: str = "") -> list[Participant]:
    query = (
        select(Participant)
        .where(Participant.workshop_id == workshop.id, Participant.deleted_at.is_(None))
        .order_by(Participant.full_name, Participant.id)
    )
    if search:
        like = f"%{search.strip()}%"
        query = query.where(
            Participant.full_name.ilike(like)
            | Participant.email.ilike(like)
            | Participant.organisation.ilike(like)
        )
    return list(db.session.scalars(query))


@dataclass
class Duplicate:
    """A row that matches someone already registered (or an earlier row of the same file)."""

    row: ParticipantRow
    reason: str  # "email" or "name"
    existing: Participant | None = None  # None: duplicate of an earlier line in the file
    earlier_line: int | None = None


@dataclass
class ImportPlan:
    new: list[ParticipantRow] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return len(self.new) + len(self.duplicates) + len({e.line for e in self.errors})


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    invalid_skipped: int = 0


def plan_import(workshop: Workshop, parsed: ParseResult) -> ImportPlan:
    """Sort parsed rows into new ones and duplicates (same email, or same name) without writing."""
    by_email: dict[str, Participant] = {}
    by_name: dict[str, Participant] = {}
    for participant in list_participants(workshop):
        if participant.email:
            by_email.setdefault(participant.email.casefold(), participant)
        by_name.setdefault(_name_key(participant.full_name), participant)

    plan = ImportPlan(errors=list(parsed.errors))
    # What an earlier row of the file became: an existing participant, or a new row's line.
    seen_email: dict[str, Participant | int] = {}
    seen_name: dict[str, Participant | int] = {}
    for row in parsed.rows:
        email = row.email.casefold() if row.email else None
        name = _name_key(row.full_name)
        target: Participant | int
        if email and email in by_email:
            target = by_email[email]
            plan.duplicates.append(Duplicate(row, "email", existing=target))
        elif name in by_name:
            target = by_name[name]
            plan.duplicates.append(Duplicate(row, "name", existing=target))
        elif (email and email in seen_email) or name in seen_name:
            reason = "email" if email and email in seen_email else "name"
            target = seen_email[email] if reason == "email" else seen_name[name]  # type: ignore[index]
            if isinstance(target, Participant):
                plan.duplicates.append(Duplicate(row, reason, existing=target))
            else:
                plan.duplicates.append(Duplicate(row, reason, earlier_line=target))
        else:
            target = row.line
            plan.new.append(row)
        if email:
            seen_email.setdefault(email, target)
        seen_name.setdefault(name, target)
    return plan


def apply_import(
    actor: Actor,
    workshop: Workshop,
    plan: ImportPlan,
    *,
    on_duplicate: DuplicateChoice = "skip",
    only_valid: bool = False,
) -> ImportSummary:
    """Write an import plan in one go.

    :raise ImportRefused: the file has invalid rows and ``only_valid`` is false: nothing written.
    """
    if plan.errors and not only_valid:
        lines = len({e.line for e in plan.errors})
        raise ImportRefused(
            ngettext(
                "%(num)s row(s) have errors, so nothing was imported. Fix them and import again, "
                "or choose to import only the valid rows.",
                "%(num)s row(s) have errors, so nothing was imported. Fix them and import again, "
                "or choose to import only the valid rows.",
                lines,
            )
        )
    if on_duplicate not in ("skip", "update"):
        raise ParticipantError(gettext("Choose 'skip' or 'update' for duplicates."))
    summary = ImportSummary(invalid_skipped=len({e.line for e in plan.errors}))
    teams: dict[str, int] = {
        team.name: team.id
        for team in db.session.scalars(select(Team).where(Team.workshop_id == workshop.id))
    }

    def team_id(name: str | None) -> int | None:
        if not name:
            return None
        if name not in teams:
            teams[name] = get_or_create_team(workshop, name).id  # type: ignore[union-attr]
        return teams[name]

    now = utcnow()
    # Later rows of the file win over earlier ones when the user chose update.
    new_rows: dict[int, dict] = {}
    for row in plan.new:
        fields = _clean_fields(ParticipantFields.from_row(row))
        new_rows[row.line] = _row_values(workshop, fields, team_id, now)
    for dup in plan.duplicates:
        if on_duplicate == "skip":
            summary.skipped += 1
            continue
        fields = _clean_fields(ParticipantFields.from_row(dup.row))
        if dup.existing is not None:
            _apply(workshop, dup.existing, fields)
            summary.updated += 1
        else:
            target = dup.earlier_line
            values = _row_values(workshop, fields, team_id, now)
            values["badge_token"] = new_rows[target]["badge_token"]
            new_rows[target] = values
            summary.skipped += 1  # merged into the earlier row of the file
    if new_rows:
        db.session.execute(insert(Participant), list(new_rows.values()))
    summary.created = len(new_rows)
    db.session.flush()
    record_event(
        actor,
        "participants.imported",
        "workshop",
        workshop.id,
        created=summary.created,
        updated=summary.updated,
        skipped=summary.skipped,
        invalid_skipped=summary.invalid_skipped,
    )
    return summary


def _row_values(workshop: Workshop, fields: ParticipantFields, team_id, now) -> dict:
    return {
        "workshop_id": workshop.id,
        "full_name": fields.full_name,
        "badge_name": fields.badge_name,
        "email": fields.email,
        "organisation": fields.organisation,
        "role": fields.role,
        "team_id": team_id(fields.team),
        "guardian_contact": fields.guardian_contact,
        "photo_consent": fields.photo_consent,
        "notes": fields.notes,
        "external_id": fields.external_id,
        "badge_token": new_token(),
        "created_at": now,
        "updated_at": now,
    }


# The importable fields, one column each, then the URL each badge QR carries.
EXPORT_HEADER = (*(f for f in FIELDS if f not in ("first_name", "last_name")), "badge_url")


def export_participants_csv(workshop: Workshop, base_url: str) -> bytes:
    """Every (not deleted) participant with their badge URL, as Excel-friendly CSV bytes."""
    rows: Iterable[Sequence[object]] = (
        (
            p.full_name,
            p.badge_name,
            p.email or "",
            p.organisation,
            p.role,
            p.team.name if p.team else "",
            p.guardian_contact,
            "" if p.photo_consent is None else ("yes" if p.photo_consent else "no"),
            p.notes,
            p.external_id or "",
            badge_url(base_url, p),
        )
        for p in list_participants(workshop)
    )
    return write_csv(EXPORT_HEADER, rows)


def count_participants(workshop: Workshop) -> int:
    return (
        db.session.scalar(
            select(func.count(Participant.id)).where(
                Participant.workshop_id == workshop.id, Participant.deleted_at.is_(None)
            )
        )
        or 0
    )
