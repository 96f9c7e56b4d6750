"""What a reader sees in a real browser: charts drawn, no errors, nothing from other sites."""

from __future__ import annotations

from urllib.parse import urlparse


def test_welcome_post_draws_its_chart_with_no_console_errors_and_no_third_party_requests(
    page, live_server, runner
):
    assert runner.invoke(args=["setup"]).exit_code == 0
    with live_server() as base:
        errors: list[str] = []
        hosts: set[str] = set()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
        page.goto(base + "/posts/welcome/")
        page.locator(".plotly-chart").scroll_into_view_if_needed()
        page.locator(".plotly-chart .chart-picture").hover()  # the reader reaches for it
        page.wait_for_selector(".plotly-chart .main-svg", timeout=15000)
        bars = page.locator(".plotly-chart .bars path").count()
        assert bars == 3
        assert page.locator("math").count() >= 2
        assert errors == []
        assert hosts == {urlparse(base).netloc}


def test_home_page_without_charts_loads_no_plotly(page, live_server, runner):
    assert runner.invoke(args=["setup"]).exit_code == 0
    with live_server() as base:
        urls: list[str] = []
        page.on("request", lambda r: urls.append(r.url))
        page.goto(base + "/")
        page.wait_for_load_state("networkidle")
        assert page.title() == "Inkwell"
        assert not [u for u in urls if "plotly" in u]
        assert page.locator(".post-list article").count() == 1


def test_charts_take_the_page_colours_in_dark_mode(browser, live_server, runner):
    assert runner.invoke(args=["setup"]).exit_code == 0
    context = browser.new_context(color_scheme="dark")
    page = context.new_page()
    try:
        with live_server() as base:
            page.goto(base + "/posts/welcome/")
            picture = page.locator(".plotly-chart .chart-picture")
            picture.scroll_into_view_if_needed()
            # The picture is drawn in the page's text colour, as the chart that replaces it.
            picture_tick = picture.locator("text").first.evaluate("t => getComputedStyle(t).fill")
            picture.hover()
            page.wait_for_selector(".plotly-chart .main-svg", timeout=15000)
            background = page.evaluate(
                "getComputedStyle(document.querySelector('.plotly-chart .main-svg'))"
                ".backgroundColor"
            )
            text = page.evaluate("getComputedStyle(document.body).color")
            tick = page.locator(".plotly-chart .xtick text").first.evaluate(
                "t => getComputedStyle(t).fill"
            )
        assert background == "rgba(0, 0, 0, 0)"  # the page's dark background shows through
        assert tick == text and text != "rgb(0, 0, 0)"
        assert picture_tick == text
    finally:
        context.close()


