"""HTML pages: home, post, tags, archive, search, standalone pages.

Each view runs a fixed number of queries whatever the page size (tags for a whole list come in
one extra query; see queries.py), and only reads HTML that was rendered at save time.
"""

from __future__ import annotations

import re

from flask import abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from ..extensions import db
from ..models import Post, SlugRedirect, Tag, tag_counts
from ..search import search_posts
from . import bp
from .caching import cacheable, last_change, rendered_post
from .queries import latest_posts, posts_of_year, posts_per_year, tagged_posts, visible_post


def _page_number() -> int:
    """?page=N with N >= 1; anything else is a 404, never a 500."""
    raw = request.args.get("page", "1")
    if not re.fullmatch(r"[0-9]{1,6}", raw) or int(raw) < 1:
        abort(404)
    return int(raw)


def _paginate(read, page: int, **params):
    """One page of posts plus whether an older page exists, without a COUNT query."""
    per_page = current_app.config["POSTS_PER_PAGE"]
    rows = read(limit=per_page + 1, offset=(page - 1) * per_page, **params)
    if page > 1 and not rows:
        abort(404)
    return rows[:per_page], len(rows) > per_page


@bp.get("/")
def index():
    page = _page_number()
    posts, has_older = _paginate(latest_posts, page)
    html = render_template("blog/index.html", posts=posts, page=page, has_older=has_older)
    return cacheable(html, last_change(posts))


@bp.get("/posts/<slug>/")
def post(slug: str):
    found = visible_post("post", slug)
    if found is None:
        return _moved_or_missing("post", slug)
    html, etag = rendered_post("blog/post.html", found)
    return cacheable(html, last_change([found]), etag=etag)


def _moved_or_missing(kind: str, slug: str):
    """An old slug answers 301 to the current URL; anything else is a 404."""
    target = db.session.scalar(
        select(Post)
        .join(SlugRedirect, SlugRedirect.post_id == Post.id)
        .where(SlugRedirect.kind == kind, SlugRedirect.old_slug == slug, Post.visible(kind))
    )
    if target is None:
        abort(404)
    endpoint = "blog.post" if kind == "post" else "blog.page"
    return redirect(url_for(endpoint, slug=target.slug), 301)


@bp.get("/tags/")
def tags():
    rows = db.session.execute(tag_counts()).all()
    return cacheable(render_template("blog/tags.html", tags=rows))


@bp.get("/tags/<slug>/")
def tag(slug: str):
    found = db.session.scalar(select(Tag).where(Tag.slug == slug))
    if found is None:
        abort(404)
    page = _page_number()
    posts, has_older = _paginate(tagged_posts, page, tag_id=found.id)
    if not posts:
        abort(404)
    html = render_template("blog/tag.html", tag=found, posts=posts, page=page, has_older=has_older)
    return cacheable(html, last_change(posts))


@bp.get("/archive/")
def archive():
    return cacheable(render_template("blog/archive.html", years=posts_per_year()))


@bp.get("/archive/<int(min=1, max=9999):year>/")
def archive_year(year: int):
    canonical = url_for("blog.archive_year", year=year)
    if request.script_root + request.path != canonical:  # /archive/02020/: one URL per page
        return redirect(canonical, 301)
    posts = posts_of_year(year)
    if not posts:
        abort(404)
    html = render_template("blog/archive_year.html", year=year, posts=posts)
    return cacheable(html, last_change(posts))


@bp.get("/search")
def search():
    q = request.args.get("q", "").strip()[:200]
    results = search_posts(q) if q else []
    return cacheable(render_template("blog/search.html", q=q, results=results))


# strict_slashes off: /about redirects to /about/ only when there is such a page, so a stray
# /atom.xml or /wp-login.php is one 404, not a redirect to /atom.xml/ and then a 404.
@bp.get("/<slug>/", strict_slashes=False)
def page(slug: str):
    found = visible_post("page", slug)
    if found is None:
        return _moved_or_missing("page", slug)
    if not request.path.endswith("/"):
        return redirect(url_for("blog.page", slug=slug), 308)
    html, etag = rendered_post("blog/page.html", found)
    return cacheable(html, last_change([found]), etag=etag)
