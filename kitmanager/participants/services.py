"""Participants and teams: add, edit, delete (anonymise), import from CSV, export to CSV.

Services take an explicit actor, flush, never commit, except an import asked to write in
batches (:func:`write_in_batches`), which commits each batch and takes back what it wrote if a
later one fails. An import is all or nothing either way.
"""

from __future__ import annotations

import logging
import math
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import contains_eager

from kitmanager.audit import Actor, record_event
from kitmanager.database import serialized_writes
from kitmanager.extensions import db
from kitmanager.models import (
    Certificate,
    Participant,
    ParticipantRole,
    Team,
    Workshop,
    new_token,
    utcnow,
)
from kitmanager.participants.csv_io import (
    ParseResult,
    ParticipantRow,
    RowError,
    is_email_address,
    normalise_email,
    write_csv,
)
from kitmanager.participants.fields import (
    FIELD_LABELS,
    FIELD_NAMES,
    MULTILINE_FIELDS,
    TEXT_FIELDS,
    FieldProblem,
    ParticipantFields,
    clean_field,
    fields_of,
    participant_values,
)
from kitmanager.scans.codes import badge_url as scan_badge_url
from kitmanager.text import safe_text, sort_key
from kitmanager.unit_of_work import UserError

__all__ = [
    "BADGE_LINK_LABEL",
    "EXPORT_DELIMITERS",
    "IMPORT_BATCH_ROWS",
    "Duplicate",
    "ImportNotUndone",
    "ImportPlan",
    "ImportRefused",
    "ImportSummary",
    "ParticipantError",
    "ParticipantFields",
    "ParticipantPage",
    "apply_import",
    "badge_url",
    "create_participant",
    "database_reason",
    "delete_participant",
    "export_participants_csv",
    "get_or_create_team",
    "list_participants",
    "participant_page",
    "plan_import",
    "same_name",
    "update_participant",
    "write_in_batches",
]

logger = logging.getLogger(__name__)

DuplicateChoice = Literal["skip", "update"]


class ParticipantError(UserError):
    """A participant request the user can fix; the message says how."""


class ImportRefused(ParticipantError):
    """The import was refused whole; nothing was written."""


def badge_url(base_url: str, participant: Participant) -> str:
    """The URL a badge QR carries: the base URL and the participant's random token."""
    return scan_badge_url(base_url, participant.badge_token)


def same_name(first: str, second: str) -> bool:
    """Whether two spellings are one name (case and spaces aside, accents kept)."""
    return _name_key(first) == _name_key(second)


