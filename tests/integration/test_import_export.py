"""`inkwell import` / `inkwell export`: files in git are the first way to write."""

from __future__ import annotations

import os
from datetime import datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from inkwell.content.files import export_posts, import_path
from inkwell.extensions import db
from inkwell.models import Post, Tag

from ..services import BACKENDS, migrated

GOOD = """
---
title: "Colons: quotes \\"and\\" unicode ✓"
date: 2024-05-01T09:30:00
updated: 2024-05-02T10:00:00
description: A post with everything
tags: [one, Two words]
toc: true
series: telescope
rating: 4.5
---
# Heading

Body with $x^2$ math.

## Part one

Text.

## Part two

```plotly
{"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}]}
```
"""


def posts(app) -> list[Post]:
    with app.app_context():
        rows = db.session.scalars(select(Post).order_by(Post.slug)).all()
        for p in rows:
            db.session.expunge(p)
        return rows


def test_import_stores_rendered_html_and_metadata(app, import_posts):
    report = import_posts({"2024-05-01-everything.md": GOOD})
    assert report.created and not report.errors
    [post] = posts(app)
    assert post.slug == "everything"  # file name without its date
    assert post.title == 'Colons: quotes "and" unicode ✓'
    assert post.published_at == datetime(2024, 5, 1, 9, 30)
    assert post.updated_at == datetime(2024, 5, 2, 10)
    assert [t.name for t in post.tags] == ["one", "Two words"]
    assert post.extra == {"series": "telescope", "rating": 4.5}
    assert "<math" in post.body_html and post.has_math
    assert post.has_chart and 'class="plotly-chart"' in post.body_html
    assert post.show_toc and "Part one" in post.toc_html


def test_reimport_updates_in_place_and_never_duplicates(app, import_posts):
    import_posts({"a.md": "---\ntitle: A\ndate: 2024-01-01\n---\nFirst version\n"})
    again = import_posts({"a.md": "---\ntitle: A\ndate: 2024-01-01\n---\nFirst version\n"})
    assert again.unchanged and not again.created and not again.updated
    changed = import_posts({"a.md": "---\ntitle: A2\ndate: 2024-01-01\n---\nSecond version\n"})
    assert changed.updated
    [post] = posts(app)
    assert post.title == "A2" and "Second version" in post.body_html
    with app.app_context():
        assert db.session.scalar(select(func.count(Tag.id))) == 0


def test_tags_that_differ_only_in_case_are_one_tag(app, import_posts):
    report = import_posts({
        "a.md": "---\ntitle: A\ntags: [Python, python, PYTHON, web]\n---\nBody\n",
        "b.md": "---\ntitle: B\ntags: [python]\n---\nBody\n",
    })
    assert not report.errors and len(report.created) == 2
    a, b = posts(app)
    assert [t.name for t in a.tags] == ["Python", "web"]
    assert [t.slug for t in b.tags] == ["python"]


def test_file_without_front_matter_takes_title_from_heading_and_date_from_mtime(
    app, write_posts
):
    folder = write_posts({"notes.md": "# My notes\n\nSome text.\n"})
    stamp = datetime(2023, 7, 8, 9, 10, 11).timestamp()
    os.utime(folder / "notes.md", (stamp, stamp))
    with app.app_context():
        report = import_path(folder, app.config["IMPORT_MAX_FILE_SIZE"])
    assert report.created
    [post] = posts(app)
    assert post.title == "My notes"
    assert "<h1" not in post.body_html  # the heading became the title
    assert post.published_at == datetime.utcfromtimestamp(stamp)


def test_bad_front_matter_names_file_and_line_and_other_files_still_import(app, import_posts):
    report = import_posts({
        "bad.md": "---\ntitle: Bad\ndate: 2024-01-01\ntags: [unclosed\n---\nBody\n",
        "good.md": "---\ntitle: Good\n---\nFine\n",
    })
    assert [p.title for p in posts(app)] == ["Good"]
    [error] = report.errors
    assert "bad.md:" in error
    assert error.split("bad.md:")[1].split(":")[0] in {"4", "5"}


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("latin1.md", "---\ntitle: Caf\xe9\n---\nx\n".encode("latin-1"), "UTF-8"),
        ("types.md", "---\ntitle: T\ntags: 5\n---\nx\n", "tags"),
        ("date.md", "---\ntitle: T\ndate: [1, 2]\n---\nx\n", "date"),
        ("draft.md", "---\ntitle: T\ndraft: maybe\n---\nx\n", "draft"),
        ("open.md", "---\ntitle: never closed\n\nbody\n", "front matter"),
        ("list.md", "---\n- a\n- b\n---\nx\n", "front matter"),
    ],
)
def test_bad_files_get_a_clear_message_and_write_nothing(app, import_posts, name, content, words):
    report = import_posts({name: content})
    [error] = report.errors
    assert name in error and words.lower() in error.lower()
    assert "Traceback" not in error
    assert posts(app) == []


