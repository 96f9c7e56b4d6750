"""A chart's static picture: what a reader sees before (or without) plotly.js.

Drawn once when the post is rendered, from the same figure JSON plotly.js draws: HTML for the
titles and the legend, an inline SVG for the plot. It fits any width without JavaScript: the
axes and labels sit at percentages of the plot area and the traces are drawn in a 1000x1000 box
stretched over it (`preserveAspectRatio="none"`), with strokes that keep their width
(`vector-effect: non-scaling-stroke`) and markers drawn as zero-length round-capped strokes, so
they stay round. Text takes the page's colour and font, so it reads in the dark theme too.

It draws what most published charts are: scatter traces (lines and/or markers) and grouped
bars, on linear, date or category axes, one plot to a figure. Anything else (pies, maps, 3D,
subplots, log axes, fills, stacks...) gets no picture: `chart_picture` returns None and the
chart is drawn by plotly.js when it comes into view.

The look follows plotly.js's defaults (margins, heights, colours, title sizes, and the ticks of
chart_axes.py), so the swap to the interactive chart barely moves anything.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .chart_axes import Axis, NotDrawn, as_float, as_time, axis, closest_spacing

# plotly.js's defaults (src/plots/layout_attributes.js, src/components/color/attributes.js).
DEFAULT_HEIGHT = 450
DEFAULT_MARGIN = {"l": 80, "r": 80, "t": 100, "b": 80}
COLORWAY = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
MARKER_SIZE = 6
LINE_WIDTH = 2
BAR_GAP = 0.2  # of the space of one bar position, as plotly's bargap
# Past this many points the picture would weigh more than it is worth: plotly.js draws it.
MAX_POINTS = 5000
BOX = 1000  # the traces' coordinate box, stretched over the plot area

DRAWN_TRACES = {"scatter", "scattergl", "bar"}
@dataclass
class Trace:
    kind: str  # "lines", "markers", "lines+markers" or "bar"
    name: str
    colour: str
    x: list[float | None]
    y: list[float | None]


def chart_picture(figure: dict[str, Any], title: str) -> str | None:
    """The picture's HTML, or None when the figure holds what it does not draw.

    `title` is the figure's title as plain text (render._chart_title)."""
    try:
        return _picture(figure, title)
    except NotDrawn:
        return None
    except (ArithmeticError, ValueError, OSError):
        # Values at the ends of what floats and dates hold (1e308, year 9999 padded past the
        # calendar): plotly.js copes in its way; the picture steps aside.
        return None


