"""The old addresses an import keeps (Hugo aliases, Jekyll permalinks, ...: foreign.old_paths;
a Jekyll or Pelican post's default address: foreign.default_paths), as path redirects;
redirects.py answers them.

Each import decides, before it writes anything, which addresses its files keep:
- an address the site answers itself is refused: one under the site's own folders (/admin/,
  /static/, /media/, /tags/, /archive/, ...), the home page, a route, or a post's or page's own
  URL, whatever its status, also one this import makes;
- an address two files claim goes to the first file in path order (files are read sorted);
  one that already redirects to a post no file of this import makes stays with that post (but
  a content folder owns every post a file made: a removed file's addresses are let go).
Each refusal is a warning on its file (with --strict, the file fails). A default address (the
one a Jekyll or Pelican site gave a post its file names no address for: PostSource.
default_paths) follows the same rules, after every file's own addresses, and is left out
without a word when it cannot be kept (it may never have existed). Then the rows of the
posts the import's files made are made to match the files: an address taken out of a file is
deleted, a new one added. Deleting a post deletes its rows (ON DELETE CASCADE).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect

from ..extensions import db
from ..models import PathRedirect, Post
from ..publishing import reserved_page_slugs
from ..redirects import normal_path
from .foreign import Guess
from .sources import PostSource


def _own_url(kind: str, slug: str) -> str:
    return f"/posts/{slug}/" if kind == "post" else f"/{slug}/"


class OldAddresses:
    """What the files of one import may keep, given the posts there are (`posts`) and those
    its files make (`sources`, read and checked). One query: every path redirect."""

    def __init__(self, posts: list[Post], sources: list[PostSource], owned: bool) -> None:
        self.rows = {row.path: row for row in db.session.scalars(select(PathRedirect))}
        keys = {s.key for s in sources}
        existing = {(p.kind, p.slug) for p in posts}
        # A content folder's file that changed its slug takes its post along (as _Import
        # matches it: by path, when no post has the new slug and no file the old one): the old
        # URL is free, to be one of its old addresses.
        renamed = {s.relative: s.key for s in sources if s.key not in existing}
        vacated = {
            (p.kind, p.slug)
            for p in posts
            if owned and p.source_path in renamed and (p.kind, p.slug) not in keys
        }
        self.keys = (existing - vacated) | keys
        # The posts whose addresses this import decides: those its files make (_Import matches
        # them by slug); a content folder's files own every post a file made, also those whose
        # file is gone (unpublished: their addresses are let go).
        self.decided = {p.id for p in posts if (p.kind, p.slug) in keys or owned and p.source_path}
        self.owned = owned
        self.url_of = {p.id: _own_url(p.kind, p.slug) for p in posts}
        self.taken: dict[str, PostSource] = {}
        self.routes = current_app.url_map.bind("localhost")
        self.reserved = reserved_page_slugs()

    def check(self, source: PostSource) -> tuple[list[str], list[Guess]]:
        """The addresses `source` may keep, and a warning for each it may not."""
        kept: list[str] = []
        refused: list[Guess] = []
        own = normal_path(_own_url(*source.key))
        for path in source.old_paths:
            row = self.rows.get(path)
            if path == own:
                continue  # its own address: nothing to redirect
            if self._site_answers(path):
                refused.append(
                    Guess(
                        None,
                        f"the old address {path} is an address of this site "
                        "itself; it cannot redirect to this post",
                    )
                )
            elif path in self.taken:
                refused.append(
                    Guess(
                        None,
                        f"the old address {path} is also one of "
                        f"{self.taken[path].relative}, which keeps it (the first "
                        "file in path order does)",
                    )
                )
            elif row is not None and row.post_id not in self.decided:
                refused.append(
                    Guess(
                        None,
                        f"the old address {path} already redirects to "
                        f"{self.url_of.get(row.post_id, 'another post')}, which "
                        "keeps it",
                    )
                )
            else:
                kept.append(path)
        return kept, refused

    def take(self, source: PostSource, kept: list[str]) -> None:
        """`source` keeps `kept` (from check): no later file may have them."""
        source.old_paths = kept
        self.taken.update(dict.fromkeys(kept, source))

    def take_defaults(self, source: PostSource) -> None:
        """`source` keeps those of its default addresses that no rule refuses (check), after
        every file has taken its own addresses: those go first."""
        for path in source.default_paths:
            if path in self.taken:  # this file's own address, or an earlier one's
                continue
            own = normal_path(_own_url(*source.key))
            row = self.rows.get(path)
            if path == own or self._site_answers(path) or (
                    row is not None and row.post_id not in self.decided):
                continue
            source.old_paths.append(path)
            self.taken[path] = source

    def write(self, made: list[tuple[Post, PostSource]]) -> None:
        """Rows for the addresses of the posts `made` (written or unchanged, flushed): each
        post's rows as its file says, changed in place (an address moved to another post is
        updated, never deleted and added again, which the unique index would refuse)."""
        wanted = {path: post.id for post, source in made for path in source.old_paths}
        ids = {post.id for post, _ in made} | (self.decided if self.owned else set())
        for path, row in self.rows.items():
            if path in wanted:
                row.post_id = wanted[path]
            elif row.post_id in ids:
                db.session.delete(row)
        db.session.add_all(
            PathRedirect(path=path, post_id=post_id)
            for path, post_id in wanted.items()
            if path not in self.rows
        )

    def _site_answers(self, path: str) -> bool:
        """Whether `path` is under a folder of the site's own (/admin/, /static/, /tags/, ...,
        but /posts/<old>/ is an old post's address), or a route of the site (a post's or
        page's own URL included) answers it or the same address with a slash (both are one old
        address: redirects.normal_path)."""
        first = path.strip("/").split("/")[0]
        if first != "posts" and first in self.reserved:
            return True
        for candidate in dict.fromkeys((path, path.rstrip("/") + "/")):
            try:
                endpoint, args = self.routes.match(candidate, method="GET")
            except (NotFound, RequestRedirect):  # a redirect: to the form with a slash, tried next
                continue
            except HTTPException:  # a method not allowed: a route all the same
                return True
            if endpoint == "blog.post":
                if ("post", args["slug"]) in self.keys:
                    return True
            elif (
                endpoint != "blog.page"
                or ("page", args["slug"]) in self.keys
                or args["slug"] in self.reserved
            ):
                return True
        return False
