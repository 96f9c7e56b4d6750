"""`inkwell doctor`'s pieces on real sockets and files (the whole command runs against the stack
in tests/integration/test_stack.py and test_stack_outage.py)."""

from __future__ import annotations

import grp
import os
import socket
from datetime import datetime, timedelta

from inkwell.deploy import diagnose

from ..services import free_port

SITE = """upstream inkwell_app {
    # a server named in a comment is not where nginx connects
    server %s max_fails=0;
    keepalive 64;
}
"""


def test_a_site_that_points_elsewhere_than_app_bind_is_named(tmp_path):
    site = tmp_path / "inkwell.conf"
    site.write_text(SITE % "unix:/run/inkwell/gunicorn.sock")
    addresses, findings = diagnose.check_upstream(site, ("127.0.0.1:8000",))
    assert addresses == ["unix:/run/inkwell/gunicorn.sock"]  # probe where nginx connects
    assert not findings[0].ok and "APP_BIND is 127.0.0.1:8000" in findings[0].what
    assert "render the site again" in findings[0].fix
    site.write_text(SITE % "127.0.0.1:8000")
    assert diagnose.check_upstream(site, ("127.0.0.1:8000",))[1][0].ok


def test_every_app_server_is_compared_and_probed(tmp_path):
    site = tmp_path / "inkwell.conf"
    site.write_text(SITE % "10.0.0.2:8000 max_fails=3;\n    server 10.0.0.3:8000")
    assert diagnose.upstreams_of(site) == ["10.0.0.2:8000", "10.0.0.3:8000"]
    expected = ("10.0.0.2:8000", "10.0.0.3:8000")
    addresses, findings = diagnose.check_upstream(site, expected, "APP_SERVERS")
    assert findings[0].ok and len(addresses) == 2
    addresses, findings = diagnose.check_upstream(site, ("10.0.0.2:8000", "10.0.0.4:8000"),
                                                  "APP_SERVERS")
    assert not findings[0].ok and "APP_SERVERS is 10.0.0.2:8000, 10.0.0.4:8000" in findings[0].what
    assert addresses == ["10.0.0.2:8000", "10.0.0.3:8000"]


def test_nothing_listening_and_a_stuck_app_are_told_apart():
    refused = diagnose.probe_app(f"127.0.0.1:{free_port()}", "blog.example")
    assert not refused[0].ok and "nothing listens" in refused[0].what
    assert "journalctl -u inkwell" in refused[0].fix
    with socket.socket() as stuck:  # accepts connections (the kernel does), never answers
        stuck.bind(("127.0.0.1", 0))
        stuck.listen(8)
        busy = diagnose.probe_app(f"127.0.0.1:{stuck.getsockname()[1]}", "blog.example",
                                  timeout=0.5)
    assert not busy[0].ok and "busy or stuck" in busy[0].what


def test_a_unix_socket_nginx_cannot_use_is_named(tmp_path):
    path = tmp_path / "gunicorn.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        own_group = grp.getgrgid(os.getgid()).gr_name
        os.chmod(path, 0o600)
        closed = diagnose.check_socket(f"unix:{path}", own_group)
        assert not closed[0].ok and "Permission denied" in closed[0].what
        os.chmod(path, 0o660)
        assert diagnose.check_socket(f"unix:{path}", own_group)[0].ok
        other = diagnose.check_socket(f"unix:{path}", "www-data" if own_group != "www-data"
                                      else "root")
        assert not other[0].ok
    missing = diagnose.check_socket(f"unix:{tmp_path / 'none.sock'}", "www-data")
    assert not missing[0].ok and "inkwell.socket" in missing[0].fix
    assert diagnose.check_socket("127.0.0.1:8000", "www-data") == []


