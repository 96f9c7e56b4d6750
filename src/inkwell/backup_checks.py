"""What a backup's contents must be before `inkwell restore` writes anything (backup.py): every
value one the databases take as it is (no lone surrogate, no NUL, dates and numbers in range,
JSON nested a sane depth), and every media file named as the server names uploads, with the
content its media row says it has. A value that fails here would otherwise fail half-way
through the writes (UnicodeEncodeError, OverflowError, RecursionError), or put a page that
nginx serves as text/html into the media store.
"""

from __future__ import annotations

import math
import mmap
import re
from datetime import UTC, datetime
from io import BytesIO
from typing import BinaryIO

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer, String, Text

from .content.frontmatter import EARLIEST_DATE, LATEST_DATE

MAX_JSON_DEPTH = 32
# <32 hex digits>[-<width>].<ext>: what media.store_upload and figures name files.
MEDIA_NAME = re.compile(r"^[0-9a-f]{32}(?:-[0-9]{1,5})?\.(png|jpg|webp|gif|svg)$")
MEDIA_NAME_HELP = "<32 hex digits>[-<width>].png, .jpg, .webp, .gif or .svg"
_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
          "svg": "image/svg+xml"}
_PILLOW = {"image/png": ("PNG", "PNG"), "image/jpeg": ("JPEG", "JPEG"),
           "image/webp": ("WEBP", "WebP"), "image/gif": ("GIF", "GIF")}
_INT_RANGE = {Integer: 2**31, BigInteger: 2**63}


def column_value(column, value):
    """`value` as the database takes it; ValueError/TypeError saying why it cannot be."""
    name = f"{column.table.name}.{column.name}"
    if value is None:
        if not column.nullable:
            raise ValueError(f"{name} may not be empty")
        return None
    kind = column.type
    if isinstance(kind, DateTime):
        return _moment(name, value)
    if isinstance(kind, Boolean):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
    elif isinstance(kind, Integer):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        bound = _INT_RANGE[BigInteger if isinstance(kind, BigInteger) else Integer]
        if not -bound <= value < bound:
            raise ValueError(f"{name} is out of range ({value})")
    elif isinstance(kind, String | Text):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text, got {value!r}")
        _text(name, value)
        if getattr(kind, "length", None) and len(value) > kind.length:
            raise ValueError(f"{name} is longer than {kind.length} characters")
    elif isinstance(kind, JSON):
        _json(name, value, 0)
    else:
        raise ValueError(f"{name}: type {kind!r} is not known to backups")
    return value


def _moment(name: str, value) -> datetime:
    moment = datetime.fromisoformat(value)  # TypeError for a number: also a refusal
    if moment.tzinfo is not None:  # stored as naive UTC, as Inkwell writes them
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(f"{name} is out of range ({value})") from None
    if not EARLIEST_DATE <= moment <= LATEST_DATE:
        raise ValueError(f"{name} is out of range ({value}; dates are between "
                         f"{EARLIEST_DATE:%Y-%m-%d} and {LATEST_DATE:%Y-%m-%d})")
    return moment


def _text(name: str, value: str) -> None:
    if "\x00" in value:  # PostgreSQL refuses it in text and JSON
        raise ValueError(f"{name} holds NUL (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} holds a lone surrogate, which is not text") from None


def _json(name: str, value, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"{name} is nested too deeply (over {MAX_JSON_DEPTH} levels)")
    if isinstance(value, str):
        _text(name, value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} holds {value}, which JSON cannot")
    elif isinstance(value, list):
        for item in value:
            _json(name, item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _text(name, key)
            _json(name, item, depth + 1)


def media_types(rows: dict[str, list[dict]]) -> dict[str, str]:
    """Each stored file the media rows name, with the Content-Type the row says it has;
    ValueError for a row that names a file in another format than its own."""
    wanted: dict[str, str] = {}
    for row in rows.get("media", []):
        for variant, key in (row.get("variants") or {}).items():
            match = MEDIA_NAME.match(key) if isinstance(key, str) else None
            if not match:
                raise ValueError(f"media {row.get('key')!r}: {key!r} is not a media file name "
                                 f"({MEDIA_NAME_HELP})")
            said = "image/webp" if str(variant).endswith(".webp") else row["content_type"]
            if _TYPES[match.group(1)] != said:
                raise ValueError(f"media {row.get('key')!r}: {key!r} is not a {said} file name")
            wanted[key] = said
    return wanted


def content_matches(file: BinaryIO, content_type: str, svg_limit: int) -> bool:
    """Whether the open `file` is one well-formed file of `content_type` and nothing else, as
    the upload pipeline (or the SVG sanitizer, for figures) would have written it. Images are
    read through a memory map, never whole into memory; an SVG (which the sanitizer reads
    whole) only up to `svg_limit` bytes, the content pipeline's own limit for a figure."""
    if content_type == "image/svg+xml":
        from .content.svg import sanitize_svg  # figures: stored as the sanitizer wrote them

        data = file.read(svg_limit + 1)
        if len(data) > svg_limit:
            return False
        try:
            return sanitize_svg(data)[0] == data
        except Exception:  # any refusal of the sanitizer
            return False
    from PIL import Image

    from .images import check_container, image_end

    fmt = _PILLOW[content_type][0]
    try:
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            # Pillow reads some formats whole (WebP): it gets the image, not what follows it.
            with Image.open(BytesIO(data[:image_end(data, fmt)]), formats=[fmt]) as image:
                found = image.format or ""
                image.verify()
            check_container(data, found)
    except Exception:  # ImageRejected, an empty file, the many errors Pillow raises
        return False
    return True


def kind_name(content_type: str) -> str:
    return "SVG" if content_type == "image/svg+xml" else _PILLOW[content_type][1]
