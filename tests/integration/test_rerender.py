"""`inkwell rerender` and `inkwell setup` bring posts an older renderer made up to date."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from inkwell.content.render import RENDER_VERSION

from ..services import BACKENDS, BIN

INKWELL = str(BIN / "inkwell")


@pytest.fixture
def site(tmp_path):
    """A content folder with a plain post, a post with a figure beside it, and its settings."""
    content = tmp_path / "content" / "posts"
    content.mkdir(parents=True)
    (content / "plain.md").write_text("---\ntitle: Plain\n---\n```python\nprint(1)\n```\n")
    png = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(png, "PNG")
    (content / "dot.png").write_bytes(png.getvalue())
    (content / "figure.md").write_text("---\ntitle: Figure\n---\n![A red dot](dot.png)\n")
    env = {
        **os.environ,
        "INKWELL_ENV": "development",
        "SECRET_KEY": "test-" + "k" * 10 + "abcdefghijklmnopqrstuvwxyz",
        "INKWELL_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'blog.sqlite3'}",
        "CONTENT_DIR": str(tmp_path / "content"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    return tmp_path, env


def inkwell(*args: str, site) -> subprocess.CompletedProcess:
    cwd, env = site
    return subprocess.run([INKWELL, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def _rows(site) -> dict[str, tuple]:
    with sqlite3.connect(site[0] / "blog.sqlite3") as db:
        return {slug: tuple(rest) for slug, *rest in db.execute(
            "SELECT slug, render_version, body_html, updated_at, revision, image_urls "
            "FROM posts")}


def _age(site, where: str = "1=1") -> None:
    """What an older renderer left: an older version, other HTML, no figure links kept."""
    with sqlite3.connect(site[0] / "blog.sqlite3") as db:
        db.execute("UPDATE posts SET render_version = 0, body_html = '<p>old</p>', "
                   f"image_urls = NULL WHERE {where}")


def test_rerender_renders_stale_posts_again_and_says_what_it_did(site):
    assert inkwell("setup", site=site).returncode == 0
    before = _rows(site)
    _age(site, "slug = 'plain'")
    done = inkwell("rerender", site=site)
    assert done.returncode == 0, done.stderr
    assert f"Re-rendered 1 posts and pages with render version {RENDER_VERSION}." in done.stdout
    after = _rows(site)
    assert after["plain"][0] == RENDER_VERSION
    assert after["plain"][1] == before["plain"][1]  # the HTML the current renderer makes
    assert 'tabindex="0"' in after["plain"][1]
    assert after["plain"][2:4] == before["plain"][2:4]  # updated_at and revision kept
    again = inkwell("rerender", site=site)
    assert f"Every post is rendered with the current version ({RENDER_VERSION})" in again.stdout


def test_a_figure_post_is_rendered_again_by_setup_from_its_file(site):
    assert inkwell("setup", site=site).returncode == 0
    good = _rows(site)["figure"]
    assert "/media/" in good[1] and good[4] and "dot.png" in good[4]
    _age(site)
    # Only the file says where dot.png is: rerender leaves the post and says so...
    done = inkwell("rerender", site=site)
    assert done.returncode == 0, done.stderr
    assert "post 'figure' links images by relative path" in done.stderr
    assert "; 1 left for their files." in done.stdout
    assert _rows(site)["figure"][:2] == (0, "<p>old</p>")
    # ...and setup (every deploy) re-imports it from the file, then re-renders the rest.
    setup = inkwell("setup", site=site)
    assert setup.returncode == 0, setup.stderr
    rows = _rows(site)
    assert rows["figure"][:2] == (RENDER_VERSION, good[1])
    assert all(row[0] == RENDER_VERSION for row in rows.values())
    assert "Every post is rendered with the current version" in inkwell("rerender",
                                                                       site=site).stdout


def test_a_stale_post_whose_figure_links_were_kept_needs_no_file(site):
    assert inkwell("setup", site=site).returncode == 0
    good = _rows(site)["figure"]
    with sqlite3.connect(site[0] / "blog.sqlite3") as db:
        db.execute("UPDATE posts SET render_version = 0, body_html = '<p>old</p>'")
    for file in Path(site[1]["CONTENT_DIR"]).rglob("*.*"):
        file.unlink()  # the files are gone, the stored links are enough
    done = inkwell("rerender", site=site)
    assert done.returncode == 0, done.stderr
    assert "Re-rendered 2 posts and pages" in done.stdout
    assert _rows(site)["figure"][:2] == (RENDER_VERSION, good[1])


def test_a_failing_batch_is_left_whole_and_the_others_are_written(site):
    """150 posts make two batches; the database refuses one post of the second (a trigger):
    the first batch is written, the second is left as it was, all of it, and the command
    says which and exits 1."""
    posts = Path(site[1]["CONTENT_DIR"]) / "posts"
    for n in range(150):
        (posts / f"many-{n:03}.md").write_text(f"---\ntitle: Many {n}\n---\nPost {n}.\n")
    assert inkwell("setup", site=site).returncode == 0
    aged = "slug LIKE 'many-%' OR slug = 'plain'"
    _age(site, aged)
    with sqlite3.connect(site[0] / "blog.sqlite3") as db:
        ids = [row[0] for row in db.execute(f"SELECT id FROM posts WHERE {aged} ORDER BY id")]
        db.execute("CREATE TRIGGER refuse BEFORE UPDATE OF body_html ON posts "
                   f"WHEN NEW.id = {ids[-1]} BEGIN SELECT RAISE(ABORT, 'refused'); END")
    done = inkwell("rerender", site=site)
    assert done.returncode == 1
    first, second = ids[:100], ids[100:]
    assert f"error: posts {second[0]}..{second[-1]} were left as they were" in done.stderr
    assert "Re-rendered 100 posts and pages" in done.stdout
    assert "Traceback" not in done.stderr
    with sqlite3.connect(site[0] / "blog.sqlite3") as db:
        versions = dict(db.execute("SELECT id, render_version FROM posts"))
    assert all(versions[i] == RENDER_VERSION for i in first)
    assert all(versions[i] == 0 for i in second)  # not one of them written


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_rerender_on_each_database(app, runner):
    """In process, on SQLite and PostgreSQL (rows locked FOR UPDATE there): a stale post is
    rendered again and found by search with its new text."""
    from sqlalchemy import select, update

    from inkwell.database import write_intent
    from inkwell.extensions import db
    from inkwell.models import Post
    from inkwell.publishing import apply_markdown, touch
    from inkwell.search import index_post, search_posts

    with app.app_context(), write_intent():
        post = Post(kind="post", slug="stale", title="Stale", status="published")
        apply_markdown(post, "Quartz *crystals* grow.\n\n```python\nx = 1\n```\n")
        touch(post)
        db.session.add(post)
        db.session.flush()
        index_post(post)
        db.session.commit()
        fresh_html = post.body_html
        db.session.execute(update(Post).values(render_version=0, body_html="<p>old</p>",
                                               plain_text="old"))
        db.session.commit()
    done = runner.invoke(args=["rerender"])
    assert done.exit_code == 0, done.output
    assert "Re-rendered 1 posts and pages" in done.output
    with app.app_context():
        post = db.session.scalar(select(Post).where(Post.slug == "stale"))
        assert (post.render_version, post.body_html) == (RENDER_VERSION, fresh_html)
        assert post.revision == 1  # not an author's change
        assert [hit.post.slug for hit in search_posts("quartz")] == ["stale"]
