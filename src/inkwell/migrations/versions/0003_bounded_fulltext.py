"""PostgreSQL: the full-text index covers a post's first 200,000 characters.

A tsvector holds at most 1 MB; a post of ~1.5 MB of distinct words (under the 5 MB limit) made
to_tsvector fail, so the post could not be saved at all (and the error read as a database
outage). 200,000 characters (~30,000 words) stay well under the limit for any text. Must be the
very expression inkwell.search.pg_document() builds, or the index is not used. SQLite's FTS5
table has no such limit and is left alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _index_fulltext(text_sql: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_posts_fulltext")
    op.execute(
        "CREATE INDEX ix_posts_fulltext ON posts USING gin "
        f"(to_tsvector('english'::regconfig, ((title)::text || ' ' || {text_sql})))"
    )


def upgrade() -> None:
    _index_fulltext("left(plain_text, 200000)")


def downgrade() -> None:
    _index_fulltext("plain_text")
