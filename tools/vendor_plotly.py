"""Vendor plotly.js's partial bundles into src/inkwell/static/vendor/plotly/ (see inkwell.assets).

For the plotly.js version the installed plotly wheel carries, each bundle in
inkwell.assets.PLOTLY_BUNDLES is downloaded from the npm registry (plotly.js-<name>-dist-min),
its tarball checked against npm's sha512 `integrity`, and its minified file (licence header
kept), the package's LICENSE and a .gz of the file (what WhiteNoise sends) are written.

Run after `make lock` moves plotly: .venv/bin/python tools/vendor_plotly.py
(tests/unit/test_plotly_bundles.py fails until the vendored version matches the wheel's.)
Uses the npm registry over HTTPS (the proxy in HTTPS_PROXY, if any); no npm needed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import sys
import tarfile
import urllib.request

from inkwell.assets import (
    PLOTLY_BUNDLES,
    VENDORED_PLOTLY,
    plotly_bundle_file,
    plotly_dir,
    plotly_js_version,
)

REGISTRY = "https://registry.npmjs.org"


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _check_integrity(data: bytes, integrity: str, what: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        sys.exit(f"{what}: npm gives a {algorithm} integrity, not sha512; refusing it")
    if base64.b64encode(hashlib.sha512(data).digest()).decode() != expected:
        sys.exit(f"{what}: the tarball does not match npm's integrity {integrity}")


def vendor_bundle(name: str, version: str) -> None:
    package = f"plotly.js-{name}-dist-min"
    meta = json.loads(_get(f"{REGISTRY}/{package}/{version}"))
    tarball = _get(meta["dist"]["tarball"])
    _check_integrity(tarball, meta["dist"]["integrity"], f"{package}@{version}")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        script = tar.extractfile(f"package/plotly-{name}.min.js")
        licence = tar.extractfile("package/LICENSE")
        assert script and licence, f"{package}@{version} lacks its script or LICENSE"
        script_bytes, licence_bytes = script.read(), licence.read()
    target = plotly_bundle_file(name)
    target.write_bytes(script_bytes)
    # mtime=0: the same bundle always gives the same .gz, so a re-run changes nothing in git.
    target.with_name(target.name + ".gz").write_bytes(
        gzip.compress(script_bytes, compresslevel=9, mtime=0)
    )
    (VENDORED_PLOTLY / "LICENSE").write_bytes(licence_bytes)
    found = plotly_js_version(target)
    if found != version:
        sys.exit(f"{package}@{version}'s file says it is plotly.js {found}")
    print(f"{target.name}: {len(script_bytes):,} bytes, plotly.js {version} ({package})")


def main() -> None:
    version = plotly_js_version(plotly_dir() / "plotly.min.js")
    VENDORED_PLOTLY.mkdir(parents=True, exist_ok=True)
    for old in VENDORED_PLOTLY.glob("plotly-*.min.js*"):
        old.unlink()
    for name in PLOTLY_BUNDLES:
        vendor_bundle(name, version)


if __name__ == "__main__":
    main()
