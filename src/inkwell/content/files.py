"""`inkwell import` and `inkwell export`: Markdown files with YAML front matter <-> posts.

Re-importing matches posts by slug (front matter `slug`, else the file name without a leading
date), so it updates in place and never duplicates. A bad file is reported with its name and line
and writes nothing; the other files still import.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import Post, xml_safe
from ..publishing import (
    TagCache,
    apply_meta,
    apply_rendered,
    post_meta,
    render_body,
    reserved_page_slugs,
    touch,
)
from ..search import index_posts
from .frontmatter import SourceError, dump_source, parse_source, title_from_body
from .slugs import slugify, tag_slug

MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown"}
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}[-_]")
# Posts written per flush: large enough to amortise the unit of work, small enough to keep
# each multi-row INSERT and the pending objects modest.
_BATCH_SIZE = 200


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def find_markdown_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.suffix.lower() in MARKDOWN_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )


def _check_inside(path: Path, root: Path) -> None:
    """A file found in a folder must really be in it: a link to /etc/passwd in a folder of posts
    (a cloned repository can carry one) would otherwise be published."""
    target = path.resolve()
    if not target.is_relative_to(root):
        raise SourceError(
            str(path), None, f"is a link to {target}, outside {root}; copy the file in instead"
        )


def _read_text(path: Path, max_size: int) -> tuple[str, bytes]:
    size = path.stat().st_size
    if size > max_size:
        raise SourceError(
            str(path), None, f"file is {size / 1e6:.1f} MB; the limit is {max_size / 1e6:.0f} MB"
        )
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig"), raw
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise SourceError(
            str(path), line, "is not UTF-8 text; save the file as UTF-8 and import it again"
        ) from None


def _complete_meta(meta: dict, body: str, path: Path) -> tuple[dict, str]:
    """Fill what the front matter left out: title and slug (the date: import_path)."""
    if not meta.get("title"):
        title, body = title_from_body(body)
        meta["title"] = title
    if not meta.get("slug"):
        meta["slug"] = slugify(_DATE_PREFIX.sub("", path.stem)) or slugify(meta["title"])
    if not meta["slug"]:
        raise SourceError(
            str(path), None, "no usable slug; add `slug: some-name` to the front matter"
        )
    return meta, body


def _file_date(path: Path) -> datetime:
    """A file's modification time: the date of a new post whose front matter has none."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None, microsecond=0)


def import_path(
    path: Path,
    max_file_size: int,
    progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda files: files,
) -> ImportReport:
    """Import one file or every Markdown file under a folder; commit what succeeded.

    Each file is read, checked and rendered before it touches the session, so a bad file needs
    no savepoint; the posts are then written in batches (one flush and one search-index update
    per batch) and committed once at the end. A database error stops the import with nothing
    committed.
    """
    files = find_markdown_files(path)
    # Links inside a folder are followed only as far as the folder; one file named on its own
    # is imported wherever it points.
    root = path.resolve() if path.is_dir() else None
    reserved = reserved_page_slugs()
    report = ImportReport()
    existing = {(p.kind, p.slug): p for p in db.session.scalars(select(Post))}
    tags = TagCache()
    seen: dict[tuple[str, str], Path] = {}
    batch: list[Post] = []
    for file in progress(files):
        try:
            if root is not None:
                _check_inside(file, root)
            text, raw = _read_text(file, max_file_size)
            meta, body = parse_source(text, str(file))
            meta, body = _complete_meta(meta, body, file)
        except SourceError as e:
            report.errors.append(str(e))
            continue
        key = ("page" if meta.get("page") else "post", meta["slug"])
        if key[0] == "page" and key[1] in reserved:
            report.errors.append(
                f"{file}: a page cannot have the slug {key[1]!r}: the site itself answers at "
                f"/{key[1]}/; give it another `slug:` in its front matter"
            )
            continue
        if key in seen:
            report.errors.append(
                f"{file}: slug {meta['slug']!r} is already used by {seen[key]}; "
                "give one of them a different `slug:` in its front matter"
            )
            continue
        seen[key] = file
        digest = hashlib.sha256(raw).hexdigest()
        post = existing.get(key)
        if not meta.get("date"):  # editing a file must not move its post up the home page
            meta["date"] = post.published_at if post is not None else _file_date(file)
        if post is not None and (post.source_hash == digest or _same_content(post, meta, body)):
            post.source_hash = digest
            report.unchanged.append(str(file))
            continue
        try:
            rendered = render_body(body)
        except SQLAlchemyError:
            raise  # the database itself is the problem: stop, don't report it per file
        except Exception as e:  # one unreadable file must not stop the others
            report.errors.append(f"{file}: could not be rendered ({type(e).__name__}: {e})")
            continue
        is_new = post is None
        if is_new:
            post = Post()
            db.session.add(post)
        apply_meta(post, meta, tags, default_date=meta["date"])
        apply_rendered(post, rendered)
        touch(post, meta.get("updated") or (meta["date"] if is_new else None))
        post.source_hash = digest
        existing[key] = post
        (report.created if is_new else report.updated).append(str(file))
        batch.append(post)
        if len(batch) >= _BATCH_SIZE:
            _write(batch)
    _write(batch)
    db.session.commit()
    return report


# Front-matter keys that export leaves out when they hold their default.
_DEFAULTS = {"description": "", "tags": [], "draft": False, "toc": False, "page": False}


def _same_content(post: Post, meta: dict, body: str) -> bool:
    """The file says what the post already holds, only written differently (an exported file
    imported again, a reformatted list of tags): nothing to update, nor to mark as updated."""
    if post.body_markdown != xml_safe(body):
        return False
    current = post_meta(post)
    incoming = {k: v for k, v in meta.items() if _DEFAULTS.get(k, ...) != v}
    if incoming.get("updated") == incoming["date"]:
        del incoming["updated"]
    if "updated" not in incoming:
        current.pop("updated", None)  # the file does not say: the post keeps its own
    current_tags, incoming_tags = current.pop("tags", []), incoming.pop("tags", [])
    return current == incoming and sorted(map(tag_slug, current_tags)) == sorted(
        map(tag_slug, incoming_tags)
    )


def _write(batch: list[Post]) -> None:
    """Flush a batch of posts (INSERTs grouped by insertmanyvalues) and index them; empty it."""
    if batch:
        db.session.flush()
        index_posts(batch)
        batch.clear()


class ExportConflict(Exception):
    """Files in the export folder that differ from the posts they would be replaced by."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__(", ".join(str(p) for p in paths))
        self.paths = paths


def export_posts(folder: Path, overwrite: bool = False) -> int:
    """Write every post and page as `<slug>.md` (pages under `pages/`); return how many.

    A file already there with other content (edited since, or not an export at all) is replaced
    only with `overwrite`; otherwise ExportConflict lists them all and nothing is written.
    """
    posts = db.session.scalars(select(Post).order_by(Post.published_at)).all()
    files: list[tuple[Path, str]] = []
    for post in posts:
        target = folder / ("pages" if post.kind == "page" else "") / f"{post.slug}.md"
        files.append((target, dump_source(post_meta(post), post.body_markdown)))
    conflicts = [
        target for target, text in files
        if target.exists() and target.read_bytes() != text.encode("utf-8")
    ]
    if conflicts and not overwrite:
        raise ExportConflict(conflicts)
    (folder / "pages").mkdir(parents=True, exist_ok=True)
    for target, text in files:
        tmp = target.with_suffix(".md.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    return len(posts)
