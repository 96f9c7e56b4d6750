"""PostgreSQL's full-text search must use its GIN index: the index is built on an expression
(migration 0003) that the query must repeat exactly, or every search reads the whole table."""

from __future__ import annotations

import pytest
from sqlalchemy import select

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def test_postgres_search_uses_the_fulltext_index(app, database_url):
    from sqlalchemy import func, text

    from inkwell.extensions import db
    from inkwell.models import Post
    from inkwell.search import PG_CONFIG, pg_document

    query = select(Post.id).where(pg_document().op("@@")(func.websearch_to_tsquery(PG_CONFIG, "x")))
    with app.app_context():
        connection = db.session.connection()
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        compiled = query.compile(connection)
        plan = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars()
        plan = list(plan)
        db.session.rollback()
    assert any("ix_posts_fulltext" in line for line in plan), plan
