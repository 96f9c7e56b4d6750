"""SQLite has one write lock; a writing request takes it at its first statement (BEGIN IMMEDIATE)
and keeps it to the end. Slow work (rendering Markdown, resizing an image) must happen outside it,
or one long preview stops every other author from saving or signing in. And when the lock cannot
be had within the busy timeout, the answer is the 503 page, not a 500.

The probes below open a second, independent connection to the same database file and try to take
the write lock without waiting, at the moment the slow work runs.
"""

from __future__ import annotations

import io
import sqlite3

import pytest
from PIL import Image

from inkwell import image_worker
from inkwell.content import render as markdown
from inkwell.extensions import db

from ..services import image_bytes
from .admin_support import add_admin, client_sign_in, csrf_token


def _database_file(app) -> str:
    with app.app_context():
        return db.engine.url.database


def _lock_is_free(path: str) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


@pytest.fixture
def author(app, client):
    add_admin(app)
    assert client_sign_in(client).status_code == 302
    return client


@pytest.fixture
def probe(app, monkeypatch):
    """Check the write lock each time `module.name` (slow work) runs; return the results."""
    path = _database_file(app)
    seen: list[bool] = []

    def watch(module, name: str) -> list[bool]:
        real = getattr(module, name)

        def probed(*args, **kwargs):
            seen.append(_lock_is_free(path))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, probed)
        return seen

    return watch


def test_a_preview_renders_without_holding_the_write_lock(author, probe):
    seen = probe(markdown, "render_markdown")
    token = csrf_token(author.get("/admin/posts/new").text)
    response = author.post(
        "/admin/preview", json={"markdown": "# Hello\n\nworld"},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert response.status_code == 200 and "world" in response.json["html"]
    assert seen == [True]


@pytest.mark.parametrize("new", [True, False], ids=["new", "edit"])
def test_saving_renders_before_taking_the_write_lock(author, probe, new):
    token = csrf_token(author.get("/admin/posts/new").text)
    form = {"csrf_token": token, "title": "Locks", "slug": "", "description": "", "tags": "",
            "body": "Some *text*.", "save": "1"}
    path = "/admin/posts/new"
    if not new:
        created = author.post(path, data=form)
        assert created.status_code == 302
        path = created.headers["Location"]
    seen = probe(markdown, "render_markdown")
    response = author.post(path, data={**form, "body": "Other *text*."})
    assert response.status_code == 302, response.text
    assert seen == [True]


def test_an_upload_is_resized_without_holding_the_write_lock(author, probe):
    # The upload is decoded, resized and encoded by a child process (image_worker).
    seen = probe(image_worker, "process_upload")
    token = csrf_token(author.get("/admin/media/").text)
    photo = image_bytes(Image.new("RGB", (1200, 800), "teal"), "JPEG")
    response = author.post(
        "/admin/media/upload", data={"csrf_token": token, "file": (io.BytesIO(photo), "teal.jpg")},
        headers={"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"},
    )
    assert response.status_code in (200, 201), response.text
    assert seen and all(seen)


@pytest.fixture
def locked(app, monkeypatch):
    """Another connection holds the write lock; this app waits 50 ms for it, not 5 s."""
    monkeypatch.setattr("inkwell.database.SQLITE_BUSY_TIMEOUT_MS", 50)
    with app.app_context():
        db.engine.dispose()  # new connections read the shorter timeout
    other = sqlite3.connect(_database_file(app), isolation_level=None)
    yield other
    other.execute("ROLLBACK")
    other.close()


def test_a_write_that_cannot_get_the_lock_is_a_503_page(author, locked):
    token = csrf_token(author.get("/admin/posts/new").text)
    locked.execute("BEGIN IMMEDIATE")
    form = {"csrf_token": token, "title": "Busy", "body": "x", "save": "1"}
    response = author.post("/admin/posts/new", data=form)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    assert "Back in a moment" in response.text
    json = author.post("/admin/preview", json={"markdown": "x"},
                       headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert json.status_code == 503 and json.json["error"] == "Back in a moment"
    # Readers are not writers: pages still answer while the lock is held.
    assert author.get("/").status_code == 200
