"""The admin site at /admin: sign-in, the editor for posts and pages, the media library.

Every admin URL needs a signed-in author (anonymous visitors are sent to the sign-in page, or get a
401 JSON answer when they asked for JSON) and every admin response is `private, no-store`.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from ..errors import wants_json

bp = Blueprint("admin", __name__, url_prefix="/admin")


# Only admin pages show who is signed in (create_app leaves out Flask-Login's app-wide context
# processor), so public pages skip loading the user for their templates. The proxy, not the user:
# a template that never asks (the 503 page while the database is locked) never loads it.
@bp.context_processor
def _current_user() -> dict:
    return {"current_user": current_user}

# Reachable without signing in.
PUBLIC_ENDPOINTS = {"admin.login"}
# Row ids in URLs stop at PostgreSQL's integer range: a larger number is a 404, not an overflow.
ROW_ID = "int(min=1, max=2147483647)"


@bp.before_request
def require_login():
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return unauthorized()


def unauthorized():
    if wants_json():
        return {
            "error": "Unauthorized",
            "message": "You are not signed in (or your session ended). Sign in again.",
            "login_url": url_for("admin.login"),
        }, 401
    target = request.full_path if request.method == "GET" else None
    return redirect(url_for("admin.login", next=target.rstrip("?") if target else None))


@bp.after_request
def never_cache(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.errorhandler(CSRFError)
def csrf_failed(e: CSRFError):
    from ..errors import error_response

    return error_response(
        400,
        "This form has expired or did not come from this site (" + e.description.rstrip(".")
        + "). Go back, reload the page and try again.",
    )


def init_app(app: Flask) -> None:
    from ..extensions import login_manager
    from . import sessions, throttle

    throttle.init_app(app)
    # Creating app.logger gives the "inkwell" logger its handler; inkwell.auth logs through it.
    app.logger.debug("admin: sign-in log is %s", sessions.log.name)
    login_manager.user_loader(sessions.load_session)
    # Our own server-side sessions decide who is signed in; no remember-me cookie. So Flask-Login's
    # after-request hook, which looks for one in the session of every response (marking a reader's
    # session as used), has nothing to do.
    login_manager.session_protection = None
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)


from . import auth, autosave, media_views, posts, sharing  # noqa: E402,F401  (routes register on bp)
