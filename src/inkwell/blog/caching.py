"""HTTP caching for public pages: validators, conditional GETs, and who may cache what.

Anonymous readers send no session cookie; their pages are `public` so nginx's microcache may keep
them. A request that carries the session cookie (a logged-in author) gets `private, no-store`.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, current_app, make_response, request


def reader_is_anonymous() -> bool:
    return current_app.config["SESSION_COOKIE_NAME"] not in request.cookies


def cacheable(body, last_modified: datetime | None = None, mimetype: str | None = None) -> Response:
    """A 200 with ETag/Last-Modified that answers a matching conditional GET with 304."""
    response = make_response(body)
    if mimetype:
        response.mimetype = mimetype
    if reader_is_anonymous():
        response.headers["Cache-Control"] = f"public, max-age={current_app.config['CACHE_MAX_AGE']}"
    else:
        response.headers["Cache-Control"] = "private, no-store"
    if last_modified:
        response.last_modified = last_modified
    response.add_etag()
    return response.make_conditional(request)
