"""The content folder (`inkwell setup`, every deploy): figures through the upload pipeline, all
or nothing, file:line errors, the files own their posts (issue 20)."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from inkwell.content.files import import_content
from inkwell.database import write_intent
from inkwell.extensions import db
from inkwell.models import Media, Post, utcnow

from .admin_support import add_admin, client_sign_in, csrf_token


def png(width: int = 1200, height: int = 600, colour=(30, 90, 160), exif: bool = False) -> bytes:
    out = BytesIO()
    image = Image.new("RGB", (width, height), colour)
    if exif:
        data = image.getexif()
        data[0x010F] = "SecretCam"  # Make
        image.save(out, "JPEG", exif=data)
    else:
        image.save(out, "PNG")
    return out.getvalue()


SVG = b"""<?xml version="1.0" encoding="utf-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="460.8pt" height="345.6pt"
     viewBox="0 0 460.8 345.6" xmlns="http://www.w3.org/2000/svg" onload="alert(1)">
 <defs><style type="text/css">*{stroke-linejoin: round}</style>
  <path id="m1" d="M 0 0 L 1 1"/></defs>
 <script>alert(2)</script>
 <g id="figure_1"><path d="M 0 345.6 L 460.8 0 z" style="fill: #ffffff"/>
  <use xlink:href="#m1" x="1" y="2"/><use xlink:href="https://evil.example/x.svg#a"/>
  <rect width="1" height="1" style="fill: url(https://evil.example/track)"/>
  <a href="javascript:alert(3)"><text>x</text></a>
  <foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>
 </g></svg>"""


@pytest.fixture
def content(tmp_path) -> Path:
    folder = tmp_path / "content"
    (folder / "posts").mkdir(parents=True)
    return folder


def write(folder: Path, name: str, data: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


def run_import(app, folder: Path):
    with app.app_context(), write_intent():
        return import_content(folder, app.config["IMPORT_MAX_FILE_SIZE"])


def state(app) -> tuple[list, list, list]:
    """Every post and media row, and every stored file: what a refused import must keep."""
    with app.app_context():
        posts = [(p.slug, p.status, p.body_html, p.source_path)
                 for p in db.session.scalars(select(Post).order_by(Post.slug))]
        media = [(m.key, m.source_hash) for m in db.session.scalars(select(Media))]
    root = Path(app.config["MEDIA_ROOT"])
    files = sorted((p.name, p.read_bytes()) for p in root.rglob("*")) if root.is_dir() else []
    return posts, media, files


TAIL = """---
title: Tail latency
date: 2026-11-02
---

Some text.

![Fig. 1](p99.png "p99")

A reference ![Fig. 2][fig2] and raw <img src="plot.svg" alt="plot">.

```markdown
![not a figure](in-a-code-block.png)
```

