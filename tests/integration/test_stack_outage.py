"""The stack on PostgreSQL while the database is unreachable: nginx keeps serving the pages it has
(stale), the app says 503 for the rest, and everything recovers without a restart.

The database is reached through a loopback TCP proxy (bench/tcpproxy.py) that the test cuts:
what the app sees is what a stopped PostgreSQL looks like (pooled connections reset, new ones
refused), while the real server stays up for everyone else.

With proxy_cache_background_update on and `updating` in proxy_cache_use_stale, nginx answers
every request for an expired page from its copy and asks the app in the background, so what the
app answers then (503 here) never reaches a reader; the http_5xx list of that directive is
checked as text in test_deploy_render.py. This test fails when nginx serves no stale pages.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy import make_url

from bench.tcpproxy import TcpProxy
from inkwell.deploy.stack import Stack

from ..services import PG_ADMIN_URL
from .test_stack import doctor, fetch, stack_in

CACHE_SECONDS = 2
CACHED = ["/", "/posts/welcome/", "/tags/inkwell/", "/feed.xml"]


def test_readers_get_pages_while_postgresql_is_unreachable(tmp_path, empty_pg_database):
    server = make_url(PG_ADMIN_URL)
    with TcpProxy((server.host or "127.0.0.1", server.port or 5432)) as proxy:
        url = server.set(drivername="postgresql+psycopg", host="127.0.0.1", port=proxy.port,
                         database=empty_pg_database)
        stack = stack_in(
            tmp_path,
            DATABASE_URL=url.render_as_string(hide_password=False) + "?connect_timeout=2",
            CACHE_MAX_AGE=str(CACHE_SECONDS),
        )
        with stack:
            for path in CACHED:
                assert fetch(stack, path).status == 200, path

            proxy.cut()
            time.sleep(CACHE_SECONDS + 1)  # every cached copy has expired: only stale ones left
            for _ in range(3):  # the first asks the app in the background; later ones too
                for path in CACHED:
                    page = fetch(stack, path)
                    assert page.status == 200, (path, page.status)
                    assert page.headers["X-Cache-Status"] in {"STALE", "UPDATING"}, path
            assert "Welcome" in fetch(stack, "/posts/welcome/").text

            never_cached = fetch(stack, f"/search?q={uuid.uuid4().hex}",
                                 headers={"Accept": "text/html"})
            assert never_cached.status == 503
            assert "Back in a moment" in never_cached.text
            assert never_cached.headers["Retry-After"]
            assert fetch(stack, "/healthz").status == 200  # the process is up ...
            assert fetch(stack, "/readyz").status == 503  # ... but not ready
            status, report = doctor(stack)
            assert status == 1 and "FAIL /readyz: database: OperationalError" in report, report

            proxy.restore()  # the database is back: no restart of anything
            deadline = time.monotonic() + 15
            while True:
                fresh = fetch(stack, f"/search?q={uuid.uuid4().hex}")
                if fresh.status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert fresh.status == 200
            assert fetch(stack, "/readyz").status == 200
            time.sleep(CACHE_SECONDS + 1)
            for path in CACHED:  # nginx refreshes its copies from the app again
                assert _becomes_fresh(stack, path), path


def _becomes_fresh(stack: Stack, path: str) -> bool:
    """True once nginx answers `path` from a copy it got after the outage (a HIT)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if fetch(stack, path).headers["X-Cache-Status"] == "HIT":
            return True
        time.sleep(0.2)
    return False
