"""Share cards: the picture a link preview shows for a post that has no image of its own.

A card is a 1200x630 PNG with the post's title, the site's name and the post's date, drawn with
Pillow when the post is saved (editor, import), never during a page view. Its media key is a
hash of the text drawn on it, so the view derives the same key from the post's stored fields
without a query or a column, a re-save with the same text reuses the card, and a changed title
or date makes a new one (old cards stay: a preview cached elsewhere may still point at them).
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app

from .local_time import to_local
from .storage import MediaStore, get_store

if TYPE_CHECKING:  # Pillow is imported when a card is drawn, not at every worker's start
    from PIL import ImageDraw

WIDTH, HEIGHT = 1200, 630
MARGIN = 80
# The light theme's colours (static/css/site.css: --bg, --fg, --muted, --accent).
BACKGROUND, TEXT, MUTED, ACCENT = "#fdfdfc", "#1d1f21", "#5d6167", "#1f5fa8"
TITLE_SIZES = (72, 64, 56, 48, 42, 36, 32)  # tried in turn until the title fits
TITLE_MAX_LINES = 5
# Part of every card's key and of setup's marker: raise it when cards are drawn differently, and
# the next `inkwell setup` draws every post's card again under new keys (2: CJK fonts).
DESIGN = 2
# Fonts tried in turn for each text on a card: the first installed one with a glyph for every
# character draws it. DejaVu (Debian's fonts-dejavu-core) covers Latin, Greek, Cyrillic, Arabic,
# Hebrew...; Chinese, Japanese and Korean need one of Debian's CJK fonts (fonts-noto-cjk,
# fonts-wqy-microhei or fonts-droid-fallback), or their characters would be empty boxes.
# Pillow's own font (Latin only) is the last resort.
_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)


# Where cards live in the media store. They are drawn from the posts' rows, so a backup leaves
# them out and a restore draws them again (backup.py).
CARDS = "cards/"


@dataclass(frozen=True)
class CardText:
    """What a card shows; its key is derived from exactly this."""

    title: str
    site_name: str
    date: str

    @property
    def key(self) -> str:
        drawn = "\n".join((self.title, self.site_name, self.date, f"design {DESIGN}")).encode()
        return f"{CARDS}{hashlib.sha256(drawn).hexdigest()[:32]}.png"


def card_text(title: str, published_at: datetime) -> CardText:
    """The text of a post's card: its title, SITE_TITLE and its date in the blog's zone."""
    day = to_local(published_at)
    return CardText(title=title.strip(), site_name=current_app.config["SITE_TITLE"],
                    date=f"{day.day} {day:%B %Y}")


def wants_card(post) -> bool:
    """Published posts whose HTML has no image get a card (drafts and pages do not)."""
    return post.status == "published" and _shares_no_image(post)


def card_url(post) -> str:
    """The card's URL for og:image on the page of a post that has no image of its own (the
    caller has looked: post.html does, for twitter:image), '' for a page: computed from stored
    fields, never drawn, no query."""
    if post.kind != "post":
        return ""
    return get_store().url(card_text(post.title, post.published_at).key)


def _shares_no_image(post) -> bool:
    """A post (not a page) whose stored HTML has no image for og:image."""
    from .blog import first_image_url

    return post.kind == "post" and not first_image_url(post.body_html or "", "")


def cards_for(posts) -> list[CardText]:
    """The cards the saved `posts` need, read before their commit expires them."""
    return [card_text(post.title, post.published_at) for post in posts if wants_card(post)]


def cards_of_published_posts() -> list[CardText]:
    """The cards every published post needs; the read ends before any is drawn."""
    from sqlalchemy import select

    from .extensions import db
    from .models import Post

    cards = cards_for(db.session.scalars(select(Post).where(Post.status == "published")))
    db.session.rollback()  # no transaction held open while cards are drawn (~50 ms each)
    return cards


def store_cards(cards: list[CardText], store: MediaStore | None = None) -> int:
    """Draw and store each card not stored yet. Called after the posts' commit, so a refused
    save or an import check (--check) leaves no card behind; a store that is down is logged,
    since the posts themselves are saved (`inkwell media cards` makes it later). Returns how
    many could not be stored."""
    store = store or get_store()
    failed = 0
    for text in cards:
        try:
            if not store.exists(text.key):
                store.save(text.key, draw_card(text), "image/png")
        except Exception as e:  # the author's save is done: a missing card must not undo it
            failed += 1
            current_app.logger.warning("share card %s not stored: %s: %s",
                                        text.key, type(e).__name__, e)
    return failed


def store_missing_cards(store: MediaStore | None = None) -> tuple[int, int] | None:
    """`inkwell setup`: store every published post's missing card, once per card text
    settings (SITE_TITLE, TIME_ZONE), DESIGN and media store. Posts saved before cards existed, or
    after either setting changed, would otherwise link an og:image that is a 404 until
    `inkwell media cards` runs.

    A marker in the store (cards/checked-<hash of the settings>) says it is done, so a start
    costs one exists() while nothing changed. Returns (cards checked, not stored), or None when
    the marker was there; a store that does not answer is logged and left for the next start
    (a missing card must not stop the blog from starting)."""
    store = store or get_store()
    settings = "\n".join((current_app.config["SITE_TITLE"],
                          current_app.config.get("TIME_ZONE") or "UTC", f"design {DESIGN}"))
    marker = f"{CARDS}checked-{hashlib.sha256(settings.encode()).hexdigest()[:16]}"
    try:
        if store.exists(marker):
            return None
    except Exception as e:
        current_app.logger.warning("share cards not checked, the media store did not answer: "
                                   "%s: %s", type(e).__name__, e)
        return None
    cards = cards_of_published_posts()
    failed = store_cards(cards, store)
    if not failed:
        try:
            store.save(marker, b"", "text/plain")
        except Exception as e:
            current_app.logger.warning("share cards marker not stored: %s: %s",
                                       type(e).__name__, e)
    return len(cards), failed


def draw_card(text: CardText) -> bytes:
    """The card as PNG bytes: an accent bar, the title wrapped and shrunk to fit, then the
    site's name and the date along the bottom."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 16), fill=ACCENT)
    footer_top = HEIGHT - MARGIN - 40
    font, lines = _fit_title(draw, text.title, max_height=footer_top - MARGIN - 30)
    draw.multiline_text((MARGIN, MARGIN), "\n".join(lines), font=font, fill=TEXT, spacing=14)
    date_font = font_for(text.date, 34)
    date_width = draw.textlength(text.date, font=date_font)
    name_font = font_for(text.site_name, 34)
    site_name = _cut(draw, text.site_name, name_font, WIDTH - 2 * MARGIN - date_width - 40)
    draw.text((MARGIN, footer_top), site_name, font=name_font, fill=ACCENT)
    draw.text((WIDTH - MARGIN - date_width, footer_top), text.date, font=date_font, fill=MUTED)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _fit_title(draw: ImageDraw.ImageDraw, title: str, max_height: int):
    """The largest size at which the title wraps into the space; at the smallest, the lines
    that fit, the last one ending in an ellipsis."""
    for size in TITLE_SIZES:
        font = font_for(title, size)
        lines = _wrap(draw, title, font, WIDTH - 2 * MARGIN)
        height = draw.multiline_textbbox((0, 0), "\n".join(lines), font=font, spacing=14)[3]
        if len(lines) <= TITLE_MAX_LINES and height <= max_height:
            return font, lines
    kept = lines[:TITLE_MAX_LINES]
    kept[-1] = _cut(draw, kept[-1].rstrip() + "…", font, WIDTH - 2 * MARGIN)
    return font, kept


