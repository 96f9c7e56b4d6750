"""URL slugs; a module of its own so forms and views can use it without the Markdown pipeline."""

import re
import unicodedata


def slugify(text: str) -> str:
    """Lowercase ASCII words joined by '-', at most 200 characters ('' when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:200].rstrip("-")


def tag_slug(name: str) -> str:
    """The slug that identifies a tag: tags whose names give the same slug are one tag."""
    return slugify(name) or "tag"
