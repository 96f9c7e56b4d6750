"""Posts written for other blogs: Pelican, Jekyll and Hugo files read as their authors meant.

What is understood: YAML (`---`) and TOML (`+++`, Hugo) front matter and Pelican's `Key: value`
header block; the keys those tools use for the same things (Hugo's lastmod, Pelican's Modified
and Summary, Jekyll's `published: false` and space-separated `tags: a b`); the post's old
addresses (Hugo's aliases and url, a Jekyll permalink, Pelican's URL and Save_as: old_paths;
the ones a Jekyll or Pelican site gave it by default: default_paths); a Jekyll file name's date
(2024-05-01-slug.md); kramdown/pandoc attribute lists (`# Heading {#id}`, `{: .class}`), which
are dropped rather than shown as text; text whose encoding was garbled once (mojibake), repaired
with ftfy. What is only guessed is said: each file gets warnings (Guess) with their line.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from ..redirects import MAX_PATH_LENGTH, normal_path
from .figures import FigureLink, images_not_beside
from .frontmatter import SourceError, check_front_matter_size, normalise_meta, parse_source
from .render import parse

# Keys other blogs use that mean something Inkwell has a place for: {their name: Inkwell's}.
_SAME_AS = {"lastmod": "updated", "modified": "updated", "summary": "description"}
# Keys Inkwell has no use for but knows they come from those tools: kept without a warning.
_KNOWN_FOREIGN = {
    "layout", "categories", "category", "permalink", "author", "authors", "aliases", "weight",
    "type", "comments", "excerpt", "image", "images", "series", "keywords", "lang", "status",
    "published", "menu", "url", "save_as", "template", "translation", "markup", "toc_sticky",
}  # fmt: skip
_INKWELL_KEYS = {"title", "slug", "date", "updated", "description", "tags", "draft", "toc", "page"}
_PELICAN_KEYS = {
    "title", "date", "modified", "tags", "category", "slug", "author", "authors", "summary",
    "status", "lang", "translation", "save_as", "url", "template",
}  # fmt: skip
_PELICAN_LINE = re.compile(r"^([A-Za-z][\w-]*)\s*:\s*(.*)$")
_JEKYLL_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-")
# Keys Jekyll reads as a list from a space-separated string too ("tags: a b").
_JEKYLL_LISTS = ("tags", "categories")
# Front-matter keys of Jekyll's that Inkwell's own files do not have.
_JEKYLL_ONLY = {"layout", "permalink", "published", "category", "categories"}
# A Jekyll permalink only the site's _config.yml can fill in: :year, :title, ... or a style name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PERMALINK_TEMPLATE = re.compile(r":[A-Za-z_]|^(?:pretty|date|ordinal|weekdate|none)$")
_TOML_FENCE = "+++"

# One item of a kramdown/pandoc attribute list: #id, .class, key="value", or pandoc's "-".
_ATTR_ITEM = r"""(?:[#.][\w:-]+|[\w-]+=(?:"[^"\n]*"|'[^'\n]*'|[^\s}]+)|-)"""
_ATTR_LIST = re.compile(rf"\{{:[^{{}}\n]*\}}|\{{\s*{_ATTR_ITEM}(?:\s+{_ATTR_ITEM})*\s*\}}")
_ATTR_LINE = re.compile(rf"^\s*(?:{_ATTR_LIST.pattern})\s*$")
_ATTR_AFTER_HEADING = re.compile(rf"^(#{{1,6}}\s.*?)\s*(?:{_ATTR_LIST.pattern})\s*$")
_ATTR_AFTER_INLINE = re.compile(rf"(?<=[)\]`*_])(?:{_ATTR_LIST.pattern})")
_TEMPLATING = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
_CODE_SPAN = re.compile(r"(`+)[^`]+?\1")


@dataclass(frozen=True)
class Guess:
    """Something an import guessed or left as it was, for the author to check."""

    line: int | None
    message: str


@dataclass
class ForeignSource:
    """A Markdown file's settings in Inkwell's terms, its body, and what was guessed."""

    meta: dict
    body: str
    body_line: int  # the file line the body starts on
    guesses: list[Guess]
    origin: str = ""  # "jekyll" or "pelican" when the file is one of their posts: its old
    # default address (default_paths)


def read_foreign(text: str, path: str) -> ForeignSource:
    """Front matter (YAML, TOML or a Pelican header) and body of a Markdown file from any of
    the blogs understood, its text repaired and its attribute lists dropped."""
    import ftfy  # here, not at the top: the app's workers never import content (~40 ms)

    guesses: list[Guess] = []
    repaired = ftfy.fix_encoding(text)
    if repaired != text:
        guesses.append(Guess(_first_difference(text, repaired), "repaired garbled characters "
                             "(mojibake, text decoded twice); check the spelling there"))
        text = repaired
    origin = ""
    if text.startswith(_TOML_FENCE):
        raw, body = _toml(text, path)
    elif text.lstrip("\ufeff").startswith("---"):
        raw, body = parse_source(text, path, _jekyll_lists(Path(path)))
        origin = "jekyll" if _is_jekyll(Path(path), raw) else ""
    else:
        raw, body = _pelican(text)
        origin = "pelican" if raw else ""
    body_line = text.count("\n") - body.count("\n") + 1
    meta = _adopt(raw, path, guesses, text)
    body = drop_attribute_lists(body)
    if meta.get("title"):
        meta["title"] = _ATTR_LIST.sub("", meta["title"]).strip()
    guesses.extend(_templating(body, body_line))
    return ForeignSource(meta, body, body_line, guesses, origin)


def _jekyll_lists(path: Path) -> Callable[[dict], dict]:
    """Front matter as Jekyll reads it in a post of its own (in a _posts folder, or named
    2024-05-01-title.md, as Inkwell's may be, with a key only Jekyll uses): `tags: a b` (and
    categories) is a list. A string with commas is left to be split at them, as Inkwell does."""

    def adapt(raw: dict) -> dict:
        if not _is_jekyll(path, raw):
            return raw
        return raw | {key: raw[key].split() for key in _JEKYLL_LISTS
                      if isinstance(raw.get(key), str) and "," not in raw[key]}

    return adapt


def _is_jekyll(path: Path, raw: dict) -> bool:
    """A Jekyll post: in a _posts folder, or named 2024-05-01-title.md with a key only Jekyll
    uses (Inkwell's own files may be named so too)."""
    return "_posts" in path.parts or bool(
        _JEKYLL_NAME.match(path.name) and _JEKYLL_ONLY.intersection(raw))


def date_from_name(name: str) -> datetime | None:
    """A Jekyll post's date, from its file name (2024-05-01-title.md)."""
    match = _JEKYLL_NAME.match(name)
    if match is None:
        return None
    try:
        return datetime(*(int(part) for part in match.groups()))
    except ValueError:  # 2024-13-45-x.md: not a date after all
        return None


def _first_difference(before: str, after: str) -> int:
    for number, (old, new) in enumerate(zip(before.splitlines(), after.splitlines(),
                                            strict=False), start=1):
        if old != new:
            return number
    return 1


def _toml(text: str, path: str) -> tuple[dict, str]:
    """Hugo's TOML front matter between two +++ lines."""
    lines = text.splitlines(keepends=True)
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == _TOML_FENCE), None)
    if end is None:
        raise SourceError(path, 1, "The TOML front matter that starts here is never closed: "
                          "add a line with only +++ after the last setting.")
    check_front_matter_size("".join(lines[1:end]), path)
    try:
        data = tomllib.loads("".join(lines[1:end]))
    except tomllib.TOMLDecodeError as e:
        line = re.search(r"line (\d+)", str(e))
        raise SourceError(path, int(line.group(1)) + 1 if line else 1,
                          f"The front matter is not valid TOML ({e}).") from None
    return data, "".join(lines[end + 1 :]).removeprefix("\n")


