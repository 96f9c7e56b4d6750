"""Post pages kept rendered per process (blog/caching.py RenderedPosts): the second view of an
unchanged post renders no template, and anything that changes what the page shows (even an
UPDATE made outside the app, which moves no timestamp) is seen on the next view."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, template_rendered
from sqlalchemy import text

from inkwell.blog.caching import RenderedPosts
from inkwell.blog.queries import PostView
from inkwell.database import write_intent
from inkwell.extensions import db

from .test_content_folder import run_import, write


def renders(app):
    """The list of templates rendered, appended to as pages are made."""
    seen: list[str] = []
    template_rendered.connect(lambda _app, template, **_: seen.append(template.name), app,
                              weak=False)
    return seen


def sql(app, statement: str) -> None:
    with app.app_context(), write_intent():
        db.session.execute(text(statement))
        db.session.commit()


def test_an_unchanged_post_is_rendered_once_and_any_change_is_seen(app, client, tmp_path):
    content = tmp_path / "content"
    write(content, "posts/kept.md", "---\ntitle: Kept\ntags: [alpha]\n---\n\nFirst words.\n")
    write(content, "posts/other.md", "---\ntitle: Other\n---\n\nOther words.\n")
    write(content, "pages/about.md", "---\ntitle: About\n---\n\nAbout words.\n")
    assert not run_import(app, content).errors
    seen = renders(app)

    first = client.get("/posts/kept/")
    again = client.get("/posts/kept/")
    assert first.status_code == again.status_code == 200
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    assert seen == ["blog/post.html"]  # the second view rendered nothing
    assert client.get("/posts/kept/", headers={"If-None-Match": first.headers["ETag"]}
                      ).status_code == 304

    assert b"Other words." in client.get("/posts/other/").data  # another post, its own page
    assert b"About words." in client.get("/about/").data
    assert seen == ["blog/post.html", "blog/post.html", "blog/page.html"]

    # Changed behind the app's back (no updated_at, no site_state): still the new page.
    sql(app, "UPDATE posts SET title = 'Renamed', body_html = '<p>New words.</p>' "
             "WHERE slug = 'kept'")
    changed = client.get("/posts/kept/")
    assert b"Renamed" in changed.data and b"New words." in changed.data
    assert changed.headers["ETag"] != first.headers["ETag"]
    sql(app, "UPDATE tags SET name = 'Beta' WHERE slug = 'alpha'")
    assert b">Beta</a>" in client.get("/posts/kept/").data
    assert seen.count("blog/post.html") == 4


def test_the_kept_pages_never_hold_more_than_their_limit():
    pages = RenderedPosts(max_bytes=1000)
    when = datetime(2026, 1, 1)
    with Flask(__name__).test_request_context("/posts/x/"):
        for n in range(10):
            post = PostView(id=n, slug="x", title="x", published_at=when, updated_at=when,
                            reading_minutes=1)
            html, _etag = pages.get("t", post, lambda: "x" * 300)
            assert html == b"x" * 300
            assert pages.size <= 1000
