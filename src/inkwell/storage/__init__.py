"""Where uploaded media lives: one interface (`MediaStore`), two backends (local disk, S3).

Keys are server-generated names such as ``3f2a...9c.jpg`` or ``3f2a...9c-480.webp``; both
backends refuse anything that could step outside their root (``..``, absolute paths, dot files).
"""

from __future__ import annotations

import mimetypes
import re
import threading
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from flask import Flask, current_app

BACKENDS = ("local", "s3")

_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")
MAX_KEY_LENGTH = 255

CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}

_lock = threading.Lock()


class InvalidKey(ValueError):
    """A storage key that is not one of ours (path traversal, absolute path, odd characters)."""


class MediaStore(Protocol):
    """What every media backend offers; `read` and `size` raise FileNotFoundError if missing."""

    def save(self, key: str, data: bytes, content_type: str) -> None: ...

    def save_file(self, key: str, file: BinaryIO, content_type: str) -> None:
        """Save from an open file, read in chunks (a restore's members: never whole in
        memory)."""
        ...

    def read(self, key: str) -> bytes: ...

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def url(self, key: str) -> str: ...

    def keys(self) -> Iterator[str]: ...

    def sizes(self) -> Iterator[tuple[str, int]]:
        """Every key of `keys()` with its size in bytes, from the listing itself."""
        ...

    def check_writable(self) -> str | None: ...


def validate_key(key: str) -> str:
    """Return `key` when it is a safe relative name; raise InvalidKey otherwise."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"invalid media key {key!r}: empty or too long")
    for segment in key.split("/"):
        if not _SEGMENT_RE.match(segment):
            raise InvalidKey(
                f"invalid media key {key!r}: only letters, digits, '.', '_', '-' and '/' "
                "between names are allowed, with no '..', no leading '/' and no dot files"
            )
    return key


def is_valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except InvalidKey:
        return False
    return True


def content_type_for(key: str) -> str:
    """The Content-Type a stored file is served with, from its (server-chosen) extension."""
    dot = key.rfind(".")
    ext = key[dot:].lower() if dot != -1 else ""
    return CONTENT_TYPES.get(ext) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def get_store(app: Flask | None = None, backend: str | None = None) -> MediaStore:
    """The store for `backend` (default: MEDIA_BACKEND), built once per app and reused."""
    from ..config import ConfigError

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    backend = backend or app.config["MEDIA_BACKEND"]
    if backend not in BACKENDS:
        raise ConfigError(f"MEDIA_BACKEND must be local or s3, got {backend!r}")
    stores: dict[str, MediaStore] = app.extensions.setdefault("inkwell_media_stores", {})
    store = stores.get(backend)
    if store is not None:
        return store
    with _lock:
        store = stores.get(backend)
        if store is None:
            store = _build(app, backend)
            stores[backend] = store
    return store


def _build(app: Flask, backend: str) -> MediaStore:
    config = app.config
    if backend == "local":
        from .local import LocalStore

        return LocalStore(config["MEDIA_ROOT"], config["MEDIA_URL"])
    from .s3 import S3Store

    return S3Store.from_settings(config)
