"""Machine-readable views: Atom feed, sitemap.xml, robots.txt."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template, url_for
from sqlalchemy import case, or_, select

from ..extensions import db
from ..models import Post, utcnow
from . import bp
from .caching import cacheable, last_modified
from .queries import site_changed_at

FEED_SIZE = 20


def rfc3339_datetime(moment: datetime) -> str:
    """A stored (naive UTC) time as RFC 3339, the year always four digits."""
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z")


def rfc3339_date(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"

# caching.last_change's date of a post, in SQL, for the sitemap.
_last_change = case(
    (Post.updated_at > Post.published_at, Post.updated_at), else_=Post.published_at
)


@bp.get("/feed.xml")
def feed():
    posts = db.session.scalars(
        select(Post).where(Post.visible()).order_by(Post.published_at.desc()).limit(FEED_SIZE)
    ).all()
    updated = max((max(p.updated_at, p.published_at) for p in posts), default=None)
    xml = render_template("feed.xml", posts=posts, updated=updated, generated_at=utcnow())
    last = last_modified(updated, site_changed_at())
    return cacheable(xml, last, mimetype="application/atom+xml")


@bp.get("/sitemap.xml")
def sitemap():
    entries = db.session.execute(
        select(Post.kind, Post.slug, _last_change.label("updated_at"))
        .where(or_(Post.visible("post"), Post.visible("page")))
        .order_by(Post.published_at.desc())
    ).all()
    xml = render_template("sitemap.xml", entries=entries)
    newest = max((e.updated_at for e in entries), default=None)
    return cacheable(xml, last_modified(newest, site_changed_at()), mimetype="application/xml")


@bp.get("/robots.txt")
def robots():
    site = current_app.config["SITE_URL"]
    body = f"User-agent: *\nDisallow: /admin/\nSitemap: {site}{url_for('blog.sitemap')}\n"
    return cacheable(body, mimetype="text/plain")
