"""Reading post files: one Markdown file (ours, or another blog's: foreign.py) or notebook
(notebooks.py) into a checked PostSource, its figures found and what was guessed said. Nothing
is written here; files.py writes what was read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import pelican_site
from .fetch import FetchLimits, copy_remote_images
from .figures import FigureLink, figure_links
from .foreign import (
    Guess,
    date_from_name,
    default_paths,
    jekyll_post,
    jekyll_template,
    old_paths,
    read_foreign,
    site_images,
    site_permalink,
)
from .frontmatter import SourceError, title_from_body
from .notebooks import NOTEBOOK_SUFFIX, read_notebook
from .slugs import slugify

MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown"}
POST_SUFFIXES = MARKDOWN_SUFFIXES | {NOTEBOOK_SUFFIX}
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}(-\d{2})?[-_]")  # 2026-11-02-x, 2026-11-x


@dataclass
class PostSource:
    """One post file, read and checked, not yet written."""

    file: Path
    relative: str  # path inside the folder imported (posix)
    meta: dict
    body: str
    raw: bytes
    key: tuple[str, str]
    figures: list[FigureLink]
    guesses: list[Guess] = field(default_factory=list)
    # Its addresses on the old blog (aliases, permalink), normalized: 301 to the post.
    old_paths: list[str] = field(default_factory=list)
    # The address the old blog gave it by default (Jekyll's, Pelican's): the same, but one
    # that cannot be kept is left out without a word (old_addresses.py).
    default_paths: list[str] = field(default_factory=list)


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


class SourceReader:
    """Reads the files of one import. `root`: the folder links may lead into (resolved);
    `owned`: a content folder (its files own their posts, nothing is read from above it);
    `strict`: a guess fails its file; `fetch_limits`: copy remote images (None: warn only);
    `jekyll_permalink`: the old Jekyll site's permalink style or template (None: its
    _config.yml's, else `date`)."""

    def __init__(self, path: Path, root: Path, *, owned: bool, strict: bool,
                 max_file_size: int, max_notebook_size: int, media_url: str,
                 fetch_limits: FetchLimits | None, jekyll_permalink: str | None = None) -> None:
        self.path, self.root, self.owned, self.strict = path, root, owned, strict
        self.max_file_size, self.max_notebook_size = max_file_size, max_notebook_size
        self.media_url, self.fetch_limits = media_url, fetch_limits
        self.jekyll_permalink = jekyll_template(jekyll_permalink) if jekyll_permalink else None
        self.site_configs: dict[Path, tuple[str | None, Guess | None]] = {}
        self.pelican_sites: dict[Path, tuple[pelican_site.PelicanSite, list[Guess]]] = {}

    def read(self, file: Path) -> PostSource:
        """The post `file` holds, checked; SourceError naming the file (and line) if not."""
        if self.path.is_dir():
            _check_inside(file, self.root)
        guesses: list[Guess] = []
        origin = ""
        if file.suffix.lower() == NOTEBOOK_SUFFIX:
            raw = _read_bytes(file, self.max_notebook_size, "IMPORT_MAX_NOTEBOOK_SIZE")
            notebook = read_notebook(raw, file)
            meta, body = notebook.meta, notebook.body
            embedded = frozenset(link.src for link in notebook.figures)
            # Markdown cells may link pictures beside the notebook, as a post does.
            figures = notebook.figures + figure_links(body, file, self.root, 1, embedded)
        else:
            meta, body, raw, figures, guesses, origin = self._read_markdown(file)
        if not meta.get("date") and date_from_name(file.name):
            meta["date"] = date_from_name(file.name)  # Jekyll's 2024-05-01-title.md
        relative = file.relative_to(self.path).as_posix() if self.path.is_dir() else file.name
        if "page" not in meta and relative.startswith("pages/"):
            meta["page"] = True  # content/pages/about.md is a page without saying so
        given_slug = meta.get("slug")
        # Jekyll's categories include the folders above _posts (travel/_posts/x.md: travel).
        above = relative.split("/")[:-1]
        folders = above[: len(above) - above[::-1].index("_posts") - 1] if "_posts" in above \
            else []
        jekyll = jekyll_post(meta, file, folders)
        meta, body = _complete_meta(meta, body, file)
        key = ("page" if meta.get("page") else "post", meta["slug"])
        paths, more = old_paths(meta, origin, jekyll)
        guesses = guesses + more
        style = None
        if origin == "jekyll" and "permalink" not in meta:
            style, unreadable = self._jekyll_style(file)
            guesses += [unreadable] if unreadable else []
        pelican = None
        if origin == "pelican" and "url" not in meta and "save_as" not in meta:
            site, unreadable = self._pelican_site(file)
            guesses += unreadable
            pelican = pelican_site.addresses(site or pelican_site.PelicanSite(file.parent),
                                             meta, key[0], given_slug, file)
        defaults = default_paths(meta, origin, jekyll, style, pelican)
        if self.strict and guesses:
            raise refusal(file, guesses)
        return PostSource(file, relative, meta, body, raw, key, figures, guesses, paths,
                          [path for path in defaults if path not in paths])

    def _jekyll_style(self, file: Path) -> tuple[str | None, Guess | None]:
        """The permalink template of a Jekyll post: --jekyll-permalink, else the `permalink`
        of the _config.yml of the site its _posts folder is in (looked for above _posts, as
        far as the folder imported, or the one above it for `inkwell import _posts`), else
        `date`. A _config.yml that cannot be read is said once (on the first post; with
        --strict, on each, which fails them all)."""
        if self.jekyll_permalink:
            return self.jekyll_permalink, None
        parts = file.parent.parts
        if "_posts" not in parts:
            return jekyll_template("date"), None
        site = Path(*parts[: len(parts) - parts[::-1].index("_posts") - 1])
        config = self._site_config(site, "_config.yml")
        if config is None:
            return jekyll_template("date"), None
        first = config not in self.site_configs
        if first:
            self.site_configs[config] = site_permalink(config, self.max_file_size)
        template, guess = self.site_configs[config]
        return template or jekyll_template("date"), guess if first or self.strict else None

    def _site_config(self, start: Path, name: str) -> Path | None:
        """The nearest `name` in `start` or a folder above it, as far as the folder imported
        (or the one above it, when a site's posts folder is what was imported)."""
        limit = self.root if self.owned else self.root.parent
        for folder in (start, *start.parents):
            if not folder.resolve().is_relative_to(limit):
                return None
            if (folder / name).is_file():
                return folder / name
        return None

    def _pelican_site(self, file: Path) -> tuple[pelican_site.PelicanSite | None, list[Guess]]:
        """The Pelican site a post is in (its pelicanconf.py; None without one: Pelican's
        defaults), and what its settings could not give, said on the first post only (with
        --strict, on each)."""
        config = self._site_config(file.parent, pelican_site.CONFIG_NAME)
        if config is None:
            return None, []
        first = config not in self.pelican_sites
        if first:
            self.pelican_sites[config] = pelican_site.read_config(config, self.max_file_size)
        site, guesses = self.pelican_sites[config]
        return site, guesses if first or self.strict else []

    def _read_markdown(self, file: Path) -> tuple[dict, str, bytes, list[FigureLink], list,
                                                  str]:
        """A Markdown file, from Inkwell or another blog (foreign.py), its figures, and what
        was guessed reading it."""
        text, raw = _read_text(file, self.max_file_size)
        source = read_foreign(text, str(file))
        figures = figure_links(source.body, file, self.root, source.body_line)
        # A path from the old site's root: found in the folder imported (or, for `inkwell
        # import` of a Jekyll _posts folder, in the site above it).
        roots = [self.root] if self.owned else [self.root, self.root.parent]
        at_root, unresolved, remote = site_images(
            source.body, file, roots, source.body_line, self.media_url)
        if self.fetch_limits is None:
            fetched: list[FigureLink] = []
            not_fetched = [Guess(line, f"the image {src} is on another site, which this "
                                 "site's Content-Security-Policy blocks; import with "
                                 "--fetch-images to copy it") for src, line in remote]
        else:
            fetched, not_fetched = copy_remote_images(remote, str(file), self.fetch_limits)
        return (source.meta, source.body, raw, figures + at_root + fetched,
                source.guesses + unresolved + not_fetched, source.origin)


def warning_line(file: Path, guess: Guess) -> str:
    """A guess as the import prints it: `file:line: what` (`file: what` without a line)."""
    return f"{file}: {guess.message}" if guess.line is None else \
        f"{file}:{guess.line}: {guess.message}"


def refusal(file: Path, guesses: list[Guess]) -> SourceError:
    """--strict: the file fails, with every guess (the first one's line is the error's)."""
    first, *more = guesses
    rest = [g.message if g.line is None else f"line {g.line}: {g.message}" for g in more]
    return SourceError(str(file), first.line, "refused (--strict): "
                       + "; ".join([first.message, *rest]))
