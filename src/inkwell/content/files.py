"""`inkwell import` and `inkwell export`: post files <-> posts. The files (Markdown, also
from other blogs, and Jupyter notebooks) are read by sources.py; this module writes them.

Re-importing matches posts by slug (front matter `slug`, else the file name without a leading
date), so it updates in place and never duplicates. A bad file is reported with its name and line
and writes nothing; the other files still import. The content folder of a deploy is imported all
or nothing instead, and its files own their posts (import_content). Figures a post links by a
relative path are stored as media (figures.py).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy import text as sql
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
from ..share_cards import cards_for, store_cards
from ..storage import get_store
from .fetch import FetchLimits
from .figures import FigureStore, link_stored_copies
from .foreign import Guess
from .frontmatter import SourceError, dump_source
from .old_addresses import OldAddresses
from .slugs import tag_slug
from .sources import PostSource, SourceReader, find_post_files, refusal, warning_line

# Posts written per flush: large enough to amortise the unit of work, small enough to keep
# each multi-row INSERT and the pending objects modest.
_BATCH_SIZE = 200


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what was guessed, `file:line: what`
    unpublished: list[str] = field(default_factory=list)  # file-owned posts whose file is gone


DEFAULT_CONTENT_DIR = "content"


def content_folder() -> tuple[Path, bool]:
    """(the content folder, whether CONTENT_DIR named it): CONTENT_DIR, default `content`,
    relative to the working directory (the release, /app in the image, the PaaS's app)."""
    named = current_app.config.get("CONTENT_DIR") or os.environ.get("CONTENT_DIR") or ""
    return Path(named or DEFAULT_CONTENT_DIR), bool(named)


def _file_date(path: Path) -> datetime:
    """A file's modification time: the date of a new post whose front matter has none."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None, microsecond=0)


def import_path(
    path: Path,
    max_file_size: int,
    progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda files: files,
    strict: bool = False,
    fetch_images: bool = False,
    jekyll_permalink: str | None = None,
) -> ImportReport:
    """`inkwell import`: import one file or every post file under a folder; commit what
    succeeded (a bad file is reported and skipped, the others import). What was guessed is in
    report.warnings; `strict` makes a guess fail its file instead. `fetch_images` copies
    images from other sites into the media store (fetch.py). `jekyll_permalink`: the old
    Jekyll site's permalink style or template, for its posts' default addresses (None: the
    site's _config.yml's, else `date`)."""
    return _Import(path, max_file_size, owned=False, strict=strict, fetch_images=fetch_images,
                   jekyll_permalink=jekyll_permalink).run(progress)


def import_content(
    folder: Path,
    max_file_size: int,
    progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda files: files,
    check_only: bool = False,
) -> ImportReport:
    """The content folder of a deploy (`inkwell setup`, a push): all or nothing, and the files
    own their posts. Any error (report.errors) leaves the database and the media store as they
    were. A file-owned post whose file is gone is unpublished (a draft, source_removed);
    posts written in the browser are never touched, and a file may not take their slug.

    check_only: the whole import, figures decoded and posts rendered, then undone (database
    and media store as they were), for the report: a push checks a new release's content
    this way before it switches, and the new release's start imports it for real."""
    _one_import_at_a_time()
    importer = _Import(folder, max_file_size, owned=True)
    importer.check_only = check_only
    return importer.run(progress)


# A PostgreSQL advisory lock key held by a content import until its transaction ends.
CONTENT_LOCK = 0x496E6B636F6E74


def _one_import_at_a_time() -> None:
    """On PostgreSQL, wait until no other process imports the content folder: several app
    servers starting one release (ExecStartPre=inkwell setup) import the same files at once,
    and two inserting one post would fail ("duplicate key value"). The one who waited then
    finds every post unchanged. (SQLite: the import's write transaction excludes the others.)"""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sql(f"SELECT pg_advisory_xact_lock({CONTENT_LOCK})"))


