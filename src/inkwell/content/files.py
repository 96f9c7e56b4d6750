"""`inkwell import` and `inkwell export`: Markdown files with YAML front matter, and Jupyter
notebooks (notebooks.py), <-> posts.

Re-importing matches posts by slug (front matter `slug`, else the file name without a leading
date), so it updates in place and never duplicates. A bad file is reported with its name and line
and writes nothing; the other files still import. The content folder of a deploy is imported all
or nothing instead, and its files own their posts (import_content). Figures a post links by a
relative path are stored as media (figures.py).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import Post, SlugRedirect, xml_safe
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
from ..storage import get_store
from .fetch import FetchLimits, copy_remote_images
from .figures import FigureLink, FigureStore, figure_links
from .foreign import Guess, alias_slugs, date_from_name, read_foreign, site_images
from .frontmatter import SourceError, dump_source, title_from_body
from .notebooks import NOTEBOOK_SUFFIX, read_notebook
from .slugs import slugify, tag_slug

MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown"}
POST_SUFFIXES = MARKDOWN_SUFFIXES | {NOTEBOOK_SUFFIX}
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}(-\d{2})?[-_]")  # 2026-11-02-x, 2026-11-x
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


def find_post_files(path: Path) -> list[Path]:
    """Markdown files and notebooks under `path`, hidden ones left out (and everything in a
    hidden folder, such as Jupyter's .ipynb_checkpoints or .git)."""
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.suffix.lower() in POST_SUFFIXES and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )


def _check_inside(path: Path, root: Path) -> None:
    """A file found in a folder must really be in it: a link to /etc/passwd in a folder of posts
    (a cloned repository can carry one) would otherwise be published."""
    target = path.resolve()
    if not target.is_relative_to(root):
        raise SourceError(
            str(path), None, f"is a link to {target}, outside {root}; copy the file in instead"
        )


def _read_bytes(path: Path, max_size: int, setting: str) -> bytes:
    size = path.stat().st_size
    if size > max_size:
        raise SourceError(
            str(path), None, f"file is {size / 1e6:.1f} MB; the limit is {max_size / 1e6:.0f} MB"
            f" (the setting {setting})")
    return path.read_bytes()


def _read_text(path: Path, max_size: int) -> tuple[str, bytes]:
    raw = _read_bytes(path, max_size, "IMPORT_MAX_FILE_SIZE")
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
        # A post in a folder of its own (index.md beside its figures) is named by the folder.
        name = path.parent.name if path.stem.lower() in ("index", "readme") else path.stem
        meta["slug"] = slugify(_DATE_PREFIX.sub("", name)) or slugify(meta["title"])
    if not meta["slug"]:
        raise SourceError(
            str(path), None, "no usable slug; add `slug: some-name` to the front matter"
        )
    return meta, body


