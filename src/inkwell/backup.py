"""`inkwell backup FILE` and `inkwell restore FILE`: the whole blog in one file, and back.

A backup is a gzipped tar file:

    database.jsonl   every row of every table, one JSON object a line, parents before children
    media/<key>      every uploaded file, byte for byte
    manifest.json    written last: the format, when, the schema revision, and the size and
                     SHA-256 of every other member

Rows are JSON rather than an SQL dump, so a backup of SQLite restores into PostgreSQL and back.
Sign-in sessions are left out (they are credentials of browsers, not content).

Restore reads and checks the whole file first (manifest, every checksum, every row against the
schema) and refuses a damaged or foreign file before it touches anything. Then it writes the media
files, and the rows in one transaction, into a database without content (`--force`: the content
there is deleted in that same transaction). A fresh database is migrated to the backup's revision,
filled, then migrated to this release's.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import DateTime, Integer, Table, delete, func, insert, inspect, select, text

from .database import write_intent
from .extensions import db
from .models import utcnow
from .storage import get_store, is_valid_key

FORMAT = 1
MANIFEST = "manifest.json"
ROWS = "database.jsonl"
MEDIA = "media/"
SKIPPED_TABLES = {"user_sessions"}


class BackupError(ValueError):
    """The file is not a usable backup, or the database cannot take it; the message says why."""


def _tables() -> list[Table]:
    """The tables a backup holds, parents before children."""
    return [t for t in db.metadata.sorted_tables if t.name not in SKIPPED_TABLES]


def _revision() -> str | None:
    from .migrations import current_revision

    return current_revision(db.engine)


# --- backup ------------------------------------------------------------------------------------


def _json_value(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _rows() -> bytes:
    lines = []
    with db.engine.connect() as conn:
        for table in _tables():
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                values = {k: _json_value(v) for k, v in row._mapping.items()}
                lines.append(json.dumps({"table": table.name, "row": values}, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _add(archive: tarfile.TarFile, name: str, data: bytes, files: dict) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(utcnow().timestamp()), 0o600
    archive.addfile(info, io.BytesIO(data))
    files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def create(path: Path) -> dict:
    """Write a backup of the database and the media to `path` (atomically); its manifest."""
    store = get_store()
    files: dict[str, dict] = {}
    path = path.resolve()
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            _add(archive, ROWS, _rows(), files)
            for key in sorted(store.keys()):
                _add(archive, MEDIA + key, store.read(key), files)
            manifest = {
                "format": FORMAT,
                "created_at": utcnow().isoformat(),
                "revision": _revision(),
                "database": db.engine.dialect.name,
                "files": files,
            }
            _add(archive, MANIFEST, json.dumps(manifest, indent=1).encode(), {})
        os.chmod(partial, 0o600)  # it holds password hashes
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return manifest


# --- checking a backup -------------------------------------------------------------------------


@dataclass
class Checked:
    """A backup read and checked in full, ready to restore."""

    manifest: dict
    rows: dict[str, list[dict]] = field(default_factory=dict)
    media: dict[str, bytes] = field(default_factory=dict)


def _members(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive:
                if not member.isfile():
                    raise BackupError(f"{path}: {member.name!r} is not a plain file")
                yield member.name, archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:  # zlib.error is an OSError
        raise BackupError(f"{path} is not a readable backup file ({e})") from None


def _parse_value(column, value):
    if value is not None and isinstance(column.type, DateTime):
        return datetime.fromisoformat(value)
    return value


def check(path: Path) -> Checked:
    """Read the whole backup and check it; BackupError when anything is wrong."""
    from .migrations import known_revisions

    members = dict(_members(path))
    if MANIFEST not in members:
        raise BackupError(f"{path} has no {MANIFEST}: not an Inkwell backup, or cut short")
    try:
        manifest = json.loads(members.pop(MANIFEST))
        files = manifest["files"]
        fmt, revision = manifest["format"], manifest["revision"]
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{path}: {MANIFEST} cannot be read") from None
    if fmt != FORMAT:
        raise BackupError(f"{path} is backup format {fmt!r}; this Inkwell reads format {FORMAT}")
    if revision not in known_revisions():
        raise BackupError(
            f"{path} was made by a newer Inkwell (schema revision {revision!r}): restore it "
            "with that release or a later one"
        )
    if set(members) != set(files):
        missing, extra = set(files) - set(members), set(members) - set(files)
        raise BackupError(f"{path} does not hold what its manifest lists (missing: "
                          f"{sorted(missing)[:5]}, not listed: {sorted(extra)[:5]})")
    for name, data in members.items():
        expected = files[name]
        if len(data) != expected.get("size") or (
            hashlib.sha256(data).hexdigest() != expected.get("sha256")
        ):
            raise BackupError(f"{path}: {name} is damaged (its size or checksum differs from "
                              "the manifest's); nothing was restored")
        if name != ROWS and not (name.startswith(MEDIA) and is_valid_key(name[len(MEDIA):])):
            raise BackupError(f"{path}: unexpected member {name!r}")
    checked = Checked(manifest)
    checked.media = {name[len(MEDIA):]: data for name, data in members.items() if name != ROWS}
    tables = {t.name: t for t in _tables()}
    for number, line in enumerate(members.get(ROWS, b"").decode().splitlines(), 1):
        try:
            entry = json.loads(line)
            table = tables[entry["table"]]
            row = {k: _parse_value(table.c[k], v) for k, v in entry["row"].items()}
        except (ValueError, KeyError, TypeError) as e:
            raise BackupError(f"{path}: {ROWS} line {number} does not fit this schema "
                              f"({type(e).__name__}: {e})") from None
        checked.rows.setdefault(table.name, []).append(row)
    return checked


# --- restore -----------------------------------------------------------------------------------


def _content_count() -> int:
    present = set(inspect(db.engine).get_table_names())
    return sum(db.session.scalar(select(func.count()).select_from(t)) for t in _tables()
               if t.name in present and t.name != "site_state")


def restore(path: Path, force: bool = False) -> Checked:
    """Restore the backup at `path` into this instance's database and media storage."""
    from .migrations import head_revision, upgrade

    checked = check(path)  # before anything is touched
    revision = checked.manifest["revision"]
    fresh = not inspect(db.engine).has_table("posts")
    if not fresh:
        if _revision() != revision:
            raise BackupError(
                f"the backup is at schema revision {revision} and this database at "
                f"{_revision()}: restore into a new, empty database (DATABASE_URL)"
            )
        if _content_count() and not force:
            raise BackupError("this database already has content: restore into a new, empty "
                              "database, or pass --force to replace what it holds")
    elif revision is not None:
        upgrade(db.engine, revision)

    store = get_store()
    for key, data in checked.media.items():  # new files are harmless if the rows fail below
        store.save(key, data, _content_type(checked, key))

    present = set(inspect(db.engine).get_table_names())  # an older revision has fewer
    tables = [t for t in _tables() if t.name in present]
    with write_intent():
        for table in reversed(tables):  # --force, or the row a migration put there
            db.session.execute(delete(table))
        if "post_search" in present:
            db.session.execute(text("DELETE FROM post_search"))
        for table in tables:
            if checked.rows.get(table.name):
                db.session.execute(insert(table), checked.rows[table.name])
        _after_insert(checked, tables)
        db.session.commit()
    if revision != head_revision():
        upgrade(db.engine)
    return checked


def _content_type(checked: Checked, key: str) -> str:
    from .storage import content_type_for

    for row in checked.rows.get("media", []):
        if row.get("key") == key:
            return row.get("content_type") or content_type_for(key)
    return content_type_for(key)


def _after_insert(checked: Checked, tables: list[Table]) -> None:
    """The search index (SQLite), id sequences (PostgreSQL) and the site's change time."""
    from .search import index_posts

    index_posts([SimpleNamespace(**row) for row in checked.rows.get("posts", [])])
    if db.engine.dialect.name == "postgresql":
        for table in tables:
            pk = list(table.primary_key.columns)
            if len(pk) == 1 and isinstance(pk[0].type, Integer):
                name, column = table.name, pk[0].name
                db.session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', '{column}'), "
                    f"COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {name}"))
    # Pages must not claim to be older than what readers' caches hold from before.
    if any(t.name == "site_state" for t in tables):
        site_state = db.metadata.tables["site_state"]
        db.session.execute(delete(site_state))
        db.session.execute(insert(site_state), [{"id": 1, "content_changed_at": utcnow()}])