def test_nginx_error_log_kinds_are_counted_and_explained(tmp_path):
    log = tmp_path / "error.log"
    request = ('client: 127.0.0.1, server: blog.example, request: "GET / HTTP/1.1", '
               'upstream: "http://127.0.0.1:8000/", host: "blog.example"')
    log.write_text("\n".join([
        "2026/11/29 10:00:00 [notice] 1#1: signal process started",
        f"2026/11/29 10:00:01 [error] 7#7: *1 connect() failed (111: Connection refused) "
        f"while connecting to upstream, {request}",
        f"2026/11/29 10:00:02 [error] 7#7: *2 connect() failed (111: Connection refused) "
        f"while connecting to upstream, {request}",
        f"2026/11/29 10:05:00 [error] 7#7: *9 upstream timed out (110: Connection timed out) "
        f"while reading response header from upstream, {request}",
        "2026/11/29 10:06:00 [crit] 7#7: *12 connect() to unix:/run/inkwell/gunicorn.sock "
        f"failed (13: Permission denied) while connecting to upstream, {request}",
        f"2026/11/29 10:07:00 [error] 7#7: *20 upstream prematurely closed connection while "
        f"reading response header from upstream, {request}",
    ]) + "\n")
    now = datetime(2026, 11, 29, 10, 10)
    found = {f.what.split(": ", 1)[1] for f in diagnose.explain_error_log(log, now=now)}
    assert any(w.startswith("2 x nothing listened") and w.endswith("10:00:02") for w in found)
    assert any(w.startswith("1 x gunicorn took longer") for w in found)
    assert any(w.startswith("1 x nginx's user could not use the unix socket") for w in found)
    assert any(w.startswith("1 x a worker went away") for w in found)
    assert len(found) == 4

    # An hour later the same errors are history: fixed since, not today's 502.
    later = diagnose.explain_error_log(log, now=now + timedelta(hours=1))
    assert len(later) == 1 and later[0].ok and "last 15 minutes" in later[0].what
    log.write_text("2026/11/29 10:00:00 [notice] 1#1: signal process started\n")
    assert diagnose.explain_error_log(log, now=now)[0].ok


def test_doctor_finds_make_stacks_files_without_any_setting(tmp_path):
    """Next to `make stack` (instance/stack/), no DOMAIN or SITE_URL is needed: the stack's site
    file says where nginx connects, its error log is read."""
    import subprocess
    import sys
    from pathlib import Path

    port = free_port()
    stack = tmp_path / "instance" / "stack"
    stack.mkdir(parents=True)
    (stack / "inkwell.conf").write_text(SITE % f"127.0.0.1:{port}")
    (stack / "nginx-error.log").write_text(
        f"{datetime.now():%Y/%m/%d %H:%M:%S} [error] 7#7: *1 connect() failed (111: Connection "
        "refused) while "
        f'connecting to upstream, client: 127.0.0.1, upstream: "http://127.0.0.1:{port}/"\n')
    env = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "DOMAIN", "APP_BIND"}}
    env.update(INKWELL_INSTANCE_PATH=str(tmp_path / "instance"), FLASK_SKIP_DOTENV="1")
    done = subprocess.run([str(Path(sys.executable).parent / "inkwell"), "doctor"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAIL nothing listens at 127.0.0.1:{port}" in done.stdout
    assert "1 x nothing listened at the upstream address" in done.stdout


def test_odd_inputs_are_findings_not_tracebacks(tmp_path):
    from inkwell.deploy.settings import from_env

    settings = from_env({"SITE_URL": "https://блог.example.com", "APP_BIND": f"127.0.0.1:"
                         f"{free_port()}", "INKWELL_APP_DIR": str(tmp_path),
                         "INKWELL_INSTANCE_PATH": str(tmp_path / "instance")})
    a_file = tmp_path / "file"
    a_file.write_text("x")
    sites = {"binary": b"\xff\xfe\x00upstream inkwell_app {", "no port": SITE % "localhost",
             "socket under a file": SITE % f"unix:{a_file}/gunicorn.sock",
             "no upstream": "server { listen 80; }"}
    log = tmp_path / "error.log"
    log.write_bytes(b"\x00\xff" * 5000 + b"\n2026/13/45 99:99:99 [error] garbage\n")
    for name, text in sites.items():
        site = tmp_path / f"{name}.conf"
        site.write_bytes(text if isinstance(text, bytes) else text.encode())
        findings = diagnose.diagnose(settings, site, log)
        assert any(not f.ok for f in findings), name
    assert diagnose._ascii_host("блог.example.com").startswith("xn--")


def test_doctor_tells_which_release_runs_and_how_the_last_deploy_ended(tmp_path):
    from inkwell.deploy.diagnose import check_releases

    root = tmp_path / "srv"
    (root / "releases" / "20261129-100000-abcdef1234").mkdir(parents=True)
    (root / "shared").mkdir()
    current = root / "current"
    findings = check_releases(current, "127.0.0.1:9", "blog.example.com")
    assert [f.ok for f in findings] == [False] and "names no release" in findings[0].what
    (root / "shared" / "deploy.log").write_text(
        "2026-11-29 10:00:00 building release 20261129-100000-abcdef1234\n"
        "2026-11-29 10:01:00 deploy failed: release 20261129-100000-abcdef1234 failed (x) | y\n")
    current.symlink_to("releases/20261129-100000-abcdef1234")
    findings = check_releases(current, "127.0.0.1:9", "blog.example.com")  # nothing listens
    assert all(f.ok for f in findings)
    assert "last deploy: 2026-11-29 10:01:00 deploy failed" in findings[0].what
    assert "current release: 20261129-100000-abcdef1234" in findings[1].what
    assert check_releases(tmp_path / "app", "127.0.0.1:9", "x") == []  # not that layout
