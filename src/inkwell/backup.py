"""`inkwell backup FILE` and `inkwell restore FILE`: the whole blog in one file, and back.

A backup is a gzipped tar file:

    database.jsonl   every row of every table, one JSON object a line, parents before children,
                     read in one snapshot of the database
    media/<key>      every uploaded file, byte for byte
    manifest.json    written last: the format, when, the schema revision, and the size and
                     SHA-256 of every other member

Rows are JSON rather than an SQL dump, so a backup of SQLite restores into PostgreSQL and back.
Sign-in sessions are left out (they are credentials of browsers, not content).

Restore first reads the whole file, streaming (a file larger than memory is fine), and checks
it: the manifest, every size and checksum (no member over BACKUP_MAX_FILE_SIZE, all together
not over BACKUP_MAX_SIZE), every row against the schema (types, lengths, ranges, required
columns, unique keys, references between rows: backup_checks.py), and every media file against
its row (the server's own names, the content the row says). A damaged or foreign file is refused
before anything is touched; a file no media row names is left out. Then the rows go in, in one
transaction, into a database without content (`--force`: the content there is deleted in that
same transaction), and the media files are written first; if anything then fails, the files
that restore added are removed again. An older backup's rows are first brought to this
release's schema by the migrations themselves, in a scratch SQLite database.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import BinaryIO

from flask import current_app
from sqlalchemy import (
    Integer,
    Table,
    UniqueConstraint,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from .backup_checks import (
    MEDIA_NAME,
    MEDIA_NAME_HELP,
    column_value,
    content_matches,
    kind_name,
    media_types,
)
from .database import write_intent
from .extensions import db
from .models import utcnow
from .share_cards import CARDS
from .storage import get_store

FORMAT = 1
MANIFEST = "manifest.json"
ROWS = "database.jsonl"
MEDIA = "media/"
SKIPPED_TABLES = {"user_sessions", "sign_in_attempts"}
CHUNK = 1 << 20


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
    """Every row, read in one transaction: one snapshot of the database (a post added while the
    backup runs is either wholly in it, tags and all, or not at all)."""
    lines = []
    options = {"isolation_level": "REPEATABLE READ"} if db.engine.dialect.name == "postgresql" \
        else {}
    with db.engine.connect().execution_options(**options) as conn, conn.begin():
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


@contextmanager
def _terminated_cleanly() -> Iterator[None]:
    """SIGTERM (a timeout, systemd stopping a job) unwinds like Ctrl-C, so cleanup runs."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def create(path: Path) -> dict:
    """Write a backup of the database and the media to `path` (atomically); its manifest."""
    revision = _revision()
    if revision is None:
        raise BackupError("the database has no Inkwell tables yet: run `inkwell setup` first")
    store = get_store()
    files: dict[str, dict] = {}
    path = path.resolve()
    for stale in path.parent.glob(f".{path.name}.*.partial"):  # left by a backup killed hard
        stale.unlink(missing_ok=True)
    try:
        fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as e:
        raise BackupError(f"cannot write in {path.parent}: {e.strerror or e}") from None
    try:
        with _terminated_cleanly():
            with os.fdopen(fd, "wb") as raw:
                with tarfile.open(fileobj=raw, mode="w:gz") as archive:
                    _add(archive, ROWS, _rows(), files)
                    for key in sorted(store.keys()):
                        if key.startswith(CARDS):  # drawn from the rows again at restore
                            continue
                        _add(archive, MEDIA + key, store.read(key), files)
                    manifest = {
                        "format": FORMAT,
                        "created_at": utcnow().isoformat(),
                        "revision": revision,
                        "database": db.engine.dialect.name,
                        "files": files,
                    }
                    _add(archive, MANIFEST, json.dumps(manifest, indent=1).encode(), {})
                raw.flush()
                os.fsync(raw.fileno())
            os.chmod(partial, 0o600)  # it holds password hashes
            os.replace(partial, path)
            _fsync_folder(path.parent)
    except OSError as e:
        Path(partial).unlink(missing_ok=True)
        raise BackupError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return manifest


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- reading and checking a backup -------------------------------------------------------------


