"""Media on local disk under MEDIA_ROOT (the instance folder by default), served at MEDIA_URL."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from . import is_valid_key, validate_key


class LocalStore:
    """Files under `root`; every write lands atomically (temp file, then os.replace)."""

    def __init__(self, root: str | os.PathLike, base_url: str = "/media/") -> None:
        self.root = Path(root)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    def path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def save(self, key: str, data: bytes, content_type: str) -> None:
        self.save_file(key, io.BytesIO(data), content_type)

    def save_file(self, key: str, file: BinaryIO, content_type: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                shutil.copyfileobj(file, f)
                f.flush()
                os.fsync(f.fileno())
            # mkstemp makes 0600 files; nginx (another user) serves these in the full stack.
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def read(self, key: str) -> bytes:
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no media file {key!r} in {self.root}")
        return path.read_bytes()

    def size(self, key: str) -> int:
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no media file {key!r} in {self.root}")
        return path.stat().st_size

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def url(self, key: str) -> str:
        return self.base_url + quote(validate_key(key))

    def keys(self) -> Iterator[str]:
        for key, _path in self._files():
            yield key

    def sizes(self) -> Iterator[tuple[str, int]]:
        for key, path in self._files():
            yield key, path.stat().st_size

    def _files(self) -> Iterator[tuple[str, Path]]:
        if not self.root.is_dir():
            return
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            rel = Path(folder).relative_to(self.root)
            for name in sorted(files):
                key = (rel / name).as_posix() if rel != Path(".") else name
                if is_valid_key(key):
                    yield key, Path(folder) / name

    def check_writable(self) -> str | None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".readyz-"):
                pass
        except OSError as e:
            return f"media folder {self.root} is not writable: {e.strerror or e}"
        return None

