"""URL slugs; a module of its own so forms and views can use it without the Markdown pipeline."""

import hashlib
import re
import unicodedata

from .limits import MAX_SLUG_LENGTH


def slugify(text: str) -> str:
    """Lowercase ASCII words joined by '-', at most 200 characters ('' when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG_LENGTH].rstrip("-")


def tag_slug(name: str) -> str:
    """The slug that identifies a tag: tags whose names give the same slug are one tag.

    A name with no ASCII letter or digit (日本語, Ελληνικά) gets "tag-" and a hash of the name,
    so such tags stay apart ("Python" and "python" are still one tag; so are "日本語" and its
    NFKC/case variants).
    """
    slug = slugify(name)
    if slug:
        return slug
    key = unicodedata.normalize("NFKC", name).casefold().strip()
    return "tag-" + hashlib.sha256(key.encode()).hexdigest()[:12]
