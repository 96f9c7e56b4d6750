"""The public site: what anonymous readers see."""

import html
import re
from datetime import datetime
from functools import partial
from types import SimpleNamespace
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, request, url_for

from ..content.chart_picture import without_pictures
from ..local_time import to_local

bp = Blueprint("blog", __name__)


def _slug_prefix(endpoint: str) -> str:
    """The URL of a slug-addressed page minus the slug: '/posts/' for blog.post. Lists join
    prefix + slug + '/' instead of calling url_for per item (slugs are [a-z0-9-] by construction,
    see content/slugs.py, so nothing needs quoting)."""
    url = url_for(endpoint, slug="0")
    assert url.endswith("/0/"), url
    return url[:-2]


# Templates read `site` and `links` as attributes (site.title, links.feed): a namespace answers at
# once, where a dict (Flask's config included) makes Jinja raise and catch an AttributeError before
# it looks up the key, some twenty times per page.


@bp.record_once
def _site(state) -> None:
    """The site's name and the like, from settings: a template global, built once per app."""
    config = state.app.config
    state.app.jinja_env.globals["site"] = SimpleNamespace(
        title=config["SITE_TITLE"],
        description=config["SITE_DESCRIPTION"],
        author=config["SITE_AUTHOR"],
        language=config["SITE_LANGUAGE"],
        url=config["SITE_URL"],
    )


# Dates in templates go through filters, not `.strftime()` calls: Jinja runs a method call through
# Context.call (~10k instructions each, twice per post in a list), a filter directly.
_DATE_FORMATS = {
    "long_date": "%-d %B %Y",
    "day_month": "%-d %b",
}


def _local_strftime(moment: datetime, format: str, zone) -> str:
    return to_local(moment, zone).strftime(format)


@bp.record_once
def _date_filters(state) -> None:
    """Dates as the blog's readers count days: in its TIME_ZONE (nothing to convert in UTC)."""
    zone_name = state.app.config.get("TIME_ZONE") or "UTC"
    for name, fmt in _DATE_FORMATS.items():
        if zone_name == "UTC":
            state.app.jinja_env.filters[name] = partial(datetime.strftime, format=fmt)
        else:
            state.app.jinja_env.filters[name] = partial(
                _local_strftime, format=fmt, zone=ZoneInfo(zone_name))
    # RFC 3339 (feeds, sitemap, <time>): strftime's %Y does not pad a year below 1000.
    state.app.jinja_env.filters["iso_datetime"] = feeds.rfc3339_datetime
    state.app.jinja_env.filters["iso_date"] = feeds.rfc3339_date


# Sanitized HTML (content/sanitize.py) always double-quotes attributes and escapes quotes in them,
# and only <img> may carry src: the first match is the post's first image.
_FIRST_IMG_SRC = re.compile(r'<img\b[^>]*?\ssrc="([^"]+)"')


def first_image_url(body_html: str, site_url: str) -> str:
    """The absolute URL of the first image in a post's stored HTML ('' when it has none),
    for og:image: relative media URLs are joined to SITE_URL."""
    found = _FIRST_IMG_SRC.search(body_html)
    return urljoin(site_url + "/", html.unescape(found[1])) if found else ""


def share_card_url(post, site_url: str) -> str:
    """The absolute URL of the share card of a post without an image of its own (post.html
    asks only then; share_cards.py), '' for a page: derived from stored fields, so no query and
    nothing drawn (and only when the page is rendered: caching.RenderedPosts keeps pages)."""
    from ..share_cards import card_url

    found = card_url(post)
    return urljoin(site_url + "/", found) if found else ""


@bp.record_once
def _image_filter(state) -> None:
    site_url = state.app.config["SITE_URL"]
    state.app.jinja_env.filters["first_image_url"] = partial(first_image_url, site_url=site_url)
    state.app.jinja_env.filters["share_card_url"] = partial(share_card_url, site_url=site_url)
    state.app.jinja_env.filters["without_chart_pictures"] = without_pictures


def _site_links() -> SimpleNamespace:
    """URLs every page links to, built once per process (and mount point) instead of per view."""
    return SimpleNamespace(
        home=url_for("blog.index"),
        archive=url_for("blog.archive"),
        tags=url_for("blog.tags"),
        feed=url_for("blog.feed"),
        search=url_for("blog.search"),
        post=_slug_prefix("blog.post"),
        tag=_slug_prefix("blog.tag"),
        site_css=url_for("static", filename="css/site.css"),
        code_css=url_for("static", filename="css/code.css"),
        charts_js=url_for("static", filename="js/charts.js"),
        code_js=url_for("static", filename="js/code.js"),
        favicon=url_for("static", filename="favicon.svg"),
        nav=[
            (url_for("blog.page", slug=slug), label)
            for slug, label in current_app.config["NAV_PAGES"]
        ],
    )


def _chrome(links: SimpleNamespace) -> SimpleNamespace:
    """Header, footer and head links of every page (templates/_chrome.html), rendered once."""
    site = current_app.jinja_env.globals["site"]
    parts = current_app.jinja_env.get_template("_chrome.html").module
    return SimpleNamespace(
        head_links=parts.head_links(site, links),
        header=parts.header(site, links),
        footer=parts.footer(site, links),
    )


@bp.app_context_processor
def site_context() -> dict:
    """Values every public template uses; computed from settings, never from the database."""
    cache = current_app.extensions.setdefault("inkwell_links", {})
    shared = cache.get(request.script_root)
    if shared is None:
        links = _site_links()
        shared = cache[request.script_root] = {"links": links, "chrome": _chrome(links)}
    return {"canonical_url": current_app.config["SITE_URL"] + request.path, **shared}


from . import feeds, preview, views  # noqa: E402,F401  (routes register on bp)
