"""Figures: images a post file links with a relative path (`![Fig. 1](p99.png)`, a
reference-style image, raw `<img src="p99.png">`), read from next to the post and stored through
the same pipeline as uploads (media.store_upload: decoded and verified, EXIF gone, responsive
widths, WebP, srcset). SVG figures are sanitized (content/svg.py says why) and stored as they are.

Each distinct file content is stored once (Media.source_hash): the same bytes pushed again, or
linked by two posts, are one media item. A link to a missing file, or one that resolves outside
the content folder (`../`, a symlink out), is a SourceError naming the post file and line.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app
from sqlalchemy import inspect, select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..media import ImageRejected, store_upload
from ..models import Media
from ..storage import MediaStore
from .frontmatter import SourceError
from .render import image_sources, parse
from .svg import SvgRejected, sanitize_svg

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Cheap test before parsing a body a second time: could it link an image at all?
_MAYBE_IMAGE = re.compile(r"!\[|<img", re.IGNORECASE)
_QUERY_CHUNK = 500  # hashes per IN (...): well under every database's parameter limit
_EMBEDDED = "embedded-figure-"  # the name of a figure a post carries: made of its content


@dataclass(frozen=True)
class FigureLink:
    src: str  # as the rendered page has it: the key render_markdown's image_urls replaces
    file: Path  # resolved, inside the content folder; an embedded figure: its name only
    post: str  # the post file and the line of the link, for messages
    line: int | None
    # The figure's bytes when they come from inside the post file (a notebook's outputs) or
    # from a fetch, not from a file beside it.
    data: bytes | None = field(default=None, repr=False, compare=False)


def embedded_figure(data: bytes, suffix: str, post: str, src: str | None = None) -> FigureLink:
    """A figure whose bytes the post carries itself (a notebook output) or that was fetched.
    It is named by its content, so two outputs with the same image are one figure; `src`, the
    name the body links it by, is made from that too unless given (a fetched image's URL)."""
    digest = hashlib.sha256(data).hexdigest()
    src = src or f"{_EMBEDDED}{digest[:24]}{suffix}"
    return FigureLink(src, Path(digest + suffix), post, None, data)


def link_stored_copies(body: str, urls: dict[str, str]) -> str:
    """`body` with the names of the figures it carries itself (a notebook's outputs) replaced
    by their stored copies' URLs: the stored Markdown then shows them wherever it is rendered
    again (the editor, `inkwell export`), as an image inserted in the editor does."""
    for src, url in urls.items():
        if src.startswith(_EMBEDDED):
            body = body.replace(src, url)
    return body


def _is_local(src: str) -> bool:
    """A path next to the post, not a URL (https:, data:), a site path (/media/...) or #id."""
    return bool(src) and not _SCHEME.match(src) and not src.startswith(("/", "#", "\\"))


def _line_of(lines: list[str], needles: list[str], start: int, stop: int) -> int:
    """The first line (0-based) in lines[start:stop] holding one of `needles`, else the first
    in the whole body (a reference definition), else `start`."""
    for first, last in ((start, stop), (0, len(lines))):
        for number in range(first, min(last, len(lines))):
            if any(needle in lines[number] for needle in needles):
                return number
    return start


def figure_links(body: str, post_file: Path, root: Path, first_line: int,
                 embedded: frozenset[str] = frozenset()) -> list[FigureLink]:
    """The figures `body` (from `post_file`, its first line being `first_line` of the file)
    links by relative path, each checked to be a file inside `root` (resolved). `embedded`:
    names of figures the post file carries itself (a notebook's outputs), not files."""
    if not _MAYBE_IMAGE.search(body):
        return []
    lines = body.splitlines()
    found: list[FigureLink] = []
    seen: set[str] = set(embedded)
    for src, token in image_sources(parse(body)):
        if not _is_local(src) or src in seen:
            continue
        seen.add(src)
        path = unquote(urlsplit(src).path)
        start, stop = token.map or (0, len(lines))
        line = first_line + _line_of(lines, [src, path], start, stop)
        target = (post_file.parent / path).resolve()
        if not target.is_relative_to(root):
            raise SourceError(str(post_file), line,
                              f"the figure {path!r} is outside the content folder; put the "
                              "file inside it (a link or a symlink out is refused)")
        if not target.is_file():
            raise SourceError(str(post_file), line, f"the figure {path!r} does not exist "
                              f"(looked for {post_file.parent / path})")
        found.append(FigureLink(src, target, str(post_file), line))
    return found


def images_not_beside(body: str, first_line: int) -> list[tuple[str, int]]:
    """(src, file line) of the images `body` links by URL (https:) or by a path from a site's
    root (/assets/x.png): those figure_links leaves alone. data: and #id are not images."""
    if not _MAYBE_IMAGE.search(body):
        return []
    lines = body.splitlines()
    found: list[tuple[str, int]] = []
    for src, token in image_sources(parse(body)):
        if _is_local(src) or not src or src.startswith(("#", "data:")):
            continue
        start, stop = token.map or (0, len(lines))
        found.append((src, first_line + _line_of(lines, [src], start, stop)))
    return found


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class FigureStore:
    """The figures of one import: each distinct content stored once, and what this import
    stored remembered, so that a failed import can take it out of the media store again."""

    store: MediaStore
    max_size: int
    by_hash: dict[str, Media] = field(default_factory=dict)
    added: list[Media] = field(default_factory=list)
    _hashes: dict[Path, str] = field(default_factory=dict)

    def load(self, links: Iterable[FigureLink]) -> None:
        """Hash the figures and find the ones stored before (one query per 500 hashes)."""
        for link in links:
            if link.file not in self._hashes:
                self._hashes[link.file] = (file_hash(link.file) if link.data is None
                                           else hashlib.sha256(link.data).hexdigest())
        wanted = sorted(set(self._hashes.values()) - self.by_hash.keys())
        for i in range(0, len(wanted), _QUERY_CHUNK):
            chunk = wanted[i : i + _QUERY_CHUNK]
            for media in db.session.scalars(select(Media).where(Media.source_hash.in_(chunk))):
                self.by_hash.setdefault(media.source_hash or "", media)

    def hash_of(self, link: FigureLink) -> str:
        if link.file not in self._hashes:
            self.load([link])
        return self._hashes[link.file]

    def urls(self, links: list[FigureLink]) -> dict[str, str]:
        """{src as linked: URL of the stored copy} for one post's figures, storing new ones."""
        self.load(links)
        return {link.src: self._url(self._media(link)) for link in links}

    def _media(self, link: FigureLink) -> Media:
        digest = self._hashes[link.file]
        media = self.by_hash.get(digest)
        if media is not None:
            return media
        size = link.file.stat().st_size if link.data is None else len(link.data)
        if size > self.max_size:
            raise SourceError(link.post, link.line, f"the figure {link.file.name} is "
                              f"{size / 1e6:.1f} MB; the limit is {self.max_size / 1e6:.0f} MB")
        data = link.file.read_bytes() if link.data is None else link.data
        try:
            if link.file.suffix.lower() == ".svg":
                media = self._store_svg(data)
            else:
                media = store_upload(data, link.file.name, self.store)
        except (ImageRejected, SvgRejected) as e:
            message = e.message if isinstance(e, ImageRejected) else str(e)
            raise SourceError(link.post, link.line, f"the figure {link.file.name}: {message}"
                              ) from None
        except SQLAlchemyError:
            raise
        except Exception as e:  # the media storage (disk full, a bucket that is not there)
            raise SourceError(link.post, link.line, f"the figure {link.file.name} could not be "
                              f"stored ({type(e).__name__}: {e})") from None
        media.source_hash = digest
        self.by_hash[digest] = media
        self.added.append(media)
        return media

    def _store_svg(self, data: bytes) -> Media:
        clean, width, height = sanitize_svg(data)
        key = f"{secrets.token_hex(16)}.svg"
        self.store.save(key, clean, "image/svg+xml")
        media = Media(key=key.removesuffix(".svg"), content_type="image/svg+xml", width=width,
                      height=height, size=len(clean), alt="", variants={"original": key})
        db.session.add(media)
        return media

    def _url(self, media: Media) -> str:
        original = media.variants["original"]
        if media.content_type == "image/svg+xml":  # no variants: the stored file itself
            return self.store.url(original)
        # The backend-neutral path, as the editor writes it: render_body's responsive_images
        # turns it into a <picture> with every stored width and WebP.
        return f"{current_app.config['MEDIA_URL']}{original}"

    def discard_added(self) -> None:
        """Remove what this import stored (its rows go with the rolled-back transaction)."""
        self.discard_since(0)

    def discard_since(self, count: int) -> None:
        """Remove the figures stored after the first `count` (a post that failed halfway):
        their files, and their rows from the session."""
        for media in self.added[count:]:
            for key in sorted(set((media.variants or {}).values())):
                with contextlib.suppress(Exception):
                    self.store.delete(key)
            self.by_hash.pop(media.source_hash or "", None)
            state = inspect(media)
            if state.persistent:  # flushed already (a query autoflushed it)
                db.session.delete(media)
            elif state.pending:
                db.session.expunge(media)
        del self.added[count:]

