"""The full-page preview of a draft shows the date readers will see (issue 16): an editor's
draft is dated when it is published, so its preview shows today, not the day it was begun; a
scheduled post shows its date."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select, update

from inkwell.database import write_intent
from inkwell.extensions import db
from inkwell.models import Post, utcnow

from .admin_support import add_admin, client_sign_in, csrf_token


def shown_date(html: str) -> str:
    article = re.search(r'<article class="post h-entry">.*?</article>', html, re.S)[0]
    return re.search(r'<time datetime="([0-9-]+)T', article)[1]


def test_a_draft_begun_long_ago_previews_with_the_date_it_would_be_published(app):
    add_admin(app)
    client = app.test_client()
    client_sign_in(client)
    token = csrf_token(client.get("/admin/posts/new").text)
    saved = client.post("/admin/posts/new", data={"csrf_token": token, "title": "Slow",
                                                  "slug": "slow", "body": "Words.", "save": "1"})
    assert saved.status_code == 302
    with app.app_context(), write_intent():
        db.session.execute(update(Post).where(Post.slug == "slow")
                           .values(published_at=datetime(2020, 1, 2, 3, 4)))
        db.session.commit()
        post_id = db.session.scalars(select(Post.id).where(Post.slug == "slow")).one()

    preview = client.get(f"/admin/posts/{post_id}/preview")
    assert preview.status_code == 200
    assert shown_date(preview.text) == f"{utcnow():%Y-%m-%d}"
    with app.app_context():  # the preview changed nothing
        stored = db.session.scalars(select(Post.published_at).where(Post.id == post_id)).one()
    assert stored == datetime(2020, 1, 2, 3, 4)

    edit = f"/admin/posts/{post_id}"
    token = csrf_token(client.get(edit).text)
    scheduled = client.post(edit, data={"csrf_token": token, "title": "Slow", "slug": "slow",
                                        "body": "Words.", "publish_at": "2099-05-06T07:08",
                                        "schedule": "1"})
    assert scheduled.status_code == 302, scheduled.text
    assert shown_date(client.get(f"/admin/posts/{post_id}/preview").text) == "2099-05-06"