def _pelican(text: str) -> tuple[dict, str]:
    """Pelican's header: `Key: value` lines up to the first blank line, the first key one
    Pelican knows (else the file has no header and all of it is the body)."""
    lines = text.splitlines(keepends=True)
    first = _PELICAN_LINE.match(lines[0].strip()) if lines else None
    if first is None or first.group(1).lower() not in _PELICAN_KEYS:
        return {}, text
    data: dict[str, Any] = {}
    end = len(lines)
    for number, line in enumerate(lines):
        match = _PELICAN_LINE.match(line.strip())
        if not line.strip() or match is None:
            end = number
            break
        data[match.group(1).lower()] = match.group(2).strip()
    if "status" in data:
        data["draft"] = data["status"].lower() in ("draft", "hidden")
    return data, "".join(lines[end:]).lstrip("\r\n")


def _adopt(raw: dict, path: str, guesses: list[Guess], text: str) -> dict:
    """Other tools' keys in Inkwell's terms, checked; unknown keys kept, with a warning."""
    data = dict(raw)
    for theirs, ours in _SAME_AS.items():
        if theirs in data and ours not in data:
            data[ours] = data.pop(theirs)
    if data.get("published") is False and "draft" not in data:  # Jekyll
        data["draft"] = True
    for key in data:
        if key not in _INKWELL_KEYS and key not in _KNOWN_FOREIGN and key not in _SAME_AS:
            guesses.append(Guess(_key_line(text, key), f"front-matter key {key!r} is not one "
                                 "Inkwell knows; it is kept with the post as metadata"))
    kept = {key: _storable(value) for key, value in data.items() if key not in _INKWELL_KEYS}
    return kept | normalise_meta({k: v for k, v in data.items() if k in _INKWELL_KEYS}, path)