[fig2]: ./p99.png
"""


def test_figures_are_stored_once_with_variants_and_linked_by_srcset(app, content):
    folder = content / "posts" / "2026-11-tail-latency"
    write(folder, "index.md", TAIL)
    write(folder, "p99.png", png())
    write(folder, "plot.svg", SVG)
    write(content, "posts/other.md", "---\ntitle: Other\n---\n\n![same bytes](same.png)\n")
    write(content, "posts/same.png", png())  # the same bytes as p99.png
    report = run_import(app, content)
    assert not report.errors and len(report.created) == 2
    with app.app_context():
        post = db.session.scalars(select(Post).where(Post.slug == "tail-latency")).one()
        media = db.session.scalars(select(Media).order_by(Media.content_type)).all()
        other = db.session.scalars(select(Post).where(Post.slug == "other")).one()
    assert [m.content_type for m in media] == ["image/png", "image/svg+xml"]  # one PNG
    raster = media[0]
    assert {"480", "960", "480.webp", "960.webp"} <= raster.variants.keys()
    assert post.body_html.count("<picture>") == 2 and " 960w" in post.body_html
    assert raster.variants["960.webp"] in post.body_html
    assert raster.variants["960"] in other.body_html  # linked by two posts, stored once
    assert post.source_path == "posts/2026-11-tail-latency/index.md"
    assert "in-a-code-block.png" in post.body_html  # code is not a figure
    svg = (Path(app.config["MEDIA_ROOT"]) / media[1].variants["original"]).read_bytes()
    assert f'src="/media/{media[1].variants["original"]}"'.encode() in post.body_html.encode()
    for never in (b"script", b"onload", b"foreignObject", b"javascript", b"evil.example"):
        assert never not in svg
    assert b'xlink:href="#m1"' in svg and b"<path" in svg and media[1].width == 614
    # The same files again: nothing new stored, nothing rewritten.
    before = state(app)
    again = run_import(app, content)
    assert len(again.unchanged) == 2 and state(app) == before


def test_a_figure_replaced_under_its_name_re_renders_the_post(app, content):
    write(content, "posts/a/index.md", "---\ntitle: A\n---\n\n![f](f.png)\n")
    write(content, "posts/a/f.png", png(colour=(1, 2, 3)))
    run_import(app, content)
    write(content, "posts/a/f.png", png(colour=(200, 2, 3)))
    report = run_import(app, content)
    assert report.updated == [str(content / "posts/a/index.md")]
    with app.app_context():
        assert db.session.query(Media).count() == 2


def test_exif_is_gone_from_a_stored_figure(app, content):
    write(content, "posts/photo.md", "---\ntitle: Photo\n---\n\n![p](photo.jpg)\n")
    write(content, "posts/photo.jpg", png(800, 600, exif=True))
    assert not run_import(app, content).errors
    stored = [p.read_bytes() for p in Path(app.config["MEDIA_ROOT"]).rglob("*.jpg")]
    assert stored and not any(b"SecretCam" in data for data in stored)


@pytest.mark.parametrize("link, setup, words", [
    ("missing.png", None, "does not exist"),
    ("../../../../../../../etc/passwd", None, "outside the content folder"),
    ("out.png", "symlink", "outside the content folder"),
    ("notes.png", "text", "not a PNG, JPEG, WebP or GIF"),
])
def test_a_bad_figure_names_the_file_and_line_and_writes_nothing(app, content, tmp_path, link,
                                                                   setup, words):
    write(content, "posts/good.md", "---\ntitle: Good\n---\n\n![g](g.png)\n")
    write(content, "posts/g.png", png(500, 300))
    run_import(app, content)
    before = state(app)
    write(content, "posts/zz-new.md", "---\ntitle: New\n---\n\n![ok](ok.png)\n")
    write(content, "posts/ok.png", png(700, 500, colour=(9, 9, 9)))  # stored, then taken back
    if setup == "symlink":
        outside = write(tmp_path, "outside.png", png(10, 10))
        (content / "posts" / link).symlink_to(outside)
    elif setup == "text":
        write(content, f"posts/{link}", b"just some text")
    bad = write(content, "posts/zz-bad.md", f"---\ntitle: Bad\n---\n\nIntro.\n\n![x]({link})\n")
    report = run_import(app, content)
    assert len(report.errors) == 1, report.errors
    assert report.errors[0].startswith(f"{bad}:7: the figure") and words in report.errors[0]
    assert state(app) == before


def test_one_bad_front_matter_line_refuses_the_whole_folder(app, content):
    write(content, "posts/fine.md", "---\ntitle: Fine\n---\n\nText.\n")
    broken = write(content, "posts/broken.md", "---\ntitle: B\ndate: 2026-02-30\n---\nText.\n")
    report = run_import(app, content)
    assert len(report.errors) == 1 and report.errors[0].startswith(f"{broken}:3:")
    assert state(app) == ([], [], [])


def test_a_removed_file_unpublishes_its_post_and_browser_posts_are_never_touched(app, content):
    write(content, "posts/kept.md", "---\ntitle: Kept\n---\n\nText.\n")
    gone = write(content, "posts/gone.md", "---\ntitle: Gone\n---\n\nText.\n")
    run_import(app, content)
    with app.app_context(), write_intent():  # as the editor saves a post: no file behind it
        db.session.add(Post(kind="post", slug="typed", title="Typed", status="published",
                            body_html="<p>typed</p>"))
        db.session.commit()
    gone.unlink()
    report = run_import(app, content)
    assert report.unpublished == ["posts/gone.md"] and not report.errors
    client = app.test_client()
    assert client.get("/posts/gone/").status_code == 404
    assert client.get("/posts/typed/").status_code == 200
    assert client.get("/posts/kept/").status_code == 200
    with app.app_context():
        row = db.session.scalars(select(Post).where(Post.slug == "gone")).one()
        assert (row.status, row.source_removed) == ("draft", True)  # kept, never deleted
    # The file back: published again. A file may not take a browser post's slug.
    write(content, "posts/gone.md", "---\ntitle: Gone\n---\n\nText.\n")
    clash = write(content, "posts/typed.md", "---\ntitle: Clash\nslug: typed\n---\nText.\n")
    report = run_import(app, content)
    assert len(report.errors) == 1 and report.errors[0].startswith(f"{clash}:3: slug 'typed'")
    assert "written in the browser" in report.errors[0]
    clash.unlink()
    assert not run_import(app, content).errors
    assert client.get("/posts/gone/").status_code == 200
    assert b"typed" in client.get("/posts/typed/").data


def test_a_post_scheduled_in_its_front_matter_goes_live_at_its_time_without_an_import(
        app, content):
    moment = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    write(content, "posts/later.md",
          f"---\ntitle: Later\ndate: {moment.isoformat()}\n---\n\nSoon.\n")
    run_import(app, content)
    assert app.test_client().get("/posts/later/").status_code == 404
    with app.app_context():  # the page's own query, two hours on: no push in between
        visible = select(Post.slug).where(Post.visible(now=moment + timedelta(seconds=1)))
        assert db.session.scalars(visible).all() == ["later"]


def test_pages_folder_makes_pages(app, content):
    write(content, "pages/about.md", "---\ntitle: About me\n---\n\nHi.\n")
    assert not run_import(app, content).errors
    assert b"About me" in app.test_client().get("/about/").data


def test_the_editor_shows_a_file_owned_post_and_refuses_to_change_it(app, content):
    write(content, "posts/owned.md", "---\ntitle: Owned\n---\n\nFrom a file.\n")
    run_import(app, content)
    add_admin(app)
    client = app.test_client()
    client_sign_in(client)
    with app.app_context():
        post_id = db.session.scalars(select(Post.id).where(Post.slug == "owned")).one()
    page = client.get(f"/admin/posts/{post_id}")
    assert page.status_code == 200
    assert "posts/owned.md</code> in the blog's repository" in page.text
    assert "Changes made here are refused" in page.text and "Delete…" not in page.text
    token = csrf_token(page.text)
    saved = client.post(f"/admin/posts/{post_id}", data={
        "csrf_token": token, "title": "Edited", "slug": "owned", "body": "Browser", "save": "1"})
    assert saved.status_code == 409 and "Nothing was saved" in saved.text
    deleted = client.post(f"/admin/posts/{post_id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 409 and "Not deleted" in deleted.text
    assert b"From a file." in client.get("/posts/owned/").data


def test_a_file_that_changes_its_slug_keeps_its_post_and_slugs_can_move_between_files(
        app, content):
    a = write(content, "posts/a.md", "---\ntitle: A\nslug: first\n---\n\nA.\n")
    b = write(content, "posts/b.md", "---\ntitle: B\nslug: second\n---\n\nB.\n")
    run_import(app, content)
    with app.app_context():
        ids = dict(db.session.execute(select(Post.slug, Post.id)).all())
    a.write_text("---\ntitle: A\nslug: renamed\n---\n\nA.\n")
    report = run_import(app, content)
    assert not report.errors and not report.created and not report.unpublished
    with app.app_context():
        assert dict(db.session.execute(select(Post.slug, Post.id)).all()) == {
            "renamed": ids["first"], "second": ids["second"]}
    # Two files swap slugs in one push: each URL keeps answering, with the other file's text.
    a.write_text("---\ntitle: A\nslug: second\n---\n\nA.\n")
    b.write_text("---\ntitle: B\nslug: renamed\n---\n\nB.\n")
    report = run_import(app, content)
    assert not report.errors, report.errors
    client = app.test_client()
    assert b"A." in client.get("/posts/second/").data
    assert b"B." in client.get("/posts/renamed/").data
