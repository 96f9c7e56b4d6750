"""The public site: what anonymous readers see."""

from flask import Blueprint, current_app, request

bp = Blueprint("blog", __name__)


@bp.app_context_processor
def site_context() -> dict:
    """Values every public template uses; computed from settings, never from the database."""
    return {
        "canonical_url": current_app.config["SITE_URL"] + request.path,
        "nav_pages": current_app.config["NAV_PAGES"],
    }


from . import feeds, views  # noqa: E402,F401  (routes register on bp)
