"""Bringing the database schema up to date, and what the app needs of SQLite."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Connection, Select, Table, TextClause, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert

__all__ = [
    "MIGRATIONS_DIR",
    "HotResult",
    "HotStatement",
    "insert_ignoring_conflicts",
    "schema_head",
    "serialized_writes",
    "upgrade_database",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def schema_head() -> str:
    """The schema revision a database has after every migration of this version has run."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None, "kitmanager ships its migrations"
    return head


def upgrade_database(app: Flask, revision: str = "head") -> None:
    """Apply every committed migration (Alembic), or those up to ``revision``. Safe to call on
    every start."""
    from flask_migrate import upgrade

    # Alembic's fileConfig would reset the app's logging; keep its output short instead.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision=revision)


# SQLite lets one writer in at a time and makes the others sleep and poll (1, 2, 5 ... 100 ms),
# which under a rush of scans turns a 2 ms write into a 100 ms wait. Writers of this process
# queue here instead, in order, and never meet SQLite's lock.
_sqlite_writer = threading.Lock()
# Per thread, inside serialized_writes on SQLite: "waiting" until the transaction's first write
# takes the turn, then "held" until the block ends (after its commit or rollback).
_turn = threading.local()


@contextmanager
def serialized_writes() -> Iterator[None]:
    """Around a short write transaction (up to its commit) on a hot path such as a scan.

    On SQLite the writers of this process take turns. A transaction takes its turn at its
    first write (or locking read, ``SELECT ... FOR UPDATE``) and keeps it to the block's end,
    so its plain reads (a badge's holder, a stored answer) run while another one
    writes. Taken at the start, the turn was held 2-4 ms a scan with 20 stations, most of it
    waiting for the interpreter lock after each statement, and every other scan queued behind
    it. A plain read may be a moment old, as on PostgreSQL, where nothing waits here: what
    must happen once is decided by a write (a unique constraint with ON CONFLICT DO NOTHING, a
    conditional UPDATE, a FOR UPDATE read), which sees every write before it.
    """
    from kitmanager.extensions import db

    if db.session.get_bind().dialect.name != "sqlite" or getattr(_turn, "state", None):
        yield  # PostgreSQL; or inside another such block, which keeps the turn
        return
    _turn.state = "waiting"
    try:
        yield
    finally:
        held = _turn.state == "held"
        _turn.state = None
        if held:
            _sqlite_writer.release()


def _take_turn() -> None:
    """Before a write of a transaction in :func:`serialized_writes`: wait for the turn."""
    if getattr(_turn, "state", None) == "waiting":
        _sqlite_writer.acquire()
        _turn.state = "held"


def _only_reads(sql: str, statement: Any) -> bool:
    """Whether the SQL text ``sql`` of the Core ``statement`` (None: plain SQL) is a plain
    read, which needs no turn: a SELECT without FOR UPDATE (which SQLite's SQL leaves out)."""
    if isinstance(statement, Select):
        return statement._for_update_arg is None
    if statement is not None and not isinstance(statement, TextClause):
        return False  # INSERT, UPDATE, DELETE
    return sql.lstrip()[:6].upper() == "SELECT"


