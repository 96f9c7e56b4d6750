"""Compiled templates are kept in the instance folder between starts, and are only a cache."""

from __future__ import annotations

import shutil

from ..conftest import make_app


def test_a_second_start_renders_from_the_kept_templates(settings, tmp_path, import_posts):
    import_posts({"a.md": "---\ntitle: Kept\ntags: [x]\n---\nBody *text*.\n"})
    with make_app(tmp_path, **settings) as app:
        first = app.test_client().get("/posts/a/").get_data()
    kept = tmp_path / "instance" / "compiled-templates"
    assert any(kept.iterdir())
    with make_app(tmp_path, **settings) as app:
        assert app.test_client().get("/posts/a/").get_data() == first


def test_a_broken_template_cache_never_fails_a_page(settings, tmp_path, import_posts):
    import_posts({"a.md": "---\ntitle: Kept\n---\nBody.\n"})
    with make_app(tmp_path, **settings) as app:
        kept = tmp_path / "instance" / "compiled-templates"
        shutil.rmtree(kept)
        kept.write_text("not a folder")  # neither readable nor writable as a cache
        response = app.test_client().get("/posts/a/")
    assert response.status_code == 200 and b"Kept" in response.data


def test_a_damaged_compiled_template_is_compiled_again(settings, tmp_path, import_posts):
    from jinja2.bccache import bc_magic

    import_posts({"a.md": "---\ntitle: Kept\n---\nBody.\n"})
    with make_app(tmp_path, **settings) as app:
        app.test_client().get("/posts/a/")
    kept = list((tmp_path / "instance" / "compiled-templates").iterdir())
    assert kept
    for path in kept:  # cut short after the header, as a crash mid-write would leave it
        path.write_bytes(bc_magic + b"\x80\x04")
    with make_app(tmp_path, **settings) as app:
        response = app.test_client().get("/posts/a/")
    assert response.status_code == 200 and b"Kept" in response.data
