"""Chart weight: the plotly.js bytes a chart post makes a browser download under gunicorn +
WhiteNoise (`make run`, no nginx), per kind of chart, against what every chart post paid before.

Three posts: a bar chart (plotly.js's basic bundle), a heatmap (cartesian) and a map (the full
bundle). For each, the page is fetched and the script js/charts.js would load is picked as it
picks it (the largest data-plotly-bundle on the page, its URL from data-plotly-bundles), then
fetched as a browser does (Accept-Encoding: gzip): the bytes on the wire are counted. "Before"
is the full plotly.min.js sent uncompressed, what a chart post cost under `make run` before the
partial bundles and `inkwell setup`'s .gz copies (the same file, fetched in the same run).
"At page load" is what the page costs a reader who only looks: nothing when every chart on it
has a static picture (content/chart_picture.py; plotly.js then loads when the reader reaches
for a chart), the bundle otherwise (it loads as the chart comes into view). 1 kB = 1000 bytes.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import urljoin

from .common import BenchError, fetch, figure, gunicorn, scratch
from .fixtures import prepare_instance

BUNDLES = ["basic", "cartesian", "full"]  # js/charts.js's order: each draws what the one before
CHARTS = {
    "bar": {"data": [{"type": "bar", "x": ["a", "b", "c"], "y": [3, 1, 2]}]},
    "heatmap": {"data": [{"type": "heatmap", "z": [[1, 2], [3, 4]]}]},
    "map": {"data": [{"type": "scattergeo", "lat": [48.86], "lon": [2.35]}]},
}


def _write_posts(folder: Path) -> None:
    folder.mkdir(parents=True)
    for slug, chart in CHARTS.items():
        (folder / f"{slug}.md").write_text(
            f"---\ntitle: A {slug} chart\ndate: 2026-01-02\n---\n\nWords.\n\n"
            f"```plotly\n{json.dumps(chart)}\n```\n",
            encoding="utf-8",
        )


def chart_script(base: str, page: str) -> str:
    """The plotly.js URL js/charts.js fetches for this page's charts."""
    urls = re.search(r"data-plotly-bundles='([^']+)'", page)
    wanted = re.findall(r'data-plotly-bundle="([^"]+)"', page)
    if urls is None or not wanted:
        raise BenchError("the page has no chart or no data-plotly-bundles")
    rank = max(BUNDLES.index(w) if w in BUNDLES else len(BUNDLES) - 1 for w in wanted)
    return urljoin(base, json.loads(html.unescape(urls[1]))[BUNDLES[rank]])


def _wire(url: str, gzip_ok: bool) -> tuple[int, str]:
    status, headers, body = fetch(url, {"Accept-Encoding": "gzip" if gzip_ok else "identity"})
    if status != 200:
        raise BenchError(f"{url} answered {status}")
    return len(body), headers.get("content-encoding", "")


def _kb(n: int) -> float:
    return round(n / 1000, 1)


def main(results_dir: Path) -> dict:
    with scratch("chart-weight") as tmp:
        _write_posts(tmp / "posts")
        env = prepare_instance(tmp, tmp / "posts")  # `inkwell setup`, as `make run` does
        with gunicorn("inkwell.wsgi:app", env, tmp) as server:
            sent: dict[str, tuple[str, int, str]] = {}
            pictured: dict[str, bool] = {}
            for slug in CHARTS:
                status, _, body = fetch(f"{server.url}/posts/{slug}/")
                if status != 200:
                    raise BenchError(f"/posts/{slug}/ answered {status}")
                page = body.decode("utf-8")
                url = chart_script(server.url, page)
                sent[slug] = (url.split("?")[0].rsplit("/", 1)[-1], *_wire(url, True))
                pictured[slug] = page.count('class="chart-picture') == page.count(
                    'class="plotly-chart"')
            full = chart_script(server.url, fetch(f"{server.url}/posts/map/")[2].decode())
            before, _ = _wire(full, False)
    ratios = {
        "before: full plotly.min.js, uncompressed": figure(_kb(before), unit="kB"),
    }
    for slug, (name, size, encoding) in sent.items():
        ratios[f"{slug} post: plotly.js on the wire"] = figure(
            _kb(size), unit="kB", note=f"{name}, {encoding or 'uncompressed'}"
        )
    for slug, (_, size, _) in sent.items():
        ratios[f"{slug} post / before"] = figure(round(size / before, 3), "<= 0.35")
    for slug, (_, size, _) in sent.items():
        ratios[f"{slug} post: plotly.js at page load"] = figure(
            0.0 if pictured[slug] else _kb(size), unit="kB",
            note="static picture, plotly.js on reach" if pictured[slug] else "drawn on view")
    return {"name": "chart_weight", "ratios": ratios,
            "raw": {"before": before, "sent": sent, "pictured": pictured}}
