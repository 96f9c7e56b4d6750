"""Posts from Pelican, Jekyll and Hugo imported as their authors meant, checked over HTTP, and
every guess reported: warnings per file, a summary line, `--strict` failing those files."""

from __future__ import annotations

import os
from datetime import datetime

from sqlalchemy import select

from inkwell.extensions import db
from inkwell.models import Media, PathRedirect, Post

from ..conftest import make_app
from ..notebook_fixtures import png
from ..unit.test_fetch import serve_images

PELICAN = """Title: Pelican's post
Date: 2015-06-01 09:00
Tags: birds, python
Category: notes
Author: Ann
Summary: A bird's summary

Body from Pelican.
"""

JEKYLL = """---
layout: post
title: "Moving house {#moving}"
categories: [life]
---
# Boxes {#boxes .wide}

![The van](/assets/img/van.png){: .image--center}

See [part 2]({{ site.baseurl }}{% post_url 2018-01-02-part-2 %}).
"""

HUGO = """+++
title = "Spring"
date = 2021-04-05T08:00:00Z
draft = false
aliases = ["/posts/old-spring/", "/2021/04/spring.html"]
+++
Body with ![remote](https://images.example/cat.png).
"""

MOJIBAKE = """---
title: Local â†’ remote
date: 2020-01-01
---
Undated text? No: this one has a date.
"""


def post_named(app, slug: str) -> Post:
    with app.app_context():
        post = db.session.scalar(select(Post).where(Post.slug == slug))
        db.session.expunge(post)
        return post


def test_one_post_from_each_blog_imports_as_meant(app, client, write_posts):
    folder = write_posts({
        "_posts/pelican.md": PELICAN,
        "_posts/2018-01-01-moving.md": JEKYLL,
        "_posts/spring.md": HUGO,
        "_posts/arrow.md": MOJIBAKE,
        "assets/img/van.png": png("orange"),
    })
    result = app.test_cli_runner().invoke(args=["import", str(folder / "_posts")])
    assert result.exit_code == 0, result.output

    pelican = post_named(app, "pelican")
    assert pelican.title == "Pelican's post" and pelican.published_at == datetime(2015, 6, 1, 9)
    assert pelican.description == "A bird's summary"
    assert [t.name for t in pelican.tags] == ["birds", "python"]
    assert pelican.extra == {"category": "notes", "author": "Ann"}
    assert "Title:" not in pelican.body_html and "Title:" not in pelican.summary_html

    jekyll = post_named(app, "moving")
    assert jekyll.title == "Moving house" and jekyll.published_at == datetime(2018, 1, 1)
    assert jekyll.extra["layout"] == "post"
    page = client.get("/posts/moving/").get_data(as_text=True)
    assert "{#" not in page and "{:" not in page and "image--center" not in page
    assert 'srcset="/media/' in page and "/assets/img/van.png" not in page  # found above _posts
    with app.app_context():
        assert db.session.scalar(select(Media)) is not None

    spring = client.get("/posts/spring/")
    assert spring.status_code == 200
    for old in ("/posts/old-spring/", "/2021/04/spring.html"):  # both of Hugo's aliases
        moved = client.get(old)
        assert moved.status_code == 301 and moved.headers["Location"].endswith("/posts/spring/")
    assert post_named(app, "arrow").title == "Local → remote"

    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert any("2018-01-01-moving.md:10:" in w and "{{ site.baseurl }}" in w for w in warnings)
    assert any("spring.md" in w and "https://images.example/cat.png" in w
               and "--fetch-images" in w for w in warnings)
    assert not any("/2021/04/spring.html" in w for w in warnings)
    assert any("arrow.md:2:" in w and "mojibake" in w for w in warnings)
    assert f"4 imported, {len(warnings)} warnings" in result.output


def test_a_file_without_a_date_says_it_took_the_files_time(app, write_posts):
    folder = write_posts({"undated.md": "# Undated\n\nText.\n"})
    stamp = datetime(2022, 3, 4, 5, 6).timestamp()
    os.utime(folder / "undated.md", (stamp, stamp))
    result = app.test_cli_runner().invoke(args=["import", str(folder)])
    assert result.exit_code == 0
    assert "undated.md: no date: it took the file's time, 2022-03-04 05:06" in result.output
    assert "1 imported, 1 warnings" in result.output


def test_an_image_that_does_not_resolve_is_a_warning_with_its_line(app, write_posts):
    folder = write_posts({"a.md": "---\ntitle: A\ndate: 2020-01-01\n---\n\n![x](/img/gone.png)\n"})
    result = app.test_cli_runner().invoke(args=["import", str(folder)])
    assert result.exit_code == 0
    assert "a.md:6: the image /img/gone.png does not resolve" in result.output


def test_strict_fails_the_files_with_warnings_and_imports_the_others(app, write_posts):
    folder = write_posts({
        "clean.md": "---\ntitle: Clean\ndate: 2020-01-01\n---\nText.\n",
        "guessy.md": "---\ntitle: Guessy\ndate: 2020-01-01\nmood: odd\n---\nText.\n",
        "undated.md": "---\ntitle: Undated\n---\nText.\n",
    })
    result = app.test_cli_runner().invoke(args=["import", "--strict", str(folder)])
    assert result.exit_code == 1
    assert "guessy.md:4: refused (--strict): front-matter key 'mood'" in result.output
    assert "undated.md: refused (--strict): no date" in result.output
    assert "1 imported" in result.output and "2 failed" in result.output
    with app.app_context():
        assert db.session.scalars(select(Post.slug)).all() == ["clean"]


def test_reimporting_a_hugo_post_keeps_one_redirect_per_alias(app, write_posts):
    folder = write_posts({"spring.md": HUGO})
    runner = app.test_cli_runner()
    runner.invoke(args=["import", str(folder)])
    (folder / "spring.md").write_text(HUGO.replace("Body with", "Changed body with"))
    assert runner.invoke(args=["import", str(folder)]).exit_code == 0
    with app.app_context():
        rows = db.session.scalars(select(PathRedirect).order_by(PathRedirect.path)).all()
        assert [r.path for r in rows] == ["/2021/04/spring.html", "/posts/old-spring"]


def test_fetch_images_copies_a_remote_image_into_the_media_store(settings, tmp_path,
                                                                 write_posts):
    with serve_images() as server, make_app(tmp_path, **settings,
                                            FETCH_ALLOW_LOOPBACK=True) as app:
        folder = write_posts({"remote.md": (
            "---\ntitle: Remote\ndate: 2020-01-01\n---\n"
            f"![a photo]({server}/image.png)\n\n![gone]({server}/gone.png)\n")})
        result = app.test_cli_runner().invoke(args=["import", "--fetch-images", str(folder)])
        assert result.exit_code == 0, result.output
        html = app.test_client().get("/posts/remote/").get_data(as_text=True)
        assert f"{server}/image.png" not in html and 'srcset="/media/' in html
        assert "remote.md:7: the image" in result.output and "answered 404" in result.output
        assert "1 imported, 1 warnings" in result.output
        with app.app_context():
            assert db.session.scalar(select(Media).where(Media.content_type == "image/png"))


def test_a_content_folder_import_prints_its_warnings_and_counts_them(settings, tmp_path,
                                                                     write_posts):
    folder = write_posts({"posts/pelican.md": PELICAN.replace("Author: Ann", "Mood: calm")})
    with make_app(tmp_path, **settings, CONTENT_DIR=str(folder)) as app:
        result = app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert "pelican.md:5: front-matter key 'mood'" in result.output
    assert "1 created" in result.output and "1 warnings." in result.output
