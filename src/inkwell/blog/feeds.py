"""Machine-readable views: Atom feed, sitemap.xml, robots.txt."""

from __future__ import annotations

from flask import current_app, render_template, url_for
from sqlalchemy import case, or_, select

from ..extensions import db
from ..models import Post, utcnow
from . import bp
from .caching import cacheable, last_change

FEED_SIZE = 20
# last_change (caching.py) in SQL, for the sitemap.
_last_change = case(
    (Post.updated_at > Post.published_at, Post.updated_at), else_=Post.published_at
)


@bp.get("/feed.xml")
def feed():
    posts = db.session.scalars(
        select(Post).where(Post.visible()).order_by(Post.published_at.desc()).limit(FEED_SIZE)
    ).all()
    updated = last_change(posts)
    xml = render_template("feed.xml", posts=posts, updated=updated, generated_at=utcnow())
    return cacheable(xml, updated, mimetype="application/atom+xml")


@bp.get("/sitemap.xml")
def sitemap():
    entries = db.session.execute(
        select(Post.kind, Post.slug, _last_change.label("updated_at"))
        .where(or_(Post.visible("post"), Post.visible("page")))
        .order_by(Post.published_at.desc())
    ).all()
    xml = render_template("sitemap.xml", entries=entries)
    newest = max((e.updated_at for e in entries), default=None)
    return cacheable(xml, newest, mimetype="application/xml")


@bp.get("/robots.txt")
def robots():
    site = current_app.config["SITE_URL"]
    body = f"User-agent: *\nDisallow: /admin/\nSitemap: {site}{url_for('blog.sitemap')}\n"
    return cacheable(body, mimetype="text/plain")
