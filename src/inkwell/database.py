"""Engine set-up that Flask-SQLAlchemy does not do for us.

SQLite: WAL, a 5 s busy timeout, foreign keys, and BEGIN IMMEDIATE for write transactions so that
concurrent writers queue on the lock instead of failing with "database is locked" when a deferred
transaction tries to upgrade. Reads keep a plain deferred BEGIN so page views never take the write
lock. A request that is not GET/HEAD/OPTIONS takes the write lock; so does anything (a CLI command,
an admin page view that records activity) run inside `write_intent()`.
"""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
from collections.abc import Iterator

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

_writing: contextvars.ContextVar[bool] = contextvars.ContextVar("inkwell_writing", default=False)

SQLITE_BUSY_TIMEOUT_MS = 5000


@contextlib.contextmanager
def write_intent() -> Iterator[None]:
    """Transactions begun inside this block take SQLite's write lock at BEGIN."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def _wants_write_lock() -> bool:
    if _writing.get():
        return True
    return has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_on_begin)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_on_begin(conn) -> None:
        # Straight to the driver: the same statement as conn.exec_driver_sql(), without a trip
        # through SQLAlchemy's execution machinery (events, context, result) on every request.
        statement = "BEGIN IMMEDIATE" if _wants_write_lock() else "BEGIN"
        try:
            conn.connection.dbapi_connection.execute(statement)
        except sqlite3.Error as e:  # e.g. "database is locked" after the busy timeout
            # As SQLAlchemy's own error, like any other statement's: a 503 page, not a 500.
            raise DBAPIError.instance(statement, None, e, sqlite3.Error) from e
