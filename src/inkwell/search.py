"""Full-text search: SQLite FTS5 on SQLite, PostgreSQL's own full-text search on PostgreSQL.

SQLite keeps a separate FTS5 table `post_search` (rowid = posts.id) that `index_post` maintains when
a post is saved. PostgreSQL needs no extra table: a GIN index on the same tsvector expression that
`search_posts` queries (migration 0003).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy import column, func, literal_column, select, table, text
from sqlalchemy.orm import lazyload

from .extensions import db
from .models import Post

RESULT_LIMIT = 30
# The FTS5 table the first migration creates on SQLite (rowid = posts.id).
_POST_SEARCH = table("post_search", column("rowid"), column("rank"))
PG_CONFIG = "english"
_UNINDEX = text("DELETE FROM post_search WHERE rowid = :id")
_INDEX = text("INSERT INTO post_search (rowid, title, body) VALUES (:id, :title, :body)")


# Around each matched word in a snippet: private-use characters, which no reader types.
_START, _STOP = "\ue000", "\ue001"
_MATCHED = re.compile(f"{_START}([^{_START}{_STOP}]*){_STOP}")


@dataclass
class SearchHit:
    post: Post
    snippet: str  # plain text, matched words between _START and _STOP

    def snippet_html(self) -> Markup:
        """The snippet escaped, its matched words in <mark>; stray markers (a post that holds
        those characters itself) are dropped."""
        marked = _MATCHED.sub(lambda m: f"<mark>{m[1]}</mark>", str(escape(self.snippet)))
        return Markup(marked.replace(_START, "").replace(_STOP, ""))


def _is_sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


# A tsvector holds at most 1 MB: PostgreSQL indexes (and searches) a post's first 200,000
# characters, ~30,000 words (migration 0003 builds the index on this very expression).
PG_INDEXED_CHARS = 200_000


def _pg_indexed_text():
    return func.left(Post.plain_text, literal_column(str(PG_INDEXED_CHARS)))


def pg_document():
    return func.to_tsvector(PG_CONFIG, Post.title + " " + _pg_indexed_text())


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
        fts = literal_column("post_search")
        rows = db.session.execute(
            select(Post, func.snippet(fts, 1, _START, _STOP, " … ", 24))
            .select_from(_POST_SEARCH)
            .join(Post, Post.id == _POST_SEARCH.c.rowid)
            .where(fts.op("MATCH")(match), Post.visible())
            .order_by(_POST_SEARCH.c.rank)
            .limit(RESULT_LIMIT)
            .options(lazyload(Post.tags))  # results show title and snippet: no tag query
        ).all()
        return [SearchHit(post, snippet) for post, snippet in rows]

    query = func.websearch_to_tsquery(PG_CONFIG, q)
    rows = db.session.execute(
        select(
            Post,
            func.ts_headline(
                PG_CONFIG,
                _pg_indexed_text(),
                query,
                f"StartSel={_START},StopSel={_STOP},MaxWords=30,MinWords=12",
            ),
        )
        .where(Post.visible(), pg_document().op("@@")(query))
        .order_by(func.ts_rank(pg_document(), query).desc())
        .limit(RESULT_LIMIT)
        .options(lazyload(Post.tags))
    ).all()
    return [SearchHit(post, snippet) for post, snippet in rows]


def index_post(post: Post) -> None:
    """Bring the search index up to date with a saved (flushed) post."""
    index_posts([post])


def index_posts(posts: Sequence[Post]) -> None:
    """index_post for many flushed posts: two executemany statements instead of two per post."""
    if not posts or not _is_sqlite():
        return
    db.session.execute(_UNINDEX, [{"id": post.id} for post in posts])
    db.session.execute(
        _INDEX, [{"id": post.id, "title": post.title, "body": post.plain_text} for post in posts]
    )


def unindex_post(post_id: int) -> None:
    if _is_sqlite():
        db.session.execute(_UNINDEX, {"id": post_id})
