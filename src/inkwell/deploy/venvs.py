"""Virtualenvs made once per set of lock files, copied for every release that shares them.

Installing every pinned dependency is most of a code push on a small server: on the 1 GiB
test server (tests/vm) one `pip install -r requirements.lock` took 5 min (109 s downloading and
checking hashes, 63 s unpacking, 124 s compiling bytecode). A code push rarely changes the lock
files, so a release whose lock files match a venv already on the server gets a copy of that
venv, and only Inkwell itself is installed into it again (one small package).

A venv cannot simply be moved: its `bin/` scripts name its own path (the `#!` line of every
console script, `activate`) and so does `pyvenv.cfg`. `clone` copies the tree (hard links
when the owner stays the same: no new disk, and nothing in a venv is ever written in place,
pip and Python replace files by renaming) and rewrites those few text files for the new path.
`site-packages` holds no absolute path of the venv (pip's RECORD files are relative).

A complete venv carries a LOCKS file with the key of the lock files it was made from.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

LOCK_FILES = ("requirements.lock", "requirements-build.lock")
MARK = "LOCKS"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def lock_key(tree: Path) -> str:
    """What a venv's dependencies are made from: the lock files of `tree`."""
    digest = hashlib.sha256()
    for name in LOCK_FILES:
        path = tree / name
        digest.update(f"{name}\0".encode())
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()[:32]


def mark(venv: Path, key: str) -> None:
    """Say that `venv` holds every pin of the lock files with this key (written last)."""
    (venv / MARK).write_text(key + "\n")


def marked(venv: Path) -> str | None:
    try:
        return (venv / MARK).read_text().strip()
    except OSError:
        return None


def find_marked(candidates: Iterable[Path], key: str) -> Path | None:
    """The first complete venv among `candidates` made from the lock files with `key` and
    the Python running this code (a venv links to its interpreter)."""
    python = Path(sys.executable).resolve()
    for venv in candidates:
        if marked(venv) == key and (venv / "bin" / "python").resolve() == python:
            return venv
    return None


def running_venv_with_pins(tree: Path, python: Path) -> Path | None:
    """The venv running this code, when it was made from the interpreter `python` and has
    exactly the versions that `tree`'s lock files pin (then a copy of it is what `python -m
    venv` and `pip install -r` would make); None otherwise. For a venv made by hand (the
    guide's, which runs `deploy setup`), which has no LOCKS file."""
    if sys.prefix == sys.base_prefix:
        return None
    if Path(getattr(sys, "_base_executable", sys.executable)).resolve() != python.resolve():
        return None  # another Python (pyenv's, say): not the one the copy would run with
    pins: dict[str, str] = {}
    for name in LOCK_FILES:
        path = tree / name
        if not path.is_file():
            return None
        pins.update((_canonical(n), v) for n, v in _PIN.findall(path.read_text()))
    installed = {_canonical(d.metadata["Name"] or ""): d.version
                 for d in metadata.distributions()}
    if pins and all(installed.get(name) == version for name, version in pins.items()):
        return Path(sys.prefix)
    return None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def clone(source: Path, target: Path, *, link: bool) -> None:
    """Copy the venv at `source` to `target` (which must not exist) so that it works there.

    link: hard links instead of copies; only when both belong to the same user (a change of
    owner on one would change both)."""
    if target.exists():
        raise FileExistsError(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        copy = ["cp", "-a", *(["-l"] if link else []), f"{source}/.", str(staging)]
        done = subprocess.run(copy, capture_output=True, text=True)
        if done.returncode != 0 and link:  # another filesystem: no hard links across it
            shutil.rmtree(staging)
            staging.mkdir()
            done = subprocess.run(["cp", "-a", f"{source}/.", str(staging)],
                                  capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(f"cp {source} -> {target} failed: {done.stderr.strip()}")
        (staging / MARK).unlink(missing_ok=True)  # earned again once the copy is complete
        _repoint(staging, old=str(source), new=str(target))
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _repoint(venv: Path, old: str, new: str) -> None:
    """Rewrite the venv's own path in the files that hold it: bin/'s scripts and pyvenv.cfg.
    Each is replaced by a new file (a hard link to the source's must not change it)."""
    files = [p for p in (venv / "bin").iterdir() if p.is_file() and not p.is_symlink()]
    for path in [*files, venv / "pyvenv.cfg"]:
        data = path.read_bytes()
        if b"\0" in data[:1024] or old.encode() not in data:  # binaries; files without it
            continue
        fresh = path.with_name(f".{path.name}.new")
        fresh.write_bytes(data.replace(old.encode(), new.encode()))
        shutil.copymode(path, fresh)
        os.replace(fresh, path)
