"""A draft or scheduled post seen exactly as readers will see it: a full-page preview for the
author, and share links for others (share_links.py: signed, expiring, revocable)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for

from ..blog.preview import reader_view
from ..errors import error_response
from ..extensions import db
from ..share_links import make_link_token, revoke_links
from . import bp
from .forms import RevokeForm, ShareForm
from .posts import EDIT_URL, get_post


@bp.get(EDIT_URL + "/preview")
def full_preview(section: str, post_id: int):
    """The post in the public site's own template, from its stored HTML (nothing rendered)."""
    post = get_post(section, post_id)
    back = url_for("admin.edit", section=section, post_id=post.id)
    return reader_view(post, banner="Preview: readers cannot see this yet.", back_url=back)


@bp.post(EDIT_URL + "/share")
def share(section: str, post_id: int):
    post = get_post(section, post_id, for_update=True)
    form = ShareForm()
    if not form.validate():
        db.session.rollback()
        return error_response(400, "No share link was made: pick how long it should work "
                                   "(1, 7 or 30 days) and try again.")
    if post.is_published:
        db.session.rollback()
        return error_response(409, "No share link was made: this is published, so share its "
                                   "address instead.")
    token, expires = make_link_token(post, form.days.data)
    db.session.commit()
    # The public address (SITE_URL), whatever address the author reached the admin by.
    link = current_app.config["SITE_URL"] + url_for("blog.shared_preview", token=token)
    return render_template("admin/share.html", section=section, post=post, link=link,
                           expires=expires, revoke_form=RevokeForm())


@bp.post(EDIT_URL + "/share/revoke")
def revoke_share(section: str, post_id: int):
    post = get_post(section, post_id, for_update=True)
    if not RevokeForm().validate():
        db.session.rollback()
        flash("The form expired; reload the page and try again.", "error")
    else:
        revoke_links(post)
        db.session.commit()
        flash("Every share link of this post stopped working.")
    return redirect(url_for("admin.edit", section=section, post_id=post_id), 303)


@bp.context_processor
def _share_forms() -> dict:
    """The editor page's share and revoke forms (every view that shows the editor)."""
    if request.endpoint != "admin.edit":
        return {}
    return {"share_form": ShareForm(formdata=None), "revoke_form": RevokeForm(formdata=None)}