class _Import:
    """Files are read and checked first (cheap: no image is decoded), then figures stored and
    posts rendered and written in batches (one flush and one search-index update per batch),
    committed once at the end. A database error stops the import with nothing committed and
    the figures it stored removed again."""

    def __init__(self, path: Path, max_file_size: int, owned: bool, strict: bool = False,
                 fetch_images: bool = False, jekyll_permalink: str | None = None) -> None:
        self.path, self.owned, self.strict = path, owned, strict  # strict: a guess fails
        config = current_app.config
        # FETCH_ALLOW_LOOPBACK is set by tests only (their image server is on 127.0.0.1).
        fetch_limits = FetchLimits(config["MAX_CONTENT_LENGTH"], allow_loopback=bool(
            config.get("FETCH_ALLOW_LOOPBACK"))) if fetch_images else None
        # Links inside a folder are followed only as far as the folder; one file named on its
        # own is imported wherever it points (its figures: from its own folder).
        root = path.resolve() if path.is_dir() else path.resolve().parent
        self.reader = SourceReader(
            path, root, owned=owned, strict=strict, max_file_size=max_file_size,
            max_notebook_size=config["IMPORT_MAX_NOTEBOOK_SIZE"],
            media_url=config["MEDIA_URL"], fetch_limits=fetch_limits,
            jekyll_permalink=jekyll_permalink)
        self.report = ImportReport()
        self.check_only = False
        self.written: list[Post] = []  # created or updated: their share cards follow the commit
        self.figures = FigureStore(get_store(), current_app.config["MAX_CONTENT_LENGTH"])

    def run(self, progress: Callable[[Iterable[Path]], Iterable[Path]]) -> ImportReport:
        try:
            self._run(progress)
        except BaseException:
            db.session.rollback()
            self.figures.discard_added()
            raise
        return self.report

    def _run(self, progress: Callable[[Iterable[Path]], Iterable[Path]]) -> None:
        posts = db.session.scalars(select(Post)).all()
        existing = {(p.kind, p.slug): p for p in posts}
        by_path = {p.source_path: p for p in posts if p.source_path}
        sources = self._read_all(progress(find_post_files(self.path)), existing)
        if self.owned and self.report.errors:
            db.session.rollback()
            return
        self.figures.load(link for source in sources for link in source.figures)
        tags = TagCache()
        wanted = {source.key for source in sources}
        matched: set[int] = set()
        made: list[tuple[Post, PostSource]] = []  # written or unchanged: their old addresses
        batch: list[Post] = []
        for source in sources:
            # By slug first (the URL is the post's identity); else the post its file made
            # before, under a slug no file asks for any more (the file changed its slug).
            post = existing.get(source.key)
            if post is None and self.owned:
                post = by_path.get(source.relative)
                if post is not None and (post.kind, post.slug) in wanted:
                    post = None
            if post is not None:
                matched.add(id(post))
            added = len(self.figures.added)
            try:
                written = self._write_post(source, post, tags)
            except SourceError as e:
                if self.owned:  # all or nothing: undo everything, say why
                    self.report.errors.append(str(e))
                    db.session.rollback()
                    self.figures.discard_added()
                    return
                self.report.errors.append(str(e))
                self.figures.discard_since(added)
                continue
            made.append((written or post, source))
            if written is not None:
                matched.add(id(written))
                batch.append(written)
                self.written.append(written)
                if len(batch) >= _BATCH_SIZE:
                    _write(batch)
        _write(batch)
        self.addresses.write(made)
        if self.owned:
            self._unpublish_removed(posts, matched)
        if self.check_only:
            db.session.flush()  # what the database itself would refuse, refused now
            db.session.rollback()
            self.figures.discard_added()
            return
        cards = cards_for(self.written)
        db.session.commit()
        store_cards(cards)

    def _read_all(self, files: Iterable[Path], existing: dict) -> list[PostSource]:
        reserved = reserved_page_slugs()
        seen: dict[tuple[str, str], Path] = {}
        sources: list[PostSource] = []
        for file in files:
            try:
                source = self.reader.read(file)
            except SourceError as e:
                self.report.errors.append(str(e))
                continue
            self.report.warnings.extend(warning_line(file, guess) for guess in source.guesses)
            key, slug = source.key, source.key[1]
            where = f"{file}:{_key_line(source.raw, 'slug')}"
            if key[0] == "page" and slug in reserved:
                self.report.errors.append(
                    f"{where}: a page cannot have the slug {slug!r}: the site itself answers "
                    f"at /{slug}/; give it another `slug:` in its front matter")
            elif key in seen:
                self.report.errors.append(
                    f"{where}: slug {slug!r} is already used by {seen[key]}; "
                    "give one of them a different `slug:` in its front matter")
            elif self.owned and _written_in_browser(existing.get(key)):
                self.report.errors.append(
                    f"{where}: slug {slug!r} belongs to a {key[0]} written in the browser, "
                    "which a push never replaces; give the file another `slug:`, or delete "
                    "that one in the admin first")
            else:
                seen[key] = file
                sources.append(source)
        return self._claim_old_addresses(sources, list(existing.values()))

    def _claim_old_addresses(self, sources: list[PostSource],
                             posts: list[Post]) -> list[PostSource]:
        """The old addresses each file keeps (old_addresses.py), in path order; a refused one
        is a warning, or with --strict fails its file."""
        self.addresses = OldAddresses(posts, sources, self.owned)
        accepted: list[PostSource] = []
        for source in sources:
            kept, refused = self.addresses.check(source)
            if refused and self.strict:
                self.report.errors.append(str(refusal(source.file, refused)))
                continue
            self.report.warnings.extend(warning_line(source.file, g) for g in refused)
            self.addresses.take(source, kept)
            accepted.append(source)
        for source in accepted:  # the old blog's default addresses: after all named ones
            self.addresses.take_defaults(source)
        return accepted

    def _write_post(self, source: PostSource, post: Post | None,
                    tags: TagCache) -> Post | None:
        """Create or update the source's post (None: nothing to write); SourceError for a
        figure that is refused."""
        meta, body, report = source.meta, source.body, self.report
        digest = _digest(source.raw, [self.figures.hash_of(link) for link in source.figures])
        if not meta.get("date"):  # editing a file must not move its post up the home page
            meta["date"] = post.published_at if post is not None else _file_date(source.file)
            if post is None:
                self._guessed(source, Guess(None, f"no date: it took the file's time, "
                                            f"{meta['date']:%Y-%m-%d %H:%M}; add `date:`"))
        same_place = post is not None and (post.kind, post.slug) == source.key and (
            not self.owned or (post.source_path == source.relative and not post.source_removed))
        if post is not None and same_place and (
                post.source_hash == digest
                or (not source.figures and _same_content(post, meta, body))):
            post.source_hash = digest
            report.unchanged.append(str(source.file))
            return None
        urls = self.figures.urls(source.figures)
        body = link_stored_copies(body, urls)
        try:
            rendered = render_body(body, image_urls=urls)
        except SQLAlchemyError:
            raise  # the database itself is the problem: stop, don't report it per file
        except Exception as e:  # one unreadable file must not stop the others
            raise SourceError(str(source.file), None,
                              f"could not be rendered ({type(e).__name__}: {e})") from None
        is_new = post is None
        if post is None:
            post = Post()
            db.session.add(post)
        apply_meta(post, meta, tags, default_date=meta["date"])
        apply_rendered(post, rendered)
        touch(post, meta.get("updated") or (meta["date"] if is_new else None))
        post.source_hash = digest
        if self.owned:
            post.source_path, post.source_removed = source.relative, False
        (report.created if is_new else report.updated).append(str(source.file))
        return post

    def _guessed(self, source: PostSource, guess: Guess) -> None:
        """A guess made while writing (the date): a warning, or with --strict the file's end."""
        if self.strict:
            raise SourceError(str(source.file), guess.line,
                              f"refused (--strict): {guess.message}")
        self.report.warnings.append(warning_line(source.file, guess))

    def _unpublish_removed(self, posts: list[Post], matched: set[int]) -> None:
        """File-owned posts whose file is gone: drafts now (never deleted), marked removed."""
        for post in posts:
            if post.source_path and id(post) not in matched and not post.source_removed:
                post.status, post.source_removed = "draft", True
                touch(post)
                self.report.unpublished.append(post.source_path)


def _key_line(raw: bytes, key: str) -> int:
    """The line of `key:` in a file's front matter (1 when the file does not say it)."""
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.startswith(f"{key}:".encode()):
            return number
    return 1


def _written_in_browser(post: Post | None) -> bool:
    """A post no file ever imported (`inkwell import` of old adopted ones are files' too)."""
    return post is not None and not post.source_path and not post.source_hash


def _digest(raw: bytes, figure_hashes: list[str]) -> str:
    """What a post was imported from: its file, and its figures' contents (a figure replaced
    under the same name re-renders the post). A post without figures: the file's hash alone."""
    digest = hashlib.sha256(raw)
    for figure in figure_hashes:
        digest.update(figure.encode())
    return digest.hexdigest()


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
