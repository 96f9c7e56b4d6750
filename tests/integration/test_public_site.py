"""The public site, through the Flask test client, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import feedparser
import pytest
from sqlalchemy import select
from werkzeug.http import parse_date

from inkwell.models import utcnow

from ..services import BACKENDS

pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)

POSTS = {
    "2024-03-01-first-light.md": """
        ---
        title: First light
        date: 2024-03-01T10:00:00
        tags: [astronomy, notes]
        description: The telescope works.
        ---
        The telescope works. We saw **Jupiter** and its moons.

        ## Setup

        A table:

        | a | b |
        |---|---|
        | 1 | 2 |
        """,
    "2025-06-10-pandas-tricks.md": """
        ---
        title: Pandas tricks
        date: 2025-06-10T08:00:00
        tags: [python]
        ---
        Grouping data with pandas is a superpower.

        ```python
        df.groupby("k").sum()
        ```
        """,
    "secret-draft.md": """
        ---
        title: Secret draft
        date: 2025-01-01
        draft: true
        ---
        Not for readers yet: zanzibar.
        """,
    "pages/about.md": """
        ---
        title: About
        page: true
        ---
        Who writes here.
        """,
}


@pytest.fixture
def site(import_posts):
    report = import_posts(POSTS)
    assert report.errors == []
    return report


def test_home_lists_published_posts_newest_first_and_hides_drafts(client, site):
    html = client.get("/").get_data(as_text=True)
    assert html.index("Pandas tricks") < html.index("First light")
    assert "Secret draft" not in html
    assert "The telescope works." in html  # the summary


def test_post_page_shows_rendered_html_tags_and_meta(client, site):
    response = client.get("/posts/first-light/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<strong>Jupiter</strong>" in html
    assert "<table tabindex=\"0\">" in html
    assert 'href="/tags/astronomy/"' in html
    assert '<link rel="canonical" href="http://blog.example/posts/first-light/">' in html
    assert '<meta property="og:title" content="First light">' in html
    assert '<meta name="description" content="The telescope works.">' in html
    assert '<time datetime="2024-03-01T10:00:00Z">1 March 2024</time>' in html


def test_code_stylesheet_only_on_pages_with_code(client, site):
    assert "css/code.css" in client.get("/posts/pandas-tricks/").get_data(as_text=True)
    assert "css/code.css" not in client.get("/posts/first-light/").get_data(as_text=True)


def test_drafts_and_future_posts_are_not_found(client, site, app):
    assert client.get("/posts/secret-draft/").status_code == 404
    from inkwell.extensions import db
    from inkwell.models import Post

    with app.app_context():
        post = db.session.query(Post).filter_by(slug="first-light").one()
        post.published_at = utcnow() + timedelta(hours=1)
        db.session.commit()
    assert client.get("/posts/first-light/").status_code == 404
    assert "First light" not in client.get("/").get_data(as_text=True)


def test_tag_pages_and_tag_index(client, site):
    html = client.get("/tags/python/").get_data(as_text=True)
    assert "Pandas tricks" in html and "First light" not in html
    index = client.get("/tags/").get_data(as_text=True)
    assert "astronomy" in index and "python" in index
    assert client.get("/tags/no-such-tag/").status_code == 404


LINK = re.compile(r'href="(/[^"]*)"')


@pytest.mark.parametrize("script_root", ["", "/blog"])
def test_every_link_on_the_public_pages_is_the_routed_url(client, site, script_root):
    """Lists build post and tag links from a prefix (blog/__init__.py); each must be the URL the
    router gives for it, also when the site is mounted below a path, and must answer 200."""
    base = f"http://localhost{script_root}/"
    pages = ["/", "/tags/", "/tags/python/", "/archive/2024/", "/posts/first-light/",
             "/search?q=jupiter"]
    seen = set()
    for page in pages:
        html = client.get(page, base_url=base).get_data(as_text=True)
        seen.update(LINK.findall(html))
    assert script_root + "/posts/first-light/" in seen
    assert script_root + "/tags/astronomy/" in seen
    for href in sorted(seen):
        assert href.startswith(script_root + "/"), href
        path = href[len(script_root):].replace("&amp;", "&")
        status = client.get(path, base_url=base).status_code
        assert status == 200, f"{href} linked from the public pages answers {status}"


def test_archive_by_year(client, site):
    archive = client.get("/archive/").get_data(as_text=True)
    assert "/archive/2025/" in archive and "/archive/2024/" in archive
    year = client.get("/archive/2024/").get_data(as_text=True)
    assert "First light" in year and "Pandas tricks" not in year
    assert client.get("/archive/1999/").status_code == 404
    # One URL per page: a year written with leading zeros is sent to the plain one.
    moved = client.get("/archive/02024/")
    assert moved.status_code == 301 and moved.headers["Location"] == "/archive/2024/"


def test_standalone_page(client, site):
    response = client.get("/about/")
    assert response.status_code == 200
    assert "Who writes here." in response.get_data(as_text=True)


def test_search_finds_words_and_stems_and_never_drafts(client, site):
    assert "Pandas tricks" in client.get("/search?q=grouping").get_data(as_text=True)
    assert "First light" in client.get("/search?q=jupiter moons").get_data(as_text=True)
    assert "Secret draft" not in client.get("/search?q=zanzibar").get_data(as_text=True)


@pytest.mark.parametrize("q", ['"unbalanced', "AND OR NOT", "*", "a:b", "(((", "' OR 1=1 --"])
def test_search_survives_query_syntax(client, site, q):
    assert client.get("/search", query_string={"q": q}).status_code == 200


def test_atom_feed_parses_without_errors(client, site):
    response = client.get("/feed.xml")
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.get("bozo_exception")
    titles = [e.title for e in feed.entries]
    assert titles == ["Pandas tricks", "First light"]
    assert feed.entries[1].link == "http://blog.example/posts/first-light/"
    assert "<strong>Jupiter</strong>" in feed.entries[1].content[0].value


def test_sitemap_lists_every_published_post_and_page_and_no_draft(client, site):
    root = ET.fromstring(client.get("/sitemap.xml").data)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = {e.text for e in root.findall("s:url/s:loc", ns)}
    assert locs == {
        "http://blog.example/",
        "http://blog.example/posts/first-light/",
        "http://blog.example/posts/pandas-tricks/",
        "http://blog.example/about/",
    }


def test_robots_txt_points_at_the_sitemap(client, site):
    body = client.get("/robots.txt").get_data(as_text=True)
    assert "Sitemap: http://blog.example/sitemap.xml" in body


@pytest.mark.parametrize("query", ["page=abc", "page=-1", "page=0", "page=99", "page=1e3",
                                   "page=%ff", "page=99999999999999999999", "page=\u00b9"])
def test_malformed_page_numbers_give_404_not_500(client, site, query):
    assert client.get(f"/?{query}").status_code == 404


def test_unknown_urls_get_the_friendly_404_page(client, site):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert "There is no page at this address" in response.get_data(as_text=True)
    # A stray file-like address is one 404, not a redirect to "/atom.xml/" first; a page
    # without its slash is sent to it.
    for stray in ("/atom.xml", "/wp-login.php", "/nope"):
        assert client.get(stray).status_code == 404, stray
    moved = client.get("/about")
    assert moved.status_code == 308 and moved.headers["Location"] == "/about/"


def test_pages_answer_conditional_get_with_304(client, site):
    first = client.get("/posts/first-light/")
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    again = client.get("/posts/first-light/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""


def test_anonymous_pages_are_public_and_cookie_holders_private(client, site, app):
    reader = client.get("/")
    assert reader.headers["Cache-Control"] == "public, max-age=0, s-maxage=60"
    assert "Set-Cookie" not in reader.headers and reader.headers["Vary"] == "Cookie"
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], "something")
    assert client.get("/").headers["Cache-Control"] == "private, no-store"


def test_pagination(client, import_posts, app):
    app.config["POSTS_PER_PAGE"] = 2
    import_posts({f"p{i}.md": f"---\ntitle: Post {i}\ndate: 2024-01-{i + 1:02d}\n---\nBody {i}\n"
                  for i in range(5)})
    page1 = client.get("/").get_data(as_text=True)
    assert "Post 4" in page1 and "Post 3" in page1 and "Post 2" not in page1
    assert 'href="/?page=2"' in page1
    page3 = client.get("/?page=3").get_data(as_text=True)
    assert "Post 0" in page3 and "Older" not in page3
    assert client.get("/?page=4").status_code == 404


def test_health_and_readiness(client, site):
    # Outside a push-to-deploy release folder there is no REVISION: no release to name.
    assert client.get("/healthz").json == {"status": "ok", "release": None}
    # A reader (through nginx: ProxyFix gives the reader's address) is not told the release.
    remote = client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert remote.json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"database": "ok", "media": "ok"}


def test_readiness_fails_while_the_schema_is_behind_the_code(client, site, app):
    """A deploy that skipped `inkwell db upgrade`: /readyz says so (pages would be 503s)."""
    from sqlalchemy import text

    from inkwell.extensions import db
    from inkwell.migrations import head_revision

    def set_revision(revision: str) -> None:
        with app.app_context():
            db.session.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
            db.session.commit()

    set_revision("0001")
    try:
        ready = client.get("/readyz")
    finally:
        set_revision(head_revision())  # the PostgreSQL database serves the whole test session
    assert ready.status_code == 503
    assert "revision 0001" in ready.json["checks"]["database"]
    assert "inkwell db upgrade" in ready.json["checks"]["database"]


@pytest.mark.parametrize("url", ["/search?q=%00", "/posts/a%00b/", "/tags/%00/", "/?page=%00"])
def test_nul_bytes_in_urls_are_a_4xx(client, site, url):
    assert 400 <= client.get(url).status_code < 500


def test_an_unexpected_error_shows_the_friendly_500_page(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.add_url_rule("/boom/", "boom", lambda: 1 / 0)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body and "Traceback" not in body


def test_security_headers_without_nginx(client, site):
    headers = client.get("/").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "upgrade-insecure-requests" not in csp  # plain http: would break make run
    assert "Strict-Transport-Security" not in headers


def test_https_behind_a_trusted_proxy_adds_hsts(settings, site):
    from inkwell import create_app

    proxied = create_app({**settings, "TRUSTED_PROXIES": 1}).test_client()
    headers = proxied.get("/", headers={"X-Forwarded-Proto": "https"}).headers
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert "upgrade-insecure-requests" in headers["Content-Security-Policy"]


@pytest.mark.parametrize("year", ["10000", "2147483648", "9223372036854775808"])
def test_archive_years_out_of_range_are_404(client, site, year):
    assert client.get(f"/archive/{year}/").status_code == 404


def test_control_characters_never_break_the_feed(client, import_posts):
    import_posts({"ctl.md": '---\ntitle: "Bell \\x07 and \\x01"\ndescription: "d\\x02"\n---\n'
                            "Body with \x01 a control character.\n"})
    feed = feedparser.parse(client.get("/feed.xml").data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.entries[0].title.strip() == "Bell  and"


def _as_if_unchanged_for_a_month(app) -> None:
    """Site content and this release both a month old, so the next change shows in a new
    Last-Modified (HTTP dates count whole seconds)."""
    from sqlalchemy import update

    from inkwell.extensions import db
    from inkwell.models import Post, SiteState

    month_ago = utcnow() - timedelta(days=30)
    app.extensions["inkwell_started_at"] = month_ago
    with app.app_context():
        db.session.execute(update(SiteState).values(content_changed_at=month_ago))
        # About has no date in its file: imported just now, it would be "now" as well.
        recent = Post.published_at > month_ago
        db.session.execute(update(Post).where(recent, Post.published_at <= utcnow())
                           .values(published_at=month_ago, updated_at=month_ago))
        db.session.commit()


def test_a_scheduled_post_going_live_moves_last_modified(client, site, app):
    from sqlalchemy import update

    from inkwell.extensions import db
    from inkwell.models import Post

    with app.app_context():
        post = db.session.query(Post).filter_by(slug="first-light").one()
        post.published_at = utcnow() + timedelta(hours=1)  # scheduled, saved long ago
        post.updated_at = utcnow() - timedelta(days=40)
        db.session.commit()
    _as_if_unchanged_for_a_month(app)
    before = client.get("/").headers["Last-Modified"]
    with app.app_context():  # an hour passes: the post goes live, nothing is written
        db.session.execute(update(Post).where(Post.slug == "first-light")
                           .values(published_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = client.get("/", headers={"If-Modified-Since": before})
    assert response.status_code == 200
    assert response.headers["Last-Modified"] != before


@pytest.mark.parametrize("path", ["/", "/feed.xml", "/sitemap.xml", "/tags/astronomy/",
                                  "/posts/first-light/"])
def test_deleting_the_newest_post_never_moves_last_modified_back(client, site, app, path):
    from inkwell.extensions import db
    from inkwell.models import Post

    _as_if_unchanged_for_a_month(app)
    before = client.get(path)
    assert before.status_code == 200
    with app.app_context():
        newest = db.session.scalars(
            select(Post).where(Post.kind == "post").order_by(Post.published_at.desc())
        ).first()
        assert newest.slug != path.strip("/").rsplit("/", 1)[-1]
        db.session.delete(newest)
        db.session.commit()
    after = client.get(path, headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert after.status_code == 200
    assert parse_date(after.headers["Last-Modified"]) > parse_date(before.headers["Last-Modified"])


def test_a_backdated_post_moves_the_last_modified_of_its_year(client, site, app, import_posts):
    _as_if_unchanged_for_a_month(app)
    before = client.get("/archive/2024/").headers["Last-Modified"]
    import_posts({"old.md": "---\ntitle: Old news\ndate: 2024-01-02\n---\nFrom the past.\n"})
    after = client.get("/archive/2024/", headers={"If-Modified-Since": before})
    assert after.status_code == 200 and "Old news" in after.text


def test_search_finds_a_published_post_among_many_matching_drafts(client, import_posts):
    drafts = {f"d{i}.md": f"---\ntitle: Draft {i}\ndraft: true\n---\nzebra zebra zebra {i}\n"
              for i in range(65)}
    import_posts({**drafts, "real.md": "---\ntitle: The real one\n---\nOne zebra here.\n"})
    assert "The real one" in client.get("/search?q=zebra").get_data(as_text=True)


def test_a_very_long_post_imports_and_is_found(client, import_posts):
    """~1.5 MB of distinct words (under the 5 MB file limit): PostgreSQL's tsvector holds at
    most 1 MB, so only the first 200,000 characters are indexed there; saving must not fail."""
    import random

    rng = random.Random(7)
    words = ["".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(9)) for _ in range(150_000)]
    body = "Opening with quasar.\n\n" + " ".join(words) + "\n"
    report = import_posts({"huge.md": f"---\ntitle: Huge\n---\n{body}"})
    assert not report.errors, report.errors
    assert "/posts/huge/" in client.get("/search?q=quasar").text

