"""The tables. Post HTML is rendered once at save time and stored here (see content/)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .extensions import db

# Characters XML 1.0 forbids (the feed and sitemap are XML); tab, newline and CR are allowed.
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    return _NOT_XML_TEXT.sub("", text) if text else text


def utcnow() -> datetime:
    """Naive UTC, the one time format stored in every database we support."""
    return datetime.now(UTC).replace(tzinfo=None)


post_tags = Table(
    "post_tags",
    db.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # The order the author gave (see _keep_tag_order); 0 for tags saved before it was kept.
    Column("position", Integer, nullable=False, default=0, server_default="0"),
)


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(120), unique=True)

    @validates("name")
    def _text_only(self, _key: str, value: str) -> str:
        return xml_safe(value)


class Post(db.Model):
    """A blog post (kind="post") or a standalone page such as About (kind="page")."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("kind", "slug", name="uq_posts_kind_slug"),
        Index("ix_posts_listing", "kind", "status", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="post")
    slug: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft | published
    published_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    toc_html: Mapped[str] = mapped_column(Text, default="")
    summary_html: Mapped[str] = mapped_column(Text, default="")
    plain_text: Mapped[str] = mapped_column(Text, default="")
    has_chart: Mapped[bool] = mapped_column(Boolean, default=False)
    has_math: Mapped[bool] = mapped_column(Boolean, default=False)
    show_toc: Mapped[bool] = mapped_column(Boolean, default=False)
    reading_minutes: Mapped[int] = mapped_column(Integer, default=1)
    # Front-matter keys Inkwell has no column for; written back on export.
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    # Hash of the Markdown source, so re-importing an unchanged file writes nothing.
    source_hash: Mapped[str] = mapped_column(String(64), default="")
    # The post's file, relative to the content folder: the files own it and every deploy
    # imports it (None: written in the browser, which no deploy touches).
    source_path: Mapped[str | None] = mapped_column(String(500), nullable=True, default=None)
    # Its file was removed from the content folder, so a deploy unpublished it (kept, a draft).
    source_removed: Mapped[bool] = mapped_column(Boolean, default=False)

    # The content.render.RENDER_VERSION body_html was made with (0: older than versions).
    render_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Figure links the body was rendered with (relative path -> stored URL), so a re-render
    # needs no file; None: rendered before this was kept.
    image_urls: Mapped[dict | None] = mapped_column(JSON, nullable=True, default=None)
    # Counts saves: an editor tab that loaded revision 3 may not overwrite revision 4.
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Part of a draft's share links (share_links.py); replacing it revokes every older link.
    share_nonce: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)

    tags: Mapped[list[Tag]] = relationship(
        secondary=post_tags, lazy="selectin",
        order_by=(post_tags.c.position, func.lower(Tag.name)),
    )

    @validates("title", "description")
    def _text_only(self, _key: str, value: str) -> str:
        """Control characters never reach the database, so the Atom feed is always valid XML.
        (The body is cleaned by publishing.apply_markdown, before it is rendered.)"""
        return xml_safe(value)

    @property
    def is_published(self) -> bool:
        return self.status == "published" and self.published_at <= utcnow()

    @property
    def is_scheduled(self) -> bool:
        return self.status == "published" and self.published_at > utcnow()

    @classmethod
    def visible(cls, kind="post", now=None):
        """The WHERE clause for what anonymous readers may see.

        `kind` and `now` may be bind parameters, for statements built once and run many times.
        """
        return and_(
            cls.kind == kind,
            cls.status == "published",
            cls.published_at <= (utcnow() if now is None else now),
        )


class SlugRedirect(db.Model):
    """An old slug that must keep answering with a 301 to the post's current URL."""

    __tablename__ = "slug_redirects"
    __table_args__ = (UniqueConstraint("kind", "old_slug", name="uq_redirect_kind_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="post")
    old_slug: Mapped[str] = mapped_column(String(200))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))


class PathRedirect(db.Model):
    """An old address of an imported post on the blog it came from (a Hugo alias, a Jekyll
    permalink): a request that would be a 404 there answers 301 to the post (redirects.py).
    The path is kept as redirects.normal_path makes it; its file owns the row (files.py)."""

    __tablename__ = "path_redirects"
    __table_args__ = (UniqueConstraint("path", name="uq_path_redirects_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Case matters (a binary collation where the default ignores it; see migration 0007).
    path: Mapped[str] = mapped_column(
        String(500).with_variant(String(500, collation="utf8mb4_bin"), "mysql", "mariadb"))
    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), index=True)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class UserSession(db.Model):
    """A server-side login session; deleting the row logs the cookie out everywhere."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(String(64), default="")


class Media(db.Model):
    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Server-generated stem; every variant's storage key starts with it.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(50))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    alt: Mapped[str] = mapped_column(String(300), default="")
    # The uploaded file's name, shown in the media library.
    name: Mapped[str] = mapped_column(String(255), default="", server_default="")
    # {"original": "ab12.jpg", "480": "ab12-480.jpg", "480.webp": "ab12-480.webp", ...}
    variants: Mapped[dict] = mapped_column(JSON, default=dict)
    # SHA-256 of the file (a figure in the content folder, an upload): the same bytes are one
    # item, unique also against two uploads at once (migration 0008).
    source_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True,
                                                    unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SiteState(db.Model):
    """One row (id 1): when the public content last changed (any post or tag written or deleted;
    see _note_content_change below). Pages never send a Last-Modified older than this."""

    __tablename__ = "site_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


@event.listens_for(db.session, "before_flush")
def _note_content_change(session, _flush_context, _instances) -> None:
    """A post or tag added, changed or deleted moves site_state's time forward, in the same
    transaction: whatever disappears from a page, its Last-Modified still moves on."""
    changed = itertools.chain(
        session.new, session.deleted, (o for o in session.dirty if session.is_modified(o))
    )
    if any(isinstance(o, Post | Tag) for o in changed):
        table, now = SiteState.__table__, utcnow()
        connection = session.connection()
        moved = connection.execute(
            update(table).where(table.c.id == 1).values(content_changed_at=now)
        )
        if moved.rowcount == 0:  # the migration adds the row; a restored or emptied table may not
            connection.execute(insert(table).values(id=1, content_changed_at=now))


@event.listens_for(db.session, "after_flush")
def _keep_tag_order(session, _flush_context) -> None:
    """Number the tags of every post whose tags changed in this flush, in the order of its
    list: the secondary table's rows are written by SQLAlchemy without a position."""
    rows = []
    for post in itertools.chain(session.new, session.dirty):
        if isinstance(post, Post) and inspect(post).attrs.tags.history.has_changes():
            rows += [{"p": post.id, "t": tag.id, "n": n} for n, tag in enumerate(post.tags)]
    if rows:
        session.connection().execute(
            update(post_tags)
            .where(post_tags.c.post_id == bindparam("p"), post_tags.c.tag_id == bindparam("t"))
            .values(position=bindparam("n")),
            rows,
        )


def tag_counts():
    """(Tag, number of visible posts) for every tag in use, most used first: one query."""
    count = func.count(Post.id).label("n")
    return (
        select(Tag, count)
        .join(post_tags, post_tags.c.tag_id == Tag.id)
        .join(Post, and_(Post.id == post_tags.c.post_id, Post.visible()))
        .group_by(Tag.id)
        .order_by(count.desc(), Tag.name)
    )
