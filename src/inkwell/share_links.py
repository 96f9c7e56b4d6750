"""Share links for drafts and scheduled posts: signed, expiring, revocable.

A link carries the post's id, the post's share nonce and when it expires, signed with SECRET_KEY
(itsdangerous, as Flask's own session cookie). Revoking replaces the nonce (or clears it), so
every link made before no longer matches. A link that is forged, expired or revoked finds
nothing: the view answers 404, exactly as for a post that does not exist.
"""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import UTC, datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from .extensions import db
from .models import Post

_SALT = "inkwell.share-link"
LIFETIMES_DAYS = (1, 7, 30)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def make_link_token(post: Post, days: int) -> tuple[str, datetime]:
    """A token for `post`, valid `days` days from now, and when it expires. Gives the post a
    share nonce when it has none (the caller commits)."""
    if not post.share_nonce:
        post.share_nonce = secrets.token_urlsafe(16)
    expires = int(time.time()) + days * 86400  # Unix time: no time zone to get wrong
    token = _serializer().dumps({"p": post.id, "n": post.share_nonce, "e": expires})
    return token, datetime.fromtimestamp(expires, UTC).replace(tzinfo=None)


def revoke_links(post: Post) -> None:
    """Every link made for `post` so far stops working (the caller commits)."""
    post.share_nonce = None


def shared_post(token: str) -> Post | None:
    """The post a valid, unexpired, unrevoked token names; None for anything else."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not {"p", "n", "e"} <= data.keys():
        return None
    post_id, nonce, expires = data["p"], data["n"], data["e"]
    if not (isinstance(post_id, int) and isinstance(nonce, str) and isinstance(expires, int)):
        return None
    if expires <= time.time() or not 0 < post_id < 2**31:
        return None
    post = db.session.get(Post, post_id)
    if post is None or not post.share_nonce:
        return None
    return post if hmac.compare_digest(post.share_nonce, nonce) else None
