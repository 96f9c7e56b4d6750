"""The uWSGI variant served for real: Debian's uWSGI from the rendered ini, behind the rendered
nginx site, over the unix socket they share (`make stack STACK_SERVER=uwsgi`), checked from the
outside through nginx as the gunicorn stack is; and `inkwell doctor` naming each 502 of that
setup, each broken on purpose.

As root (CI), nginx's workers run as www-data, as on a server: the socket's group and mode then
decide whether nginx may connect, and breaking them gives the real "Permission denied".
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from inkwell.config import new_secret_key
from inkwell.deploy import gunicorn, uwsgi
from inkwell.deploy.stack import Stack

from ..services import BIN, free_port, missing, need_binary
from .admin_support import Browser, create_admin
from .test_stack import PAGES, doctor, fetch
from .test_stack import app_log as uwsgi_log

REPO = Path(__file__).resolve().parents[2]
AS_ROOT = os.geteuid() == 0
NGINX_USER = "www-data"


@pytest.fixture(scope="module")
def stack():
    need_binary("nginx")
    need_binary("uwsgi")
    if uwsgi.embedded_python() is None:
        missing("uWSGI's python3 plugin is not installed (apt install uwsgi-plugin-python3)")
    # Not pytest's tmp_path: its folders are private to root, and nginx's workers (www-data)
    # read the media folder.
    folder = Path(tempfile.mkdtemp(prefix="inkwell-uwsgi-"))
    folder.chmod(0o755)
    running = Stack(
        app_dir=folder, run_dir=folder / "run", http_port=free_port(), https_port=free_port(),
        log_to_files=True, server="uwsgi",
        nginx_user=f"{NGINX_USER} {NGINX_USER}" if AS_ROOT else None,
        extra_env={
            "INKWELL_INSTANCE_PATH": str(folder / "instance"),
            "DATABASE_URL": f"sqlite:///{folder / 'instance' / 'inkwell.sqlite3'}",
            "MEDIA_ROOT": str(folder / "instance" / "media"),
            "MEDIA_BACKEND": "local",
            "CONTENT_DIR": str(REPO / "content"),  # the welcome post and the about page
            "SECRET_KEY": new_secret_key(),
            "WEB_CONCURRENCY": "2",
            "CACHE_MAX_AGE": "3",
        },
    )
    try:
        with running:
            yield running
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def workers(stack: Stack) -> list[int]:
    children = Path(f"/proc/{stack.app_pid}/task/{stack.app_pid}/children")
    return [int(pid) for pid in children.read_text().split()]


def uncached(stack: Stack) -> int:
    """A page nginx never has a copy of: its status tells whether uWSGI answered."""
    return fetch(stack, f"/search?q={uuid.uuid4().hex}").status


# --- what the gunicorn stack does, under uWSGI -------------------------------------------------


def test_uwsgi_runs_from_the_rendered_ini_on_the_unix_socket(stack):
    site = (stack.run_dir / "inkwell.conf").read_text()
    ini = uwsgi.read_ini(stack.uwsgi_ini)
    assert f"server unix:{stack.settings.uwsgi_socket} max_fails=0;" in site
    assert "uwsgi_pass inkwell_app;" in site and "proxy_pass http://inkwell_app" not in site
    assert ini["socket"] == str(stack.settings.uwsgi_socket)
    assert uwsgi.check(stack.uwsgi_ini, stack.settings) is None
    log = stack.app_log.read_text(errors="replace")
    assert "*** Operational MODE: preforking+threaded ***" in log
    # The Python uWSGI embeds is the venv's: no other build's standard library under it.
    assert f"Python version: {uwsgi.embedded_python()}" in log
    python = Path(ini["virtualenv"]) / "bin" / "python"
    done = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == uwsgi.embedded_python()


def test_every_page_type_answers_through_nginx(stack):
    for path in PAGES:
        answer = fetch(stack, path)
        assert answer.status == 200, (path, answer.status, answer.text[:300])
        assert answer.headers["Server"] == "nginx"
    assert "Welcome" in fetch(stack, "/posts/welcome/").text
    assert fetch(stack, "/posts/no-such-post/").status == 404
    path = f"/posts/welcome/?from={uuid.uuid4().hex}"
    first, second = fetch(stack, path), fetch(stack, path)
    assert (first.headers["X-Cache-Status"], second.headers["X-Cache-Status"]) == ("MISS", "HIT")
    assert uwsgi_log(stack).count(path) == 1  # the second came from nginx's cache


def test_static_and_media_are_answered_by_nginx(stack):
    home = fetch(stack, "/").text
    css = re.search(r'href="(/static/css/site\.css\?v=\w+)"', home).group(1)
    media_file = Path(stack.settings.media_root) / "d4e5f6.png"
    media_file.write_bytes(b"\x89PNG\r\n\x1a\nnot really a picture")
    plotly = stack.settings.plotly_prefix + "plotly.min.js"
    for path in (css, "/media/d4e5f6.png", plotly):
        answer = fetch(stack, path)
        assert answer.status == 200, (path, answer.status)
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert fetch(stack, "/media/d4e5f6.png").body == media_file.read_bytes()
    assert "sandbox" in fetch(stack, "/media/d4e5f6.png").headers["Content-Security-Policy"]
    log = uwsgi_log(stack)
    assert "/static/" not in log and "/media/" not in log


def test_an_author_signs_in_and_saves_a_post_through_nginx(stack):
    made = create_admin(stack.env)
    assert made.returncode == 0, made.stderr
    author = Browser(stack.https_url)
    author.verify = str(stack.ca_file)
    author.trust_env = False  # REQUESTS_CA_BUNDLE would win over the stack's own CA
    # As a browser sends it on a form post (Flask-WTF checks it over HTTPS).
    author.headers["Referer"] = f"{stack.https_url}/admin/"
    signed_in = author.login()
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/admin/")
    slug = f"under-uwsgi-{uuid.uuid4().hex[:8]}"
    saved = author.submit("/admin/posts/new", {
        "title": "Written under uWSGI", "slug": slug, "description": "", "tags": "uwsgi",
        "body": "Saved through nginx and a **unix socket**.", "publish": "1"})
    assert saved.status_code == 302, saved.text[:500]
    page = fetch(stack, f"/posts/{slug}/")
    assert page.status == 200 and "<strong>unix socket</strong>" in page.text


def test_nginx_passes_the_readers_address_not_a_forged_one(stack):
    path = f"/tags/?ip={uuid.uuid4().hex}"
    fetch(stack, path, headers={"X-Forwarded-For": "198.51.100.66"})
    line = next(line for line in uwsgi_log(stack).splitlines() if path in line)
    assert "] 127.0.0.1 (" in line and "198.51.100.66" not in line


def test_the_socket_is_for_its_owner_and_nginx_only(stack):
    info = stack.settings.uwsgi_socket.stat()
    assert oct(info.st_mode & 0o777) == "0o660"
    if not AS_ROOT:
        missing("who else may connect is seen as root (nginx as www-data, a third user)")
    import grp

    assert grp.getgrgid(info.st_gid).gr_name == NGINX_USER
    probe = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1]); print('connected')\n"
             "except PermissionError:\n    print('denied')\n")
    # The system's python3: the venv's may live where another user cannot go (/root).
    answers = {user: subprocess.run(["/usr/bin/python3", "-c", probe, str(
        stack.settings.uwsgi_socket)], user=user, group=group, extra_groups=[],
        capture_output=True, text=True, timeout=30).stdout.strip()
        for user, group in ((NGINX_USER, NGINX_USER), ("nobody", "nogroup"))}
    assert answers == {NGINX_USER: "connected", "nobody": "denied"}


def test_the_app_is_preloaded_once_and_each_worker_forks_from_it(stack):
    log = stack.app_log.read_text(errors="replace")
    master = stack.app_pid
    assert re.search(rf"WSGI app 0 \(mountpoint=''\) ready in \d+ seconds on interpreter "
                     rf"\S+ pid: {master} ", log), "the app was not loaded in the master"
    for worker in workers(stack):
        assert int(Path(f"/proc/{worker}/stat").read_text().split()[3]) == master
    for n in (1, 2):
        assert f"inkwell: worker {n} forked from the preloaded app" in log
    ini = uwsgi.read_ini(stack.uwsgi_ini)
    assert "lazy-apps" not in ini and ini["processes"] == "2"
    assert ini["max-requests"] == str(gunicorn.MAX_REQUESTS)
    assert ini["harakiri"] == str(gunicorn.TIMEOUT)


def test_a_graceful_reload_refuses_no_request(stack):
    """SIGHUP (systemctl reload inkwell-uwsgi): the workers finish their requests, the app is
    loaded again, the socket stays open: readers get every page meanwhile."""
    before = set(workers(stack))
    statuses: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            statuses.append(uncached(stack))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        time.sleep(1)
        os.kill(stack.app_pid, signal.SIGHUP)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            now = set(workers(stack))
            if len(now) == 2 and not now & before:
                break
            time.sleep(0.2)
        time.sleep(1)
    finally:
        stop.set()
        reader.join(60)
    assert len(set(workers(stack)) & before) == 0, "the workers were not replaced"
    assert len(statuses) >= 10 and set(statuses) == {200}, statuses
    assert stack.app_exit_status() is None  # the same master, still running


# --- inkwell doctor names each 502, broken on purpose ------------------------------------------


def test_doctor_finds_nothing_wrong_on_a_working_stack(stack):
    status, report = doctor(stack)
    assert status == 0, report
    assert f"uWSGI answers on {stack.settings.uwsgi_socket}" in report
    assert "name one socket" in report


def test_doctor_uwsgi_not_running(stack):
    cached = "/tags/inkwell/"
    assert fetch(stack, cached).status == 200
    stack.stop_app()
    # Its vacuum removes the socket, except after a graceful reload (uWSGI 2.0 then no longer
    # knows the socket's inode and leaves it: that case is the killed uWSGI's below).
    stack.settings.uwsgi_socket.unlink(missing_ok=True)
    try:
        answer = fetch(stack, f"/search?q={uuid.uuid4().hex}")
        assert answer.status == 502 and "Back in a moment" in answer.text
        time.sleep(4)  # CACHE_MAX_AGE=3: only a stale copy is left, and readers still get it
        stale = fetch(stack, cached)
        assert stale.status == 200 and stale.headers["X-Cache-Status"] == "STALE"
        status, report = doctor(stack)
        assert status == 1
        assert f"FAIL uWSGI is not running: its socket {stack.settings.uwsgi_socket} does not " \
               "exist" in report
        assert "systemctl restart inkwell-uwsgi" in report
        assert "the uWSGI socket did not exist" in report  # nginx's error log, explained
    finally:
        stack.start_app()
    assert uncached(stack) == 200


def test_doctor_socket_missing_while_uwsgi_runs(stack):
    stack.settings.uwsgi_socket.unlink()
    try:
        assert uncached(stack) == 502
        status, report = doctor(stack)
        assert status == 1
        assert f"FAIL uWSGI runs (pid {stack.app_pid}) but its socket " \
               f"{stack.settings.uwsgi_socket} is gone" in report
        assert "restart uWSGI" in report
    finally:
        stack.stop_app()
        stack.start_app()
    assert uncached(stack) == 200


def test_doctor_killed_uwsgi_leaves_a_dead_socket(stack):
    """SIGKILL: no vacuum, the socket stays with nobody accepting (Connection refused)."""
    pids = [stack.app_pid, *workers(stack)]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    stack._app.wait(30)
    try:
        assert stack.settings.uwsgi_socket.exists()
        assert uncached(stack) == 502
        status, report = doctor(stack)
        assert status == 1
        assert "FAIL uWSGI is not running: nothing accepts on" in report
        assert "nothing accepted on the uWSGI socket" in report  # nginx's log: 111 refused
    finally:
        stack.settings.uwsgi_socket.unlink(missing_ok=True)
        stack.start_app()
    assert uncached(stack) == 200


def test_doctor_site_and_ini_name_different_sockets(stack):
    """The story's 502: the ini was changed (or rendered from another .env) and uWSGI binds
    elsewhere than the site's uwsgi_pass looks."""
    good = stack.uwsgi_ini.read_text()
    other = stack.run_dir / "other.sock"
    stack.stop_app()
    stack.uwsgi_ini.write_text(uwsgi.render_ini(
        replace(stack.settings, uwsgi_socket=other), stack.uwsgi_ini,
        Path(uwsgi.read_ini(stack.uwsgi_ini)["virtualenv"]), stack.env))
    elsewhere = subprocess.Popen([uwsgi.uwsgi_binary(), "--ini", str(stack.uwsgi_ini)],
                                 cwd=stack.app_dir, env=stack.env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    try:
        uwsgi.wait_ready(other, stack.settings.domain, elsewhere, stack.app_log)
        assert uncached(stack) == 502
        status, report = doctor(stack)
        assert status == 1
        assert f"FAIL nginx connects to {stack.settings.uwsgi_socket} " in report
        assert f"but uWSGI binds {other} ({stack.uwsgi_ini})" in report
        assert "render the site and the ini from one .env" in report
    finally:
        elsewhere.terminate()
        elsewhere.wait(60)
        stack.uwsgi_ini.write_text(good)
        stack.start_app()
    assert uncached(stack) == 200


def test_doctor_socket_nginx_may_not_open(stack):
    if not AS_ROOT:
        missing("nginx's workers run as another user than uWSGI only as root")
    socket_path = stack.settings.uwsgi_socket
    socket_path.chmod(0o600)  # group www-data loses its rights
    try:
        assert uncached(stack) == 502
        status, report = doctor(stack)
        assert status == 1
        assert f"FAIL {socket_path} is root:{NGINX_USER}, mode 600: nginx's user " \
               f"{NGINX_USER} may not connect" in report
        assert "chmod-socket = 660" in report
        assert "nginx's user could not use the uWSGI socket" in report  # (13: Permission denied)
    finally:
        socket_path.chmod(0o660)
    assert uncached(stack) == 200


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("value, says", [
    ("/run/" + "x" * 100 + ".sock", "at most 102"),
    ("run/uwsgi.sock", "must be an absolute path"),
    ("/run/ink well/uwsgi.sock", "may not contain spaces"),
    ("/run/inkwell/uwsgi.sock;evil", "may not contain spaces"),
])
def test_render_refuses_a_socket_path_uwsgi_or_nginx_cannot_use(tmp_path, value, says):
    done = subprocess.run(
        [str(BIN / "inkwell"), "deploy", "render", "--out", str(tmp_path / "out")],
        env={**os.environ, "SITE_URL": "https://blog.example.com", "INKWELL_UWSGI_SOCKET": value},
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line, no traceback
    assert "INKWELL_UWSGI_SOCKET" in done.stderr and says in done.stderr
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_render_refuses_a_socket_nginx_cannot_reach_and_a_bad_user(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    for env, says in (({"INKWELL_UWSGI_SOCKET": f"{private}/uwsgi.sock"},
                       f"nginx's group www-data may not pass through {private}"),
                      ({"INKWELL_USER": "in kwell"}, "INKWELL_USER must be a plain user")):
        done = subprocess.run(
            [str(BIN / "inkwell"), "deploy", "render", "--out", str(tmp_path / "out")],
            env={**os.environ, "SITE_URL": "https://blog.example.com", **env},
            cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and says in done.stderr, done.stderr
        assert not (tmp_path / "out").exists()


def test_make_stack_with_uwsgi_serves_and_stops_on_ctrl_c(tmp_path):
    """`inkwell deploy stack --server uwsgi`, what `make stack STACK_SERVER=uwsgi` runs."""
    import http.client
    import ssl

    need_binary("nginx")
    need_binary("uwsgi")
    http_port, https_port = free_port(), free_port()
    env = {**os.environ, "SECRET_KEY": new_secret_key(), "WEB_CONCURRENCY": "1",
           "INKWELL_INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": "",
           "MEDIA_ROOT": str(tmp_path / "instance" / "media"), "MEDIA_BACKEND": "local",
           "CONTENT_DIR": str(REPO / "content")}
    proc = subprocess.Popen(
        [str(BIN / "inkwell"), "deploy", "stack", "--server", "uwsgi",
         "--http-port", str(http_port), "--https-port", str(https_port),
         "--run-dir", str(tmp_path / "run")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = ""
        while "e.g. curl" not in banner:
            line = proc.stdout.readline()
            assert line, banner
            banner += line
        assert f"unix:{tmp_path / 'run' / 'uwsgi.sock'}   uWSGI" in banner
        context = ssl.create_default_context(cafile=str(tmp_path / "run" / "ca.pem"))
        conn = http.client.HTTPSConnection("127.0.0.1", https_port, context=context, timeout=30)
        conn.request("GET", "/posts/welcome/")
        answer = conn.getresponse()
        assert answer.status == 200 and b"Welcome" in answer.read()
        conn.close()
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Stopping nginx and uwsgi..." in output and "Stopped." in output
    assert not uwsgi.running(tmp_path / "run" / uwsgi.INI_FILE)


def test_make_stack_passes_the_server_on_and_an_unknown_one_is_refused(tmp_path):
    dry = subprocess.run(["make", "-n", "-s", "-C", str(REPO), "stack", "STACK_SERVER=uwsgi"],
                         capture_output=True, text=True, timeout=60)
    assert re.search(r"inkwell deploy stack .*--server uwsgi", dry.stdout, re.S), dry.stdout
    done = subprocess.run([str(BIN / "inkwell"), "deploy", "stack", "--server", "bjoern"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "'bjoern' is not one of 'gunicorn', 'uwsgi'" in done.stderr
    assert not (tmp_path / "instance").exists()
