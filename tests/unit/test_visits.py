"""Visitor statistics counted from nginx access-log lines (combined format)."""

from __future__ import annotations

import gzip
from datetime import date

from inkwell.visits import count, log_files, parse, read_lines, render

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Safari"


def line(path: str, day: int = 29, address: str = "203.0.113.7", status: int = 200,
         agent: str = FIREFOX, referrer: str = "-", method: str = "GET") -> str:
    return (f'{address} - - [{day}/Nov/2026:10:00:00 +0000] "{method} {path} HTTP/2.0" {status} '
            f'5120 "{referrer}" "{agent}"\n')


def test_a_combined_line_is_read_and_anything_else_is_not():
    visit = parse(line("/posts/hello/?utm_source=x", referrer="https://news.example/item"))
    assert visit and visit.path == "/posts/hello/" and visit.status == 200
    assert visit.referrer == "https://news.example/item" and visit.agent == FIREFOX
    assert parse("not a log line") is None
    assert parse(line("/").replace("29/Nov/2026", "99/Nov/2026")) is None
    escaped = parse(line("/", agent='Mozilla \\"quoted\\" agent'))
    assert escaped and escaped.agent == 'Mozilla \\"quoted\\" agent'


def test_views_visitors_feeds_and_referrers_of_the_period():
    lines = [
        line("/posts/hello/", referrer="https://news.example/item"),
        line("/posts/hello/", referrer="https://blog.example/"),  # from the site itself
        line("/posts/hello/", address="198.51.100.2", agent=SAFARI, status=304),
        line("/", address="198.51.100.2", agent=SAFARI, referrer="https://www.news.example/"),
        line("/posts/hello/", day=28),  # the day before: another visit
        line("/posts/old/", day=1),  # before the period
        line("/static/css/site.css?v=abc"), line("/media/cat.webp"), line("/admin/posts"),
        line("/healthz"), line("/robots.txt"), line("/sitemap.xml"),
        line("/posts/missing/", status=404), line("/admin/login", method="POST", status=302),
        line("/posts/hello/", method="HEAD"),  # a link checker
        line("/posts/hello/", agent="Mozilla/5.0 (compatible; Googlebot/2.1)"),
        line("/posts/hello/", agent="curl/8.5.0"), line("/posts/hello/", agent="-"),
        line("/feed.xml", agent=FIREFOX), line("/feed.xml", agent="Feedly/1.0"),
        "garbage\n", "\n",
    ]
    report = count(lines, days=7, site_host="blog.example", today=date(2026, 11, 30))
    assert report.views == 5 and report.visitors == 3  # 29th: two people; 28th: one
    assert report.by_day == {date(2026, 11, 28): (1, 1), date(2026, 11, 29): (4, 2)}
    assert report.pages == [("/posts/hello/", 4, 3), ("/", 1, 1)]
    assert report.referrers == [("news.example", 2)]
    assert report.feed_fetches == 2 and report.robots == 3 and report.skipped_lines == 1
    text = render(report)
    assert "5 page views by 3 visitors" in text and "news.example" in text
    assert "1 lines were not in nginx's combined format" in text


def test_rotated_logs_are_read_oldest_first_gzipped_or_not(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(line("/posts/c/", day=29))
    (tmp_path / "access.log.1").write_text(line("/posts/b/", day=28))
    with gzip.open(tmp_path / "access.log.2.gz", "wt") as old:
        old.write(line("/posts/a/", day=27))
    (tmp_path / "access.log.bak").write_text("not one of them")
    files = log_files(log)
    assert [f.name for f in files] == ["access.log.2.gz", "access.log.1", "access.log"]
    report = count(read_lines(files), days=30, today=date(2026, 11, 30))
    assert [p for p, _, _ in report.pages] == ["/posts/a/", "/posts/b/", "/posts/c/"]
