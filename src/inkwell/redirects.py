"""Old addresses of imported posts: a request that would be a 404 answers 301 to the post.

An address is kept and looked up in one form (normal_path): a leading slash, no query or
fragment, no empty segment (`//`, a trailing slash) and no final `index.html` / `index.htm`, so
`/2019/01/old/`, `/2019/01/old` and `/2019/01/old/index.html` are one address. Case matters,
as it did on the old server. The rows are written by an import (content/old_addresses.py).
"""

from __future__ import annotations

from flask import Response, redirect, url_for
from sqlalchemy import select

from .extensions import db
from .models import PathRedirect, Post, utcnow

# Longest old address kept (the column's width).
MAX_PATH_LENGTH = 500
_INDEX_FILES = ("index.html", "index.htm")


def normal_path(path: str) -> str:
    """`path` (already percent-decoded, without query) in the one form it is stored in."""
    parts = [part for part in path.split("/") if part]
    if parts and parts[-1] in _INDEX_FILES:
        parts.pop()
    return "/" + "/".join(parts)


def moved_post(path: str) -> Response | None:
    """The 301 to the published post `path` was an old address of; None if there is none.
    One query on the unique path index, run only for a request that is a 404 anyway."""
    found = db.session.execute(
        select(Post.kind, Post.slug)
        .join(PathRedirect, PathRedirect.post_id == Post.id)
        .where(
            PathRedirect.path == normal_path(path),
            Post.status == "published",
            Post.published_at <= utcnow(),
        )
    ).first()
    if found is None:
        return None
    endpoint = "blog.post" if found.kind == "post" else "blog.page"
    return redirect(url_for(endpoint, slug=found.slug), 301)