@dataclass
class Checked:
    """A backup read and checked in full, ready to restore (media stay in the file)."""

    path: Path
    manifest: dict
    rows: dict[str, list[dict]] = field(default_factory=dict)
    media: list[str] = field(default_factory=list)  # the files to restore: rows name them
    content_types: dict[str, str] = field(default_factory=dict)


# What a damaged or cut-short gzip/tar file raises (zlib.error is an OSError).
_UNREADABLE = (tarfile.TarError, EOFError, OSError, ValueError)


def _each_member(path: Path, wanted: Callable[[str], bool] = lambda name: True
                 ) -> Iterator[tuple[str, Iterator[bytes]]]:
    """(name, chunks) of every member, streamed; BackupError for anything but plain files, and
    for a member or a whole file over the size limits (told by the headers, before reading)."""
    most, total = (current_app.config["BACKUP_MAX_FILE_SIZE"],
                   current_app.config["BACKUP_MAX_SIZE"])
    read = 0
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for member in archive:
                if not member.isfile():
                    raise BackupError(f"{path}: {member.name!r} is not a plain file")
                read += member.size
                if member.size > most:
                    raise BackupError(f"{path}: {member.name} is {member.size} bytes; the limit "
                                      f"is {most} (BACKUP_MAX_FILE_SIZE); nothing was restored")
                if read > total:
                    raise BackupError(f"{path} holds more than {total} bytes; the limit is "
                                      f"{total} (BACKUP_MAX_SIZE); nothing was restored")
                if wanted(member.name):
                    yield member.name, _chunks(path, archive.extractfile(member))
    except BackupError:
        raise
    except _UNREADABLE as e:
        raise BackupError(f"{path} is not a readable backup file ({e})") from None


def _chunks(path: Path, stream) -> Iterator[bytes]:
    try:
        while chunk := stream.read(CHUNK):
            yield chunk
    except _UNREADABLE as e:
        raise BackupError(f"{path} is not a readable backup file ({e})") from None


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("a key appears twice")
    return dict(pairs)


def _manifest(path: Path, data: bytes) -> dict:
    from .migrations import known_revisions

    try:
        manifest = json.loads(data, object_pairs_hook=_no_duplicate_keys)
        if not isinstance(manifest, dict):
            raise TypeError("not an object")
        files = manifest["files"]
        ok = (isinstance(files, dict) and ROWS in files
              and all(isinstance(v, dict) and isinstance(v.get("size"), int)
                      and isinstance(v.get("sha256"), str) for v in files.values())
              and isinstance(manifest["created_at"], str)
              and isinstance(manifest["revision"], str))
    except (ValueError, KeyError, TypeError, RecursionError):
        ok = False
    if not ok:
        raise BackupError(f"{path}: {MANIFEST} is not an Inkwell backup manifest")
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is backup format {manifest.get('format')!r}; this Inkwell "
                          f"reads format {FORMAT}")
    if manifest["revision"] not in known_revisions():
        raise BackupError(
            f"{path} was made by a newer Inkwell (schema revision {manifest['revision']!r}): "
            "restore it with that release or a later one"
        )
    return manifest


