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
