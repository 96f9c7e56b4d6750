"""The axes of a chart's static picture (chart_picture.py): values read as plotly.js reads them
(numbers, ISO dates), ranges padded as it pads them, and ticks on the steps it picks (1, 2, 5
x 10^n; whole minutes, days, months, years), labelled as it labels them ("0.5M", "Mar 5")."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class NotDrawn(Exception):
    """The figure holds something the picture does not draw."""


@dataclass
class Axis:
    kind: str  # "linear", "date" or "category"
    low: float
    high: float
    ticks: list[tuple[float, str]]
    title: str

    def fraction(self, value: float) -> float:
        return (value - self.low) / (self.high - self.low)


def as_float(value: Any) -> float | None:
    """A number, or a string of one (plotly.js takes "3.5" on a linear axis); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_time(value: str) -> float | None:
    """Seconds since 1970 of an ISO date or date-time (read as UTC, as plotly.js does)."""
    text = value.strip().replace(" ", "T", 1)
    if len(text) == 4 and text.isdigit():
        text += "-01-01"
    elif len(text) == 7 and text[4] == "-":
        text += "-01"
    if len(text) < 10 or not text[:4].isdigit():
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def axis(kind: str, values: list[float], axis_layout: dict[str, Any], *, title: str, pad: float,
         categories: list[str], bars: bool, target: int, from_zero: bool = False) -> Axis:
    """An axis over `values` (its range, padded as plotly.js pads, and its ticks), or over
    `categories` for a category axis; a range the layout gives wins."""
    if kind == "category":
        low, high = -0.5, len(categories) - 0.5
        step = max(1, math.ceil(len(categories) / 12))
        ticks = [(float(i), categories[i]) for i in range(0, len(categories), step)]
        return Axis(kind, low, high, ticks, title)
    low, high = min(values), max(values)
    if from_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    if bars:  # a bar is as wide as the closest two positions are apart
        spacing = closest_spacing(values)
        low, high = low - spacing / 2, high + spacing / 2
    given = axis_layout.get("range")
    if isinstance(given, list) and len(given) == 2:
        ends = [as_time(v) if kind == "date" and isinstance(v, str) else as_float(v)
                for v in given]
        if None not in ends and ends[0] < ends[1]:
            low, high = ends  # type: ignore[assignment]
            pad = 0.0
    if high == low:
        spread = abs(low) * 0.1 or 1.0
        low, high = low - spread, high + spread
    span = high - low
    if pad:
        low = low if from_zero and low == 0 else low - span * pad
        high = high if from_zero and high == 0 else high + span * pad
    ticks = _date_ticks(low, high, target) if kind == "date" else _linear_ticks(low, high, target)
    return Axis(kind, low, high, ticks, title)


def closest_spacing(positions: list[float]) -> float:
    """How far apart the closest two positions are (a bar's room); 1 for a single one."""
    unique = sorted(set(positions))
    return min((b - a for a, b in itertools.pairwise(unique)), default=1.0)


def _nice_step(span: float, target: int) -> float:
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):  # plotly.js's steps
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _decimals(step: float) -> int:
    """The fewest decimals that write a tick step exactly (2 -> 0, 2.5 -> 1, 0.05 -> 2)."""
    return next((d for d in range(15) if abs(round(step, d) - step) <= step * 1e-9), 15)


def _linear_ticks(low: float, high: float, target: int) -> list[tuple[float, str]]:
    step = _nice_step(high - low, target)
    if step <= max(abs(low), abs(high)) * 1e-12:
        raise NotDrawn("values too close together for floating point")
    biggest = max(abs(low), abs(high))
    # From 10,000 on, thousands, millions, billions by the largest value: "0.5M", "1M", "1.5M".
    scale, suffix = next(((s, x) for s, x in ((1e9, "G"), (1e6, "M"), (1e3, "k"))
                          if biggest >= max(s, 1e4)), (1.0, ""))
    decimals = _decimals(step / scale)
    first = math.ceil(low / step - 1e-9)
    ticks = []
    for i in range(first, first + 4 * target):  # counted, never a float stepping in place
        value = i * step
        if value > high + step * 1e-9:
            break
        shown = round(value / scale, decimals) + 0.0  # no "-0"
        number = f"{shown:.{decimals}f}"
        if decimals:  # "0.5", "1", as plotly.js writes them
            number = number.rstrip("0").rstrip(".")
        label = f"{number}{suffix if shown else ''}".replace("-", "\u2212")
        ticks.append((value, label))
    return ticks


_MINUTE, _HOUR, _DAY = 60, 3600, 86400
_TIME_STEPS = (1, 2, 5, 10, 15, 30, _MINUTE, 2 * _MINUTE, 5 * _MINUTE, 10 * _MINUTE,
               15 * _MINUTE, 30 * _MINUTE, _HOUR, 2 * _HOUR, 3 * _HOUR, 6 * _HOUR, 12 * _HOUR,
               _DAY, 2 * _DAY, 7 * _DAY, 14 * _DAY)
_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200)


def _date_ticks(low: float, high: float, target: int) -> list[tuple[float, str]]:
    """Ticks on whole seconds, minutes, hours, days, weeks, months or years, as plotly.js
    picks them, labelled "12:00", "Mar 5", "Mar 2026" or "2026"."""
    wanted = (high - low) / target
    start = datetime.fromtimestamp(low, UTC)
    one_year = start.year != datetime.fromtimestamp(high, UTC).year
    step = next((s for s in _TIME_STEPS if s >= wanted), None)
    ticks: list[tuple[float, str]] = []
    if step is not None:
        first = math.ceil(low / step) * step
        if step == 7 * _DAY:  # weeks start on Sunday, as plotly.js's do
            first = math.ceil((low - 3 * _DAY) / step) * step + 3 * _DAY
        moment = float(first)
        while moment <= high:
            when = datetime.fromtimestamp(moment, UTC)
            if step < _DAY:
                label = f"{when:%H:%M}" if step >= _MINUTE else f"{when:%H:%M:%S}"
            else:
                label = f"{_MONTHS[when.month - 1]} {when.day}" + (
                    f", {when.year}" if one_year else "")
            ticks.append((moment, label))
            moment += step
        return ticks
    months = next((m for m in _MONTH_STEPS if m * 30.44 * _DAY >= wanted), _MONTH_STEPS[-1])
    index = start.year * 12 + start.month - 1
    index = math.ceil(index / months) * months
    while True:
        when = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
        if when.timestamp() < low:
            index += months
            continue
        if when.timestamp() > high:
            return ticks
        label = str(when.year) if months >= 12 else f"{_MONTHS[when.month - 1]} {when.year}"
        ticks.append((when.timestamp(), label))
        index += months
