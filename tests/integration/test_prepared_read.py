"""Page-view reads run straight on the DBAPI cursor: same values as SQLAlchemy's own execution,
SQLAlchemy's exceptions when the database fails, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, column, select, table
from sqlalchemy.exc import DBAPIError

from inkwell.blog.prepared import PreparedRead
from inkwell.blog.queries import _PAGE_COLUMNS, _TAGS_PACKED
from inkwell.extensions import db
from inkwell.models import Post, utcnow

from ..services import BACKENDS

pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


def test_rows_match_sqlalchemy_execution_value_for_value(app, import_posts):
    report = import_posts({
        "a.md": "---\ntitle: A\ndate: 2024-03-01T10:00:00\ntags: [x, y]\n---\nBody *a*.\n",
        "b.md": "---\ntitle: B\ndate: 2025-06-10T08:00:00\n---\nBody b.\n",
    })
    assert report.errors == []
    statement = (
        select(*_PAGE_COLUMNS, _TAGS_PACKED)
        .where(Post.visible(now=bindparam("now")))
        .order_by(Post.published_at)
    )
    with app.app_context():
        expected = [dict(row._mapping) for row in db.session.execute(statement, {"now": utcnow()})]
        got = PreparedRead(statement).rows(db.engine, {"now": utcnow()})
    assert [r["title"] for r in got] == ["A", "B"]
    assert got == expected
    assert got[0]["published_at"].year == 2024 and got[0]["show_toc"] is False


def test_database_errors_come_out_as_sqlalchemy_errors(app):
    missing = table("no_such_table", column("slug"))
    broken = PreparedRead(select(missing.c.slug).where(missing.c.slug == bindparam("slug")))
    with app.app_context():
        with pytest.raises(DBAPIError):
            broken.rows(db.engine, {"slug": "x"})
        # The connection went back to the pool in a usable state.
        assert PreparedRead(select(bindparam("n"))).rows(db.engine, {"n": 1}) == [{"n": 1}]


def test_a_read_leaves_its_pooled_connection_as_it_found_it(app, database_url):
    with app.app_context():
        PreparedRead(select(Post.id).where(Post.slug == bindparam("slug"))).rows(
            db.engine, {"slug": "x"}
        )
        with db.engine.connect() as conn:  # the pool's one connection again, in its usual state
            raw = conn.connection.dbapi_connection
            if database_url.startswith("postgresql"):
                assert raw.autocommit is False
            else:
                assert raw.isolation_level is None  # database.py's own BEGIN handling
            conn.exec_driver_sql("SELECT 1")
            assert conn.in_transaction()