def _storable(value: Any) -> Any:
    """TOML dates and times as ISO text, like YAML's in custom keys (stored as JSON)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    return value


def _key_line(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^\s*['\"]?{re.escape(key)}['\"]?\s*[:=]", re.IGNORECASE)
    for number, line in enumerate(text.splitlines()[:200], start=1):
        if pattern.match(line):
            return number
    return None


def code_lines(body: str) -> set[int]:
    """The body's lines (0-based) inside code blocks, where nothing is rewritten or flagged."""
    lines: set[int] = set()
    for token in parse(body):
        if token.type in ("fence", "code_block") and token.map:
            lines.update(range(*token.map))
    return lines


def drop_attribute_lists(body: str) -> str:
    """Remove kramdown/pandoc attribute lists ({#id}, {.class}, {: .class}) outside code:
    Inkwell makes heading ids from their text and has no per-element classes."""
    if not _ATTR_LIST.search(body):  # the common case: no second parse of the body
        return body
    in_code = code_lines(body)
    kept: list[str] = []
    for number, line in enumerate(body.splitlines(keepends=True)):
        if number in in_code or "{" not in line:
            kept.append(line)
            continue
        if _ATTR_LINE.match(line):
            kept.append("\n")  # a block attribute list on a line of its own (lines keep
            continue  # their numbers, for messages)
        ending = line[len(line.rstrip("\r\n")) :]
        text = _ATTR_AFTER_HEADING.sub(r"\1", line.rstrip("\r\n"))
        kept.append(_ATTR_AFTER_INLINE.sub("", text) + ending)
    return "".join(kept)


def _templating(body: str, body_line: int) -> list[Guess]:
    """Liquid/Jinja tags left in the text ({{ ... }}, {% ... %}): the old blog filled them in."""
    if not _TEMPLATING.search(body):
        return []
    in_code = code_lines(body)
    found = []
    for number, line in enumerate(body.splitlines()):
        match = _TEMPLATING.search(_CODE_SPAN.sub("", line))  # `{{ x }}` is shown on purpose
        if match and number not in in_code:
            found.append(Guess(body_line + number, f"template code {match.group(0)!r} is "
                               "shown as it is: the old blog filled it in; replace it with "
                               "what it made"))
    return found


