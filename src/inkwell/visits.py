"""Visitor statistics from nginx's access log: `inkwell stats`.

Readers are mostly answered by nginx's microcache, so the app never sees them; nginx's access
log (the "combined" format, Debian's default and `make stack`'s) sees every one. Counted from
it, without a cookie, a script or anything stored: page views (GET answered 200 or 304 for a
page, not a static file, a feed or an admin URL, and not from a known robot), visitors
(distinct address + browser per day, only held in memory while counting), feed fetches, and
where readers came from (the referring site).
"""

from __future__ import annotations

import gzip
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

# 127.0.0.1 - - [30/Nov/2026:00:10:23 +0000] "GET /posts/x/ HTTP/2.0" 200 1755 "ref" "agent"
_COMBINED = re.compile(
    r'^(?P<address>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>\S+)'
    r' [^"]*" (?P<status>\d{3}) \S+ "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)"'
)
_ROBOTS = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|archiver|curl/|wget/|python-|go-http-client|httpclient|"
    r"java/|okhttp|headless|lighthouse|pingdom|uptime|monitor|scan|preview|facebookexternalhit|"
    r"feedfetcher|^-?$",
    re.IGNORECASE,
)
_NOT_PAGES = ("/static/", "/media/", "/admin/", "/.well-known/")
_NOT_PAGE_FILES = {"/healthz", "/readyz", "/robots.txt", "/sitemap.xml", "/favicon.ico",
                   "/favicon.svg"}
FEEDS = {"/feed.xml"}
DEFAULT_LOG = Path("/var/log/nginx/access.log")


@dataclass
class Visit:
    when: datetime
    address: str
    method: str
    path: str
    status: int
    referrer: str
    agent: str


@dataclass
class Report:
    first: date
    last: date
    views: int = 0
    visitors: int = 0
    feed_fetches: int = 0
    robots: int = 0
    skipped_lines: int = 0
    by_day: dict[date, tuple[int, int]] = field(default_factory=dict)
    pages: list[tuple[str, int, int]] = field(default_factory=list)
    referrers: list[tuple[str, int]] = field(default_factory=list)


def parse(line: str) -> Visit | None:
    """One line of a combined-format log; None when it is not one."""
    found = _COMBINED.match(line)
    if not found:
        return None
    try:
        when = datetime.strptime(found["time"], "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        return None
    return Visit(when, found["address"], found["method"], urlsplit(found["target"]).path or "/",
                 int(found["status"]), found["referrer"], found["agent"])


def is_page(path: str) -> bool:
    return (path.startswith("/") and not path.startswith(_NOT_PAGES)
            and path not in _NOT_PAGE_FILES and path not in FEEDS)


def log_files(log: Path) -> list[Path]:
    """The log and its rotated copies (access.log.1, access.log.2.gz, ...), oldest first."""
    rotated = []
    for sibling in log.parent.glob(log.name + ".*"):
        number = sibling.name[len(log.name) + 1:].removesuffix(".gz")
        if number.isdigit():
            rotated.append((int(number), sibling))
    return [p for _, p in sorted(rotated, reverse=True)] + ([log] if log.exists() else [])


def read_lines(paths: Iterable[Path]) -> Iterator[str]:
    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
            yield from lines


def count(lines: Iterable[str], days: int, site_host: str = "", top: int = 10,
          today: date | None = None) -> Report:
    """Views, visitors, feed fetches and referrers of the last `days` days (today included)."""
    last = today or date.today()
    first = last - timedelta(days=days - 1)
    report = Report(first, last)
    views_by_day: Counter[date] = Counter()
    visitors_by_day: defaultdict[date, set] = defaultdict(set)
    page_views: Counter[str] = Counter()
    page_visitors: defaultdict[str, set] = defaultdict(set)
    referrers: Counter[str] = Counter()
    for line in lines:
        visit = parse(line)
        if visit is None:
            report.skipped_lines += line.strip() != ""
            continue
        day = visit.when.date()
        if not first <= day <= last or visit.status not in (200, 304) or visit.method != "GET":
            continue
        if _ROBOTS.search(visit.agent):
            report.robots += 1
            continue
        if visit.path in FEEDS:
            report.feed_fetches += 1
            continue
        if not is_page(visit.path):
            continue
        who = (day, visit.address, visit.agent)
        views_by_day[day] += 1
        visitors_by_day[day].add(who)
        page_views[visit.path] += 1
        page_visitors[visit.path].add(who)
        host = (urlsplit(visit.referrer).hostname or "").removeprefix("www.")
        if host and host != site_host.removeprefix("www."):
            referrers[host] += 1
    report.views = sum(views_by_day.values())
    report.visitors = sum(len(v) for v in visitors_by_day.values())
    report.by_day = {d: (views_by_day[d], len(visitors_by_day[d])) for d in sorted(views_by_day)}
    report.pages = [(p, n, len(page_visitors[p])) for p, n in page_views.most_common(top)]
    report.referrers = referrers.most_common(top)
    return report


def render(report: Report) -> str:
    """The report as a person reads it in a terminal."""
    out = [
        f"{report.first} to {report.last}: {report.views} page views by "
        f"{report.visitors} visitors (a visitor: one address and browser on one day)",
        f"feed fetches: {report.feed_fetches}; robots left out: {report.robots}",
    ]
    if report.skipped_lines:
        out.append(f"{report.skipped_lines} lines were not in nginx's combined format: skipped")
    if report.by_day:
        out += ["", "day         views  visitors"]
        out += [f"{d}  {v:5}  {n:8}" for d, (v, n) in report.by_day.items()]
    if report.pages:
        out += ["", " views  visitors  page"]
        out += [f"{v:6}  {n:8}  {p}" for p, v, n in report.pages]
    if report.referrers:
        out += ["", " views  came from"]
        out += [f"{v:6}  {host}" for host, v in report.referrers]
    return "\n".join(out)
