"""The blog's time zone (TIME_ZONE): times are stored as naive UTC and shown, and entered, in it.

Readers see dates in the blog's zone (a post published at 23:30 UTC on the 5th is dated the 6th
in Berlin); the editor shows and takes dates and times in it. Feeds and <time datetime> keep
UTC, which needs no zone.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app


@functools.lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def blog_zone() -> ZoneInfo:
    return _zone(current_app.config.get("TIME_ZONE") or "UTC")


def to_local(moment: datetime, zone: ZoneInfo | None = None) -> datetime:
    """A stored (naive UTC) time as the blog's wall-clock time, naive."""
    zone = zone or blog_zone()
    return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def from_local(wall_clock: datetime, zone: ZoneInfo | None = None) -> datetime:
    """A wall-clock time entered in the blog's zone as the naive UTC time stored. In the hour a
    clock is set back, the first of the two moments; in the hour skipped, the time an hour on."""
    zone = zone or blog_zone()
    return wall_clock.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def zone_label(moment: datetime, zone: ZoneInfo | None = None) -> str:
    """The zone's abbreviation at that (UTC) moment, e.g. CET or CEST; the name when it has
    none (zoneinfo gives "+03" and the like for many zones)."""
    zone = zone or blog_zone()
    abbreviation = moment.replace(tzinfo=UTC).astimezone(zone).tzname() or ""
    return abbreviation if abbreviation[:1].isalpha() else str(zone.key)


def local_datetime(moment: datetime | None) -> str:
    """'2026-12-06 17:30 CET': a stored time for the author, in the blog's zone."""
    if moment is None:
        return ""
    return f"{to_local(moment):%Y-%m-%d %H:%M} {zone_label(moment)}"
