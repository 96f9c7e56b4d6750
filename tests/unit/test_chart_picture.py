"""A chart's static picture (content/chart_picture.py): what it draws, what it leaves to
plotly.js, and that a figure's text cannot break out of it."""

from __future__ import annotations

import json
import re

import pytest

from inkwell.content.chart_picture import chart_picture, without_pictures
from inkwell.content.render import render_markdown


def _chart(*traces: dict, **layout) -> str:
    figure = {"data": list(traces), "layout": layout}
    return f"```plotly\n{json.dumps(figure)}\n```\n"


def _paths(picture: str) -> list[str]:
    return re.findall(r'<path d="([^"]*)"', picture)


def _labels(picture: str) -> list[str]:
    return re.findall(r"<text [^>]*>([^<]*)</text>", picture)


def test_a_line_is_one_path_through_every_point_and_a_gap_lifts_the_pen():
    picture = chart_picture({"data": [{"y": [1, 2, None, 4, 5], "mode": "lines"}]}, "")
    (line,) = _paths(picture)
    assert line.count("M") == 2 and line.count("L") == 2  # 1-2, then 4-5
    assert 'vector-effect="non-scaling-stroke"' in picture  # stays 2 px at any width


def test_markers_are_round_dots_one_per_point():
    picture = chart_picture({"data": [{"x": [1, 2, 3], "y": [3, 1, 2], "mode": "markers"}]}, "")
    (dots,) = _paths(picture)
    assert dots.count("h0") == 3
    assert 'stroke-linecap="round"' in picture


def test_a_short_trace_without_a_mode_gets_lines_and_markers_as_in_plotly():
    short = chart_picture({"data": [{"y": list(range(5))}]}, "")
    long = chart_picture({"data": [{"y": list(range(30))}]}, "")
    assert len(_paths(short)) == 2 and len(_paths(long)) == 1


def test_grouped_bars_sit_side_by_side_on_category_ticks_from_zero():
    picture = chart_picture({"data": [
        {"type": "bar", "x": ["a", "b"], "y": [2, -1], "name": "one"},
        {"type": "bar", "x": ["a", "b"], "y": [3, 1], "name": "two"},
    ]}, "Bars")
    one, two = _paths(picture)
    assert one.count("Z") == 2 and two.count("Z") == 2
    assert _labels(picture)[:2] == ["a", "b"]
    assert "0" in _labels(picture)  # the y axis takes in zero
    assert "one</li>" in picture and "two</li>" in picture  # two traces: a legend


def test_dates_are_ticked_on_whole_days_and_numbers_on_round_steps():
    days = [f"2026-03-{d:02d}" for d in range(1, 29)]
    picture = chart_picture({"data": [{"x": days, "y": [d * 1000 for d in range(28)]}]}, "")
    labels = _labels(picture)
    assert "Mar 1" in labels and "Mar 8" in labels and "Mar 15" in labels
    assert "10k" in labels and "20k" in labels
    negative = chart_picture({"data": [{"y": [-2, 2]}]}, "")
    assert "\u22122" in _labels(negative)  # a real minus sign, as plotly.js writes it


def test_a_year_axis_is_ticked_in_years():
    years = [f"{y}-01-01" for y in range(1990, 2030)]
    labels = _labels(chart_picture({"data": [{"x": years, "y": list(range(40))}]}, ""))
    assert "2000" in labels and "2010" in labels


@pytest.mark.parametrize("figure", [
    {"data": [{"type": "pie", "values": [1, 2]}]},
    {"data": [{"type": "heatmap", "z": [[1]]}]},
    {"data": [{"y": [1, 10, 100]}], "layout": {"yaxis": {"type": "log"}}},
    {"data": [{"y": [1, 2]}, {"y": [3, 4], "xaxis": "x2"}], "layout": {"xaxis2": {}}},
    {"data": [{"type": "bar", "y": [1]}, {"type": "bar", "y": [2]}],
     "layout": {"barmode": "stack"}},
    {"data": [{"y": [1, 2], "fill": "tozeroy"}]},
    {"data": [{"y": list(range(6000))}]},
    {"data": [{"x": [1, 2]}]},
    {"data": []},
    {"data": ["not a trace"]},
], ids=["pie", "heatmap", "log", "subplots", "stacked", "filled", "huge", "no y", "empty",
        "junk"])
def test_what_the_picture_does_not_draw_is_left_to_plotly(figure):
    assert chart_picture(figure, "") is None


