"""Which plotly.js bundle a chart gets, the vendored partial bundles, their compressed copies."""

from __future__ import annotations

import gzip
import html
import json
import os
import re
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_output
from werkzeug.test import Client

from inkwell.assets import (
    PLOTLY_BUNDLES,
    VENDORED_PLOTLY,
    _FreshWhiteNoise,
    compress_static,
    plotly_bundle_file,
    plotly_bundle_for,
    plotly_dir,
    plotly_js_version,
)
from inkwell.content.notebooks import read_notebook
from inkwell.content.render import render_markdown

from ..notebook_fixtures import plain_notebook


def chart(*traces: dict, layout: dict | None = None) -> str:
    figure = {"data": list(traces), "layout": layout or {}}
    return f"```plotly\n{json.dumps(figure)}\n```\n"


def bundles_in(rendered_html: str) -> list[str]:
    return re.findall(r'data-plotly-bundle="([^"]*)"', rendered_html)


@pytest.mark.parametrize(
    ("traces", "bundle"),
    [
        ([{"y": [1, 2]}], "basic"),  # no type: plotly draws a scatter
        ([{"type": "bar"}, {"type": "scatter"}, {"type": "pie"}], "basic"),
        ([], "basic"),
        ([{"type": "heatmap"}], "cartesian"),
        ([{"type": "bar"}, {"type": "histogram"}, {"type": "box"}], "cartesian"),
        ([{"type": "scattergeo"}], "full"),
        ([{"type": "bar"}, {"type": "surface"}], "full"),
        ([{"type": "scattergl"}], "full"),
        ([{"type": ["bar"]}], "full"),  # not a type plotly knows: the full bundle says so
    ],
)
def test_a_figure_gets_the_smallest_bundle_that_draws_all_its_traces(traces, bundle):
    assert plotly_bundle_for({"data": traces}) == bundle


def test_a_rendered_chart_names_its_bundle_and_the_sanitizer_keeps_it():
    rendered = render_markdown(
        chart({"type": "bar", "y": [1]})
        + "\n"
        + chart({"type": "heatmap", "z": [[1]]})
        + "\n"
        + chart({"type": "scattergeo", "lat": [1], "lon": [2]})
    )
    assert bundles_in(rendered.html) == ["basic", "cartesian", "full"]


def test_a_notebook_plotly_output_names_its_bundle_too():
    cell = new_code_cell("fig.show()", execution_count=1)
    figure = {"data": [{"type": "histogram2d", "x": [1], "y": [2]}], "layout": {}}
    cell.outputs = [new_output("display_data", data={"application/vnd.plotly.v1+json": figure})]
    post = read_notebook(plain_notebook([cell]).encode(), Path("nb.ipynb"))
    assert bundles_in(render_markdown(post.body).html) == ["cartesian"]


def test_a_chart_says_what_it_is_where_it_is_not_drawn():
    title = {"text": "<b>Visits</b> &amp; sales<br>2026"}
    rendered = render_markdown(chart({"type": "bar", "y": [1]}, layout={"title": title}))
    caption = re.search(r'<figcaption class="chart-fallback">(.*?)</figcaption>', rendered.html)
    assert caption, rendered.html
    text = html.unescape(re.sub(r"<[^>]+>", "", caption[1]))
    assert text.startswith("Interactive chart: Visits & sales 2026 (")
    # The link points at the figure: on the site it is the chart, in a feed (xml:base) the post.
    anchor = re.search(r'<figure class="chart[^"]*" id="([^"]+)"', rendered.html)[1]
    assert f'href="#{anchor}"' in caption[1]


def test_chart_anchors_never_repeat_a_heading_id():
    rendered = render_markdown("## Chart\n\n" + chart({"y": [1]}) + "\n" + chart({"y": [2]}))
    ids = re.findall(r' id="([^"]+)"', rendered.html)
    assert len(ids) == len(set(ids)) == 3


def test_the_vendored_bundles_are_the_plotly_js_of_the_plotly_wheel():
    """Fails after `make lock` moves plotly until tools/vendor_plotly.py is run again."""
    wheel = plotly_js_version(plotly_dir() / "plotly.min.js")
    for name in PLOTLY_BUNDLES:
        assert plotly_js_version(plotly_bundle_file(name)) == wheel, name
    assert "MIT License" in (VENDORED_PLOTLY / "LICENSE").read_text()


@pytest.mark.parametrize("name", list(PLOTLY_BUNDLES))
def test_each_vendored_bundle_draws_exactly_the_traces_the_picker_expects(name):
    script = plotly_bundle_file(name).read_text(encoding="utf-8")
    assert script.startswith("/**\n* plotly.js (")  # the licence header is kept
    registered = set(re.findall(r'moduleType:"trace",name:"(\w+)"', script))
    assert registered == PLOTLY_BUNDLES[name]


@pytest.mark.parametrize("name", list(PLOTLY_BUNDLES))
def test_each_vendored_bundle_has_its_gzip_copy(name):
    path = plotly_bundle_file(name)
    assert gzip.decompress(path.with_name(path.name + ".gz").read_bytes()) == path.read_bytes()


def test_compress_static_writes_missing_and_stale_copies_and_keeps_good_ones(tmp_path):
    script = tmp_path / "app.js"
    script.write_text("console.log('hello');\n" * 200)
    (tmp_path / "logo.png").write_bytes(b"\x89PNG" + bytes(2000))
    assert compress_static([tmp_path]) == [tmp_path / "app.js.gz"]
    assert compress_static([tmp_path]) == []  # up to date: nothing written
    script.write_text("console.log('changed');\n" * 200)
    assert compress_static([tmp_path]) == [tmp_path / "app.js.gz"]
    assert gzip.decompress((tmp_path / "app.js.gz").read_bytes()) == script.read_bytes()


def _get(app, url: str) -> tuple[str, bytes]:
    response = Client(app).get(url, headers={"Accept-Encoding": "gzip"})
    body = response.get_data()
    return response.headers.get("Content-Encoding", ""), body


def test_whitenoise_never_sends_a_gzip_copy_older_than_its_file(tmp_path):
    script = tmp_path / "app.js"
    script.write_text("console.log('old');\n" * 200)
    compress_static([tmp_path])
    gz = tmp_path / "app.js.gz"
    os.utime(gz, (1_000_000, 1_000_000))  # compressed long before the file was edited
    served = _FreshWhiteNoise(lambda environ, start: [], root=str(tmp_path), prefix="static/")
    assert _get(served, "/static/app.js") == ("", script.read_bytes())
    os.utime(gz)
    served = _FreshWhiteNoise(lambda environ, start: [], root=str(tmp_path), prefix="static/")
    assert _get(served, "/static/app.js") == ("gzip", gz.read_bytes())
