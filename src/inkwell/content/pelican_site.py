"""Where a Pelican site put its posts: the address settings of its pelicanconf.py.

Pelican writes an article to ARTICLE_SAVE_AS and links to it as ARTICLE_URL (PAGE_SAVE_AS and
PAGE_URL for pages), templates such as "{date:%Y}/{date:%m}/{slug}/" filled in per post. A site
that set them has its old links there, not at the default {slug}.html: the importer makes
both addresses redirect to the imported post (foreign.default_paths).

pelicanconf.py is Python: it is read, never run. Settings assigned a plain string at its top
level are taken; one computed some other way is said (a Guess) and Pelican's default is used.
"""

from __future__ import annotations

import ast
import string
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .foreign import Guess, pelican_slug

CONFIG_NAME = "pelicanconf.py"
# Pelican's defaults for the settings read here (pelican/settings.py).
DEFAULTS = {
    "ARTICLE_URL": "{slug}.html",
    "ARTICLE_SAVE_AS": "{slug}.html",
    "PAGE_URL": "pages/{slug}.html",
    "PAGE_SAVE_AS": "pages/{slug}.html",
    "PATH": ".",
    "DEFAULT_CATEGORY": "misc",
    "DEFAULT_LANG": "en",
    "AUTHOR": "",
}
_TEMPLATES = ("ARTICLE_URL", "ARTICLE_SAVE_AS", "PAGE_URL", "PAGE_SAVE_AS")
# What an address template may name: {date} with a strftime format, the others as they are.
_FIELDS = {"slug", "date", "category", "lang", "author"}


@dataclass(frozen=True)
class PelicanSite:
    folder: Path  # where pelicanconf.py is
    settings: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))

    @property
    def content(self) -> Path:
        return (self.folder / self.settings["PATH"]).resolve()


def read_config(config: Path, max_size: int) -> tuple[PelicanSite, list[Guess]]:
    """The site of a pelicanconf.py, and what could not be taken from it."""
    site = PelicanSite(config.parent)
    try:
        if config.stat().st_size > max_size:
            raise ValueError(f"larger than {max_size / 1e6:.0f} MB")
        tree = ast.parse(config.read_text(encoding="utf-8-sig"), str(config))
    except (OSError, ValueError, SyntaxError) as e:  # UnicodeDecodeError is a ValueError
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        return site, [Guess(None, f"the Pelican site's {config} cannot be read ({reason}): its "
                            "posts' old addresses are Pelican's defaults ({slug}.html)")]
    guesses = []
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id in DEFAULTS):
            continue
        name = node.targets[0].id
        value = node.value.value if isinstance(node.value, ast.Constant) else None
        if isinstance(value, str) and (name not in _TEMPLATES or template_fields(value)):
            site.settings[name] = value
        else:
            # The line is the config's, not the post's that the warning is listed under.
            guesses.append(Guess(None, f"{name} in {config} (line {node.lineno}) is not text "
                                 "Inkwell can fill in (a string naming only {slug}, "
                                 "{date:...}, {category}, {lang}, {author}): Pelican's "
                                 f"default {DEFAULTS[name]!r} is used"))
    return site, guesses


def template_fields(template: str) -> set[str] | None:
    """The fields an address template names; None if it is not one Inkwell can fill in."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return None
    names = set()
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in _FIELDS or conversion or (spec and name != "date"):
            return None
        names.add(name)
    return names


def addresses(site: PelicanSite, meta: dict, kind: str, given_slug: Any,
              file: Path) -> list[str]:
    """The post's addresses on the old site, its URL and where it was saved, as Pelican made
    them: the settings' templates filled in with the post's slug, date, category (its
    `Category:`, else the folder it is in below the content folder, else DEFAULT_CATEGORY),
    language and author. A template the post has no value for is left out."""
    prefix = "PAGE" if kind == "page" else "ARTICLE"
    slug = pelican_slug(given_slug, meta.get("title") or "")
    when = meta.get("date")
    if isinstance(when, date) and not isinstance(when, datetime):
        when = datetime.combine(when, datetime.min.time())
    values = {
        "slug": slug,
        "date": when if isinstance(when, datetime) else None,
        "category": pelican_slug(None, _category(site, meta, file)),
        "lang": str(meta.get("lang") or site.settings["DEFAULT_LANG"]),
        "author": pelican_slug(None, str(meta.get("author") or site.settings["AUTHOR"])),
    }
    found = []
    for template in (site.settings[f"{prefix}_URL"], site.settings[f"{prefix}_SAVE_AS"]):
        names = template_fields(template) or set()
        if not slug or any(not values[name] for name in names):
            continue
        try:
            address = "/" + template.format_map(values).lstrip("/")
        except (ValueError, KeyError):  # a strftime format Python refuses
            continue
        if address not in found:
            found.append(address)
    return found


def _category(site: PelicanSite, meta: dict, file: Path) -> str:
    given = meta.get("category")
    if isinstance(given, str) and given.strip():
        return given
    folder = file.parent.resolve()
    if folder != site.content and folder.is_relative_to(site.content):
        return folder.name  # Pelican's USE_FOLDER_AS_CATEGORY, on by default
    return site.settings["DEFAULT_CATEGORY"]
