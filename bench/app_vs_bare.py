"""Uncached post page from Inkwell vs a bare Flask page of the same bytes, same gunicorn settings.

Both servers: gunicorn, 1 sync worker, no config file, pinned to the server core. Inkwell runs in
production mode on a fresh instance (`inkwell setup` + 50 generated posts) and serves the welcome
post (code, math, a chart, a table); the bare app serves that very HTML from a precompiled Jinja
template. A third side is the floor page: the same bytes from bench/floor_page_app.py (one
SELECT through SQLAlchemy's pool, one template variable, nothing else), what a page read from
the database costs at the least on these parts. Goal: Inkwell / floor page >= 0.8
(../shared/BENCHMARKS.md); Inkwell / bare Flask is information (what the features cost). When
PostgreSQL is reachable the same instance on PostgreSQL is a fourth side (informational).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from .common import (
    BenchError,
    fetch,
    figure,
    gunicorn,
    load_settings,
    measure_side_by_side,
    postgres_database,
    rss_bytes,
    scratch,
)
from .fixtures import POST_PATH, generate_posts, prepare_instance

EXTRA_POSTS = 50
GOAL = ">= 0.8"


def _page(url: str) -> bytes:
    status, _, body = fetch(url)
    if status != 200:
        raise BenchError(f"GET {url} answered {status}, not 200:\n{body[:500]!r}")
    return body


def main(results_dir: Path) -> dict:
    settings = load_settings()
    with scratch("app-vs-bare") as tmp, postgres_database() as pg_url, ExitStack() as servers:
        posts = tmp / "posts"
        generate_posts(posts, EXTRA_POSTS)

        env = prepare_instance(tmp / "sqlite", posts)
        app = servers.enter_context(
            gunicorn("inkwell.wsgi:app", env, tmp / "sqlite", ready_path=POST_PATH)
        )
        page = _page(app.url + POST_PATH)
        page_file = tmp / "bare" / "page.html"
        page_file.parent.mkdir()
        page_file.write_bytes(page)
        (results_dir / "app_vs_bare-page.html").write_bytes(page)

        bare = servers.enter_context(
            gunicorn("bench.bare_app:app", {"BENCH_BARE_PAGE": str(page_file)}, page_file.parent)
        )
        bare_page = _page(bare.url + "/")
        if len(bare_page) != len(page):
            raise BenchError(
                f"the bare page is {len(bare_page)} bytes, Inkwell's {len(page)}: not comparable"
            )

        floor = servers.enter_context(gunicorn(
            "bench.floor_page_app:app",
            {"BENCH_BARE_PAGE": str(page_file),
             "BENCH_FLOOR_DATABASE": str(tmp / "sqlite" / "bench.sqlite3")},
            page_file.parent, ready_path=POST_PATH))
        if _page(floor.url + POST_PATH) != page:
            raise BenchError("the floor page's bytes differ from Inkwell's: not comparable")

        urls = {"inkwell_sqlite": app.url + POST_PATH, "bare_flask": bare.url + "/",
                "floor_page": floor.url + POST_PATH}
        pids = {"inkwell_sqlite": app.pid, "bare_flask": bare.pid, "floor_page": floor.pid}
        if pg_url:
            pg_env = prepare_instance(tmp / "postgresql", posts, pg_url)
            pg = servers.enter_context(
                gunicorn("inkwell.wsgi:app", pg_env, tmp / "postgresql", ready_path=POST_PATH)
            )
            urls["inkwell_postgresql"] = pg.url + POST_PATH
            pids["inkwell_postgresql"] = pg.pid

        results = measure_side_by_side(urls, settings)
        for label, pid in pids.items():
            results[label]["rss_mb_after"] = round(rss_bytes(pid) / 2**20, 1)

    bare_rps = results["bare_flask"]["requests_per_sec"]
    errors = sum(r["non_2xx"] + r["socket_errors"] for r in results.values())
    ratios = {
        "post page / bare Flask (SQLite)": figure(
            round(results["inkwell_sqlite"]["requests_per_sec"] / bare_rps, 3),
            note="what the features cost, information"
        ),
        "post page req/s (SQLite)": figure(
            round(results["inkwell_sqlite"]["requests_per_sec"]), unit="req/s"
        ),
        "post page p99 (SQLite)": figure(round(results["inkwell_sqlite"]["p99_ms"], 1), unit="ms"),
        "bare Flask req/s": figure(round(bare_rps), unit="req/s"),
        "bare Flask p99": figure(round(results["bare_flask"]["p99_ms"], 1), unit="ms"),
        "post page size": figure(len(page), unit="B"),
        "non-2xx + socket errors": figure(errors, "== 0"),
        "floor: one SELECT + one template variable / bare Flask": figure(
            round(results["floor_page"]["requests_per_sec"] / bare_rps, 3),
            note="bench/floor_page_app.py, same bytes: the least a page read from the "
                 "database costs on these parts"),
        "post page / floor page": figure(
            round(results["inkwell_sqlite"]["requests_per_sec"]
                  / results["floor_page"]["requests_per_sec"], 3), GOAL,
            note="what Inkwell's validators, headers, sessions and template cost on top"),
    }
    if "inkwell_postgresql" in results:
        pg_rps = results["inkwell_postgresql"]["requests_per_sec"]
        ratios["post page / bare Flask (PostgreSQL)"] = figure(
            round(pg_rps / bare_rps, 3), note="informational"
        )
        ratios["post page req/s (PostgreSQL)"] = figure(round(pg_rps), unit="req/s")
    else:
        ratios["post page / bare Flask (PostgreSQL)"] = figure(
            None, note="PostgreSQL not reachable"
        )
    return {
        "name": "app_vs_bare",
        "ratios": ratios,
        "raw": {
            "path": POST_PATH,
            "page_bytes": len(page),
            "extra_posts": EXTRA_POSTS,
            "settings": settings.__dict__,
            "servers": results,
        },
    }
