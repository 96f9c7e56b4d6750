"""A reader on a phone and a desktop, light and dark: nothing scrolls sideways whatever a post
holds (long URLs, wide tables, long code lines), and axe finds nothing on any public page type
(issue 16)."""

from __future__ import annotations

import json
import re

import pytest

from .axe import require_axe, violations

LONG_URL = "https://example.org/" + "a-very-long-path-segment-without-any-break/" * 6
LONG_CODE = f"numbers = {list(range(40))}"  # one line wider than any phone
LONG_NAME = "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichen"
# A chart whose picture (content/chart_picture.py) has a legend, long titles and long category
# names: on a phone the legend moves above the plot and nothing reaches past the picture.
WIDE_CHART = json.dumps({
    "data": [{"type": "bar", "x": [LONG_NAME, "b", LONG_NAME + "2"], "y": [1, 2, 3],
              "name": LONG_NAME},
             {"type": "bar", "x": [LONG_NAME, "b", LONG_NAME + "2"], "y": [2, 1, 2],
              "name": "second " * 8}],
    "layout": {"title": {"text": LONG_NAME * 2}, "xaxis": {"title": LONG_NAME},
               "yaxis": {"title": LONG_NAME}},
})
POSTS = {
    "2026-01-05-long-lines.md": f"""---
title: Long lines
tags: [wide things]
---
A link written out: {LONG_URL} and a word:
Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft.

| {" | ".join(f"column {n}" for n in range(12))} |
|{"---|" * 12}
| {" | ".join(f"value {n}" for n in range(12))} |

```python
{LONG_CODE}
```

    an indented code block whose one line is longer than any phone is wide, on purpose, to scroll

```plotly
{WIDE_CHART}
```
""",
    "2026-01-06-plain.md": "---\ntitle: Plain words\ntags: [wide things]\n---\nJust words.\n",
}
PAGES = ("/", "/posts/long-lines/", "/tags/wide-things/", "/tags/", "/archive/",
         "/search?q=words")


@pytest.fixture
def server(live_server, import_posts):
    assert import_posts(POSTS).errors == []
    with live_server() as base:
        yield base


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [320, 375])
def test_no_public_page_scrolls_sideways_on_a_phone(browser, server, width, scheme):
    context = browser.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme)
    page = context.new_page()
    try:
        for path in PAGES:
            assert page.goto(server + path).status == 200, path
            wide = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
            assert wide[0] <= wide[1], (path, wide)
        page.goto(server + "/posts/long-lines/")
        # The wide table and the code scroll inside themselves, and a keyboard can reach them.
        table = page.locator(".e-content table")
        assert table.evaluate("t => t.scrollWidth > t.clientWidth")
        assert table.get_attribute("tabindex") == "0"
        assert page.locator(".e-content pre[tabindex='0']").count() == 2
        legend = page.locator(".chart-legend").bounding_box()
        plot = page.locator(".chart-plot").bounding_box()
        assert legend["y"] + legend["height"] <= plot["y"]  # above the plot, not beside it
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_on_public_pages(browser, server, scheme):
    require_axe()
    context = browser.new_context(viewport={"width": 375, "height": 800}, color_scheme=scheme,
                                  bypass_csp=True)
    page = context.new_page()
    try:
        found = {}
        for path in PAGES:
            assert page.goto(server + path).status == 200, path
            found[path] = violations(page)
        assert found == {path: [] for path in PAGES}
    finally:
        context.close()


def test_the_home_page_names_the_blog_in_its_h1_and_says_what_it_is(page, server):
    page.goto(server + "/")
    assert page.locator("h1").all_inner_texts() == ["Inkwell"]
    assert page.locator("main h1 + p").count() == 1


def test_the_axe_check_itself_reports_what_it_should(browser):
    """The helper finds a real violation: faint text fails colour contrast."""
    require_axe()
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        page.set_content('<html lang="en"><title>t</title><main><h1>t</h1>'
                         '<p style="color:#bbb;background:#fff">faint</p></main></html>')
        assert [v.split(":")[0] for v in violations(page)] == ["color-contrast"]
    finally:
        context.close()


def test_search_results_say_when_each_post_was_published(page, server):
    page.goto(server + "/search?q=words")
    dates = page.locator(".results li time").all_inner_texts()
    assert len(dates) == page.locator(".results li").count() >= 1
    assert all(re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}", d) for d in dates), dates


def test_search_results_mark_the_words_that_matched(page, server):
    page.goto(server + "/search?q=words")
    marks = page.locator(".results li mark").all_inner_texts()
    assert marks and all(m.lower().startswith("word") for m in marks), marks  # stemmed too
    colours = page.evaluate("getComputedStyle(document.querySelector('.results mark'))"
                            ".backgroundColor")
    assert colours not in ("rgba(0, 0, 0, 0)", "transparent")  # the reader sees the mark
