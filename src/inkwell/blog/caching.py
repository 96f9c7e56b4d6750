"""HTTP caching for public pages: validators, conditional GETs, and who may cache what.

Anonymous readers send no session cookie; their pages are `public` so nginx's microcache may keep
them. A request that carries the session cookie (a logged-in author) gets `private, no-store`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import datetime

from flask import Response, current_app, render_template, request
from werkzeug.http import generate_etag, http_date, quote_etag

from .queries import PostView


def reader_is_anonymous() -> bool:
    return current_app.config["SESSION_COOKIE_NAME"] not in request.cookies


def last_modified(newest: datetime | None, site_changed_at: datetime | None) -> datetime | None:
    """Last-Modified of a page whose newest content is from `newest` (None: no validator).

    Never earlier than the last change anywhere on the site (`site_changed_at`: the newest post
    deleted or backdated leaves no trace in what is still listed) nor than this release's start
    (new templates change every page), so it never goes back in time.
    """
    if newest is None:
        return None
    started = current_app.extensions["inkwell_started_at"]
    return max(d for d in (newest, site_changed_at, started) if d is not None)


def last_change(posts: list) -> datetime | None:
    """Last-Modified of a page that shows `posts` (PostViews): the newest edit or publication
    among them (a scheduled post changes a list when it goes live, after its last edit)."""
    newest = max((max(p.updated_at, p.published_at) for p in posts), default=None)
    return last_modified(newest, posts[0].site_changed_at if posts else None)


def cacheable(
    body: str | bytes,
    last_modified: datetime | None = None,
    mimetype: str = "text/html",
    etag: str | None = None,
) -> Response:
    """A 200 with ETag/Last-Modified that answers a matching conditional GET with 304.

    The headers go in with the response rather than one by one, and werkzeug's conditional logic
    (make_conditional) runs only for requests that carry If-None-Match or If-Modified-Since: on a
    plain GET it would only re-parse the headers just written (most page views are plain GETs).
    """
    data = body.encode() if isinstance(body, str) else body
    if reader_is_anonymous():
        # The shared cache (nginx) keeps the page CACHE_MAX_AGE seconds; a browser asks again
        # each time (a 304 from nginx's copy), or a copy already 55 s old in nginx would live
        # 60 s more in the browser: a new post would take up to twice CACHE_MAX_AGE to show.
        cache_control = f"public, max-age=0, s-maxage={current_app.config['CACHE_MAX_AGE']}"
    else:
        cache_control = "private, no-store"
    headers = {
        "Cache-Control": cache_control,
        # The answer depends on the session cookie: shared caches keep readers and authors apart.
        "Vary": "Cookie",
        "ETag": etag or quote_etag(generate_etag(data)),
    }
    if last_modified:
        headers["Last-Modified"] = http_date(last_modified)
    # Every public page is UTF-8 text: a ready Content-Type spares werkzeug working one out.
    content_type = f"{mimetype}; charset=utf-8"
    response = current_app.response_class(data, headers=headers, content_type=content_type)
    environ = request.environ  # the raw headers: parsing them for a plain GET costs as much
    if "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ:
        return response.make_conditional(request)
    return response


# Every field of a PostView but its tags (a list of TagLinks, keyed as (name, slug) pairs).
_POST_FIELDS = tuple(f.name for f in fields(PostView) if f.name != "tags")
# Rendered post pages a worker keeps (RenderedPosts), in bytes of HTML.
RENDERED_POSTS_MAX_BYTES = 4 * 1024 * 1024


class RenderedPosts:
    """The HTML (and ETag) of post and page views, kept per process by everything they show.

    A post's page is a function of its row (the PostView: title, HTML, tags, dates...), its
    address and the app (templates, settings, this release), nothing else of the request. So
    the key is the template, the address and every field of the PostView, the values just
    read: whatever changes a post (an edit, a re-render, a renamed tag, even an UPDATE outside
    the app) changes its key, and there is nothing to invalidate. The view still reads the
    post each time (one SELECT); what it skips is rendering the template (most of a post
    view's time). At most RENDERED_POSTS_MAX_BYTES of HTML: when full, it starts again empty.
    """

    def __init__(self, max_bytes: int = RENDERED_POSTS_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._pages: dict[tuple, tuple[bytes, str]] = {}

    def get(self, template: str, post, render: Callable[[], str]) -> tuple[bytes, str]:
        """(HTML, ETag) of `post` in `template`; `render()` makes the HTML when not kept."""
        # The address too: the page's links depend on the mount point, its canonical URL on
        # the path (blog.site_context).
        key = (template, request.script_root, request.path,
               *[getattr(post, name) for name in _POST_FIELDS],
               tuple((tag.name, tag.slug) for tag in post.tags))
        found = self._pages.get(key)
        if found is None:
            data = render().encode()
            found = (data, quote_etag(generate_etag(data)))
            if self.size + len(data) > self.max_bytes:
                self._pages.clear()
                self.size = 0
            self._pages[key] = found
            self.size += len(data)
        return found


def rendered_post(template: str, post) -> tuple[bytes, str]:
    """The public page of a post (a PostView) in `template`, as RenderedPosts keeps it."""
    pages = current_app.extensions.get("inkwell_rendered_posts")
    if pages is None:
        pages = current_app.extensions["inkwell_rendered_posts"] = RenderedPosts()
    return pages.get(template, post, lambda: render_template(template, post=post))