def _picture(figure: dict[str, Any], title: str) -> str:
    layout = figure.get("layout") or {}
    if layout.get("barmode", "group") != "group":
        raise NotDrawn("stacked or overlaid bars")
    if "xaxis2" in layout or "yaxis2" in layout or "grid" in layout:
        raise NotDrawn("subplots")
    # Plotly's Python library puts its colours in the figure's template: plotly.js uses them.
    template = _dict(_dict(layout.get("template")).get("layout"))
    colourway = layout.get("colorway", template.get("colorway"))
    if not (isinstance(colourway, list) and colourway and all(_is_colour(c) for c in colourway)):
        colourway = COLORWAY
    x_layout, y_layout = _dict(layout.get("xaxis")), _dict(layout.get("yaxis"))
    raw = [t for t in figure.get("data") or [] if not (isinstance(t, dict)
                                                      and t.get("visible") is False)]
    if not raw:
        raise NotDrawn("no trace")
    x_kind = _axis_kind(x_layout, [t.get("x") for t in raw if isinstance(t, dict)])
    categories: list[str] = []
    traces = [_trace(t, i, colourway, x_kind, categories) for i, t in enumerate(raw)]
    if sum(len(t.y) for t in traces) > MAX_POINTS:
        raise NotDrawn("too many points")
    bars = [t for t in traces if t.kind == "bar"]
    x_values = [v for t in traces for v in t.x if v is not None]
    y_values = [v for t in traces for v in t.y if v is not None]
    if not x_values or not y_values:
        raise NotDrawn("nothing to draw")

    height = _number(layout.get("height"), DEFAULT_HEIGHT, 100, 2000)
    margin = _dict(layout.get("margin"))
    left, right, top, bottom = (_number(margin.get(k), DEFAULT_MARGIN[k], 0, 400) for k in "lrtb")
    names = [t.name for t in traces]
    show_legend = layout.get("showlegend", len(traces) > 1) is True
    # plotly.js widens the right margin to hold the legend (on a phone it goes above the plot)
    legend_right = max(right, 50 + 7 * max(len(n) for n in names)) if show_legend else right
    if top + bottom >= height - 40:
        raise NotDrawn("no room for the plot")

    markers = any("markers" in t.kind for t in traces)
    x_axis = axis(x_kind, x_values, x_layout, title=_text(x_layout.get("title")),
                  pad=0.04 if markers else 0.0, categories=categories, bars=bool(bars), target=7)
    if _axis_kind(y_layout, [t.get("y") for t in raw]) != "linear":
        raise NotDrawn("a y axis of dates or categories")
    y_axis = axis("linear", y_values, y_layout, title=_text(y_layout.get("title")),
                  pad=0.05 if (markers or bars) else 0.0, categories=[], bars=False,
                  target=max(3, round((height - top - bottom) / 55)), from_zero=bool(bars))
    # Where the title sits across the chart: plotly.js centres it unless the layout (or, from
    # Python, its template: 0.05) moves it; left of a third it is anchored by its left end.
    title_x = _number(_dict(layout.get("title")).get("x", _dict(template.get("title")).get("x")),
                      0.5, 0, 1)
    return _html(title, title_x, height, (left, right, top, bottom), legend_right, x_axis, y_axis,
                 traces, show_legend)


# --- reading the figure -----------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any, default: float, low: float, high: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high:
        return float(value)
    return default


