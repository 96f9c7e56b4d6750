"""Full-text search: SQLite FTS5 on SQLite, PostgreSQL's own full-text search on PostgreSQL.

SQLite keeps a separate FTS5 table `post_search` (rowid = posts.id) that `index_post` maintains when
a post is saved. PostgreSQL needs no extra table: a GIN index on the same tsvector expression that
`search_posts` queries (see the first migration).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select, text

from .extensions import db
from .models import Post, utcnow

RESULT_LIMIT = 30
PG_CONFIG = "english"


@dataclass
class SearchHit:
    post: Post
    snippet: str  # plain text; the template escapes it


def _is_sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def pg_document():
    return func.to_tsvector(PG_CONFIG, Post.title + " " + Post.plain_text)


def _fts5_query(q: str) -> str:
    """Reader input as an FTS5 query: every word must match, the last one as a prefix.

    Each word is quoted so FTS5 operators and stray quotes in the input are just text.
    """
    words = re.findall(r"\w+", q)[:12]
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def search_posts(q: str) -> list[SearchHit]:
    if _is_sqlite():
        match = _fts5_query(q)
        if not match:
            return []
        # Visibility is checked before the LIMIT, so drafts and scheduled posts that match
        # cannot crowd published ones out of the results.
        rows = db.session.execute(
            text(
                "SELECT post_search.rowid, snippet(post_search, 1, '', '', ' … ', 24) "
                "FROM post_search JOIN posts ON posts.id = post_search.rowid "
                "WHERE post_search MATCH :q AND posts.kind = 'post' "
                "AND posts.status = 'published' AND posts.published_at <= :now "
                "ORDER BY rank LIMIT :n"
            ),
            {"q": match, "n": RESULT_LIMIT, "now": utcnow()},
        ).all()
        snippets = {rowid: snippet for rowid, snippet in rows}
        posts = {p.id: p for p in db.session.scalars(select(Post).where(Post.id.in_(snippets)))}
        return [SearchHit(posts[i], snippet) for i, snippet in snippets.items() if i in posts]

    query = func.websearch_to_tsquery(PG_CONFIG, q)
    rows = db.session.execute(
        select(
            Post,
            func.ts_headline(
                PG_CONFIG,
                Post.plain_text,
                query,
                "StartSel='',StopSel='',MaxWords=30,MinWords=12",
            ),
        )
        .where(Post.visible(), pg_document().op("@@")(query))
        .order_by(func.ts_rank(pg_document(), query).desc())
        .limit(RESULT_LIMIT)
    ).all()
    return [SearchHit(post, snippet) for post, snippet in rows]


def index_post(post: Post) -> None:
    """Bring the search index up to date with a saved (flushed) post."""
    if not _is_sqlite():
        return
    db.session.execute(text("DELETE FROM post_search WHERE rowid = :id"), {"id": post.id})
    db.session.execute(
        text("INSERT INTO post_search (rowid, title, body) VALUES (:id, :title, :body)"),
        {"id": post.id, "title": post.title, "body": post.plain_text},
    )


def unindex_post(post_id: int) -> None:
    if _is_sqlite():
        db.session.execute(text("DELETE FROM post_search WHERE rowid = :id"), {"id": post_id})