@event.listens_for(Engine, "before_cursor_execute", retval=True)
def _turn_before_writing(
    connection: Connection,
    cursor: Any,
    sql: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> tuple[str, Any]:
    """Whatever SQLAlchemy runs in :func:`serialized_writes` (an ORM flush, a Core UPDATE)
    takes the turn before it writes, as a :class:`HotStatement` does."""
    if getattr(_turn, "state", None) == "waiting" and not _only_reads(
        sql, getattr(getattr(context, "compiled", None), "statement", None)
    ):
        _take_turn()
    return sql, parameters


@dataclass(frozen=True)
class HotResult:
    """What a :class:`HotStatement` gave back: its rows (as plain tuples, values converted by
    their column types), the rows it changed, and the new row's id (SQLite)."""

    rows: list[tuple[Any, ...]]
    rowcount: int
    lastrowid: int | None

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


_Processor = Callable[[Any], Any] | None


_FROM_VALUES = object()  # a bind whose value the caller gives


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled for one dialect (and, for an INSERT, one set of columns)."""

    sql: str
    # Each bind in the driver's order: its name, its fixed value (a LIMIT's 1) or
    # _FROM_VALUES, and its column type's converter.
    binds: tuple[tuple[str, Any, _Processor], ...]
    # Names in the SQL text for a driver taking a dict (psycopg); None for a positional one.
    driver_names: tuple[str, ...] | None
    results: tuple[_Processor, ...]
    # SQLAlchemy must run it itself: it computes column defaults the values left out.
    through_sqlalchemy: bool

    def parameters(self, values: dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
        converted = []
        for name, fixed, process in self.binds:
            value = values[name] if fixed is _FROM_VALUES else values.get(name, fixed)
            converted.append(value if process is None else process(value))
        if self.driver_names is None:
            return converted
        return dict(zip(self.driver_names, converted, strict=True))


class HotStatement:
    """A Core statement on a hot path (every scan), run on the DBAPI cursor of the session's
    connection, inside the session's transaction.

    SQLAlchemy's per-execution work (cache key, execution context, result object) cost about
    80 µs a statement here against 15 µs for the database itself, and a scan runs seven. The
    statement is compiled once per dialect by SQLAlchemy, and values go in and come out
    through the column types' own converters, so what is stored and read is exactly what
    ``connection.execute`` would store and read; a database error is raised as SQLAlchemy
    raises it (a full disk is still an ``OperationalError``, a dropped connection is still
    invalidated). While anything watches SQLAlchemy's statements (``echo``, a listener such as
    a test counting statements), the statement goes through ``connection.execute`` instead.
    An INSERT that leaves out a column with a Python-side default goes through SQLAlchemy too.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._only_reads = _only_reads("", statement)
        self._prepared: dict[tuple[Any, ...], _Prepared] = {}

    def _prepare(self, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared:
        key = (dialect.name, dialect.driver, dialect.server_version_info, keys)
        prepared = self._prepared.get(key)
        if prepared is not None:
            return prepared
        is_insert = isinstance(self.statement, Insert)
        compiled: Any = self.statement.compile(
            dialect=dialect, column_keys=list(keys) if is_insert else None
        )
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        order = compiled.positiontup if dialect.positional else list(by_name)
        binds = []
        for name in order:
            bind = by_name[name]
            fixed = _FROM_VALUES if bind.required or name in keys else bind.effective_value
            binds.append((name, fixed, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in getattr(self.statement, "selected_columns", ())
        )
        prepared = _Prepared(
            sql=compiled.string,
            binds=tuple(binds),
            driver_names=None
            if dialect.positional
            else tuple(compiled.escaped_bind_names.get(name, name) for name in order),
            results=results,
            through_sqlalchemy=bool(getattr(compiled, "insert_prefetch", None)),
        )
        self._prepared[key] = prepared
        return prepared

    def execute(self, values: dict[str, Any], connection: Connection | None = None) -> HotResult:
        """Run the statement with ``values`` on ``connection`` (default: the session's)."""
        from kitmanager.extensions import db

        if connection is None:
            connection = db.session.connection()
        dialect = connection.dialect
        keys = tuple(values) if isinstance(self.statement, Insert) else ()
        prepared = self._prepare(dialect, keys)
        if prepared.through_sqlalchemy or _watched(connection):
            result = connection.execute(self.statement, values)  # takes the turn itself
            rows = [tuple(row) for row in result] if result.returns_rows else []
            lastrowid = result.lastrowid if dialect.name == "sqlite" else None
            return HotResult(rows, result.rowcount, lastrowid)
        parameters = prepared.parameters(values)
        if not self._only_reads:
            _take_turn()
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(prepared.sql, parameters)
            rows = cursor.fetchall() if cursor.description else []
            result = HotResult(
                [_converted(row, prepared.results) for row in rows],
                cursor.rowcount,
                cursor.lastrowid if dialect.name == "sqlite" else None,
            )
        except dialect.loaded_dbapi.Error as error:
            # SQLAlchemy's own handling: the same exception classes, the cursor closed, and a
            # connection found dropped invalidated.
            connection._handle_dbapi_exception(error, prepared.sql, parameters, cursor, None)
            raise  # not reached: the line above raises
        except BaseException:
            cursor.close()
            raise
        cursor.close()
        return result

    def first(self, values: dict[str, Any]) -> tuple[Any, ...] | None:
        return self.execute(values).first()

    def scalar(self, values: dict[str, Any]) -> Any:
        return self.execute(values).scalar()


def _converted(row: Sequence[Any], processors: tuple[_Processor, ...]) -> tuple[Any, ...]:
    return (
        tuple(
            value if process is None or value is None else process(value)
            for value, process in zip(row, processors, strict=False)
        )
        if processors
        else tuple(row)
    )


def _watched(connection: Connection) -> bool:
    """Whether SQLAlchemy logs statements or anything (but the turn) listens to them."""
    dispatch = connection.dispatch
    return bool(
        connection._echo  # echo and the logging level, as SQLAlchemy decides them
        or any(fn is not _turn_before_writing for fn in dispatch.before_cursor_execute)
        or dispatch.after_cursor_execute
        or dispatch.before_execute
        or dispatch.after_execute
    )


@functools.cache
def _insert_ignoring(table: Table, dialect: str) -> HotStatement:
    """INSERT ... ON CONFLICT DO NOTHING for ``table``, built once (scans are a hot path)."""
    if dialect == "postgresql":
        # psycopg reports no row count here; the returned key says whether a row went in.
        return HotStatement(
            postgresql.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
        )
    return HotStatement(sqlite.insert(table).on_conflict_do_nothing())


def insert_ignoring_conflicts(model: Any, **values: Any) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING of one ``model`` row on the session's connection.

    Returns the new row's integer id, or None when a unique constraint or unique index (a
    partial one too) already held such a row. The database decides, so two requests at the
    same instant cannot both win, and neither fails with an error.
    """
    from kitmanager.extensions import db

    connection = db.session.connection()
    dialect = connection.dialect.name
    result = _insert_ignoring(model.__table__, dialect).execute(values, connection)
    if dialect == "postgresql":
        return result.scalar()
    return result.lastrowid if result.rowcount == 1 else None
