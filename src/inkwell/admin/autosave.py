"""Autosave of drafts: the editor page sends its form a moment after the author stops typing.

Only drafts are saved this way (a published or scheduled post changes for readers only when the
author presses Save). A new post becomes a draft at its first autosave. Every answer is JSON the
editor shows in its status line; a refused autosave leaves the text in the page.
"""

from __future__ import annotations

from flask import url_for
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..local_time import to_local
from ..models import Post, utcnow
from ..search import index_post
from . import bp
from .forms import PostForm
from .posts import EDIT_URL, check_slug, get_post, newer_save, rendered_body, store_fields


def _refused(code: int, message: str):
    db.session.rollback()
    return {"error": "Not saved", "message": message}, code


def _first_error(form: PostForm) -> str:
    for field in form:
        if field.errors:
            label = field.label.text if field.name != "body" else "Text"
            return f"{label}: {field.errors[0]}"
    return "The form could not be read; reload the page."


@bp.post("/<any(posts,pages):section>/new/autosave")
def autosave_new(section: str):
    """The first autosave of a new post: it becomes a draft, and the page moves to its URL."""
    return _autosave(section, None)


@bp.post(EDIT_URL + "/autosave")
def autosave(section: str, post_id: int):
    return _autosave(section, post_id)


def _autosave(section: str, post_id: int | None):
    form = PostForm()
    rendered = rendered_body(form)  # before the database, as a save does
    if rendered is None:
        return _refused(400, "Not saved automatically: " + _first_error(form))
    if post_id is None:
        post = Post(kind="post" if section == "posts" else "page", status="draft",
                    published_at=utcnow().replace(microsecond=0))
    else:
        post = get_post(section, post_id, for_update=True)
        if post.source_path:
            return _refused(409, "Not saved: this comes from a file in the repository.")
        if post.status == "published":
            return _refused(409, "Published and scheduled posts change only when you press Save.")
        conflict = newer_save(form, post)
        if conflict:
            return _refused(409, conflict)
    slug = check_slug(form, post)
    if slug is None:
        return _refused(400, "Not saved automatically: " + _first_error(form))
    store_fields(form, post, slug, rendered)
    db.session.add(post)
    try:
        db.session.flush()
    except IntegrityError:
        return _refused(409, "Not saved automatically: another post took this slug a moment "
                             "ago; pick another.")
    index_post(post)
    answer = {
        "revision": post.revision,
        "saved_at": f"{to_local(post.updated_at):%H:%M:%S}",
        "edit_url": url_for("admin.edit", section=section, post_id=post.id),
        "autosave_url": url_for("admin.autosave", section=section, post_id=post.id),
    }
    db.session.commit()
    return answer
