"""Drafts and scheduled posts as readers will see them: the public templates, the stored HTML
(nothing rendered on the way), never indexed nor stored by a cache.

/preview/<token>/ is a share link (share_links.py): anyone holding it sees the post until it
expires or the author revokes it; any other token is a 404, as for a post that does not exist.
"""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for

from ..models import Post, utcnow
from ..share_links import shared_post
from . import bp

NOINDEX = "noindex, nofollow, noarchive"


class _PublishedNow:
    """A draft written in the editor as it would read if published now: the editor dates it
    at the moment of publishing (its stored date is only when it was begun). Read-only: the
    row itself is never changed by a preview."""

    def __init__(self, post: Post):
        self._post = post
        self.published_at = utcnow().replace(microsecond=0)

    def __getattr__(self, name: str):
        return getattr(self._post, name)


def reader_view(post: Post, banner: str, back_url: str = ""):
    """`post` in the template its readers get, with a banner saying it is a preview. A
    scheduled post shows its date; a draft from a file the date its front matter gives; an
    editor's draft today's, as publishing it now would."""
    template = "blog/post.html" if post.kind == "post" else "blog/page.html"
    shown = _PublishedNow(post) if post.status == "draft" and not post.source_path else post
    html = render_template(template, post=shown, preview={"banner": banner, "back": back_url})
    return html, 200, {"Cache-Control": "private, no-store", "X-Robots-Tag": NOINDEX}


@bp.get("/preview/<token>/")
def shared_preview(token: str):
    post = shared_post(token)
    if post is None:
        abort(404)
    if post.is_published:  # published since: the link leads to the real page
        endpoint = "blog.post" if post.kind == "post" else "blog.page"
        return redirect(url_for(endpoint, slug=post.slug), 302)
    return reader_view(post, banner="Preview of an unpublished post, shared by its author.")