def _name_key(name: str) -> str:
    """How two spellings of one name compare: case- and space-insensitive, accents kept."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _clean_fields(fields: ParticipantFields) -> ParticipantFields:
    """``fields`` cleaned for storing. :raise ParticipantError: a field cannot be stored."""
    texts: dict[str, str] = {}
    for name in TEXT_FIELDS:
        try:
            texts[name] = clean_field(name, getattr(fields, name))
        except FieldProblem as problem:
            raise ParticipantError(f"{FIELD_LABELS[name]}: {problem}") from None
    if not texts["full_name"]:
        raise ParticipantError(gettext("The participant needs a full name."))
    email = texts["email"] or None
    if email is not None:
        if not is_email_address(email):
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
                role=safe_text(str(fields.role)),
                choices=choices,
            )
        ) from None
    return ParticipantFields(
        **{
            **texts,
            "email": email,
            "team": texts["team"] or None,
            "external_id": texts["external_id"] or None,
            "role": role,
            "photo_consent": fields.photo_consent,
        }
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
    for name, value in participant_values(fields).items():
        setattr(participant, name, value)
    participant.team = get_or_create_team(workshop, fields.team)


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
    """Set every field of ``participant`` to ``fields`` (start from :func:`fields_of` to
    change only some). :raise ParticipantError:"""
    fields = _clean_fields(fields)
    _apply(participant.workshop, participant, fields)
    db.session.flush()
    record_event(actor, "participant.updated", "participant", participant.id)
    return participant


def delete_participant(actor: Actor, participant: Participant) -> None:
    """Remove the person's data but keep an anonymous row, so counts stay right.

    The badge token is replaced, so a printed badge stops working.
    """
    # Every personal field goes; the role stays, for the anonymous counts.
    blank = ParticipantFields(full_name="", role=participant.role)
    for name, value in participant_values(blank).items():
        setattr(participant, name, value)
    participant.team = None
    participant.badge_token = new_token()
    participant.deleted_at = utcnow()
    # Their certificates keep code, dates and revocation (what a verifier needs to be told a
    # revoked one is revoked) but no longer the signed facts, which hold the name; the QR the
    # person holds carries those facts and still checks against the signature.
    db.session.execute(
        update(Certificate).where(Certificate.participant_id == participant.id).values(facts="")
    )
    db.session.flush()
    record_event(actor, "participant.deleted", "participant", participant.id)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _participants_query(workshop: Workshop, search: str = "") -> Select:
    """The workshop's (not deleted) people with their team loaded, in name order, those
    matching ``search`` in name, email, organisation or team (case and accents ignored in
    names) when it is given."""
    query = (
        select(Participant)
        .outerjoin(Participant.team)
        .options(contains_eager(Participant.team))
        .where(Participant.workshop_id == workshop.id, Participant.not_deleted)
        .order_by(Participant.sort_key, Participant.full_name, Participant.id)
    )
    text = safe_text(search)
    if text:
        like = _like(text)
        matches = [
            Participant.full_name.ilike(like, escape="\\"),
            Participant.email.ilike(like, escape="\\"),
            Participant.organisation.ilike(like, escape="\\"),
            Team.name.ilike(like, escape="\\"),
        ]
        key = sort_key(text)
        if key:
            matches.append(Participant.sort_key.like(_like(key), escape="\\"))
        query = query.where(or_(*matches))
    return query


def list_participants(workshop: Workshop, search: str = "") -> list[Participant]:
    """Everyone (not deleted) in name order, teams loaded in the same query; ``search`` as
    :func:`participant_page` takes it."""
    return list(db.session.scalars(_participants_query(workshop, search)))


@dataclass
class ParticipantPage:
    """One page of a participant list: ``people`` in name order, ``total`` across pages."""

    people: list[Participant]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def participant_page(
    workshop: Workshop, search: str = "", *, page: int = 1, per_page: int = 100
) -> ParticipantPage:
    """Page ``page`` (from 1; past the end gives the last page) of the people matching
    ``search`` in name, email, organisation or team, sorted and cut in SQL."""
    query = _participants_query(workshop, search)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, math.ceil((total or 0) / per_page))
    page = min(max(1, page), pages)
    people = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return ParticipantPage(people=people, total=total or 0, page=page, per_page=per_page)


def participant_ids(workshop: Workshop, search: str = "") -> list[int]:
    """The ids of everyone :func:`list_participants` would list, without loading them."""
    query = _participants_query(workshop, search).with_only_columns(Participant.id)
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


# ---------------------------------------------------------------- writing an import in batches

# Rows an import writes per transaction. SQLite lets one writer in at a time: one transaction
# for a whole file held the database for the whole import (59 s for 49,999 kits, and scans
# waiting behind it gave up), while a batch of 500 takes a few tens of milliseconds.
IMPORT_BATCH_ROWS = 500
# A pause between two batches: the writes lock is handed to no one in particular, and the
# import, taking it again at once, would win it over scans that have waited all along.
_BATCH_PAUSE_S = 0.002
# Taking back a failed import is tried this often, a second apart (another program may hold
# the database a moment), before giving up and saying so.
_UNDO_ATTEMPTS = 3


class ImportNotUndone(Exception):
    """An import failed midway and the rows its earlier batches wrote could not all be taken
    back; the message says how far it got and what to do."""


def write_in_batches(
    total: int,
    write: Callable[[range, bool], None],
    undo: Callable[[range], None],
    *,
    batch_rows: int | None = IMPORT_BATCH_ROWS,
) -> None:
    """Write rows ``0 .. total - 1`` of an import with ``write(rows, last)``, all or nothing.

    ``batch_rows`` None: in one call, flushed; the caller commits or rolls back. Otherwise in
    transactions of ``batch_rows`` rows, each committed holding the writes lock
    (:func:`~kitmanager.database.serialized_writes`), so scans get in between batches. When a
    batch raises, it is rolled back, ``undo(rows)`` takes back each batch committed before it
    (the last first, each in a transaction of its own) and the error is raised: nothing of the
    import stays. ``write`` runs at least once (with no rows when ``total`` is 0) and ``last``
    is true on its final call, for what is written once (the audit row). Start with nothing
    pending in the session: the first batch would commit it, and no undo would take it back.

    :raise ImportNotUndone: a batch failed and the batches before it could not be taken back.
    """
    if batch_rows is None:
        write(range(total), True)
        db.session.flush()
        return
    committed: list[range] = []
    try:
        for start in range(0, max(total, 1), batch_rows):
            rows = range(start, min(start + batch_rows, total))
            with serialized_writes():
                try:
                    write(rows, rows.stop >= total)
                    db.session.commit()
                except BaseException:
                    db.session.rollback()
                    raise
            committed.append(rows)
            if rows.stop < total:
                time.sleep(_BATCH_PAUSE_S)
    except BaseException as failure:
        _take_back(committed, undo, total, failure)
        raise


def _take_back(
    committed: list[range], undo: Callable[[range], None], total: int, failure: BaseException
) -> None:
    """Undo the ``committed`` batches, the last first. :raise ImportNotUndone:"""
    for rows in reversed(committed):
        for attempt in range(1, _UNDO_ATTEMPTS + 1):
            with serialized_writes():
                try:
                    undo(rows)
                    db.session.commit()
                    break
                except Exception:
                    db.session.rollback()
                    logger.exception("taking back rows %s of a failed import", rows)
            if attempt == _UNDO_ATTEMPTS:
                done = rows.stop
                reason = (
                    database_reason(failure)
                    if isinstance(failure, SQLAlchemyError)
                    else str(failure) or type(failure).__name__
                )
                raise ImportNotUndone(
                    gettext(
                        "The import stopped after %(done)s of %(total)s rows (%(reason)s), and "
                        "the rows it had written could not be removed. Check the list: delete "
                        "what was added, or import the rest of the file.",
                        done=done,
                        total=total,
                        reason=reason,
                    )
                ) from failure
            time.sleep(1)


def database_reason(error: SQLAlchemyError) -> str:
    """The database's own words for a refused write, without SQLAlchemy's statement dump."""
    original = getattr(error, "orig", None)
    return str(original if original is not None else error).splitlines()[0]


def apply_import(
    actor: Actor,
    workshop: Workshop,
    plan: ImportPlan,
    *,
    on_duplicate: DuplicateChoice = "skip",
    only_valid: bool = False,
    batch_rows: int | None = None,
) -> ImportSummary:
    """Write an import plan, all or nothing: new people first, then the updates.

    ``batch_rows`` None: in the session's transaction (the caller commits). Otherwise in
    committed batches of that many rows (:func:`write_in_batches`): new people are taken back
    by their badge tokens, updated ones get their fields back, teams the import created go
    when nobody is in them.

    :raise ImportRefused: the file has invalid rows and ``only_valid`` is false: nothing written.
    :raise ImportNotUndone: a batch failed and the ones before could not be taken back.
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
    now = utcnow()
    # Every row is checked and turned into values before anything is written.
    # Later rows of the file win over earlier ones when the user chose update.
    new_rows: dict[int, tuple[dict[str, object], str | None]] = {}
    for row in plan.new:
        fields = _clean_fields(row)
        new_rows[row.line] = (_row_values(workshop, fields, now), fields.team)
    updates: list[tuple[Participant, ParticipantFields]] = []
    for dup in plan.duplicates:
        if on_duplicate == "skip":
            summary.skipped += 1
            continue
        fields = _clean_fields(dup.row)
        if dup.existing is not None:
            updates.append((dup.existing, fields))
        else:
            target = dup.earlier_line
            values = _row_values(workshop, fields, now)
            values["badge_token"] = new_rows[target][0]["badge_token"]
            new_rows[target] = (values, fields.team)
            summary.skipped += 1  # merged into the earlier row of the file
    inserts = list(new_rows.values())
    summary.created = len(inserts)
    summary.updated = len(updates)
    wanted = {team for _values, team in inserts} | {fields.team for _p, fields in updates}
    wanted.discard(None)
    workshop_id = workshop.id
    teams: dict[str, int] = {
        team.name: team.id
        for team in db.session.scalars(select(Team).where(Team.workshop_id == workshop_id))
    }
    made_teams: list[int] = []
    before: dict[int, ParticipantFields] = {}  # the fields of updated people, by update index

    def write(rows: range, last: bool) -> None:
        if rows.start == 0:  # the first batch: the teams the file names that do not exist yet
            for name in sorted(wanted - set(teams)):  # type: ignore[arg-type]
                team = get_or_create_team(workshop, name)
                assert team is not None
                teams[name] = team.id
                made_teams.append(team.id)
        added = [
            {**values, "team_id": teams[team] if team else None}
            for values, team in inserts[rows.start : rows.stop]
        ]
        if added:
            db.session.execute(insert(Participant), added)
        for index in range(max(rows.start, len(inserts)), rows.stop):
            person, fields = updates[index - len(inserts)]
            before[index] = fields_of(person)
            _apply(workshop, person, fields)
        if last:
            db.session.flush()
            record_event(
                actor,
                "participants.imported",
                "workshop",
                workshop_id,
                created=summary.created,
                updated=summary.updated,
                skipped=summary.skipped,
                invalid_skipped=summary.invalid_skipped,
            )

    def undo(rows: range) -> None:
        tokens = [values["badge_token"] for values, _team in inserts[rows.start : rows.stop]]
        if tokens:
            db.session.execute(delete(Participant).where(Participant.badge_token.in_(tokens)))
        for index in range(max(rows.start, len(inserts)), rows.stop):
            if index in before:
                _apply(workshop, updates[index - len(inserts)][0], before[index])

    try:
        write_in_batches(len(inserts) + len(updates), write, undo, batch_rows=batch_rows)
    except BaseException:
        if batch_rows is not None and made_teams:
            _drop_empty_teams(made_teams)
        raise
    return summary


