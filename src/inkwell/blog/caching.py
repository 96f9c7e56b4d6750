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


def last_change(posts) -> datetime | None:
    """When a list of posts last changed: a scheduled post changes it when it goes live, which
    can be after its last edit."""
    return max((max(p.updated_at, p.published_at) for p in posts), default=None)


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
        cache_control = f"public, max-age={current_app.config['CACHE_MAX_AGE']}"
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
