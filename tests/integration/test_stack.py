"""The production topology `make stack` runs (nginx -> gunicorn -> SQLite), started through the
same `Stack` class on free loopback ports, and checked from the outside through nginx.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import time
import uuid
import warnings
from pathlib import Path

import pytest

from inkwell.config import new_secret_key
from inkwell.deploy.stack import Stack

from ..services import free_port, need_binary

REPO = Path(__file__).resolve().parents[2]

CACHE_SECONDS = 3
UPLOAD_LIMIT = 1024 * 1024
PAGES = [
    "/", "/posts/welcome/", "/tags/", "/tags/inkwell/", "/archive/", "/archive/2026/",
    "/search?q=welcome", "/about/", "/feed.xml", "/sitemap.xml", "/robots.txt",
]


def stack_in(folder: Path, **env: str) -> Stack:
    """A Stack (not started) on free ports, its instance in `folder` (SQLite, local media, 2
    workers); `env` adds settings or replaces these."""
    need_binary("nginx")
    return Stack(
        app_dir=folder,
        run_dir=folder / "run",
        http_port=free_port(),
        https_port=free_port(),
        log_to_files=True,
        extra_env={
            "INKWELL_INSTANCE_PATH": str(folder / "instance"),
            "DATABASE_URL": f"sqlite:///{folder / 'instance' / 'inkwell.sqlite3'}",
            "MEDIA_ROOT": str(folder / "instance" / "media"),
            "MEDIA_BACKEND": "local",
            "SECRET_KEY": new_secret_key(),
            "WEB_CONCURRENCY": "2",
            # The repository's content folder: `inkwell setup` imports the welcome post from it.
            "CONTENT_DIR": str(REPO / "content"),
            **env,
        },
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = stack_in(tmp_path_factory.mktemp("stack"), CACHE_MAX_AGE=str(CACHE_SECONDS),
                       MAX_UPLOAD_SIZE=str(UPLOAD_LIMIT))
    with running:
        yield running


class Answer:
    def __init__(self, response: http.client.HTTPResponse):
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def fetch(stack: Stack, path: str, method: str = "GET", headers: dict | None = None,
          https: bool = True, body: bytes | None = None) -> Answer:
    """One request, redirects not followed; HTTPS verified against the stack's own CA."""
    if https:
        context = ssl.create_default_context(cafile=str(stack.ca_file))
        conn = http.client.HTTPSConnection("127.0.0.1", stack.https_port, context=context,
                                           timeout=30)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        return Answer(conn.getresponse())
    finally:
        conn.close()


def app_log(stack: Stack) -> str:
    """The app server's request log (gunicorn's or uWSGI's), once a marker request has reached
    it (lines land after replies)."""
    marker = f"/healthz?marker={uuid.uuid4().hex}"
    fetch(stack, marker)
    for _ in range(200):
        if marker in stack.app_log.read_text(errors="replace"):
            break
        time.sleep(0.05)
    return stack.app_log.read_text(errors="replace")


def test_every_page_type_answers_through_nginx(stack):
    for path in PAGES:
        answer = fetch(stack, path)
        assert answer.status == 200, (path, answer.status, answer.text[:300])
        assert answer.headers["Server"] == "nginx"
    assert "Welcome" in fetch(stack, "/posts/welcome/").text
    assert fetch(stack, "/posts/no-such-post/").status == 404


def test_second_anonymous_get_is_a_cache_hit(stack):
    path = f"/posts/welcome/?from={uuid.uuid4().hex}"
    first, second = fetch(stack, path), fetch(stack, path)
    assert first.headers["X-Cache-Status"] == "MISS"
    assert second.headers["X-Cache-Status"] == "HIT"
    assert second.body == first.body
    # The app answered once; nginx answered the second time.
    assert app_log(stack).count(path) == 1


