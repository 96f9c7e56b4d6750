"""Static files: fingerprinted URLs, WhiteNoise when no nginx is in front, plotly.js bundles.

Every static URL carries `?v=<content hash>`, so nginx and browsers may cache it for a year
(`immutable`): a changed file gets a new URL.

plotly.js comes in three sizes. A chart whose traces are all in plotly.js's "basic" partial
bundle (scatter, bar, pie: 1.2 MB, 0.40 MB gzipped) or its "cartesian" one (adds heatmap,
histogram, box, violin, contour, image...: 1.5 MB, 0.50 MB gzipped) gets that bundle; anything
else (maps, 3D, WebGL, sankey...) the full plotly.min.js of the plotly wheel (4.8 MB, 1.47 MB
gzipped). The partial bundles are vendored in static/vendor/plotly/ (npm's minified dist
packages, licence header kept, with their .gz), re-made by tools/vendor_plotly.py for the
plotly.js version the plotly wheel carries (a test fails when the two differ). Vendored rather
than fetched at install time: no install path (make run, Docker, a PaaS build, the Debian
server) needs npm or the network, and they are package data like the rest of static/.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

from flask import Flask, url_for
from whitenoise import WhiteNoise

STATIC_MAX_AGE = 365 * 24 * 3600
STATIC_DIR = Path(__file__).parent / "static"

# plotly.js's partial bundles, smallest first, with the trace types each draws (the dist
# package's README; tests/unit/test_plotly_bundles.py checks them against the files).
PLOTLY_BUNDLES: dict[str, frozenset[str]] = {
    "basic": frozenset({"bar", "pie", "scatter"}),
    "cartesian": frozenset({
        "bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour",
        "image", "pie", "scatter", "scatterternary", "violin",
    }),
}  # fmt: skip
FULL_PLOTLY = "full"
VENDORED_PLOTLY = STATIC_DIR / "vendor" / "plotly"
_PLOTLY_JS_VERSION_RE = re.compile(rb"plotly\.js(?: \([\w -]+\))? v(\d[\w.+-]*)")


def plotly_bundle_for(figure: dict) -> str:
    """The smallest plotly.js bundle that draws every trace of a figure: "basic", "cartesian"
    or "full". A trace without a type is a scatter (plotly's default); a type that is not a
    string (plotly would refuse it) or that no partial bundle holds gets the full one."""
    types: set[str] = set()
    for trace in figure.get("data") or []:
        kind = trace.get("type", "scatter") if isinstance(trace, dict) else "scatter"
        if not isinstance(kind, str):
            return FULL_PLOTLY
        types.add(kind)
    for name, traces in PLOTLY_BUNDLES.items():
        if types <= traces:
            return name
    return FULL_PLOTLY


def plotly_bundle_file(name: str) -> Path:
    """The file of a partial bundle (PLOTLY_BUNDLES) in the vendored folder."""
    return VENDORED_PLOTLY / f"plotly-{name}.min.js"


def plotly_js_version(path: Path) -> str:
    """The plotly.js version a bundle says it is in its licence header ("plotly.js v4.1.1",
    "plotly.js (basic - minified) v4.1.1")."""
    with open(path, "rb") as f:
        found = _PLOTLY_JS_VERSION_RE.search(f.read(400))
    if not found:
        raise ValueError(f"{path} does not start with plotly.js's header")
    return found.group(1).decode()


# The Docker image keeps plotly.min.js (and its .gz) and plotly's version here, made by
# bundle_plotly() at build time, instead of the 65 MB plotly package it comes from.
BUNDLED_PLOTLY = Path(sys.prefix) / "share" / "inkwell-plotly"


@cache
def plotly_dir() -> Path:
    """The folder holding plotly.min.js: the image's copy, else the installed plotly package's."""
    if (BUNDLED_PLOTLY / "plotly.min.js").is_file():
        return BUNDLED_PLOTLY
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    assert spec and spec.origin, "the plotly package is a dependency of inkwell"
    return Path(spec.origin).parent / "package_data"


@cache
def plotly_version() -> str:
    bundled = BUNDLED_PLOTLY / "version"
    return bundled.read_text().strip() if bundled.is_file() else metadata.version("plotly")


@cache
def plotly_url_prefix() -> str:
    """Versioned, so a new plotly release is a new URL."""
    return f"/static/vendor/plotly-{plotly_version()}/"


def bundle_plotly() -> Path:
    """Copy plotly.min.js and plotly's version out of the plotly package into BUNDLED_PLOTLY,
    so an image can leave the package out (Dockerfile; `assets compress` runs after it)."""
    BUNDLED_PLOTLY.mkdir(parents=True, exist_ok=True)
    shutil.copy2(plotly_dir() / "plotly.min.js", BUNDLED_PLOTLY / "plotly.min.js")
    (BUNDLED_PLOTLY / "version").write_text(metadata.version("plotly") + "\n")
    return BUNDLED_PLOTLY


def file_hash(path: str | Path) -> str:
    """The fingerprint of a static file's content: its URL's ?v=."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def register(app: Flask) -> None:
    static_folder = app.static_folder
    assert static_folder
    hashes: dict[str, str] = {}

    @app.url_defaults
    def fingerprint_static(endpoint: str, values: dict) -> None:
        if endpoint != "static" or "filename" not in values:
            return
        filename = values["filename"]
        if filename not in hashes:
            full = os.path.join(static_folder, filename)
            hashes[filename] = file_hash(full) if os.path.isfile(full) else "0"
        values["v"] = hashes[filename]

    full_url = plotly_url_prefix() + "plotly.min.js"

    def plotly_bundle_urls() -> dict[str, str]:
        """Each bundle's URL by name, for js/charts.js (data-plotly-bundles on its script)."""
        urls = {
            name: url_for("static", filename=f"vendor/plotly/plotly-{name}.min.js")
            for name in PLOTLY_BUNDLES
        }
        return {**urls, FULL_PLOTLY: full_url}

    app.jinja_env.globals["plotly_bundle_urls"] = plotly_bundle_urls

    # Files are fingerprinted by URL, so a year of caching is safe; nginx serves them in the stack.
    served = _FreshWhiteNoise(
        app.wsgi_app,
        root=static_folder,
        prefix="static/",
        max_age=STATIC_MAX_AGE,
        immutable_file_test=lambda _path, _url: True,
    )
    # plotly.min.js only: the wheel's package_data folder also holds datasets and a widget bundle
    # that no page uses. WhiteNoise finds plotly.min.js.gz beside it (compress_static) itself.
    served.add_file_to_dictionary(
        plotly_url_prefix() + "plotly.min.js", str(plotly_dir() / "plotly.min.js")
    )
    app.wsgi_app = served


class _FreshWhiteNoise(WhiteNoise):
    """WhiteNoise that leaves out a .gz older than its file: a static file edited since
    `inkwell setup` last compressed it goes out whole rather than as its old content. The
    vendored plotly.js bundles are trusted: their .gz is committed with them (a checkout may
    write it a moment before the file) and tests/unit/test_plotly_bundles.py checks it."""

    def get_static_file(self, path, url, stat_cache=None):  # type: ignore[no-untyped-def]
        static_file = super().get_static_file(path, url, stat_cache=stat_cache)
        if Path(path).parent == VENDORED_PLOTLY:
            return static_file
        mtime = os.stat(path).st_mtime
        static_file.alternatives = [
            (accepts, alternative, headers)
            for accepts, alternative, headers in static_file.alternatives
            if alternative == path or os.stat(alternative).st_mtime >= mtime
        ]
        return static_file


def compress_static(folders: list[Path] | None = None) -> list[Path]:
    """Write a .gz beside every compressible static file (and plotly.min.js) that has none or a
    stale one (its content is checked, not its date); return the ones written.

    WhiteNoise then answers gzip-capable clients with the smaller file, so setups without nginx
    (`make run`, a PaaS, a bare container) send plotly.js's full bundle as 1.47 MB instead of
    4.8 MB. `inkwell setup` runs it at every start, the Dockerfile at build time. gzip only:
    brotli would save another ~15% but needs the brotli package, which Inkwell does not use.
    """
    from whitenoise.compress import Compressor

    compressor = Compressor(use_brotli=False, quiet=True)
    if folders is None:
        folders = [STATIC_DIR]
        files = [plotly_dir() / "plotly.min.js"]
    else:
        files = []
    for folder in folders:
        files += [p for p in sorted(folder.rglob("*")) if p.is_file()]
    written: list[Path] = []
    for path in files:
        if not compressor.should_compress(str(path)):
            continue
        data = path.read_bytes()
        target = path.with_name(path.name + ".gz")
        if target.is_file() and _gunzip(target) == data:
            if target.stat().st_mtime < path.stat().st_mtime:
                os.utime(target)  # same content, older date: _FreshWhiteNoise would skip it
            continue
        compressed = gzip.compress(data, compresslevel=9, mtime=0)
        if len(compressed) >= len(data) * 0.95:
            continue  # not worth a second file (WhiteNoise's own rule)
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        partial.write_bytes(compressed)
        os.replace(partial, target)  # a server starting at the same time never reads half
        written.append(target)
    return written


def _gunzip(path: Path) -> bytes | None:
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError):
        return None