def test_files_over_the_size_limit_are_refused(app, import_posts):
    app.config["IMPORT_MAX_FILE_SIZE"] = 1000
    report = import_posts({"big.md": "---\ntitle: Big\n---\n" + "x" * 2000})
    assert "big.md" in report.errors[0] and "limit" in report.errors[0]
    assert posts(app) == []


def test_duplicate_slugs_in_one_import_are_reported(app, import_posts):
    report = import_posts({
        "a.md": "---\ntitle: One\nslug: same\n---\nx\n",
        "b.md": "---\ntitle: Two\nslug: same\n---\ny\n",
    })
    assert len(posts(app)) == 1
    assert "same" in report.errors[0] and "b.md" in report.errors[0]


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_export_then_import_into_an_empty_instance_reproduces_every_post(
    app, import_posts, tmp_path, settings
):
    from inkwell import create_app

    import_posts({
        "everything.md": GOOD,
        "draft.md": "---\ntitle: Draft\ndraft: true\ndate: 2024-02-02\n---\nWIP\n",
        "pages/about.md": "---\ntitle: About\npage: true\ndate: 2024-01-01\n---\nMe.\n",
        "plain.md": "# Plain\n\nNo front matter.\n",
    })
    out = tmp_path / "export"
    with app.app_context():
        assert export_posts(out) == 4
    before = posts(app)

    fresh_url = migrated(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    fresh = create_app({**settings, "SQLALCHEMY_DATABASE_URI": fresh_url})
    with fresh.app_context():
        report = import_path(out, fresh.config["IMPORT_MAX_FILE_SIZE"])
        assert not report.errors and len(report.created) == 4
    after = posts(fresh)

    def essence(p: Post):
        return (p.kind, p.slug, p.title, p.description, p.status, p.published_at, p.updated_at,
                [t.name for t in p.tags], p.extra, p.body_markdown.strip(), p.body_html,
                p.show_toc)

    assert [essence(p) for p in after] == [essence(p) for p in before]


def _numbered(count: int, **overrides: str) -> dict[str, str]:
    files = {
        f"p{i}.md": f"---\ntitle: Post {i}\ndate: 2024-01-{i + 1:02d}\n---\nword{i} text\n"
        for i in range(count)
    }
    files.update(overrides)
    return files


def _search_rows(app) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(text("SELECT rowid, body FROM post_search ORDER BY rowid"))
        return [tuple(r) for r in rows]


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_file_that_fails_to_render_is_reported_and_the_rest_of_its_batch_imports(
    app, import_posts, monkeypatch
):
    from inkwell.content import files

    monkeypatch.setattr(files, "_BATCH_SIZE", 2)
    real_render = files.render_body

    def render(body: str, **options):
        if "explode" in body:
            raise RuntimeError("renderer bug")
        return real_render(body, **options)

    monkeypatch.setattr(files, "render_body", render)
    report = import_posts(_numbered(5, **{"p2.md": "---\ntitle: Bad\n---\nexplode\n"}))
    [error] = report.errors
    assert error.endswith("p2.md: could not be rendered (RuntimeError: renderer bug)")
    assert len(report.created) == 4
    assert [p.title for p in posts(app)] == ["Post 0", "Post 1", "Post 3", "Post 4"]


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_reimport_across_batches_is_idempotent_and_reindexes_changed_posts(
    app, import_posts, monkeypatch
):
    from inkwell.content import files

    monkeypatch.setattr(files, "_BATCH_SIZE", 2)
    first = import_posts(_numbered(5))
    assert len(first.created) == 5
    before = [(p.id, p.slug, p.body_html) for p in posts(app)]
    again = import_posts(_numbered(5))
    assert len(again.unchanged) == 5 and not again.created and not again.updated
    assert [(p.id, p.slug, p.body_html) for p in posts(app)] == before
    changed = import_posts(_numbered(5, **{"p3.md": "---\ntitle: Post 3\n---\nrewritten\n"}))
    assert [f.rsplit("/", 1)[1] for f in changed.updated] == ["p3.md"]
    assert len(changed.unchanged) == 4 and len(posts(app)) == 5
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        rows = _search_rows(app)
        assert [rowid for rowid, _ in rows] == [p[0] for p in before]  # one row per post
        rewritten = [body for _, body in rows if "rewritten" in body or "word3" in body]
        assert rewritten == ["rewritten"]


def test_imported_posts_are_found_by_search(app, import_posts, monkeypatch):
    from inkwell.content import files
    from inkwell.search import search_posts

    monkeypatch.setattr(files, "_BATCH_SIZE", 2)
    import_posts(_numbered(5))
    with app.app_context():
        assert [hit.post.title for hit in search_posts("word4")] == ["Post 4"]
        assert len(_search_rows(app)) == 5


def test_a_database_error_stops_the_import_and_writes_nothing(app, import_posts, monkeypatch):
    from inkwell.content import files

    monkeypatch.setattr(files, "_BATCH_SIZE", 2)
    real_index = files.index_posts
    calls = []

    def index(batch):
        calls.append(len(batch))
        if len(calls) == 2:  # the first batch is already flushed and indexed by now
            raise OperationalError("INSERT INTO post_search", {}, Exception("disk I/O error"))
        real_index(batch)

    monkeypatch.setattr(files, "index_posts", index)
    with pytest.raises(OperationalError):
        import_posts(_numbered(5))
    assert calls == [2, 2]
    assert posts(app) == []
    assert _search_rows(app) == []


def test_a_link_to_a_file_outside_the_folder_is_refused(app, write_posts, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0\n")
    folder = write_posts({"ok.md": "# Fine\n\nText.\n", "notes/inner.md": "# Inner\n"})
    (folder / "leak.md").symlink_to(secret)
    (folder / "alias.md").symlink_to(folder / "notes" / "inner.md")  # inside: followed
    with app.app_context():
        report = import_path(folder, app.config["IMPORT_MAX_FILE_SIZE"])
        bodies = db.session.scalars(select(Post.body_markdown)).all()
    assert len(report.errors) == 1 and "leak.md: is a link to" in report.errors[0]
    assert "outside" in report.errors[0]
    assert not any("root:x" in body for body in bodies)
    assert len(report.created) == 3  # ok.md, notes/inner.md and alias.md (a link inside)


def test_a_page_cannot_take_a_slug_the_site_uses(app, import_posts):
    report = import_posts({
        "admin.md": "---\ntitle: Admin\npage: true\n---\nx\n",
        "feed.md": "---\ntitle: Feed\npage: yes\nslug: feed\n---\nx\n",
        "about.md": "---\ntitle: About\npage: true\n---\nx\n",
        "admin-post.md": "---\ntitle: Admin\nslug: admin\n---\nA post may: /posts/admin/.\n",
    })
    assert len(report.errors) == 2
    assert all("the site itself answers at" in e for e in report.errors)
    assert len(report.created) == 2


def test_tags_in_other_scripts_stay_distinct(app, import_posts):
    import_posts({
        "a.md": "---\ntitle: A\ntags: [日本語, 中文]\n---\nx\n",
        "b.md": "---\ntitle: B\ntags: [Ελληνικά]\n---\nx\n",
    })
    with app.app_context():
        names = sorted(db.session.scalars(select(Tag.name)).all())
    assert names == ["Ελληνικά", "中文", "日本語"]


def test_editing_a_file_without_a_date_keeps_the_posts_date(app, import_posts, write_posts):
    import_posts({"hello.md": "# Hello\n\nFirst words.\n"})
    [before] = posts(app)
    folder = write_posts({"hello.md": "# Hello\n\nFirst words, then more.\n"})
    later = before.published_at.timestamp() + 3600
    os.utime(folder / "hello.md", (later, later))  # the edit's modification time
    with app.app_context():
        report = import_path(folder, app.config["IMPORT_MAX_FILE_SIZE"])
    [after] = posts(app)
    assert report.updated and "then more" in after.body_markdown
    assert after.published_at == before.published_at


def test_importing_an_export_changes_nothing(app, import_posts, tmp_path):
    """Export, import that export, export again: the same files, every post unchanged (export
    writes front matter its own way: block lists, folded text, no comments)."""
    import_posts({
        "everything.md": GOOD,
        "plain.md": "# Plain\n\nNo front matter.\n",
        "tags.md": "---\ntitle: Tags\ntags: [b, A]  # a comment\ndraft: false\ntoc: no\n---\nx\n",
        "pages/about.md": "---\ntitle: About\npage: true\ndate: 2024-01-01\n---\nMe.\n",
    })
    first, second = tmp_path / "first", tmp_path / "second"
    with app.app_context():
        export_posts(first)
        report = import_path(first, app.config["IMPORT_MAX_FILE_SIZE"])
        export_posts(second)
    assert not report.errors and not report.created and not report.updated
    assert len(report.unchanged) == 4
    for path in first.rglob("*.md"):
        assert (second / path.relative_to(first)).read_text() == path.read_text(), path
    # And once more: now the stored hashes are the exported files'.
    with app.app_context():
        again = import_path(second, app.config["IMPORT_MAX_FILE_SIZE"])
    assert len(again.unchanged) == 4


def test_inkwell_import_stores_figures_and_skips_a_file_whose_figure_is_missing(
        app, import_posts):
    from io import BytesIO

    from PIL import Image

    from inkwell.models import Media

    image = BytesIO()
    Image.new("RGB", (600, 300), (5, 6, 7)).save(image, "PNG")
    report = import_posts({
        "with-figure/index.md": "---\ntitle: Figure\n---\n\n![Fig. 1](fig.png)\n",
        "with-figure/fig.png": image.getvalue(),
        "broken.md": "---\ntitle: Broken\n---\n\nText.\n\n![gone](gone.png)\n",
    })
    assert len(report.errors) == 1 and "broken.md:7: the figure 'gone.png' does not exist" \
        in report.errors[0]
    [post] = posts(app)
    assert post.slug == "with-figure" and "<picture>" in post.body_html
    assert post.source_path is None  # `inkwell import` owns nothing: the browser may edit it
    with app.app_context():
        assert db.session.query(Media).count() == 1