def check(path: Path) -> Checked:
    """Read the whole backup (streaming) and check it; BackupError when anything is wrong."""
    seen: dict[str, tuple[int, str]] = {}
    manifest_data = rows_data = None
    for name, chunks in _each_member(path):
        if name in seen or (name == MANIFEST and manifest_data is not None):
            raise BackupError(f"{path}: {name!r} is in the file twice")
        card = name.startswith(MEDIA + CARDS)  # in backups made before cards were left out
        if name.startswith(MEDIA) and not card and not MEDIA_NAME.match(name[len(MEDIA):]):
            raise BackupError(f"{path}: {name} is not a media file name ({MEDIA_NAME_HELP}); "
                              "nothing was restored")
        if name not in (MANIFEST, ROWS) and not name.startswith(MEDIA):
            raise BackupError(f"{path}: unexpected member {name!r}")
        digest, size, kept = hashlib.sha256(), 0, []
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            if name in (MANIFEST, ROWS):
                kept.append(chunk)
        if name == MANIFEST:
            manifest_data = b"".join(kept)
            continue
        if name == ROWS:
            rows_data = b"".join(kept)
        seen[name] = (size, digest.hexdigest())
    if manifest_data is None:
        raise BackupError(f"{path} has no {MANIFEST}: not an Inkwell backup, or cut short")
    manifest = _manifest(path, manifest_data)
    files = manifest["files"]
    if set(seen) != set(files):
        missing, extra = set(files) - set(seen), set(seen) - set(files)
        raise BackupError(f"{path} does not hold what its manifest lists (missing: "
                          f"{sorted(missing)[:5]}, not listed: {sorted(extra)[:5]})")
    for name, (size, sha256) in seen.items():
        if (size, sha256) != (files[name]["size"], files[name]["sha256"]):
            raise BackupError(f"{path}: {name} is damaged (its size or checksum differs from "
                              "the manifest's); nothing was restored")
    checked = Checked(path, manifest)
    checked.rows = _read_rows(path, rows_data or b"")
    _check_keys(path, checked.rows)
    try:
        named = media_types(checked.rows)
    except ValueError as e:
        raise BackupError(f"{path}: {e}; nothing was restored") from None
    checked.content_types = {k: t for k, t in named.items() if MEDIA + k in seen}
    checked.media = sorted(checked.content_types)
    _check_media(checked)
    return checked


def _check_media(checked: Checked) -> None:
    """Each file a media row names is the image (or sanitized SVG) that row says it is."""
    svg_limit = current_app.config["IMPORT_MAX_FILE_SIZE"]
    for key, file in open_media(checked):
        kind = checked.content_types[key]
        if not content_matches(file, kind, svg_limit):
            raise BackupError(f"{checked.path}: {MEDIA}{key} is not the {kind_name(kind)} image "
                              "its media row says; nothing was restored")


def _read_rows(path: Path, data: bytes) -> dict[str, list[dict]]:
    tables = {t.name: t for t in _tables()}
    rows: dict[str, list[dict]] = {}
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise BackupError(f"{path}: {ROWS} is not UTF-8 text") from None
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
            table = tables[entry["table"]]
            row = _row(table, entry["row"])
        except RecursionError:
            raise BackupError(f"{path}: {ROWS} line {number} is nested too deeply") from None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise BackupError(f"{path}: {ROWS} line {number} does not fit this schema "
                              f"({type(e).__name__}: {e})") from None
        rows.setdefault(table.name, []).append(row)
    return rows


def _row(table: Table, values: dict) -> dict:
    """The row as the database takes it; ValueError/KeyError when it does not fit the table."""
    row = {}
    for column in table.columns:
        if column.name not in values:
            if column.default is None and not column.nullable:
                raise KeyError(f"{table.name}.{column.name} is missing")
            continue
        row[column.name] = column_value(column, values[column.name])
    unknown = set(values) - set(table.c.keys())
    if unknown:
        raise KeyError(f"{table.name} has no column {sorted(unknown)[0]}")
    return row


def _check_keys(path: Path, rows: dict[str, list[dict]]) -> None:
    """Primary and unique keys unique, and every reference pointing at a row of the backup."""
    for table in _tables():
        mine = rows.get(table.name, [])
        keys = [list(table.primary_key.columns)] + [
            list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)
        ] + [list(i.columns) for i in table.indexes if i.unique] + [
            [c] for c in table.columns if c.unique]
        for columns in keys:
            values = [tuple(row.get(c.name) for c in columns) for row in mine]
            if len(values) != len(set(values)):
                names = ", ".join(c.name for c in columns)
                raise BackupError(f"{path}: two {table.name} rows share ({names})")
        for fk in table.foreign_keys:
            target = {row.get(fk.column.name) for row in rows.get(fk.column.table.name, [])}
            for row in mine:
                value = row.get(fk.parent.name)
                if value is not None and value not in target:
                    raise BackupError(
                        f"{path}: a {table.name} row points at {fk.column.table.name} "
                        f"{value}, which the backup does not hold"
                    )


