"""The editor's whole round on both databases (SQLite and PostgreSQL), in-process: sign in,
draft, publish, rename (old URL 301), search in the admin, sessions, delete."""

from __future__ import annotations

import pytest

from ..services import BACKENDS
from .admin_support import add_admin, client_sign_in, csrf_token

pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


@pytest.fixture
def author(app):
    add_admin(app)
    client = app.test_client()
    response = client_sign_in(client)
    assert response.status_code == 302
    return client


def test_write_publish_rename_and_delete(author):
    token = csrf_token(author.get("/admin/posts/new").text)
    form = {"csrf_token": token, "title": "100% _real_ post", "body": "Hello $x$", "tags": "A, a"}
    created = author.post("/admin/posts/new", data={**form, "save": "1"})
    assert created.status_code == 302
    edit_url = created.headers["Location"]
    assert author.get("/posts/100-real-post/").status_code == 404

    author.post(edit_url, data={**form, "slug": "100-real-post", "publish": "1"})
    assert author.get("/posts/100-real-post/").status_code == 200
    assert "100% _real_ post" in author.get("/admin/?q=100%25 _real").text
    assert "100% _real_ post" not in author.get("/admin/?q=100%25x").text

    author.post(edit_url, data={**form, "slug": "renamed", "save": "1"})
    moved = author.get("/posts/100-real-post/")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/posts/renamed/")

    assert author.get("/admin/posts/2147483648").status_code == 404
    assert "this browser" in author.get("/admin/sessions").text

    deleted = author.post(edit_url + "/delete", data={"csrf_token": token})
    assert deleted.status_code == 302
    assert author.get("/posts/renamed/").status_code == 404
    assert author.get("/posts/100-real-post/").status_code == 404
