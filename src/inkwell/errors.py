"""Friendly error pages; a database outage is a 503 with Retry-After, never a 500."""

from __future__ import annotations

from flask import Flask, Response, abort, make_response, render_template, request
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .extensions import db
from .redirects import moved_post

_TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Page not found",
    405: "Method not allowed",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Back in a moment",
}


def wants_json() -> bool:
    """An XHR, or a client that prefers JSON to HTML (the editor's fetch calls, API clients)."""
    accept = request.accept_mimetypes
    return (
        request.headers.get("X-Requested-With") == "XMLHttpRequest"
        or accept.best_match(["application/json", "text/html"]) == "application/json"
        and accept["application/json"] > accept["text/html"]
    )


def error_response(code: int, message: str = "") -> Response:
    """The error page, or JSON for a client that asked for JSON.

    Both answers live at the same URL, so they say what they vary on, and the JSON one is never
    stored: nginx caches a 404 for a few seconds, and a JSON 404 must not be served to browsers.
    """
    if wants_json() or request.path.startswith(("/healthz", "/readyz")):
        response = make_response({"error": _TITLES.get(code, "Error"), "message": message}, code)
        response.headers["Cache-Control"] = "no-store"
    else:
        html = render_template(
            "error.html", code=code, title=_TITLES.get(code, "Error"), message=message
        )
        response = make_response(html, code)
    response.vary.update(("Accept", "X-Requested-With"))
    return response


def _refuse_nul_bytes() -> None:
    """No database stores NUL in text; refuse such input up front instead of failing later.

    The query string is checked raw (a NUL can only come from "%00" or the byte itself), which
    spares decoding every argument of every page view; forms only come with writing methods.
    """
    query = request.query_string
    if (
        "\x00" in request.path
        or b"%00" in query
        or b"\x00" in query
        or request.method not in ("GET", "HEAD")
        and any("\x00" in value for value in request.form.values())
    ):
        abort(400, "The request contains a NUL character.")


def register(app: Flask) -> None:
    app.before_request(_refuse_nul_bytes)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        if e.code == 404 and request.method in ("GET", "HEAD"):
            try:  # an imported post's address on its old blog (redirects.py)
                moved = moved_post(request.path)
            except OperationalError as outage:
                return database_unavailable(outage)
            except SQLAlchemyError as error:  # a schema without the table yet: a 404 still
                app.logger.warning("old addresses not looked up: %s", error)
                db.session.rollback()
                moved = None
            if moved is not None:
                return moved
        response = error_response(e.code or 500, e.description if e.code != 404 else "")
        if e.code == 405 and e.valid_methods:
            response.headers["Allow"] = ", ".join(e.valid_methods)
        return response

    @app.errorhandler(OperationalError)
    def database_unavailable(e: OperationalError):
        app.logger.error("database unavailable: %s", e.orig)
        db.session.rollback()
        response = error_response(503, "The database is not answering. Try again shortly.")
        response.headers.update({"Retry-After": "10", "Cache-Control": "no-store"})
        return response

    @app.errorhandler(500)
    def server_error(e):
        return error_response(500)
