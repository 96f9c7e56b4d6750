"""Page weight: every byte the home page and a post page make a browser fetch, and from where.

A fresh instance (welcome post + 12 generated posts, so the home page is a full page of 10) runs
under gunicorn. For `/` and `/posts/welcome/` the HTML is parsed for stylesheets, scripts, fonts,
icons and images (link rel=stylesheet/icon/preload, script src, img/source src and srcset, and
`url(...)` / `@import` inside every fetched stylesheet), and each is fetched from the same server.
Goals: home <= 40 kB uncompressed (images and plotly.js aside), gzip wire size home <= 15 kB and
post <= 25 kB, no third-party request, and a post loads nothing beyond the home page's set except
what its content needs (code.css for highlighted code, plotly.js + charts.js for a chart, images).
1 kB = 1000 bytes; gzip is level 6 on text types, raw size for already-compressed ones.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from .common import BenchError, fetch, figure, gunicorn, scratch
from .fixtures import POST_PATH, generate_posts, prepare_instance

HOME = "/"
LINK_RELS = {
    "stylesheet",
    "icon",
    "shortcut",
    "apple-touch-icon",
    "mask-icon",
    "preload",
    "modulepreload",
    "manifest",
}
TEXT_TYPES = (
    "text/",
    "application/javascript",
    "application/json",
    "image/svg",
    "application/xml",
    "application/manifest",
)
IMAGE_EXT = re.compile(r"\.(png|jpe?g|gif|webp|avif|svg|ico|bmp)$", re.IGNORECASE)
FONT_EXT = re.compile(r"\.(woff2?|ttf|otf|eot)$", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)""")


@dataclass
class Resource:
    url: str
    kind: str  # stylesheet, script, font, icon, image, other
    status: int = 0
    bytes: int = 0
    gzip_bytes: int = 0
    content_type: str = ""
    served_encoding: str = ""  # what the app sends to a client that accepts gzip

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def is_plotly(self) -> bool:
        return "plotly" in self.path.rsplit("/", 1)[-1] or "/vendor/plotly" in self.path

    @property
    def is_content(self) -> bool:
        """Loaded because of what a post contains, not because of the page around it."""
        name = self.path.rsplit("/", 1)[-1]
        return self.is_plotly or name in ("code.css", "charts.js") or self.kind == "image"