def test_a_figures_text_and_colours_cannot_break_out_of_the_picture():
    evil = '"><script>alert(1)</script>'
    picture = chart_picture({
        "data": [{"y": [1, 2], "name": evil, "line": {"color": 'red" onload="alert(1)'}},
                 {"y": [2, 1], "name": "b"}],
        "layout": {"xaxis": {"title": evil}, "margin": {"l": "calc(1px)"}},
    }, evil)
    assert "<script>" not in picture and "onload" not in picture
    assert "&lt;script&gt;" in picture
    assert "--l:80px" in picture  # a margin that is not a number is plotly's default


def test_a_rendered_post_carries_the_picture_and_raw_html_cannot_fake_one():
    rendered = render_markdown(_chart({"y": [1, 3, 2]}, title="Visits"))
    assert '<figure class="chart has-picture"' in rendered.html
    assert 'aria-label="Chart: Visits"' in rendered.html
    # The slot a picture goes in has a fresh random name each render: HTML written in a post
    # that guesses at it stays an empty div, and the sanitizer still drops raw SVG.
    forged = render_markdown('<div id="picture-0-0"></div>\n\n<svg><path d="M0 0"/></svg>\n')
    assert "chart-picture" not in forged.html and "<svg" not in forged.html


def test_a_chart_with_no_picture_keeps_its_caption_visible():
    rendered = render_markdown(_chart({"type": "pie", "values": [1, 2]}, title="Share"))
    assert '<figure class="chart" id="chart">' in rendered.html
    assert "chart-picture" not in rendered.html


def test_the_feed_copy_has_the_caption_but_not_the_picture():
    body = render_markdown("Before.\n\n" + _chart({"y": [1, 2]}, title="T") + "\nAfter.\n").html
    feed = without_pictures(body)
    assert "chart-picture" not in feed and "<svg" not in feed
    assert "Interactive chart: T" in feed and "Before." in feed and "After." in feed
    assert feed.count("<div") == feed.count("</div>")


@pytest.mark.parametrize("figure", [
    {"data": [{"y": [1e17, 1e17 + 16]}]},  # a tick step below a float's precision there
    {"data": [{"y": [-1e308, 1e308]}]},  # a span past the largest float
    {"data": [{"x": ["0001-01-01", "9999-12-31"], "y": [1, 2], "mode": "markers"}]},
    {"data": [{"y": [None, None]}]},
    {"data": [{"y": ["a", "b"]}]},
], ids=["precision", "overflow", "calendar ends", "no values", "category y"])
def test_values_at_the_ends_of_floats_and_dates_give_no_picture_and_no_error(figure):
    assert chart_picture(figure, "") is None


def test_tick_labels_have_the_decimals_their_step_needs():
    def y_labels(ys):
        picture = chart_picture({"data": [{"y": ys, "mode": "lines"}]}, "")
        return re.findall(r'<text x="-6"[^>]*>([^<]*)</text>', picture)

    assert y_labels([0, 10]) == ["0", "2", "4", "6", "8", "10"]
    assert y_labels([0, 1.4]) == ["0", "0.5", "1"]
    assert y_labels([0, 0.07])[:3] == ["0", "0.02", "0.04"]
    assert y_labels([0, 1.5e6]) == ["0", "0.5M", "1M", "1.5M"]


def test_traces_take_the_colours_of_the_figures_colorway_or_its_template():
    def colours(layout):
        picture = chart_picture({"data": [{"y": [1, 2], "mode": "lines"}] * 2,
                                 "layout": layout}, "")
        return re.findall(r'<path d="[^"]*" fill="none" stroke="([^"]+)"', picture)

    assert colours({}) == ["#1f77b4", "#ff7f0e"]  # plotly.js's own
    assert colours({"template": {"layout": {"colorway": ["#636efa", "#EF553B"]}}}) == [
        "#636efa", "#EF553B"]  # what plotly's Python library writes
    assert colours({"colorway": ["red", "blue"],
                    "template": {"layout": {"colorway": ["#636efa"]}}}) == ["red", "blue"]


def test_the_title_is_centred_unless_the_layout_or_its_template_moves_it():
    def title_tag(layout):
        picture = chart_picture({"data": [{"y": [1, 2]}], "layout": layout}, "T")
        return re.search(r'<span class="chart-picture-title"[^>]*>', picture)[0]

    assert "style" not in title_tag({})
    assert 'style="left:5%;text-align:left"' in title_tag(
        {"template": {"layout": {"title": {"x": 0.05}}}})  # plotly's Python library
    assert "style" not in title_tag({"title": {"text": "T", "x": 0.5},
                                     "template": {"layout": {"title": {"x": 0.05}}}})
