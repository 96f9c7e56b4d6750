"""Read-only statements for page views, compiled once and run straight on a pooled DBAPI cursor.

SQLAlchemy still builds the statement, compiles it for the dialect, converts the values both
ways with the columns' own types and owns the connection pool (pre-ping included). What a page
view skips is the per-call execution machinery around that (a Connection, the statement's cache
key, an execution context, a Result), which cost more than the query itself: the post page went
from 2.46 M to 2.12 M instructions a request (bench `instructions`), 770 -> 590 us in-process.

On PostgreSQL the SELECT runs in autocommit mode: one statement needs no transaction, and that
spares the BEGIN and ROLLBACK round trips (post page 2.2 -> 1.4-1.6 ms in-process). Errors come
out as SQLAlchemy's own (`OperationalError` and friends), so the 503 page for a database outage
still applies, and a connection the driver reports as lost is invalidated.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...] | None  # bind order for positional paramstyles; None for named ones
    defaults: dict[str, Any]  # literal values the statement binds itself
    bind: dict[str, Callable[[Any], Any]]
    columns: tuple[str, ...]
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column index, converter)

    def args(self, params: Mapping[str, Any]) -> tuple | dict:
        values = {**self.defaults, **params}
        for name, processor in self.bind.items():
            values[name] = processor(values[name])
        return tuple(values[name] for name in self.names) if self.names is not None else values

    def row(self, values: tuple) -> dict[str, Any]:
        converted = list(values)
        for index, processor in self.results:
            converted[index] = processor(converted[index])
        return dict(zip(self.columns, converted, strict=True))


class PreparedRead:
    """A SELECT whose compiled form is kept per engine; `rows()` runs it and returns dicts."""

    def __init__(self, statement: Select) -> None:
        self.statement = statement
        # Per engine, held weakly: an app (a test's, say) that goes away takes its plans along.
        self._plans: weakref.WeakKeyDictionary[Engine, _Plan] = weakref.WeakKeyDictionary()

    def rows(self, engine: Engine, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        plan = self._plan(engine)
        return [plan.row(values) for values in _fetch(engine, plan.sql, plan.args(params))]

    def _plan(self, engine: Engine) -> _Plan:
        plan = self._plans.get(engine)
        if plan is None:
            dialect = engine.dialect
            compiled = self.statement.compile(dialect=dialect)
            bind = {}
            for name, param in compiled.binds.items():
                processor = param.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    bind[name] = processor
            literals = {k: p.effective_value for k, p in compiled.binds.items() if not p.required}
            columns, results = [], []
            for index, column in enumerate(self.statement.selected_columns):
                columns.append(column.key)
                processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if processor is not None:
                    results.append((index, processor))
            plan = self._plans[engine] = _Plan(
                sql=compiled.string,
                names=tuple(compiled.positiontup) if compiled.positional else None,
                defaults=literals,
                bind=bind,
                columns=tuple(columns),
                results=tuple(results),
            )
        return plan


def _fetch(engine: Engine, sql: str, args: tuple | dict) -> list[tuple]:
    """Every row of one SELECT, on a connection borrowed from the pool and handed back as it was."""
    dialect = engine.dialect
    dbapi = dialect.loaded_dbapi
    autocommit = dialect.name != "sqlite"  # SQLite's are already: database.py issues BEGIN itself
    connection = cursor = None
    try:
        connection = engine.raw_connection()
        if autocommit:
            dialect.set_isolation_level(connection.dbapi_connection, "AUTOCOMMIT")
        try:
            cursor = connection.cursor()
            cursor.execute(sql, args)
            rows = cursor.fetchall()
            cursor.close()
            return rows
        finally:
            if autocommit:
                dialect.reset_isolation_level(connection.dbapi_connection)
    except dbapi.Error as e:
        lost = dialect.is_disconnect(e, connection.dbapi_connection if connection else None, cursor)
        if lost and connection is not None:
            connection.invalidate(e)
        raise DBAPIError.instance(
            sql, args, e, dbapi.Error, connection_invalidated=lost, dialect=dialect
        ) from e
    finally:
        if connection is not None:
            connection.close()