def site_images(body: str, post_file: Path, roots: list[Path], body_line: int,
                media_url: str) -> tuple[list[FigureLink], list[Guess], list[tuple[str, int]]]:
    """Images linked by a path from the old site's root (/assets/img/x.png): figures when the
    file is found under one of `roots`, else a warning. Also returned: the remote images
    (src, line), which only --fetch-images copies."""
    figures: list[FigureLink] = []
    guesses: list[Guess] = []
    remote: list[tuple[str, int]] = []
    seen: set[str] = set()
    for src, line in images_not_beside(body, body_line):
        if src in seen:
            continue
        seen.add(src)
        if src.lower().startswith(("http://", "https://", "//")):
            remote.append((src, line))
        elif src.startswith("/") and not src.startswith(media_url):
            path = unquote(urlsplit(src).path).lstrip("/")
            found = [root / path for root in roots if _inside(root / path, root)]
            if found:
                figures.append(FigureLink(src, found[0].resolve(), str(post_file), line))
            else:
                guesses.append(Guess(line, f"the image {src} does not resolve: it is a path on "
                                     f"the old site; copy the file to {roots[0] / path}, or "
                                     "link it relative to the post"))
    return figures, guesses, remote


def _inside(path: Path, root: Path) -> bool:
    """An existing file under `root` once links are followed (never ../ out of it)."""
    target = path.resolve()
    return target.is_relative_to(root.resolve()) and target.is_file()


# Jekyll's permalink styles (_config.yml `permalink:`, also `inkwell import --jekyll-permalink`).
JEKYLL_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_JEKYLL_PLACEHOLDER = re.compile(r":([a-z_]+)")
# Jekyll's placeholders from the post's date (its UrlDrop), as strftime formats.
_JEKYLL_DATE_PARTS = {
    "year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M", "second": "%S",
    "short_year": "%y", "long_month": "%B", "long_day": "%A", "y_day": "%j", "week": "%V",
    "w_year": "%G", "w_day": "%u",
}  # fmt: skip
_JEKYLL_OTHER_PARTS = {"i_month", "i_day", "short_month", "short_day", "title", "slug", "name",
                       "categories", "output_ext", "collection"}
# Jekyll's slugify: "pretty" keeps what is readable in a URL; the default only letters, digits.
_JEKYLL_PRETTY = re.compile(r"[^\w.~!$&'()+,;=@]+")
_JEKYLL_DEFAULT = re.compile(r"[^\w]+|_+")
_PELICAN_DROP = re.compile(r"[^\w\s-]")


def jekyll_template(permalink: str) -> str:
    """A Jekyll permalink setting as a template: a style name (date, pretty, ...) is its
    template, anything else is one already (/:year/:title/)."""
    return JEKYLL_STYLES.get(permalink.strip(), permalink.strip())


def jekyll_unknown(template: str) -> list[str]:
    """The placeholders of `template` Inkwell cannot fill (as Jekyll: `:title_` is `:title`)."""
    names = (match.group(1) for match in _JEKYLL_PLACEHOLDER.finditer(template))
    return [name for name in names if _jekyll_name(name) is None]


def _jekyll_name(name: str) -> str | None:
    for candidate in (name, name.rstrip("_")):
        if candidate in _JEKYLL_DATE_PARTS or candidate in _JEKYLL_OTHER_PARTS:
            return candidate
    return None


@dataclass(frozen=True)
class JekyllPost:
    """What Jekyll fills a permalink in with: the post's date, its file's stem (with the
    date: 2019-07-14-bastille), its front-matter `slug` if any, and its categories (the
    folders above _posts, then `categories` and `category`)."""

    date: datetime | None
    stem: str
    slug: str | None
    categories: tuple[str, ...]


