"""Engine set-up that Flask-SQLAlchemy does not do for us.

SQLite: WAL, a 5 s busy timeout, foreign keys, and BEGIN IMMEDIATE for write transactions so that
concurrent writers queue on the lock instead of failing with "database is locked" when a deferred
transaction tries to upgrade. Reads keep a plain deferred BEGIN so page views never take the write
lock. A request that is not GET/HEAD/OPTIONS, and any CLI command that writes, runs inside
`write_intent()`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine

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


def set_write_intent(value: bool) -> contextvars.Token:
    return _writing.set(value)


def reset_write_intent(token: contextvars.Token) -> None:
    _writing.reset(token)


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
        conn.connection.dbapi_connection.execute(
            "BEGIN IMMEDIATE" if _writing.get() else "BEGIN"
        )
