"""The /media/<key> route: the app serves local media itself (nginx does in the full stack) and,
on the s3 backend, redirects there, so HTML that still points at /media/ keeps working."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, send_from_directory
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from . import CONTENT_TYPES, content_type_for, get_store, is_valid_key

media_bp = Blueprint("media", __name__)

ONE_YEAR = 365 * 24 * 3600
# Redirects may change when media moves between backends, so they are kept for a short while.
REDIRECT_MAX_AGE = 3600
# SVG figures (sanitized at import) are served as images; even opened on their own nothing in
# them may run: the policy nginx sends for /media/ (deploy/nginx.py MEDIA_CSP).
SVG_TYPE = "image/svg+xml"
MEDIA_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def serve_media(key: str) -> Response:
    content_type = content_type_for(key)
    served = content_type in CONTENT_TYPES.values() or content_type == SVG_TYPE
    if not is_valid_key(key) or not served:
        abort(404)
    if current_app.config["MEDIA_BACKEND"] == "local":
        response = send_from_directory(
            current_app.config["MEDIA_ROOT"], key, mimetype=content_type, max_age=ONE_YEAR
        )
        # Keys are random per upload and never get new content, so browsers need not revalidate.
        response.cache_control.public = True
        response.cache_control.immutable = True
    else:
        response = redirect(get_store().url(key), code=302)
        response.cache_control.public = True
        response.cache_control.max_age = REDIRECT_MAX_AGE
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = MEDIA_CSP
    return response


@media_bp.record_once
def _add_media_route(state: BlueprintSetupState) -> None:
    """Serve at MEDIA_URL's path (/media/ unless set to another local path)."""
    prefix = state.app.config.get("MEDIA_URL", "/media/")
    if not prefix.startswith("/") or prefix.startswith("//"):
        prefix = "/media/"
    state.add_url_rule(
        prefix.rstrip("/") + "/<path:key>", endpoint="serve", view_func=serve_media
    )
