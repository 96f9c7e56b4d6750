"""The real thing: gunicorn serving every public page over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import urllib.error
import urllib.request

import feedparser
import pytest

from ..services import BACKENDS, gunicorn_server

PUBLIC_PAGES = [
    "/", "/posts/welcome/", "/about/", "/tags/", "/tags/markdown/", "/archive/",
    "/archive/2026/", "/search?q=markdown", "/feed.xml", "/sitemap.xml", "/robots.txt",
    "/healthz", "/readyz",
]


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_every_public_page_answers_over_http(live_server, runner, database_url):
    assert runner.invoke(args=["setup"]).exit_code == 0
    with live_server() as base:
        for path in PUBLIC_PAGES:
            status, headers, body = fetch(base + path)
            assert status == 200, (path, body[:300])
        status, _, body = fetch(base + "/posts/welcome/")
        html = body.decode()
        assert "<math" in html and 'class="highlight"' in html and "plotly-chart" in html
        assert "/static/vendor/plotly-" in html
        assert fetch(base + "/no-such-page/")[0] == 404
        assert fetch(base + "/?page=abc")[0] == 404
        feed = feedparser.parse(fetch(base + "/feed.xml")[2])
        assert not feed.bozo and feed.entries[0].title == "Welcome to Inkwell"


def test_static_files_are_served_with_long_caching_and_plotly_from_its_wheel(live_server, runner):
    assert runner.invoke(args=["setup"]).exit_code == 0
    with live_server() as base:
        html = fetch(base + "/posts/welcome/")[2].decode()
        css = html.split('href="/static/css/site.css')[1].split('"')[0]
        status, headers, _ = fetch(base + "/static/css/site.css" + css)
        assert status == 200 and "immutable" in headers["Cache-Control"]
        assert headers["X-Content-Type-Options"] == "nosniff"  # WhiteNoise's answers too
        plotly = html.split('"full": "/static/vendor/')[1].split('"')[0]
        status, headers, body = fetch(base + "/static/vendor/" + plotly)
        assert status == 200 and b"plotly" in body[:2000].lower()
        assert "javascript" in headers["Content-Type"]
        # Only plotly.min.js: the rest of the wheel's package_data is not the site's to serve.
        vendor = "/static/vendor/" + plotly.split("plotly.min.js")[0]
        for other in ("widgetbundle.js", "datasets/carshare.csv.gz", ""):
            assert fetch(base + vendor + other)[0] == 404, other


def test_home_page_loads_nothing_from_other_sites(live_server, runner):
    assert runner.invoke(args=["setup"]).exit_code == 0
    with live_server() as base:
        html = fetch(base + "/posts/welcome/")[2].decode()
    import re

    loaded = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
    # Only links a reader clicks (canonical/og URL of this site); nothing loaded from elsewhere.
    assert all(u.startswith("http://blog.example/") for u in loaded), loaded


def test_a_database_outage_is_a_503_page_not_a_500(live_server):
    from ..services import free_port

    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=2"
    with live_server(DATABASE_URL=dead) as base:
        status, headers, body = fetch(base + "/", {"Accept": "text/html"})
        assert status == 503
        assert headers["Retry-After"] == "10"
        assert "Back in a moment" in body.decode()
        assert fetch(base + "/posts/welcome/", {"Accept": "text/html"})[0] == 503
        assert fetch(base + "/healthz")[0] == 200
        status, _, body = fetch(base + "/readyz")
        assert status == 503 and b"database" in body


def test_gunicorn_warns_when_sign_in_limits_are_counted_per_worker(tmp_path):
    """gunicorn.conf.py's when_ready: several workers and no REDIS_URL let a guesser try
    several times the configured limit; the operator is told at start-up (and by doctor)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from inkwell.deploy.gunicorn import shared_limits_warning

    from ..services import free_port, migrated, production_env, wait_for_http

    assert shared_limits_warning(1, "") is None
    assert shared_limits_warning(3, "redis://127.0.0.1:6379/0") is None
    conf = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(production_env(tmp_path, migrated(f"sqlite:///{tmp_path / 'db.sqlite3'}")))
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(conf),
         "--bind", f"127.0.0.1:{port}", "--workers", "3"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert "sign-in limits are counted in each worker's memory: with 3 workers" in output


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        with gunicorn_server({"INKWELL_ENV": "production", "SECRET_KEY": ""}, cwd=tmp_path):
            pass


def test_precompressed_static_files_are_sent_gzipped(tmp_path):
    import gzip

    from werkzeug.test import Client
    from whitenoise import WhiteNoise

    from inkwell.assets import compress_static

    css = tmp_path / "static" / "site.css"
    css.parent.mkdir()
    css.write_text("body { color: black; }\n" * 200)
    [written] = compress_static([css.parent])
    assert written.name == "site.css.gz"
    assert gzip.decompress(written.read_bytes()) == css.read_bytes()
    served = Client(WhiteNoise(None, root=str(css.parent), prefix="static/"))
    response = served.get("/static/site.css", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.data == written.read_bytes()
