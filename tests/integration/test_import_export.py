"""`inkwell import` / `inkwell export`: files in git are the first way to write."""

from __future__ import annotations

import os
from datetime import datetime

import pytest
from sqlalchemy import func, select

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