def open_media(checked: Checked) -> Iterator[tuple[str, BinaryIO]]:
    """(key, file) of each media file a row names, one at a time, from the (checked) backup:
    each member is copied in chunks into a temporary file, never whole into memory, and that
    file is gone when the next one is asked for."""
    wanted = {MEDIA + key for key in checked.content_types}
    for name, chunks in _each_member(checked.path, wanted.__contains__):
        with tempfile.TemporaryFile() as spool:
            for chunk in chunks:
                spool.write(chunk)
            spool.seek(0)
            yield name[len(MEDIA):], spool


# --- restore -----------------------------------------------------------------------------------


def _present() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _content_count(present: set[str]) -> int:
    return sum(db.session.scalar(select(func.count()).select_from(t)) for t in _tables()
               if t.name in present and t.name != "site_state")


def restore(path: Path, force: bool = False) -> Checked:
    """Restore the backup at `path` into this instance's database and media storage."""
    from .migrations import head_revision, upgrade

    checked = check(path)  # before anything is touched
    head = head_revision()
    if checked.manifest["revision"] != head:
        checked.rows = _rows_at_head(checked.rows, checked.manifest["revision"])
    present = _present()
    if present - {"alembic_version"}:
        current = _revision()
        if current != head:
            raise BackupError(f"this database is at schema revision {current or '(none)'}, "
                              f"not {head}: run `inkwell db upgrade` first, or restore into a "
                              "new, empty database")
        if _content_count(present) and not force:
            raise BackupError("this database already has content: restore into a new, empty "
                              "database, or pass --force to replace what it holds")
    else:
        upgrade(db.engine)
        present = _present()

    store = get_store()
    before = set(store.keys())
    written = []
    try:  # the files first: if anything then fails, the new files are taken away again
        with _terminated_cleanly():
            for key, file in open_media(checked):
                store.save_file(key, file, checked.content_types[key])
                written.append(key)
            _insert_rows(checked, [t for t in _tables() if t.name in present], present)
    except BaseException as e:  # every failure, Ctrl-C and SIGTERM too: no files left behind
        db.session.rollback()
        for key in set(written) - before:
            with suppress(Exception):
                store.delete(key)
        if isinstance(e, BackupError) or not isinstance(e, Exception):
            raise
        lines = str(e).splitlines() or [""]
        raise BackupError(f"the restore failed and was undone: {type(e).__name__}: "
                          f"{lines[0][:300]}") from None
    if force:  # what the backup does not have is not part of the restored blog
        for key in before - set(checked.media):
            store.delete(key)
    _draw_share_cards(store)
    return checked


def _draw_share_cards(store) -> None:
    """The published posts' share cards, drawn from the restored rows (a backup does not carry
    them); one that cannot be stored is logged, and `inkwell media cards` makes it later."""
    from .share_cards import cards_of_published_posts, store_cards

    store_cards(cards_of_published_posts(), store)


def _rows_at_head(rows: dict[str, list[dict]], revision: str) -> dict[str, list[dict]]:
    """An older backup's rows as this release's schema holds them: written into a scratch
    SQLite database at the backup's revision, migrated up by the migrations, read back."""
    from sqlalchemy import MetaData, create_engine

    from .migrations import upgrade

    with tempfile.TemporaryDirectory(prefix="inkwell-restore-") as tmp:
        engine = create_engine(f"sqlite:///{tmp}/migrate.sqlite3")
        try:
            upgrade(engine, revision)
            with engine.begin() as conn:
                old = MetaData()
                old.reflect(conn)
                for table in _tables():
                    if table.name in old.tables and rows.get(table.name):
                        then = old.tables[table.name]
                        conn.execute(insert(then), [{k: v for k, v in row.items() if k in then.c}
                                                    for row in rows[table.name]])
            upgrade(engine)
            with engine.connect() as conn:
                return {t.name: [dict(r._mapping) for r in conn.execute(
                    select(t).order_by(*t.primary_key.columns))] for t in _tables()}
        except SQLAlchemyError as e:
            raise BackupError(f"the backup's rows (schema revision {revision}) cannot be brought "
                              f"to this release's schema: {str(e).splitlines()[0][:300]}"
                              ) from None
        finally:
            engine.dispose()


def _insert_rows(checked: Checked, tables: list[Table], present: set[str]) -> None:
    """Every row in one transaction, committed only when all went in."""
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
