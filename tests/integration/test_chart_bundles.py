"""A chart post over real gunicorn + WhiteNoise (`make run`, no nginx): the page names the small
plotly.js bundle its charts need, and every script goes out gzipped; the feed says a chart is
there instead of an empty box."""

from __future__ import annotations

import gzip
import html
import json
import re
from urllib.parse import urljoin

import feedparser

from inkwell.assets import plotly_bundle_file, plotly_dir

from .test_gunicorn import fetch

HEATMAP = {"data": [{"type": "heatmap", "z": [[1, 2], [3, 4]]}], "layout": {"title": "Heat"}}
GEO = {"data": [{"type": "scattergeo", "lat": [48.8], "lon": [2.3]}], "layout": {}}


def _post(slug: str, figure: dict) -> str:
    return (f"---\ntitle: {slug}\ndate: 2026-01-02\n---\n\nA chart.\n\n"
            f"```plotly\n{json.dumps(figure)}\n```\n")


def _bundle_urls(page: str) -> dict[str, str]:
    found = re.search(r"data-plotly-bundles='([^']+)'", page)
    assert found, "the chart script names no bundles"
    return json.loads(html.unescape(found[1]))


def _chart_bundles(page: str) -> set[str]:
    return set(re.findall(r'data-plotly-bundle="([^"]+)"', page))


def test_chart_posts_name_their_bundle_and_gunicorn_sends_it_gzipped(
    live_server, runner, import_posts
):
    assert runner.invoke(args=["setup"]).exit_code == 0
    import_posts({"heat.md": _post("heat", HEATMAP), "geo.md": _post("geo", GEO)})
    with live_server() as base:
        pages = {slug: fetch(f"{base}/posts/{slug}/")[2].decode() for slug in
                 ("welcome", "heat", "geo")}
        assert _chart_bundles(pages["welcome"]) == {"basic"}  # one bar chart
        assert _chart_bundles(pages["heat"]) == {"cartesian"}
        assert _chart_bundles(pages["geo"]) == {"full"}
        urls = _bundle_urls(pages["welcome"])
        assert "plotly.min.js" not in pages["welcome"].replace(urls["full"], "")
        expected = {
            "basic": plotly_bundle_file("basic").read_bytes(),
            "cartesian": plotly_bundle_file("cartesian").read_bytes(),
            "full": (plotly_dir() / "plotly.min.js").read_bytes(),
        }
        for name, url in urls.items():
            status, headers, body = fetch(urljoin(base, url), {"Accept-Encoding": "gzip"})
            assert status == 200, url
            assert headers.get("Content-Encoding") == "gzip", url
            assert "javascript" in headers["Content-Type"]
            assert gzip.decompress(body) == expected[name], url
            # A client that takes no gzip still gets the script.
            status, headers, body = fetch(urljoin(base, url))
            assert "Content-Encoding" not in headers and body == expected[name]
        charts_js = re.search(r'<script defer src="([^"]*charts\.js[^"]*)"', pages["welcome"])[1]
        _, headers, _ = fetch(urljoin(base, charts_js), {"Accept-Encoding": "gzip"})
        assert headers.get("Content-Encoding") == "gzip"


def test_the_feed_says_there_is_a_chart_and_links_to_it(live_server, runner):
    assert runner.invoke(args=["setup"]).exit_code == 0
    with live_server() as base:
        feed = feedparser.parse(fetch(base + "/feed.xml")[2])
    entry = next(e for e in feed.entries if e.title == "Welcome to Inkwell")
    content = entry.content[0].value
    caption = re.search(r'<figcaption class="chart-fallback">(.*?)</figcaption>', content)
    assert caption and "Interactive chart: Posts per year" in caption[1]
    # The static picture is for the page: a feed reader would drop its styles and SVG and
    # leave its labels lying loose.
    assert "chart-picture" not in content and "<svg" not in content
    # feedparser resolves the link against the entry's xml:base: the chart in the post.
    link = re.search(r'href="([^"]+)"', caption[1])[1]
    assert link.startswith(entry.link + "#chart")
