"""Details an author notices (issue 16), through real gunicorn: tags stay in the order written,
the same image uploaded twice is one media item, and the media library names each image and
shows its description."""

from __future__ import annotations

import html
import os
import re
import subprocess

import pytest

from ..services import BIN
from .admin_support import admin_site
from .test_admin_editor import create, public, save
from .test_admin_media import XHR, photo, stored_keys, upload


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(tmp_path_factory.mktemp("details"), MEDIA_BACKEND="local") as site:
        yield site


def test_tags_keep_the_order_they_were_written_in(site, author):
    post_id, slug = create(author, tags="Zebra, apple, Mango", body="Words.")
    page = public(site, f"/posts/{slug}/").text
    assert page.index(">Zebra<") < page.index(">apple<") < page.index(">Mango<")
    editor = author.get(f"/admin/posts/{post_id}").text
    assert 'value="Zebra, apple, Mango"' in editor
    # Reordered and changed on a later save: the new order, the new tag in its place.
    saved = save(author, f"/admin/posts/{post_id}", "save", title="Tags", slug=slug,
                 tags="Mango, Kiwi, Zebra", body="Words.")
    assert saved.status_code == 302
    assert 'value="Mango, Kiwi, Zebra"' in author.get(f"/admin/posts/{post_id}").text


def test_the_same_bytes_uploaded_twice_are_one_media_item(site, author):
    data = photo(gps=False)
    first = upload(author, data, "holiday.jpg", alt="A beach")
    assert first.status_code == 201, first.text
    keys = stored_keys(site)
    second = upload(author, data, "holiday-copy.jpg", alt="The same beach")
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"] and second.json()["existing"] is True
    assert second.json()["markdown"].startswith("![The same beach](/media/")
    assert stored_keys(site) == keys  # nothing stored twice
    other = upload(author, photo(width=900, gps=False), "other.jpg")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_the_media_library_lists_names_and_descriptions(site, author):
    upload(author, photo(width=640, gps=False), "garden <path>.jpg", alt="Roses & tulips")
    upload(author, photo(width=700, gps=False), "no-alt.png", headers=XHR)
    library = author.get("/admin/media/").text
    assert html.escape("garden <path>.jpg") in library
    assert "Roses &amp; tulips" in library
    assert "no-alt.png" in library and "No description" in library


def test_an_editor_tab_opened_before_an_import_cannot_overwrite_it(site, author, tmp_path):
    post_id, slug = create(author, button="save", body="Written in the browser.")
    edit = author.get(f"/admin/posts/{post_id}").text
    loaded = re.search(r'name="revision" type="hidden" value="(\d+)"', edit)[1]
    (tmp_path / f"{slug}.md").write_text(f"---\ntitle: Imported\nslug: {slug}\n---\nFrom a file.\n")
    imported = subprocess.run([str(BIN / "inkwell"), "import", str(tmp_path)],
                              env={**os.environ, **site.env}, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0 and "1 updated" in imported.stdout, imported.stderr
    stale = save(author, f"/admin/posts/{post_id}", "save", title="Mine", slug=slug,
                 body="The old tab's words.", revision=loaded)
    assert stale.status_code == 409
    assert "was saved elsewhere" in html.unescape(stale.text)
    assert "From a file." in author.get(f"/admin/posts/{post_id}").text