def test_a_conditional_get_is_answered_by_nginx_from_its_copy(stack):
    """Browsers keep no copy of their own (max-age=0, s-maxage for nginx), so a new post shows
    within CACHE_MAX_AGE; their next visit is a conditional GET nginx answers itself."""
    path = f"/posts/welcome/?from={uuid.uuid4().hex}"
    first = fetch(stack, path)
    assert first.headers["Cache-Control"].startswith("public, max-age=0, s-maxage=")
    again = fetch(stack, path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304 and again.headers["X-Cache-Status"] == "HIT"


def test_a_json_404_is_never_served_to_a_browser(stack):
    path = f"/posts/no-such-post-{uuid.uuid4().hex}/"
    api = fetch(stack, path, headers={"Accept": "application/json"})
    assert api.status == 404 and api.headers["Content-Type"].startswith("application/json")
    assert api.headers["Cache-Control"] == "no-store"
    for _ in range(2):  # the HTML 404 may be cached (briefly), the JSON one never was
        page = fetch(stack, path, headers={"Accept": "text/html"})
        assert page.status == 404 and page.headers["Content-Type"].startswith("text/html")
    api = fetch(stack, path, headers={"Accept": "application/json"})
    assert api.headers["Content-Type"].startswith("application/json")


def test_logged_in_requests_are_never_cached(stack):
    path = f"/archive/?from={uuid.uuid4().hex}"
    cookie = {"Cookie": "theme=dark; __Host-session=an-author-session"}
    for _ in range(2):
        answer = fetch(stack, path, headers=cookie)
        assert answer.headers["X-Cache-Status"] == "BYPASS"
        assert answer.headers["Cache-Control"] == "private, no-store"
    # Nothing was stored for anonymous readers either.
    assert fetch(stack, path).headers["X-Cache-Status"] == "MISS"
    assert app_log(stack).count(path) == 3


def test_static_and_media_are_answered_by_nginx(stack):
    home = fetch(stack, "/").text
    css = re.search(r'href="(/static/css/site\.css\?v=\w+)"', home).group(1)
    media_file = Path(stack.settings.media_root) / "a1b2c3.png"
    media_file.write_bytes(b"\x89PNG\r\n\x1a\nnot really a picture")
    plotly = stack.settings.plotly_prefix + "plotly.min.js"
    for path in (css, "/media/a1b2c3.png", plotly):
        answer = fetch(stack, path)
        assert answer.status == 200, path
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert fetch(stack, "/media/a1b2c3.png").body == media_file.read_bytes()
    static = fetch(stack, css)
    assert static.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "sandbox" in fetch(stack, "/media/a1b2c3.png").headers["Content-Security-Policy"]
    log = app_log(stack)
    assert "/static/" not in log and "/media/" not in log


def test_the_chart_bundles_come_from_nginx_gzipped(stack):
    post = fetch(stack, "/posts/welcome/").text
    # Every plotly.js bundle js/charts.js may load (data-plotly-bundles): partial and full.
    bundles = re.findall(r'"(/static/vendor/plotly[^"]+\.min\.js[^"]*)"', post)
    assert len(bundles) == 3, bundles
    for path in bundles:
        answer = fetch(stack, path, headers={"Accept-Encoding": "gzip"})
        assert answer.status == 200 and answer.headers["Content-Encoding"] == "gzip", path
        assert "javascript" in answer.headers["Content-Type"]
        # The .gz beside the file (gzip_static: level 9, written once), not gzipped anew.
        name = path.split("?")[0].rsplit("/", 1)[-1]
        if "/vendor/plotly/" in path:
            beside = stack.settings.static_root / "vendor" / "plotly" / f"{name}.gz"
        else:
            beside = stack.settings.plotly_root / f"{name}.gz"
        assert answer.body == beside.read_bytes(), path
    assert "/static/vendor/" not in app_log(stack)


def test_text_is_gzipped_but_not_admin_pages(stack):
    answer = fetch(stack, "/posts/welcome/", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["Content-Encoding"] == "gzip"
    # Pages with CSRF tokens are not compressed (BREACH) and never cached.
    login = fetch(stack, "/admin/login", headers={"Accept-Encoding": "gzip"})
    assert login.status == 200 and "Content-Encoding" not in login.headers
    assert "X-Cache-Status" not in login.headers


@pytest.mark.parametrize("path", ["/", "/admin/login", "/admin/media/upload", "/nothing/here"])
def test_oversize_upload_is_refused_by_nginx(stack, path):
    answer = fetch(stack, path, method="POST", body=b"x" * (UPLOAD_LIMIT + 1),
                   headers={"Content-Type": "application/octet-stream"})
    assert answer.status == 413
    assert f'"POST {path} ' not in app_log(stack)


def test_security_headers_on_every_response(stack):
    for path in ("/", "/posts/welcome/", "/nothing/here/", "/static/favicon.svg", "/feed.xml"):
        headers = fetch(stack, path).headers
        csp = headers.get_all("Content-Security-Policy")
        assert len(csp) == 1, path
        assert "script-src 'self';" in csp[0] and "unsafe-inline" not in csp[0].split(
            "script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp[0]
        assert headers["Strict-Transport-Security"].startswith("max-age=63072000")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Resource-Policy"] == "same-origin"


def test_http_redirects_to_https_except_acme_challenges(stack):
    answer = fetch(stack, "/posts/welcome/?a=1", https=False)
    assert answer.status == 308
    assert answer.headers["Location"] == f"{stack.https_url}/posts/welcome/?a=1"
    challenge = stack.settings.acme_webroot / ".well-known" / "acme-challenge"
    challenge.mkdir(parents=True, exist_ok=True)
    (challenge / "token123").write_text("token123.key")
    answer = fetch(stack, "/.well-known/acme-challenge/token123", https=False)
    assert (answer.status, answer.text) == (200, "token123.key")


def _handshake(stack: Stack, version: ssl.TLSVersion, ciphers: str) -> str:
    """The negotiated protocol, or the alert nginx answered with."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(stack.ca_file))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 on purpose
        context.minimum_version = context.maximum_version = version
    context.set_ciphers(ciphers)
    try:
        with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                return f"{tls.version()} {tls.cipher()[0]}"
    except ssl.SSLError as e:
        return str(e)


def test_tls_is_mozilla_intermediate(stack):
    # The refusals are alerts sent by nginx, not a client that would not try.
    assert "ALERT_PROTOCOL_VERSION" in _handshake(stack, ssl.TLSVersion.TLSv1_1, "ALL:@SECLEVEL=0")
    assert "ALERT_HANDSHAKE_FAILURE" in _handshake(
        stack, ssl.TLSVersion.TLSv1_2, "AES128-GCM-SHA256:AES256-SHA")  # no forward secrecy
    # The server's order wins (AES-GCM first)...
    client_order = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
    assert _handshake(stack, ssl.TLSVersion.TLSv1_2, client_order) == (
        "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256")
    # ...except for a client that asks for ChaCha20 first (PrioritizeChaCha).
    chacha_first = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"
    assert _handshake(stack, ssl.TLSVersion.TLSv1_2, chacha_first) == (
        "TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305")
    assert _handshake(stack, ssl.TLSVersion.TLSv1_3, "DEFAULT").startswith("TLSv1.3 ")


def test_nginx_overwrites_a_forged_client_address(stack):
    path = f"/tags/?ip={uuid.uuid4().hex}"
    fetch(stack, path, headers={"X-Forwarded-For": "198.51.100.66"})
    line = next(line for line in app_log(stack).splitlines() if path in line)
    assert line.startswith("127.0.0.1 ")


def test_login_is_rate_limited_by_nginx(stack):
    statuses = [fetch(stack, "/admin/login", method="POST", body=b"x=1",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}).status
                for _ in range(12)]
    assert 429 in statuses
    assert statuses.count(429) >= 12 - 6  # 1 + burst of 5 reach the app, the rest are refused
    # Showing the form is not limited: a reader who mistypes can still get to it.
    assert fetch(stack, "/admin/login").status == 200


def doctor(stack: Stack) -> tuple[int, str]:
    """`inkwell doctor` pointed at the stack's nginx files: (exit status, output)."""
    import subprocess
    import sys

    done = subprocess.run(
        [str(Path(sys.executable).parent / "inkwell"), "doctor",
         "--site", str(stack.run_dir / "inkwell.conf"),
         "--error-log", str(stack.run_dir / "nginx-error.log")],
        cwd=stack.app_dir, env=stack.env, capture_output=True, text=True, timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_inkwell_stats_counts_readers_from_nginxs_log(stack):
    """Readers served from nginx's cache never reach the app, so `inkwell stats` counts from
    nginx's own access log: browsers' page views (cache hits included), not robots, not static
    files (this module's other requests send no User-Agent: robots too)."""
    import subprocess
    import sys

    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0",
               "Referer": "https://news.example/item/1"}
    for _ in range(3):
        assert fetch(stack, "/archive/", headers=browser).status == 200
    assert fetch(stack, "/archive/", headers={"User-Agent": "Googlebot/2.1"}).status == 200
    assert fetch(stack, "/static/favicon.svg", headers=browser).status == 200
    done = subprocess.run(
        [str(Path(sys.executable).parent / "inkwell"), "stats", "--days", "1",
         "--log", str(stack.run_dir / "nginx-access.log")],
        cwd=stack.app_dir, env=stack.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^\s+3\s+1\s+/archive/$", done.stdout, re.M), done.stdout
    assert re.search(r"^\s+3\s+news\.example$", done.stdout, re.M), done.stdout
    assert "favicon" not in done.stdout and "not in nginx's combined format" not in done.stdout


def test_pages_stay_available_while_gunicorn_is_stopped(stack):
    """Last in the module: it stops gunicorn (and starts it again). `inkwell doctor` says why
    nginx answers 502 meanwhile."""
    status, report = doctor(stack)
    assert status == 0, report
    assert f"gunicorn answers at {stack.settings.app_bind}" in report
    cached, css = "/tags/inkwell/", re.search(
        r'href="(/static/css/site\.css\?v=\w+)"', fetch(stack, "/").text).group(1)
    assert fetch(stack, cached).status == 200
    stack.stop_app()
    try:
        time.sleep(CACHE_SECONDS + 1)  # let the cached copy expire: only a stale copy is left
        stale = fetch(stack, cached)
        assert stale.status == 200 and stale.headers["X-Cache-Status"] == "STALE"
        assert "Inkwell" in stale.text
        assert fetch(stack, css).status == 200
        never_cached = fetch(stack, f"/search?q={uuid.uuid4().hex}")
        assert never_cached.status == 502
        assert "Back in a moment" in never_cached.text
        assert never_cached.headers["Content-Security-Policy"]
        status, report = doctor(stack)
        assert status == 1
        assert f"FAIL nothing listens at {stack.settings.app_bind}" in report
        assert "nothing listened at the upstream address" in report  # from nginx's error log
    finally:
        stack.start_app()
    assert fetch(stack, "/healthz").status == 200


def test_make_stack_keeps_nginx_up_when_gunicorn_stops_and_stops_on_ctrl_c(tmp_path):
    """`inkwell deploy stack` (what `make stack` runs): stopping gunicorn leaves nginx serving
    (the styled 502 for a page never cached), Ctrl-C (SIGINT) then stops everything."""
    import os
    import signal
    import subprocess
    import sys

    need_binary("nginx")
    http_port, https_port = free_port(), free_port()
    env = {**os.environ, "SECRET_KEY": new_secret_key(), "WEB_CONCURRENCY": "1",
           "INKWELL_INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": "",
           "MEDIA_ROOT": str(tmp_path / "instance" / "media"), "MEDIA_BACKEND": "local"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "inkwell"), "deploy", "stack",
         "--http-port", str(http_port), "--https-port", str(https_port),
         "--run-dir", str(tmp_path / "run")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        banner = ""
        while "e.g. curl" not in banner:
            line = proc.stdout.readline()
            assert line, banner
            banner += line
        pid = int(re.search(r"master pid (\d+)", banner).group(1))
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
        context = ssl.create_default_context(cafile=str(tmp_path / "run" / "ca.pem"))
        conn = http.client.HTTPSConnection("127.0.0.1", https_port, context=context, timeout=30)
        conn.request("GET", "/tags/")
        answer = conn.getresponse()
        assert answer.status == 502 and "Back in a moment" in answer.read().decode()
        conn.close()
        assert proc.poll() is None  # nginx, and the stack, still up
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "gunicorn stopped" in output and "Stopped." in output
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", https_port)) != 0  # nginx is gone too


class DroppingApp:
    """Stands where gunicorn would listen: reads each request, and for the first request to a
    path closes the connection without a word (as a worker killed mid-request does); answers
    every later one with a private 200. Records the method and path of every request it read."""

    def __init__(self, port: int) -> None:
        import threading

        self.seen: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", port))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                while True:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        data = conn.recv(65536)
                        if not data:
                            break
                        request += data
                    if not data:
                        break
                    line = request.split(b"\r\n", 1)[0].decode()
                    first = line not in self.seen
                    self.seen.append(line)
                    if first:
                        conn.shutdown(socket.SHUT_RDWR)
                        break
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Cache-Control: private, no-store\r\nContent-Length: 2\r\n"
                                 b"\r\nok")

    def close(self) -> None:
        self.listener.close()


def test_nginx_sends_a_get_again_when_the_app_drops_it_but_never_a_post(tmp_path):
    """A worker killed mid-request (OOM killer, crash) closes nginx's connection before any
    answer: nginx tries a GET once more on a new connection (the upstream lists the app twice),
    so the reader gets the page; a POST is never sent twice. Nothing is kept alive here, so the
    retry is not nginx's own for a stale keep-alive connection."""
    running = stack_in(tmp_path)
    running.prepare()
    app = DroppingApp(running.app_port)
    try:
        running.start_nginx()
        try:
            answer = fetch(running, "/search?q=retry")
            assert answer.status == 200 and answer.text == "ok"
            assert app.seen.count("GET /search?q=retry HTTP/1.1") == 2
            posted = fetch(running, "/admin/login", method="POST", body=b"x=1",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert posted.status == 502 and "Back in a moment" in posted.text
            assert app.seen.count("POST /admin/login HTTP/1.1") == 1
        finally:
            running.stop_nginx()
    finally:
        app.close()


def test_static_files_come_from_the_store_by_their_fingerprint(tmp_path):
    """With push-to-deploy's STATIC_STORE, nginx answers /static/x?v=HASH with the file of that
    content: a page of the release before (cached by nginx, or after a rollback) gets its own
    stylesheet, pinned for a year; a fingerprint the store lacks gets the current file, which
    the browser must check again (never pinned under a URL that names other content)."""
    from inkwell.assets import file_hash
    from inkwell.deploy.settings import PACKAGE_DIR

    store = tmp_path / "store"
    current = PACKAGE_DIR / "static" / "css" / "site.css"
    (store / file_hash(current) / "css").mkdir(parents=True)
    (store / file_hash(current) / "css" / "site.css").write_bytes(current.read_bytes())
    (store / "0123456789ab" / "css").mkdir(parents=True)
    (store / "0123456789ab" / "css" / "site.css").write_text("/* the release before */")
    running = stack_in(tmp_path / "site", STATIC_STORE=str(store))
    running.prepare()
    running.start_nginx()
    try:
        old = fetch(running, "/static/css/site.css?v=0123456789ab")
        assert old.status == 200 and old.text == "/* the release before */"
        assert old.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert old.headers["Content-Type"].startswith("text/css")
        assert old.headers["Content-Security-Policy"] and old.headers["X-Content-Type-Options"]
        now = fetch(running, f"/static/css/site.css?v={file_hash(current)}")
        assert now.status == 200 and now.body == current.read_bytes()
        assert "immutable" in now.headers["Cache-Control"]
        for v in ("ffffffffffff", "../../../../etc/passwd", ""):
            other = fetch(running, f"/static/css/site.css?v={v}")
            assert other.status == 200 and other.body == current.read_bytes(), v
            assert other.headers["Cache-Control"] == "no-cache", v
            assert other.headers["Content-Security-Policy"]
        assert fetch(running, "/static/css/none.css?v=0123456789ab").status == 404
        # nginx resolves the dots before choosing a location: this asks the app (not running).
        assert b"inkwell_app" not in fetch(running, "/static/../inkwell.conf").body
    finally:
        running.stop_nginx()
