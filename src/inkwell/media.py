"""Uploaded images as the author sees them: store an upload with its responsive variants, delete
it, the Markdown that shows it, and the <picture> markup published posts use (see images.py for
how an upload is checked and cleaned). Animated GIF and WebP stay animated in every variant.
"""

from __future__ import annotations

import contextlib
import html
import re
import secrets
from html.parser import HTMLParser

from flask import current_app
from sqlalchemy import select

from .extensions import db
from .image_rules import WIDTHS, ImageRejected
from .models import Media
from .storage import MediaStore, get_store

__all__ = [
    "ImageRejected",
    "delete_media",
    "media_markdown",
    "responsive_images",
    "store_upload",
]

SIZES = "(max-width: 42rem) 100vw, 42rem"
MAX_ALT_LENGTH = 300

def store_upload(data: bytes, filename: str, store: MediaStore, alt: str = "") -> Media:
    """Verify, clean and resize an uploaded image, save every variant, add (not commit) its row.

    Raises ImageRejected (with a message for the author) when the bytes are not an acceptable
    image; then nothing is stored. A storage failure is re-raised after removing what was saved.
    `filename` is only used to explain a refusal; it never names anything.
    """
    from .image_worker import Budget, process_upload

    config = current_app.config
    done = process_upload(data, filename, Budget(
        config["MEDIA_MAX_PIXELS"], config["MEDIA_MAX_FRAMES"],
        config["MEDIA_PROCESS_MEMORY"], config["MEDIA_PROCESS_SECONDS"]))
    stem = secrets.token_hex(16)
    variants = {name: stem + suffix for name, (suffix, _, _) in done.files.items()}
    # A WebP upload's .webp variants are its own files (listed, not stored twice).
    outputs = {stem + suffix: (blob, ctype) for suffix, ctype, blob in done.files.values()
               if blob is not None}
    width, height, content_type = done.width, done.height, done.content_type

    attempted: list[str] = []
    try:
        for key, (blob, ctype) in outputs.items():
            attempted.append(key)
            store.save(key, blob, ctype)
    except Exception:
        for key in attempted:
            with contextlib.suppress(Exception):
                store.delete(key)
        raise
    media = Media(
        key=stem,
        content_type=content_type,
        width=width,
        height=height,
        size=len(outputs[variants["original"]][0]),
        alt=_clean_alt(alt),
        variants=variants,
    )
    db.session.add(media)
    return media


def delete_media(media: Media, store: MediaStore) -> None:
    """Remove every variant from the backend, then the row (the caller commits)."""
    for key in sorted(set((media.variants or {}).values())):
        store.delete(key)
    db.session.delete(media)


def media_markdown(media: Media, alt: str | None = None) -> str:
    """What the editor inserts: the backend-neutral /media/ path, resolved at save time.
    `alt`: this use's description, when it is not the stored one."""
    alt = _clean_alt(media.alt if alt is None else alt)
    alt = alt.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return f"![{alt}]({current_app.config['MEDIA_URL']}{media.variants['original']})"


def _clean_alt(alt: str) -> str:
    return " ".join((alt or "").split())[:MAX_ALT_LENGTH]


# --- published HTML ----------------------------------------------------------------------------

_NAME_RE = re.compile(r"^([A-Za-z0-9_]+)\.(png|jpg|webp|gif)$")


class _ImageFinder(HTMLParser):
    """Collects every <img> start tag with its position and whether it sits inside <picture>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[tuple[tuple[int, int], str, dict[str, str | None], bool]] = []
        self._pictures = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "picture":
            self._pictures += 1
        elif tag == "img":
            raw = self.get_starttag_text() or ""
            self.images.append((self.getpos(), raw, dict(attrs), self._pictures > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "picture":
            self._pictures = max(0, self._pictures - 1)


def responsive_images(html_text: str, store: MediaStore | None = None) -> str:
    """Turn each <img> of an uploaded image into a <picture> with srcset/sizes and lazy loading.

    Runs on sanitized post HTML at save time; images that are not ours are left as they are.
    Every value written comes from the Media row or the store (default: MEDIA_BACKEND's) and is
    escaped.
    """
    media_url = current_app.config["MEDIA_URL"]
    if media_url not in html_text or "<img" not in html_text:
        return html_text
    finder = _ImageFinder()
    finder.feed(html_text)
    finder.close()
    wanted: list[tuple[int, str, dict[str, str | None], str, str]] = []
    line_starts = [0] + [m.end() for m in re.finditer("\n", html_text)]
    for (line, col), raw, attrs, in_picture in finder.images:
        src = attrs.get("src") or ""
        if in_picture or "srcset" in attrs or not src.startswith(media_url):
            continue
        match = _NAME_RE.match(src[len(media_url) :])
        offset = line_starts[line - 1] + col
        if match and html_text.startswith(raw, offset):
            wanted.append((offset, raw, attrs, match.group(1), match.group(0)))
    if not wanted:
        return html_text
    stems = {stem for _, _, _, stem, _ in wanted}
    rows = {m.key: m for m in db.session.scalars(select(Media).where(Media.key.in_(stems)))}
    if store is None:
        store = get_store()
    parts: list[str] = []
    done = 0
    for offset, raw, attrs, stem, name in sorted(wanted, key=lambda item: item[0]):
        media = rows.get(stem)
        if media is None or (media.variants or {}).get("original") != name:
            continue
        parts.append(html_text[done:offset])
        parts.append(_picture(media, attrs, store))
        done = offset + len(raw)
    parts.append(html_text[done:])
    return "".join(parts)


def _picture(media: Media, attrs: dict[str, str | None], store: MediaStore) -> str:
    variants = media.variants
    widths = [w for w in WIDTHS if str(w) in variants]
    small_enough = media.width <= WIDTHS[-1]

    def srcset(suffix: str, original: str | None) -> str:
        items = [(variants[f"{w}{suffix}"], w) for w in widths if f"{w}{suffix}" in variants]
        if original and small_enough:
            items.append((original, media.width))
        return ", ".join(f"{store.url(key)} {w}w" for key, w in items)

    webp_original = variants.get("original.webp") or (
        variants["original"] if variants["original"].endswith(".webp") else None
    )
    fallback = variants.get("960") or variants["original"]
    img_attrs = {
        "src": store.url(fallback),
        "srcset": srcset("", variants["original"]),
        "sizes": SIZES,
        "width": str(media.width),
        "height": str(media.height),
        "loading": "lazy",
        "decoding": "async",
        "alt": attrs.get("alt") or media.alt or "",
    }
    if attrs.get("title"):
        img_attrs["title"] = attrs["title"] or ""
    webp = srcset(".webp", webp_original)
    source = (
        f'<source type="image/webp" srcset="{_attr(webp)}" sizes="{SIZES}">' if webp else ""
    )
    img = "<img " + " ".join(f'{name}="{_attr(value)}"' for name, value in img_attrs.items()) + ">"
    return f"<picture>{source}{img}</picture>"


def _attr(value: str) -> str:
    return html.escape(value, quote=True)