def _is_colour(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 40 and all(
        c.isalnum() or c in "#(),. %" for c in value)


def _text(value: Any) -> str:
    """An axis or legend text: plotly's title may be a string or {"text": ...}."""
    if isinstance(value, dict):
        value = value.get("text")
    return value.strip() if isinstance(value, str) else ""


def _axis_kind(axis_layout: dict[str, Any], columns: Sequence[Any]) -> str:
    """"linear", "date" or "category", as plotly.js guesses it from the values when the layout
    does not say; a log axis (or any other) is not drawn."""
    kind = axis_layout.get("type", "-")
    if kind in ("linear", "date", "category"):
        return kind
    if kind != "-":
        raise NotDrawn(f"{kind} axis")
    values = [v for column in columns if isinstance(column, list) for v in column if v is not None]
    if all(as_float(v) is not None for v in values):
        return "linear"
    if all(isinstance(v, str) and as_time(v) is not None for v in values):
        return "date"
    return "category"


def _trace(raw: Any, index: int, colourway: Sequence[str], x_kind: str,
           categories: list[str]) -> Trace:
    if not isinstance(raw, dict):
        raise NotDrawn("a trace that is not an object")
    kind = raw.get("type", "scatter")
    if kind not in DRAWN_TRACES:
        raise NotDrawn(f"{kind} trace")
    if raw.get("xaxis", "x") != "x" or raw.get("yaxis", "y") != "y":
        raise NotDrawn("subplots")
    if raw.get("fill", "none") != "none" or "stackgroup" in raw or raw.get("orientation") == "h":
        raise NotDrawn("filled, stacked or horizontal trace")
    ys = raw.get("y")
    if not isinstance(ys, list) or not ys:
        raise NotDrawn("a trace without y values")
    xs = raw.get("x")
    if xs is None:
        xs = list(range(len(ys)))
    if not isinstance(xs, list):
        raise NotDrawn("x values that are not a list")
    count = min(len(xs), len(ys))
    line, marker = _dict(raw.get("line")), _dict(raw.get("marker"))
    if kind == "bar":
        drawn = "bar"
        colour = marker.get("color")
    else:
        drawn = raw.get("mode", "lines+markers" if count < 20 else "lines")
        if drawn not in ("lines", "markers", "lines+markers"):
            raise NotDrawn(f"mode {drawn}")
        if line.get("shape", "linear") not in ("linear", "spline"):
            raise NotDrawn("stepped line")
        colour = line.get("color") if "lines" in drawn else marker.get("color")
    if not _is_colour(colour):
        colour = colourway[index % len(colourway)]
    name = raw.get("name")
    return Trace(
        kind=drawn,
        name=name.strip() if isinstance(name, str) and name.strip() else f"trace {index}",
        colour=colour,
        x=[_x_value(v, x_kind, categories) for v in xs[:count]],
        y=[as_float(v) for v in ys[:count]],
    )


def _x_value(value: Any, kind: str, categories: list[str]) -> float | None:
    if value is None:
        return None
    if kind == "linear":
        return as_float(value)
    if kind == "date":
        return as_time(value) if isinstance(value, str) else None
    label = str(value)
    if label not in categories:
        categories.append(label)
    return float(categories.index(label))


# --- drawing ------------------------------------------------------------------------------------


def _html(title: str, title_x: float, height: float, margin: tuple[float, float, float, float],
          legend_right: float, x: Axis, y: Axis, traces: list[Trace], show_legend: bool) -> str:
    left, right, top, bottom = margin
    label = f"Chart: {title}" if title else "Chart"
    # The margins are custom properties that site.css places the plot with, so a narrow screen
    # can move the legend above the plot and give its margin back.
    parts = [
        f'<div class="chart-picture{" has-legend" if show_legend else ""}" role="img" '
        f'aria-label="{html.escape(label)}" tabindex="0" style="height:{height:g}px;'
        f"--t:{top:g}px;--r:{right:g}px;--b:{bottom:g}px;--l:{left:g}px;"
        f'--legend-r:{legend_right:g}px">'
    ]
    if title:
        place = f' style="left:{title_x * 100:g}%;text-align:left"' if title_x < 1 / 3 else ""
        parts.append(f'<span class="chart-picture-title"{place}>{html.escape(title)}</span>')
    parts.append('<div class="chart-plot">')
    parts.append(_svg(x, y, traces))
    if x.title:
        parts.append(f'<span class="chart-x-title">{html.escape(x.title)}</span>')
    if y.title:
        parts.append(f'<span class="chart-y-title">{html.escape(y.title)}</span>')
    if show_legend:
        parts.append('<ul class="chart-legend">')
        for trace in traces:
            parts.append(f'<li><svg width="24" height="10" aria-hidden="true">'
                         f'{_legend_mark(trace)}</svg>{html.escape(trace.name)}</li>')
        parts.append("</ul>")
    parts.append("</div></div>")
    return "".join(parts)


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


def _svg(x: Axis, y: Axis, traces: list[Trace]) -> str:
    grid, labels = [], []
    for value, text in x.ticks:
        where = _pct(x.fraction(value))
        labels.append(f'<text x="{where}" y="100%" dy="16" text-anchor="middle">'
                      f"{html.escape(text)}</text>")
    for value, text in y.ticks:
        where = _pct(1 - y.fraction(value))
        # The line at zero is drawn stronger, as plotly.js's zeroline.
        strength = "0.5" if value == 0 and y.kind == "linear" else "0.15"
        grid.append(f'<line x1="0" x2="100%" y1="{where}" y2="{where}" '
                    f'stroke-opacity="{strength}"/>')
        labels.append(f'<text x="-6" y="{where}" dy="4" text-anchor="end">'
                      f"{html.escape(text)}</text>")
    for i, label in enumerate(labels[:len(x.ticks)]):
        if i % 2 and len(x.ticks) > 4:  # every other gives way on a narrow screen (site.css)
            labels[i] = label.replace("<text ", '<text class="chart-minor" ', 1)
    return (
        '<svg class="chart-axes" width="100%" height="100%" overflow="visible" '
        'aria-hidden="true" focusable="false">'
        f'<g stroke="currentColor" stroke-width="1">{"".join(grid)}</g>'
        f'<g fill="currentColor" font-size="12">{"".join(labels)}</g>'
        f'<svg width="100%" height="100%" viewBox="0 0 {BOX} {BOX}" preserveAspectRatio="none">'
        f"{_bars(x, y, traces)}{_lines(x, y, traces)}</svg></svg>"
    )


def _point(x: Axis, y: Axis, xv: float, yv: float) -> str:
    return f"{x.fraction(xv) * BOX:.1f} {(1 - y.fraction(yv)) * BOX:.1f}"


def _lines(x: Axis, y: Axis, traces: list[Trace]) -> str:
    drawn = []
    for trace in traces:
        if trace.kind == "bar":
            continue
        points = list(zip(trace.x, trace.y, strict=True))
        if "lines" in trace.kind:
            path, pen_down = [], False
            for a, b in points:
                if a is None or b is None:  # a gap, as plotly's connectgaps=false
                    pen_down = False
                    continue
                path.append(("L" if pen_down else "M") + _point(x, y, a, b))
                pen_down = True
            drawn.append(f'<path d="{"".join(path)}" fill="none" stroke="{trace.colour}" '
                         f'stroke-width="{LINE_WIDTH}" stroke-linejoin="round" '
                         'vector-effect="non-scaling-stroke"/>')
        if "markers" in trace.kind:
            dots = "".join(f"M{_point(x, y, a, b)}h0" for a, b in points
                           if a is not None and b is not None)
            drawn.append(f'<path d="{dots}" stroke="{trace.colour}" '
                         f'stroke-width="{MARKER_SIZE}" stroke-linecap="round" '
                         'vector-effect="non-scaling-stroke"/>')
    return "".join(drawn)


def _bars(x: Axis, y: Axis, traces: list[Trace]) -> str:
    bars = [t for t in traces if t.kind == "bar"]
    if not bars:
        return ""
    spacing = 1.0 if x.kind == "category" else closest_spacing(
        [v for t in bars for v in t.x if v is not None])
    width = spacing * (1 - BAR_GAP) / len(bars)
    drawn = []
    base = max(min(0.0, y.high), y.low)
    for i, trace in enumerate(bars):
        shapes = []
        for a, b in zip(trace.x, trace.y, strict=True):
            if a is None or b is None:
                continue
            x0 = a - spacing * (1 - BAR_GAP) / 2 + i * width
            left, right = x.fraction(x0) * BOX, x.fraction(x0 + width) * BOX
            top, foot = (1 - y.fraction(b)) * BOX, (1 - y.fraction(base)) * BOX
            shapes.append(f"M{left:.1f} {foot:.1f}H{right:.1f}V{top:.1f}H{left:.1f}Z")
        drawn.append(f'<path d="{"".join(shapes)}" fill="{trace.colour}"/>')
    return "".join(drawn)


def _legend_mark(trace: Trace) -> str:
    if trace.kind == "bar":
        return f'<rect x="6" y="0" width="12" height="10" fill="{trace.colour}"/>'
    line = (f'<line x1="0" x2="24" y1="5" y2="5" stroke="{trace.colour}" stroke-width="2"/>'
            if "lines" in trace.kind else "")
    dot = (f'<circle cx="12" cy="5" r="3" fill="{trace.colour}"/>'
           if "markers" in trace.kind else "")
    return line + dot


# The picture's markup is ours (render.py puts it in after sanitizing): one chart-picture div
# holding one chart-plot div, so it ends at the first "</div></div>".
_PICTURE_RE = re.compile(r'<div class="chart-picture[ "].*?</div></div>', re.DOTALL)


def without_pictures(body_html: str) -> str:
    """A post's HTML without its charts' pictures, for the feed: feed readers drop the styles
    and SVG they are made of, which would leave loose labels; the chart's caption stays."""
    if 'class="chart-picture' not in body_html:
        return body_html
    return _PICTURE_RE.sub("", body_html)
