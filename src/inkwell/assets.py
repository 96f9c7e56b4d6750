"""Static files: fingerprinted URLs, WhiteNoise when no nginx is in front, plotly.js from its wheel.

Every static URL carries `?v=<content hash>`, so nginx and browsers may cache it for a year
(`immutable`): a changed file gets a new URL.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

from flask import Flask

STATIC_MAX_AGE = 365 * 24 * 3600


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

    app.jinja_env.globals["plotly_js_url"] = plotly_url_prefix() + "plotly.min.js"

    from whitenoise import WhiteNoise

    # Files are fingerprinted by URL, so a year of caching is safe; nginx serves them in the stack.
    served = WhiteNoise(
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


def compress_static(folders: list[Path] | None = None) -> list[Path]:
    """Write a .gz beside every compressible static file (and plotly.min.js); return them.

    WhiteNoise then answers gzip-capable clients with the smaller file, so setups without nginx
    (a PaaS, a bare container) send plotly.js as ~1.5 MB instead of ~4.8 MB. Run it at build
    time: a .gz written before a file changes would be served stale.
    """
    from whitenoise.compress import Compressor

    compressor = Compressor(use_brotli=False, quiet=True)
    if folders is None:
        folders = [Path(__file__).parent / "static"]
        files = [plotly_dir() / "plotly.min.js"]
    else:
        files = []
    for folder in folders:
        files += [p for p in sorted(folder.rglob("*")) if p.is_file()]
    written: list[Path] = []
    for path in files:
        if compressor.should_compress(str(path)):
            written += [Path(name) for name in compressor.compress(str(path))]
    return written
