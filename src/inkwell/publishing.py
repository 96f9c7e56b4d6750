"""Saving a post: the one place Markdown becomes stored HTML (import and the editor call it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import select

from .content.slugs import tag_slug
from .extensions import db
from .models import Post, Tag, utcnow, xml_safe

if TYPE_CHECKING:
    from .content.render import Rendered
    from .storage import MediaStore

# Front-matter keys with a column of their own; everything else is kept in Post.extra.
KNOWN_KEYS = {"title", "slug", "date", "updated", "description", "tags", "draft", "toc", "page"}
# Pages live at /<slug>/: these first path segments belong to the site (more come from its routes).
_ALWAYS_RESERVED = {"admin", "media", "static", "posts", "tags", "archive", "search", "feed"}


def reserved_page_slugs() -> set[str]:
    """Slugs a page may not have, because the site itself answers at /<slug>/."""
    firsts = {rule.rule.strip("/").split("/")[0] for rule in current_app.url_map.iter_rules()}
    return _ALWAYS_RESERVED | {s for s in firsts if s and not s.startswith("<")}


class TagCache:
    """Tags by slug, loaded once, so saving many posts costs no query per tag."""

    def __init__(self) -> None:
        self._by_slug = {t.slug: t for t in db.session.scalars(select(Tag))}

    def get(self, name: str) -> Tag:
        slug = tag_slug(name)
        tag = self._by_slug.get(slug)
        if tag is None:
            tag = Tag(name=name, slug=slug)
            db.session.add(tag)
            self._by_slug[slug] = tag
        return tag

    def all_of(self, names: list[str]) -> list[Tag]:
        """The tags named, each once: names that make the same slug ("Python", "python") are one."""
        found: list[Tag] = []
        for name in names:
            tag = self.get(name)
            if tag not in found:
                found.append(tag)
        return found


@dataclass(frozen=True)
class RenderedBody:
    """A post body and what it renders to, not yet on a post (an import renders before it
    writes). `rendered.html` already carries the responsive images."""

    markdown: str
    rendered: Rendered
    image_urls: Mapping[str, str]


def render_body(body: str, store: MediaStore | None = None,
                image_urls: Mapping[str, str] | None = None) -> RenderedBody:
    """Render `body` once; image URLs come from `store` (default: the MEDIA_BACKEND store).
    `image_urls`: figures linked by relative path -> their stored copies (content/figures.py)."""
    from .content.render import render_markdown
    from .media import responsive_images

    body = xml_safe(body)
    rendered = render_markdown(body, image_urls)
    html = responsive_images(rendered.html, store)
    return RenderedBody(markdown=body, rendered=replace(rendered, html=html),
                        image_urls=dict(image_urls or {}))


def apply_rendered(post: Post, body: RenderedBody) -> None:
    """Store what render_body produced on the post, with the renderer's version."""
    from .content.render import RENDER_VERSION

    rendered = body.rendered
    post.body_markdown = body.markdown
    post.body_html = rendered.html
    post.toc_html = rendered.toc_html
    post.summary_html = rendered.summary_html
    post.plain_text = rendered.plain_text
    post.has_chart = rendered.has_chart
    post.has_math = rendered.has_math
    post.reading_minutes = rendered.reading_minutes
    post.render_version = RENDER_VERSION
    post.image_urls = dict(body.image_urls)


def apply_markdown(post: Post, body: str, store: MediaStore | None = None) -> None:
    """Render `body` once and store the results on the post; image URLs come from `store`
    (default: the MEDIA_BACKEND store)."""
    apply_rendered(post, render_body(body, store))


def apply_meta(post: Post, meta: dict, tags: TagCache, *, default_date: datetime) -> None:
    post.kind = "page" if meta.get("page") else "post"
    post.title = meta["title"]
    post.slug = meta["slug"]
    post.description = meta.get("description", "")
    post.status = "draft" if meta.get("draft") else "published"
    post.published_at = meta.get("date") or default_date
    post.show_toc = bool(meta.get("toc", False))
    post.tags = tags.all_of(meta.get("tags", []))
    post.extra = {k: v for k, v in meta.items() if k not in KNOWN_KEYS}


def post_meta(post: Post) -> dict:
    """The front matter that reproduces `post` on import (export's half of the round trip)."""
    meta: dict = {"title": post.title, "slug": post.slug, "date": post.published_at}
    if post.updated_at and post.updated_at != post.published_at:
        meta["updated"] = post.updated_at
    if post.description:
        meta["description"] = post.description
    if post.tags:
        meta["tags"] = [t.name for t in post.tags]
    if post.status == "draft":
        meta["draft"] = True
    if post.show_toc:
        meta["toc"] = True
    if post.kind == "page":
        meta["page"] = True
    meta.update(post.extra or {})
    return meta


def touch(post: Post, updated: datetime | None = None) -> None:
    """The post changed (an editor save, an import): a new updated time, and one more revision,
    so an editor tab opened before the change cannot overwrite it (admin/autosave.py)."""
    post.updated_at = updated or utcnow()
    post.revision = (post.revision or 0) + 1
