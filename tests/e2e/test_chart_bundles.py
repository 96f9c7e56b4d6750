"""plotly.js in a real browser (issue 16): a chart post shows its static picture at once and
fetches plotly.js when the reader reaches for the chart (a chart with no picture, when it comes
near the screen), only the bundle its charts need; without JavaScript a chart is its picture, or
a caption, never an empty box; the editor's preview moves to a larger bundle when a new chart
needs one."""

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
    """Open a chart post and bring its first chart to life as a reader would: scroll to it and,
    when it shows a picture, move the pointer onto it."""
    page.goto(base + path)
    chart = page.locator(".plotly-chart").first
    chart.scroll_into_view_if_needed()
    if chart.locator(".chart-picture").count():
        chart.hover()
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


def test_without_javascript_a_chart_is_its_picture_or_its_title_and_a_link(
        browser, live_server, runner, import_posts):
    assert runner.invoke(args=["setup"]).exit_code == 0
    heat = go.Figure([go.Heatmap(z=[[1, 2], [3, 4]])], layout={"title": "Heat"})
    import_posts({"heat.md": _post("heat", heat)})
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        with live_server() as base:
            # A bar chart: its picture, named for a screen reader, with a bar per value.
            page.goto(base + "/posts/welcome/")
            picture = page.locator("figure.chart .chart-picture")
            expect(picture).to_be_visible()
            expect(picture).to_have_attribute("aria-label", "Chart: Posts per year")
            expect(picture.locator("svg path[fill]")).to_have_count(1)  # one bar trace
            expect(page.locator("figure.chart .chart-fallback")).to_be_hidden()
            # A heatmap has no picture: its caption says what it is and links to it, and there
            # is no empty box under it (the room kept for drawing is for readers with JavaScript).
            page.goto(base + "/posts/heat/")
            caption = page.locator("figure.chart .chart-fallback")
            expect(caption).to_be_visible()
            expect(caption).to_contain_text("Interactive chart: Heat")
            expect(caption.locator("a")).to_have_attribute("href", re.compile("^#chart"))
            box = page.locator("figure.chart").bounding_box()
            assert box["height"] < 120, box
    finally:
        context.close()


def test_plotly_is_fetched_when_the_reader_reaches_for_a_pictured_chart(browser, live_server,
                                                                        runner):
    assert runner.invoke(args=["setup"]).exit_code == 0
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        with live_server() as base:
            requested, errors = _plotly_requests(page), _errors(page)
            page.goto(base + "/posts/welcome/")
            picture = page.locator(".plotly-chart .chart-picture")
            picture.scroll_into_view_if_needed()
            page.wait_for_load_state("networkidle")
            expect(picture).to_be_visible()
            assert requested == []  # seen, not touched: the picture is all the page fetched
            picture.hover()
            page.wait_for_selector(".plotly-chart .main-svg", timeout=15000)
            expect(picture).to_have_count(0)  # plotly.js's chart took its place
            assert [u.rsplit("/", 1)[-1] for u in requested] == ["plotly-basic.min.js"]
            assert errors == []
    finally:
        context.close()


def test_keyboard_focus_on_a_picture_draws_the_chart_and_keeps_focus_on_it(browser, live_server,
                                                                          runner):
    assert runner.invoke(args=["setup"]).exit_code == 0
    context = browser.new_context()
    page = context.new_page()
    try:
        with live_server() as base:
            page.goto(base + "/posts/welcome/")
            page.locator(".plotly-chart .chart-picture").focus()
            page.wait_for_selector(".plotly-chart .main-svg", timeout=15000)
            focused = page.evaluate("document.activeElement.className")
            assert "plotly-chart" in focused, focused
    finally:
        context.close()


def test_a_chart_without_a_picture_is_fetched_only_when_it_comes_near_the_screen(
        browser, live_server, runner, import_posts):
    assert runner.invoke(args=["setup"]).exit_code == 0
    heat = go.Figure([go.Heatmap(z=[[1, 2], [3, 4]])], layout={"title": "Heat"})
    words = "\n\n".join("A paragraph before the chart." for _ in range(60))
    import_posts({"heat.md": _post("heat", heat).replace("A chart.", words)})
    context = browser.new_context(viewport={"width": 1280, "height": 400})
    page = context.new_page()
    try:
        with live_server() as base:
            requested = _plotly_requests(page)
            page.goto(base + "/posts/heat/")
            page.wait_for_load_state("networkidle")
            top = page.locator(".plotly-chart").evaluate("e => e.getBoundingClientRect().top")
            assert top > 400 + 300  # below the screen and the 300 px ahead where loading starts
            assert requested == []  # a reader who stops here pays nothing
            page.locator(".plotly-chart").scroll_into_view_if_needed()
            page.wait_for_selector(".plotly-chart .main-svg", timeout=15000)
            assert [u.rsplit("/", 1)[-1] for u in requested] == ["plotly-cartesian.min.js"]
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


def test_a_pictured_chart_keeps_its_height_when_plotly_takes_its_place(browser, live_server,
                                                                       runner, import_posts):
    assert runner.invoke(args=["setup"]).exit_code == 0
    short = go.Figure(go.Scatter(x=[1, 2, 3], y=[2, 1, 3]),
                      layout={"height": 220, "margin": {"t": 30, "b": 40}})
    import_posts({"short.md": _post("short", short)})
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        with live_server() as base:
            page.goto(base + "/posts/short/")
            figure = page.locator("figure.chart")
            before = figure.bounding_box()["height"]
            figure.locator(".chart-picture").hover()
            page.wait_for_selector(".plotly-chart .main-svg", timeout=15000)
            after = figure.bounding_box()["height"]
        # Its own height, not the room kept for a chart without a picture (320 px), and the
        # same once plotly.js has drawn it: nothing under it moves.
        assert 215 <= before <= 225, before
        assert abs(after - before) <= 2, (before, after)
    finally:
        context.close()