def jekyll_post(meta: dict, file: Path, folders: list[str]) -> JekyllPost:
    """The JekyllPost of a file (`meta` as its front matter gave it: `slug` not yet made from
    the file name): `folders` are those between the site and its _posts."""
    found: list[str] = list(folders)
    for key in ("categories", "category"):
        value = meta.get(key)
        items = value.split() if isinstance(value, str) else value
        if isinstance(items, list):
            found.extend(str(item) for item in items if item is not None)
    slug = meta.get("slug") if isinstance(meta.get("slug"), str) else None
    when = meta.get("date")
    if isinstance(when, date) and not isinstance(when, datetime):
        when = datetime.combine(when, time())
    return JekyllPost(when if isinstance(when, datetime) else None, file.stem, slug,
                      tuple(dict.fromkeys(found)))


def jekyll_address(template: str, post: JekyllPost) -> str | None:
    """The address Jekyll made from `template` for `post` (None: it needs a date the post
    does not have, or a placeholder Inkwell does not know: jekyll_unknown)."""
    title_from = post.slug or _JEKYLL_NAME.sub("", post.stem)
    when = post.date
    values = {
        "title": _JEKYLL_PRETTY.sub("-", title_from).strip("-"),
        "slug": _JEKYLL_DEFAULT.sub("-", title_from).strip("-").lower(),
        "name": _JEKYLL_DEFAULT.sub("-", post.stem).strip("-").lower(),
        "categories": "/".join(dict.fromkeys(c.lower() for c in post.categories)),
        "output_ext": ".html",
        "collection": "posts",
    }
    if when is not None:
        values |= {name: when.strftime(fmt) for name, fmt in _JEKYLL_DATE_PARTS.items()}
        values |= {"i_month": str(when.month), "i_day": str(when.day),
                   "short_month": when.strftime("%b").upper(),
                   "short_day": when.strftime("%a").upper()}
    missing = False

    def fill(match: re.Match) -> str:
        nonlocal missing
        name = _jekyll_name(match.group(1))
        if name is None or name not in values:
            missing = True
            return ""
        # The part of the name after the placeholder (":title_" is ":title" then "_").
        return values[name] + match.group(1)[len(name):]

    address = _JEKYLL_PLACEHOLDER.sub(fill, template)
    return None if missing else "/" + address.lstrip("/")


def site_permalink(config: Path, max_size: int) -> tuple[str | None, Guess | None]:
    """The permalink template of a Jekyll site's _config.yml (None: it sets none), and a
    warning if it cannot be used (then: None)."""
    try:
        if config.stat().st_size > max_size:
            raise ValueError(f"larger than {max_size / 1e6:.0f} MB")
        data = yaml.safe_load(config.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, yaml.YAMLError) as e:  # UnicodeDecodeError is a ValueError
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        return None, Guess(None, f"the Jekyll site's {config} cannot be read ({reason}): "
                           "its posts' old addresses are made with the `date` style; pass "
                           "--jekyll-permalink to give the site's")
    permalink = data.get("permalink") if isinstance(data, dict) else None
    if permalink is None:
        return None, None
    template = jekyll_template(str(permalink))
    unknown = jekyll_unknown(template)
    if not isinstance(permalink, str) or unknown:
        why = f"the placeholder :{unknown[0]} is" if unknown else "it is not text, which is"
        return None, Guess(None, f"the permalink {permalink!r} of {config} is not used: {why} "
                           "not one Inkwell knows (the `date` style is); pass "
                           "--jekyll-permalink")
    return template, None


def pelican_slug(given: Any, title: str) -> str:
    """The slug Pelican gave a post: its `Slug:` (`given`), else its title as Pelican's
    slugify makes it (ASCII, lowercase, punctuation dropped, spaces and hyphens one hyphen)."""
    if isinstance(given, str) and given:
        return given
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[-\s]+", "-", _PELICAN_DROP.sub("", text).strip()).lower()


