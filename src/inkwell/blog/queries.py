"""Read-only queries for page views, tuned for the hot path.

Page views read plain rows, never ORM objects: each list or post is one statement, built and
compiled once, run straight on the DBAPI cursor (prepared.py). Tags ride along in the same row, so
a list of posts is one query, never one per post.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, and_, bindparam, cast, extract, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

from ..extensions import db
from ..local_time import blog_zone, from_local, to_local
from ..models import Post, SiteState, Tag, post_tags, utcnow
from .prepared import PreparedRead

_posts = Post.__table__


@dataclass(slots=True)
class TagLink:
    name: str
    slug: str


@dataclass(slots=True)
class PostView:
    """What a template needs of a post; built from a row, never lazy-loads."""

    id: int
    slug: str
    title: str
    published_at: datetime
    updated_at: datetime
    reading_minutes: int
    summary_html: str = ""
    description: str = ""
    body_html: str = ""
    toc_html: str = ""
    plain_text: str = ""
    show_toc: bool = False
    has_chart: bool = False
    kind: str = "post"
    tags: list[TagLink] = field(default_factory=list)
    # When anything public last changed (site_state), read in the same statement: a page's
    # Last-Modified is never older (caching.last_change).
    site_changed_at: datetime | None = None


_LIST_COLUMNS = (
    _posts.c.id, _posts.c.slug, _posts.c.title, _posts.c.published_at, _posts.c.updated_at,
    _posts.c.reading_minutes, _posts.c.summary_html,
)
_PAGE_COLUMNS = _LIST_COLUMNS + (
    _posts.c.description, _posts.c.body_html, _posts.c.toc_html, _posts.c.plain_text,
    _posts.c.show_toc, _posts.c.has_chart, _posts.c.kind,
)


class packed_strings(GenericFunction):
    """group_concat / string_agg with a bound separator. (SQLAlchemy's aggregate_strings renders
    its separator as a literal into the SQL text on every execution, which costs as much as the
    query itself on SQLite.)"""

    type = String()
    inherit_cache = True


@compiles(packed_strings, "sqlite")
def _group_concat(element, compiler, **kw):
    return f"group_concat({compiler.process(element.clauses, **kw)})"


@compiles(packed_strings, "postgresql")
def _string_agg(element, compiler, **kw):
    return f"string_agg({compiler.process(element.clauses, **kw)})"


# Tags ride along in the same row as "position<US>name<US>slug<RS>...", so a post page is one
# query; the position keeps them in the order the author wrote them.
_UNIT, _RECORD = "\x1f", "\x1e"
_TAGS_PACKED = (
    select(packed_strings(
        cast(post_tags.c.position, String) + literal(_UNIT) + Tag.name + literal(_UNIT)
        + Tag.slug, literal(_RECORD)))
    .join(post_tags, post_tags.c.tag_id == Tag.id)
    .where(post_tags.c.post_id == _posts.c.id)
    .scalar_subquery()
    .label("packed_tags")
)

_SITE_CHANGED = (
    select(SiteState.content_changed_at)
    .where(SiteState.id == 1)
    .scalar_subquery()
    .label("site_changed_at")
)

_ONE_BY_SLUG = PreparedRead(
    select(*_PAGE_COLUMNS, _TAGS_PACKED, _SITE_CHANGED).where(
        Post.visible(bindparam("kind"), bindparam("now")), _posts.c.slug == bindparam("slug")
    )
)

def _unpack_tags(packed: str | None) -> list[TagLink]:
    if not packed:
        return []
    items = sorted(
        (int(position), name.lower(), name, slug)
        for position, name, slug in (item.split(_UNIT, 2) for item in packed.split(_RECORD))
    )
    return [TagLink(name, slug) for _position, _lower, name, slug in items]


def _post_view(row: dict) -> PostView:
    tags = _unpack_tags(row.pop("packed_tags"))
    return PostView(**row, tags=tags)


def _listing(where=None, paged: bool = True) -> PreparedRead:
    """Visible posts with their tags, newest first; `where` narrows it (a tag, a year)."""
    query = select(*_LIST_COLUMNS, _TAGS_PACKED, _SITE_CHANGED).where(
        Post.visible(now=bindparam("now"))
    )
    if where is not None:
        query = query.where(where)
    query = query.order_by(_posts.c.published_at.desc(), _posts.c.id.desc())
    if paged:
        query = query.limit(bindparam("limit")).offset(bindparam("offset"))
    return PreparedRead(query)


_LATEST = _listing()
_TAGGED = _listing(
    _posts.c.id.in_(select(post_tags.c.post_id).where(post_tags.c.tag_id == bindparam("tag_id")))
)
# The year a post was published in (UTC): the archive index counts by it in a UTC blog.
published_year = extract("year", _posts.c.published_at)
# A year of the blog's time zone, as the UTC times it starts and ends at.
_OF_YEAR = _listing(
    and_(_posts.c.published_at >= bindparam("start"), _posts.c.published_at < bindparam("end")),
    paged=False,
)


def _read_posts(statement: PreparedRead, **params) -> list[PostView]:
    rows = statement.rows(db.engine, {"now": utcnow(), **params})
    return [_post_view(row) for row in rows]


_SITE_STATE = PreparedRead(select(_SITE_CHANGED))


def site_changed_at() -> datetime | None:
    """When the public content last changed (for pages that read no PostView)."""
    rows = _SITE_STATE.rows(db.engine, {})
    return rows[0]["site_changed_at"] if rows else None


def visible_post(kind: str, slug: str) -> PostView | None:
    found = _read_posts(_ONE_BY_SLUG, kind=kind, slug=slug)
    return found[0] if found else None


def latest_posts(limit: int, offset: int = 0) -> list[PostView]:
    return _read_posts(_LATEST, limit=limit, offset=offset)


def tagged_posts(tag_id: int, limit: int, offset: int = 0) -> list[PostView]:
    return _read_posts(_TAGGED, tag_id=tag_id, limit=limit, offset=offset)


def posts_of_year(year: int) -> list[PostView]:
    """The posts of `year` as the blog's readers count years (its TIME_ZONE)."""
    return _read_posts(_OF_YEAR, start=_new_year(year), end=_new_year(year + 1))


def _new_year(year: int) -> datetime:
    """When `year` starts in the blog's time zone, in UTC (the ends of the calendar: its ends)."""
    try:
        return from_local(datetime(year, 1, 1))
    except (OverflowError, ValueError):  # year 1 east of UTC, year 10000
        return datetime.min if year < 2 else datetime.max


def posts_per_year() -> list[tuple[int, int]]:
    """(year, number of visible posts), newest year first, years of the blog's time zone: one
    query. In UTC the database counts; elsewhere a year starts at another moment in each
    zone (and daylight saving moves it), so the dates are counted here."""
    if blog_zone().key == "UTC":
        year = published_year.label("year")
        rows = db.session.execute(
            select(year, func.count(Post.id)).where(Post.visible()).group_by(year)
        ).all()
        counts = Counter({int(y): n for y, n in rows})
    else:
        dates = db.session.scalars(select(Post.published_at).where(Post.visible()))
        counts = Counter(to_local(moment).year for moment in dates)
    return sorted(counts.items(), reverse=True)
