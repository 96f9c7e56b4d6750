"""Re-rendering stored posts whose HTML an older renderer made (`inkwell rerender`, `inkwell
setup`).

Page views never render Markdown, so a post keeps the HTML it was saved with. When rendering or
sanitizing changes, content.render.RENDER_VERSION is bumped, and the posts with an older
render_version are rendered again from their stored Markdown, in batches: each batch is written
all or nothing. The author's dates and revision stay as they are; only the HTML changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from .content.render import RENDER_VERSION, image_sources, parse
from .extensions import db
from .models import Post
from .publishing import apply_rendered, render_body
from .search import index_posts

BATCH_SIZE = 100


@dataclass
class RerenderReport:
    rerendered: list[str] = field(default_factory=list)
    # Rendered before figure links were kept, with images linked by relative path: only their
    # file can say where those images are (`inkwell setup` re-imports file-owned ones).
    need_file: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _stale():
    return Post.render_version < RENDER_VERSION


def _label(post: Post) -> str:
    return f"{post.kind} {post.slug!r}"


def _links_relative_images(markdown: str) -> bool:
    """Whether the body shows an image by a relative path (a figure beside its file)."""
    for src, _token in image_sources(parse(markdown)):
        parts = urlsplit(src)
        if src and not parts.scheme and not src.startswith(("/", "#")):
            return True
    return False


def _needs_file(post: Post) -> bool:
    return post.image_urls is None and _links_relative_images(post.body_markdown)


def forget_stale_file_renders() -> int:
    """Make the coming content import re-render file-owned posts that only their file can
    render again (see RerenderReport.need_file): their import hash is cleared, so the import
    reads them as changed. Returns how many; nothing is committed here."""
    candidates = db.session.scalars(
        select(Post).where(_stale(), Post.source_path.is_not(None), Post.image_urls.is_(None))
    ).all()
    ids = [post.id for post in candidates if _needs_file(post)]
    if ids:
        db.session.execute(update(Post).where(Post.id.in_(ids)).values(source_hash=""))
    return len(ids)


def rerender_stale(
    progress: Callable[[Iterable[list[int]]], Iterable[list[int]]] = lambda batches: batches,
) -> RerenderReport:
    """Re-render every post with an older render_version; each batch is committed on its
    own, or rolled back whole (its error in report.errors) while the others go on."""
    report = RerenderReport()
    ids = db.session.scalars(select(Post.id).where(_stale()).order_by(Post.id)).all()
    db.session.rollback()  # end the read: each batch is a write transaction of its own
    batches = [list(ids[i:i + BATCH_SIZE]) for i in range(0, len(ids), BATCH_SIZE)]
    for batch in progress(batches):
        try:
            _rerender_batch(batch, report)
        except (SQLAlchemyError, ValueError, RecursionError) as e:
            db.session.rollback()
            report.errors.append(f"posts {batch[0]}..{batch[-1]} were left as they were: "
                                 f"{type(e).__name__}: {e}")
    return report


def _rerender_batch(ids: list[int], report: RerenderReport) -> None:
    """One transaction: the batch's posts locked (PostgreSQL; SQLite's writer lock is taken at
    BEGIN under write_intent), re-rendered unless someone saved them meanwhile, committed."""
    posts = db.session.scalars(
        select(Post).where(Post.id.in_(ids), _stale()).order_by(Post.id).with_for_update()
    ).all()
    done: list[Post] = []
    skipped: list[str] = []
    for post in posts:
        if _needs_file(post):
            skipped.append(_label(post))
            continue
        rendered = render_body(post.body_markdown, image_urls=post.image_urls or {})
        apply_rendered(post, rendered)
        done.append(post)
    db.session.flush()
    index_posts(done)
    labels = [_label(post) for post in done]  # before the commit expires them
    db.session.commit()
    report.rerendered += labels
    report.need_file += skipped