def _drop_empty_teams(team_ids: list[int]) -> None:
    """Delete the teams of ``team_ids`` nobody is in: those a failed import made. (A team is
    committed as soon as it is made, even within the first batch: SQLite's savepoint that
    :func:`get_or_create_team` opens outside a transaction commits when released.)"""
    with serialized_writes():
        try:
            occupied = select(Participant.team_id).where(Participant.team_id.is_not(None))
            db.session.execute(delete(Team).where(Team.id.in_(team_ids), Team.id.not_in(occupied)))
            db.session.commit()
        except Exception:
            db.session.rollback()
            logger.exception("removing the teams of a failed import")


def _row_values(workshop: Workshop, fields: ParticipantFields, now: datetime) -> dict[str, object]:
    """The columns of a new participant from ``fields``, but for the team (the caller's)."""
    return {
        **participant_values(fields),
        "workshop_id": workshop.id,
        "badge_token": new_token(),
        "created_at": now,
        "updated_at": now,
    }


# The column after the fields: the URL each badge QR carries.
BADGE_LINK_LABEL = _l("Badge link")
# The separators an export offers, by name; Excel in French (and wherever 1,5 is written)
# expects ";".
EXPORT_DELIMITERS = {"comma": ",", "semicolon": ";"}


def _export_cell(name: str, value: object) -> object:
    # Rows stored before text was cleaned at entry still leave here without control characters.
    if isinstance(value, str):
        return safe_text(value, multiline=name in MULTILINE_FIELDS)
    return value


def export_participants_csv(workshop: Workshop, base_url: str, *, delimiter: str = ",") -> bytes:
    """Every (not deleted) participant with their badge URL, as Excel-friendly CSV bytes.

    The header names the fields in the reader's language, as the pages do (English outside a
    request); importing the file again maps every column back to its field. ``delimiter`` is
    ``","`` or ``";"`` (what Excel expects where the decimal separator is a comma).
    """
    header = [*(FIELD_LABELS[name] for name in FIELD_NAMES), BADGE_LINK_LABEL]
    rows: Iterable[Sequence[object]] = (
        (
            *(_export_cell(name, value) for name, value in vars(fields_of(p)).items()),
            badge_url(base_url, p),
        )
        for p in list_participants(workshop)
    )
    return write_csv(header, rows, delimiter=delimiter)


def count_participants(workshop: Workshop) -> int:
    return (
        db.session.scalar(
            select(func.count(Participant.id)).where(
                Participant.workshop_id == workshop.id, Participant.not_deleted
            )
        )
        or 0
    )
