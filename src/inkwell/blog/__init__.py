"""The public site: what anonymous readers see."""

from flask import Blueprint, current_app, request, url_for

bp = Blueprint("blog", __name__)


def _site_links() -> dict[str, str]:
    """URLs every page links to, built once per process (and mount point) instead of per view."""
    cache = current_app.extensions.setdefault("inkwell_links", {})
    links = cache.get(request.script_root)
    if links is None:
        links = {
            "home": url_for("blog.index"),
            "archive": url_for("blog.archive"),
            "tags": url_for("blog.tags"),
            "feed": url_for("blog.feed"),
            "search": url_for("blog.search"),
            "site_css": url_for("static", filename="css/site.css"),
            "code_css": url_for("static", filename="css/code.css"),
            "charts_js": url_for("static", filename="js/charts.js"),
            "favicon": url_for("static", filename="favicon.svg"),
            "nav": [
                (url_for("blog.page", slug=slug), label)
                for slug, label in current_app.config["NAV_PAGES"]
            ],
        }
        cache[request.script_root] = links
    return links


@bp.app_context_processor
def site_context() -> dict:
    """Values every public template uses; computed from settings, never from the database."""
    return {
        "canonical_url": current_app.config["SITE_URL"] + request.path,
        "links": _site_links(),
    }


from . import feeds, views  # noqa: E402,F401  (routes register on bp)
