"""HTTP caching for public pages: validators, conditional GETs, and who may cache what.

Anonymous readers send no session cookie; their pages are `public` so nginx's microcache may keep
them. A request that carries the session cookie (a logged-in author) gets `private, no-store`.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, current_app, request
from werkzeug.http import generate_etag, http_date, quote_etag


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
    body: str, last_modified: datetime | None = None, mimetype: str = "text/html"
) -> Response:
    """A 200 with ETag/Last-Modified that answers a matching conditional GET with 304.

    The headers go in with the response rather than one by one, and werkzeug's conditional logic
    (make_conditional) runs only for requests that carry If-None-Match or If-Modified-Since: on a
    plain GET it would only re-parse the headers just written (most page views are plain GETs).
    """
    data = body.encode()
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
        "ETag": quote_etag(generate_etag(data)),
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