class _Refs(HTMLParser):
    """Collects (url, kind) of everything a browser would fetch to show the page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.inline_css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "link" and a.get("href"):
            rels = set(a.get("rel", "").lower().split())
            if rels & LINK_RELS:
                kind = (
                    "stylesheet"
                    if "stylesheet" in rels
                    else "icon"
                    if rels & {"icon", "shortcut", "apple-touch-icon", "mask-icon"}
                    else a.get("as", "other")
                )
                self.refs.append((a["href"], kind))
        elif tag == "script" and a.get("src"):
            self.refs.append((a["src"], "script"))
        elif tag in ("img", "source", "video", "audio", "iframe", "embed", "input"):
            for key in ("src", "poster"):
                if a.get(key):
                    self.refs.append((a[key], "image" if tag != "iframe" else "other"))
            for candidate in a.get("srcset", "").split(","):
                if candidate.strip():
                    self.refs.append((candidate.split()[0], "image"))
        elif tag == "object" and a.get("data"):
            self.refs.append((a["data"], "other"))
        if a.get("style"):
            self.inline_css.append(a["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.inline_css.append(data)


def _kind_from_url(url: str, default: str) -> str:
    if FONT_EXT.search(urlsplit(url).path):
        return "font"
    if IMAGE_EXT.search(urlsplit(url).path):
        return "image"
    return default


def _css_refs(css: str) -> list[tuple[str, str]]:
    refs = [(m.group(1), "stylesheet") for m in CSS_IMPORT.finditer(css)]
    imported = {url for url, _ in refs}
    refs += [
        (m.group(2), _kind_from_url(m.group(2), "other"))
        for m in CSS_URL.finditer(css)
        if m.group(2) not in imported
    ]
    return [(url, kind) for url, kind in refs if not url.startswith(("data:", "#"))]


def _compressed_size(body: bytes, content_type: str) -> int:
    if content_type.startswith(TEXT_TYPES):
        return len(gzip.compress(body, compresslevel=6, mtime=0))
    return len(body)


def _load(resource: Resource) -> bytes:
    """Fetch a resource as a browser would (accepting gzip), fill in its sizes and how the app
    sent it; return its body, uncompressed."""
    resource.status, headers, body = fetch(resource.url, {"Accept-Encoding": "gzip"})
    resource.content_type = headers.get("content-type", "")
    resource.served_encoding = headers.get("content-encoding", "")
    if resource.served_encoding == "gzip":
        body = gzip.decompress(body)
    elif resource.served_encoding not in ("", "identity"):
        raise BenchError(f"{resource.url} came as {resource.served_encoding}, not gzip")
    resource.bytes = len(body)
    resource.gzip_bytes = _compressed_size(body, resource.content_type)
    return body


def page_resources(base: str, path: str) -> tuple[Resource, list[Resource]]:
    """The page itself and every resource it loads (stylesheet imports followed), fetched."""
    page = Resource(base + path, "html")
    html = _load(page)
    if page.status != 200:
        raise BenchError(f"GET {path} answered {page.status}")
    parser = _Refs()
    parser.feed(html.decode("utf-8", errors="replace"))
    queue = [
        (urljoin(page.url, u), _kind_from_url(u, k) if k == "other" else k) for u, k in parser.refs
    ]
    for css in parser.inline_css:
        queue += [(urljoin(page.url, u), k) for u, k in _css_refs(css)]
    found: dict[str, Resource] = {}
    server = urlsplit(base).netloc
    while queue:
        url, kind = queue.pop(0)
        if url in found:
            continue
        resource = found[url] = Resource(url, kind)
        if urlsplit(url).netloc != server:
            continue  # third party: counted, never fetched
        body = _load(resource)
        if resource.status == 200 and kind == "stylesheet":
            css = body.decode("utf-8", errors="replace")
            queue += [(urljoin(url, u), k) for u, k in _css_refs(css)]
    return page, list(found.values())


def _weigh(page: Resource, resources: list[Resource], server: str) -> dict:
    counted = [page] + [r for r in resources if r.kind != "image" and not r.is_plotly]
    return {
        "bytes": sum(r.bytes for r in counted),
        "gzip_bytes": sum(r.gzip_bytes for r in counted),
        "third_party": [r.url for r in resources if urlsplit(r.url).netloc != server],
        "broken": [
            f"{r.path} ({r.status})"
            for r in resources
            if urlsplit(r.url).netloc == server and r.status != 200
        ],
        "resources": [r.__dict__ | {"content_related": r.is_content} for r in [page, *resources]],
    }


def _kb(n: int) -> float:
    return round(n / 1000, 1)


def main(results_dir: Path) -> dict:
    with scratch("page-weight") as tmp:
        generate_posts(tmp / "posts", 12)
        env = prepare_instance(tmp, tmp / "posts")
        with gunicorn("inkwell.wsgi:app", env, tmp) as server:
            home_page, home_res = page_resources(server.url, HOME)
            post_page, post_res = page_resources(server.url, POST_PATH)
            netloc = urlsplit(server.url).netloc
            home, post = _weigh(home_page, home_res, netloc), _weigh(post_page, post_res, netloc)

    home_paths = {r.path for r in home_res}
    extras = [r for r in post_res if r.path not in home_paths]
    not_content = [r.path for r in extras if not r.is_content]
    code_css = [r for r in post_res if r.path.endswith("/code.css")]
    plotly = [r for r in post_res if r.is_plotly]
    text = {
        r.path: r
        for r in [home_page, post_page, *home_res, *post_res]
        if r.status == 200 and r.content_type.startswith(TEXT_TYPES)
    }
    compressed = [path for path, r in text.items() if r.served_encoding in ("gzip", "br")]
    return {
        "name": "page_weight",
        "ratios": {
            "home: HTML + CSS + JS + fonts + icons": figure(_kb(home["bytes"]), "<= 40", "kB"),
            "home: gzip wire size": figure(_kb(home["gzip_bytes"]), "<= 15", "kB"),
            "post: HTML + CSS + JS + fonts + icons": figure(_kb(post["bytes"]), unit="kB"),
            "post: gzip wire size": figure(_kb(post["gzip_bytes"]), "<= 25", "kB"),
            "post: loads beyond home, not content": figure(
                len(not_content), "== 0", note=", ".join(not_content)
            ),
            "post: code.css (content)": figure(
                _kb(code_css[0].bytes) if code_css else None,
                unit="kB",
                note="" if code_css else "not loaded",
            ),
            "post: plotly.js, gzip (chart pages only)": figure(
                _kb(sum(r.gzip_bytes for r in plotly)) if plotly else None, unit="kB"
            ),
            "third-party requests (home + post)": figure(
                len(home["third_party"]) + len(post["third_party"]), "== 0"
            ),
            "broken resource links (home + post)": figure(
                len(home["broken"]) + len(post["broken"]),
                "== 0",
                note=", ".join(sorted(set(home["broken"] + post["broken"]))),
            ),
            "text files the app itself sends gzipped": figure(
                len(compressed), note=f"of {len(text)}; nginx compresses in the stack"
            ),
        },
        "raw": {
            "home": home,
            "post": post,
            "post_extras": [r.path for r in extras],
        },
    }
