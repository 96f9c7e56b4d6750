"""A 12 MB upload over the 10 MB limit says so in words, with the limit, for the editor (JSON)
and the media library form (HTML); nothing is stored (issue 16)."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from inkwell.extensions import db
from inkwell.models import Media

from .admin_support import add_admin, client_sign_in, csrf_token

TWELVE_MB = b"\xff\xd8\xff" + b"\0" * (12 * 1024 * 1024)


def test_an_upload_over_the_limit_names_the_limit_in_megabytes(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024  # the default
    add_admin(app)
    client_sign_in(client)
    token = csrf_token(client.get("/admin/media/").text)

    def upload(accept: str):
        return client.post("/admin/media/upload", data={"file": (io.BytesIO(TWELVE_MB), "big.jpg")},
                           headers={"X-CSRFToken": token, "Accept": accept})

    editor = upload("application/json")
    assert editor.status_code == 413
    assert editor.json["message"] == "The file is too large (max 10 MB)."
    form = upload("text/html")
    assert form.status_code == 413
    assert "The file is too large (max 10 MB)." in form.text
    assert "capacity limit" not in form.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Media)) == 0
