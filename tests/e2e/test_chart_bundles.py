"""plotly.js in a real browser (issue 16): a chart post fetches only the bundle its charts need
and draws with it; without JavaScript a chart is a caption, not an empty box; the editor's
preview moves to a larger bundle when a new chart needs one."""

from __future__ import annotations

import re

import plotly.graph_objects as go
import pytest
from playwright.sync_api import expect

from ..integration.admin_support import admin_site
from .test_editor import sign_in


def _plotly_requests(page) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda r: "plotly" in r.url and urls.append(r.url.split("?")[0]))
    return urls


def _errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _draw(page, base: str, path: str) -> None:
    page.goto(base + path)
    page.locator(".plotly-chart").first.scroll_into_view_if_needed()
    page.wait_for_selector(".plotly-chart .main-svg", timeout=15000)


def _post(slug: str, figure: go.Figure) -> str:
    # to_json as plotly's Python library writes it: with its template, which names every trace
    # type (scattergeo, surface...) whether the bundle draws it or not.
    return (f"---\ntitle: {slug}\ndate: 2026-01-02\n---\n\nA chart.\n\n"
            f"```plotly\n{figure.to_json()}\n```\n")


def test_a_bar_chart_post_fetches_and_draws_with_the_basic_bundle_only(page, live_server,
                                                                       runner):
    assert runner.invoke(args=["setup"]).exit_code == 0
    with live_server() as base:
        requested, errors = _plotly_requests(page), _errors(page)
        _draw(page, base, "/posts/welcome/")
        assert page.locator(".plotly-chart .bars path").count() == 3
        assert [u.rsplit("/", 1)[-1] for u in requested] == ["plotly-basic.min.js"]
        expect(page.locator(".chart-fallback")).to_have_count(0)  # drawn: the caption is gone
        assert errors == []


def test_figures_from_plotly_python_draw_with_the_partial_bundles(page, live_server, runner,
                                                                  import_posts):
    assert runner.invoke(args=["setup"]).exit_code == 0
    bars = go.Figure(go.Bar(x=["a", "b"], y=[2, 3]), layout={"title": "Bars"})
    heat = go.Figure([go.Heatmap(z=[[1, 2], [3, 4]]), go.Scatter(y=[0, 1])])
    import_posts({"bars.md": _post("bars", bars), "heat.md": _post("heat", heat)})
    with live_server() as base:
        requested, errors = _plotly_requests(page), _errors(page)
        _draw(page, base, "/posts/bars/")
        assert page.locator(".plotly-chart .bars path").count() == 2
        assert [u.rsplit("/", 1)[-1] for u in requested] == ["plotly-basic.min.js"]
        requested.clear()
        _draw(page, base, "/posts/heat/")
        assert page.locator(".plotly-chart .heatmaplayer image").count() == 1
        assert [u.rsplit("/", 1)[-1] for u in requested] == ["plotly-cartesian.min.js"]
        assert errors == []


def test_without_javascript_a_chart_is_its_title_and_a_link(browser, live_server, runner):
    assert runner.invoke(args=["setup"]).exit_code == 0
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        with live_server() as base:
            page.goto(base + "/posts/welcome/")
            caption = page.locator("figure.chart .chart-fallback")
            expect(caption).to_be_visible()
            expect(caption).to_contain_text("Interactive chart: Posts per year")
            expect(caption.locator("a")).to_have_attribute("href", re.compile("^#chart"))
            # No empty box under it: the room kept for drawing is for readers with JavaScript.
            box = page.locator("figure.chart").bounding_box()
            assert box["height"] < 120, box
    finally:
        context.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(tmp_path_factory.mktemp("chart-bundles")) as site:
        yield site


def test_the_editor_preview_loads_a_larger_bundle_when_a_chart_needs_it(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        sign_in(page, site)
        requested, errors = _plotly_requests(page), _errors(page)
        page.goto(site.url + "/admin/posts/new")
        bar = '```plotly\n{"data": [{"type": "bar", "y": [1, 2, 3]}]}\n```\n'
        heat = '```plotly\n{"data": [{"type": "heatmap", "z": [[1, 2], [3, 4]]}]}\n```\n'
        page.fill("#body", bar)
        page.wait_for_selector("#preview .plotly-chart .bars path", timeout=15000)
        assert [u.rsplit("/", 1)[-1] for u in requested] == ["plotly-basic.min.js"]
        page.fill("#body", bar + "\n" + heat)
        page.wait_for_selector("#preview .plotly-chart .heatmaplayer image", timeout=15000)
        expect(page.locator("#preview .plotly-chart .bars path")).to_have_count(3)
        assert [u.rsplit("/", 1)[-1] for u in requested] == [
            "plotly-basic.min.js", "plotly-cartesian.min.js"]
        # Saved, the editor opens again: its preview (rendered by the server) draws with the
        # one bundle it needs.
        page.fill("#title", "Two charts")
        requested.clear()
        page.click("text=Save draft")
        page.wait_for_url(re.compile(r"/admin/posts/\d+$"))
        page.wait_for_selector("#preview .plotly-chart .heatmaplayer image", timeout=15000)
        assert [u.rsplit("/", 1)[-1] for u in requested] == ["plotly-cartesian.min.js"]
        assert errors == []
    finally:
        context.close()