def old_paths(meta: dict, origin: str = "",
              jekyll: JekyllPost | None = None) -> tuple[list[str], list[Guess]]:
    """The post's addresses on the blog it came from, as its file names them, to answer with a
    301 to it: `aliases` (Hugo's), a Jekyll `permalink` (its placeholders filled in for
    `jekyll`), Hugo's `url`, Pelican's `URL:` and `Save_as:` (origin "pelican"), each as
    redirects.normal_path keeps it (a full URL: its path). What cannot be kept is said."""
    guesses: list[Guess] = []
    aliases = meta.get("aliases", [])
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, list):
        guesses.append(Guess(None, "aliases must be a list of addresses; none was kept"))
        aliases = []
    addresses = list(aliases)
    permalink = meta.get("permalink")
    if isinstance(permalink, str) and _PERMALINK_TEMPLATE.search(permalink.strip()):
        template = jekyll_template(permalink)
        unknown = jekyll_unknown(template)
        address = jekyll_address(template, jekyll) if jekyll and not unknown else None
        if address is not None:
            addresses.append(address)
        else:
            why = (f"the placeholder :{unknown[0]}, which Inkwell does not know" if unknown
                   else "placeholders of the post's date, which it does not have" if jekyll
                   else "placeholders only the old site filled in")
            guesses.append(Guess(None, f"the permalink {permalink} has {why}; to keep its "
                                 "old address answering, add the address it made to "
                                 "`aliases: [...]`"))
    elif permalink is not None:
        addresses.append(permalink)
    # Hugo's url, Pelican's URL and Save_as: paths from the site's root, with or without "/".
    keys = ("url", "save_as") if origin == "pelican" else ("url",)
    addresses.extend(_rooted(meta[key]) for key in keys if meta.get(key) is not None)
    paths: list[str] = []
    for address in addresses:
        path, guess = _old_path(address)
        if guess is not None:
            guesses.append(guess)
        if path is not None and path not in paths:
            paths.append(path)
    return paths, guesses


def default_paths(meta: dict, origin: str, jekyll: JekyllPost | None,
                  jekyll_style: str | None, pelican: list[str] | None = None) -> list[str]:
    """The addresses the old blog gave the post by default, its file naming none: a Jekyll
    post's from the site's permalink style (`jekyll_style`, a template), a Pelican post's as
    pelican_site.addresses made them (`pelican`: its site's pelicanconf.py, else Pelican's
    defaults, /{slug}.html). Perhaps never used (the old site may have had another setting),
    so never a warning: what cannot be made or kept is left out."""
    addresses: list[str | None] = []
    if origin == "jekyll" and "permalink" not in meta and jekyll and jekyll_style:
        addresses.append(jekyll_address(jekyll_style, jekyll))
    elif origin == "pelican" and pelican:
        addresses.extend(pelican)
    paths = []
    for address in addresses:
        path, guess = _old_path(address) if address else (None, None)
        if path is not None and guess is None and path not in paths:
            paths.append(path)
    return paths


def _rooted(address: Any) -> Any:
    """A path the old blog read from the site's root, with its leading slash."""
    if isinstance(address, str) and "://" not in address and not address.startswith("/"):
        return "/" + address
    return address


def _old_path(address: Any) -> tuple[str | None, Guess | None]:
    """One old address as the path redirects.normal_path keeps, and what to say about it."""
    try:
        split = urlsplit(address.strip()) if isinstance(address, str) else None
    except ValueError:  # "http://[::1": not an address at all
        split = None
    if split is None or not split.path:
        return None, Guess(None, f"the old address {address!r} is not a path such as "
                           "/2019/01/old-name/; it was not kept")
    path = normal_path(unquote(split.path))
    if _CONTROL.search(path):
        return None, Guess(None, f"the old address {address!r} holds control characters; it "
                           "was not kept")
    if len(path) > MAX_PATH_LENGTH:
        return None, Guess(None, f"the old address {address[:60]}... is longer than "
                           f"{MAX_PATH_LENGTH} characters; it was not kept")
    if not split.netloc and not split.path.startswith("/"):  # Hugo: relative to the section
        return path, Guess(None, f"the old address {address} does not start with /: it was "
                           f"taken from the site's root, as {path}; write it in full if the "
                           "old blog read it from the post's folder")
    return path, None