def _file_date(path: Path) -> datetime:
    """A file's modification time: the date of a new post whose front matter has none."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class _Source:
    """One post file, read and checked, not yet written."""

    file: Path
    relative: str  # path inside the folder imported (posix)
    meta: dict
    body: str
    raw: bytes
    key: tuple[str, str]
    figures: list[FigureLink]
    guesses: list[Guess] = field(default_factory=list)
    old_slugs: list[str] = field(default_factory=list)  # Hugo aliases: redirected to the post


def import_path(
    path: Path,
    max_file_size: int,
    progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda files: files,
    strict: bool = False,
    fetch_images: bool = False,
) -> ImportReport:
    """`inkwell import`: import one file or every post file under a folder; commit what
    succeeded (a bad file is reported and skipped, the others import). What was guessed is in
    report.warnings; `strict` makes a guess fail its file instead. `fetch_images` copies
    images from other sites into the media store (fetch.py)."""
    return _Import(path, max_file_size, owned=False, strict=strict,
                   fetch_images=fetch_images).run(progress)


def import_content(
    folder: Path,
    max_file_size: int,
    progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda files: files,
) -> ImportReport:
    """The content folder of a deploy (`inkwell setup`, a push): all or nothing, and the files
    own their posts. Any error (report.errors) leaves the database and the media store as they
    were. A file-owned post whose file is gone is unpublished (a draft, source_removed);
    posts written in the browser are never touched, and a file may not take their slug."""
    return _Import(folder, max_file_size, owned=True).run(progress)


class _Import:
    """Files are read and checked first (cheap: no image is decoded), then figures stored and
    posts rendered and written in batches (one flush and one search-index update per batch),
    committed once at the end. A database error stops the import with nothing committed and
    the figures it stored removed again."""

    def __init__(self, path: Path, max_file_size: int, owned: bool, strict: bool = False,
                 fetch_images: bool = False) -> None:
        self.path, self.max_file_size, self.owned = path, max_file_size, owned
        self.strict = strict  # a warning fails its file
        # FETCH_ALLOW_LOOPBACK is set by tests only (their image server is on 127.0.0.1).
        config = current_app.config
        self.fetch_limits = FetchLimits(config["MAX_CONTENT_LENGTH"], allow_loopback=bool(
            config.get("FETCH_ALLOW_LOOPBACK"))) if fetch_images else None
        # Links inside a folder are followed only as far as the folder; one file named on its
        # own is imported wherever it points (its figures: from its own folder).
        self.root = path.resolve() if path.is_dir() else path.resolve().parent
        self.max_notebook_size = current_app.config["IMPORT_MAX_NOTEBOOK_SIZE"]
        self.report = ImportReport()
        self.redirects: list[tuple[Post, str]] = []
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
            if written is not None:
                self.redirects.extend((written, slug) for slug in source.old_slugs)
                matched.add(id(written))
                batch.append(written)
                if len(batch) >= _BATCH_SIZE:
                    _write(batch)
        _write(batch)
        self._keep_old_addresses()
        if self.owned:
            self._unpublish_removed(posts, matched)
        db.session.commit()

    def _read_all(self, files: Iterable[Path], existing: dict) -> list[_Source]:
        reserved = reserved_page_slugs()
        seen: dict[tuple[str, str], Path] = {}
        sources: list[_Source] = []
        for file in files:
            try:
                source = self._read(file)
            except SourceError as e:
                self.report.errors.append(str(e))
                continue
            self.report.warnings.extend(_warning(file, guess) for guess in source.guesses)
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
        return sources

    def _read(self, file: Path) -> _Source:
        if self.path.is_dir():
            _check_inside(file, self.root)
        guesses: list[Guess] = []
        if file.suffix.lower() == NOTEBOOK_SUFFIX:
            raw = _read_bytes(file, self.max_notebook_size, "IMPORT_MAX_NOTEBOOK_SIZE")
            notebook = read_notebook(raw, file)
            meta, body = notebook.meta, notebook.body
            embedded = frozenset(link.src for link in notebook.figures)
            # Markdown cells may link pictures beside the notebook, as a post does.
            figures = notebook.figures + figure_links(body, file, self.root, 1, embedded)
        else:
            meta, body, raw, figures, guesses = self._read_markdown(file)
        if not meta.get("date") and date_from_name(file.name):
            meta["date"] = date_from_name(file.name)  # Jekyll's 2024-05-01-title.md
        relative = file.relative_to(self.path).as_posix() if self.path.is_dir() else file.name
        if "page" not in meta and relative.startswith("pages/"):
            meta["page"] = True  # content/pages/about.md is a page without saying so
        meta, body = _complete_meta(meta, body, file)
        key = ("page" if meta.get("page") else "post", meta["slug"])
        old_slugs: list[str] = []
        if "aliases" in meta:
            old_slugs, more = alias_slugs(meta["aliases"], key[0])
            guesses = guesses + more
        if self.strict and guesses:
            first, *more = guesses
            raise SourceError(str(file), first.line, "refused (--strict): " + "; ".join(
                [first.message] + [g.message if g.line is None else f"line {g.line}: "
                                   f"{g.message}" for g in more]))
        return _Source(file, relative, meta, body, raw, key, figures, guesses, old_slugs)

    def _read_markdown(self, file: Path) -> tuple[dict, str, bytes, list[FigureLink], list]:
        """A Markdown file, from Inkwell or another blog (foreign.py), its figures, and what
        was guessed reading it."""
        text, raw = _read_text(file, self.max_file_size)
        source = read_foreign(text, str(file))
        figures = figure_links(source.body, file, self.root, source.body_line)
        # A path from the old site's root: found in the folder imported (or, for `inkwell
        # import` of a Jekyll _posts folder, in the site above it).
        roots = [self.root] if self.owned else [self.root, self.root.parent]
        at_root, unresolved, remote = site_images(
            source.body, file, roots, source.body_line, current_app.config["MEDIA_URL"])
        if self.fetch_limits is not None:
            fetched, not_fetched = copy_remote_images(remote, str(file), self.fetch_limits)
            return source.meta, source.body, raw, figures + at_root + fetched, \
                source.guesses + unresolved + not_fetched
        guesses = source.guesses + unresolved + [
            Guess(line, f"the image {src} is on another site, which this site's "
                  "Content-Security-Policy blocks; import with --fetch-images to copy it")
            for src, line in remote]
        return source.meta, source.body, raw, figures + at_root, guesses

    def _write_post(self, source: _Source, post: Post | None, tags: TagCache) -> Post | None:
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

    def _keep_old_addresses(self) -> None:
        """Hugo aliases: each old slug answers with a 301 to its post (as a renamed post's
        does), loaded in one query, updated in place when it pointed elsewhere."""
        wanted = {(post.kind, slug): post for post, slug in self.redirects if slug != post.slug}
        if not wanted:
            return
        existing = {(row.kind, row.old_slug): row for row in db.session.scalars(
            select(SlugRedirect).where(SlugRedirect.old_slug.in_({s for _, s in wanted})))}
        for (kind, slug), post in wanted.items():
            row = existing.get((kind, slug))
            if row is None:
                db.session.add(SlugRedirect(kind=kind, old_slug=slug, post_id=post.id))
            else:
                row.post_id = post.id

    def _guessed(self, source: _Source, guess: Guess) -> None:
        """A guess made while writing (the date): a warning, or with --strict the file's end."""
        if self.strict:
            raise SourceError(str(source.file), guess.line, f"refused (--strict): {guess.message}")
        self.report.warnings.append(_warning(source.file, guess))

    def _unpublish_removed(self, posts: list[Post], matched: set[int]) -> None:
        """File-owned posts whose file is gone: drafts now (never deleted), marked removed."""
        for post in posts:
            if post.source_path and id(post) not in matched and not post.source_removed:
                post.status, post.source_removed = "draft", True
                touch(post)
                self.report.unpublished.append(post.source_path)


def _warning(file: Path, guess: Guess) -> str:
    return f"{file}: {guess.message}" if guess.line is None else f"{file}:{guess.line}: " \
        f"{guess.message}"


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