def _cut(draw: ImageDraw.ImageDraw, text: str, font, width: float) -> str:
    """`text`, shortened with an ellipsis until it is no wider than `width` (a long site name
    must not run into the date)."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """Words on lines no wider than `width`; a word (or a script without spaces) wider than a
    line is broken between characters."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if draw.textlength(candidate, font=font) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for char in word:
            if line and draw.textlength(line + char, font=font) > width:
                lines.append(line)
                line = ""
            line += char
    if line:
        lines.append(line)
    return lines or [""]


def font_for(text: str, size: int):
    """The first installed font of _FONTS that can draw every character of `text`, at `size`;
    the first installed one when none can (some boxes, rather than nothing); Pillow's built-in
    font when none is installed."""
    from PIL import ImageFont

    installed = _installed_fonts()
    if not installed:
        return ImageFont.load_default(size=size)
    chars = set(text)
    for path in installed:
        if all(_has_glyph(path, char) for char in chars):
            return _truetype(path, size)
    return _truetype(installed[0], size)


@functools.cache
def _installed_fonts() -> tuple[Path, ...]:
    return tuple(path for path in _FONTS if path.is_file())


@functools.lru_cache(maxsize=64)
def _truetype(path: Path, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


@functools.lru_cache(maxsize=4096)
def _has_glyph(path: Path, char: str) -> bool:
    """Whether the font draws `char` as itself: a character it lacks is drawn as its .notdef
    glyph (a box), the same picture as U+FFFF, which no font has. Blank characters (spaces,
    marks that draw nothing) count as drawn."""
    return glyph_picture(path, char) != glyph_picture(path, "\uffff")


@functools.lru_cache(maxsize=64)
def glyph_picture(path: Path, char: str) -> bytes:
    """The pixels of `char` drawn alone in the font at path (48 px)."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (96, 96))
    ImageDraw.Draw(image).text((8, 8), char, font=_truetype(path, 48), fill=255)
    return image.tobytes()
