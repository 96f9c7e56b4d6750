"""Several app servers behind one nginx (APP_SERVERS), as a site that outgrew one box runs:
two gunicorns on their own ports, PostgreSQL, media in S3 (moto), sign-in limits in Redis,
started by the same `Stack` as `make stack --app-servers 2` and checked through nginx.
"""

from __future__ import annotations

import dataclasses
import signal
import time
import uuid

import redis

from ..conftest import pg_url
from ..services import REDIS_URL, missing, new_bucket
from .admin_support import Browser, create_admin
from .test_stack import fetch, stack_in


def _requests_seen(log_text: str, marker: str) -> int:
    return sum(1 for line in log_text.splitlines() if marker in line)


def test_two_app_servers_share_the_site_and_cover_for_each_other(
    tmp_path, empty_pg_database, s3_endpoint
):
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as e:
        missing(f"Redis is not reachable at {REDIS_URL}: {type(e).__name__}")
    running = dataclasses.replace(
        stack_in(tmp_path, DATABASE_URL=pg_url(empty_pg_database), MEDIA_BACKEND="s3",
                 REDIS_URL=REDIS_URL, RATELIMIT_KEY_PREFIX=uuid.uuid4().hex,
                 **new_bucket(s3_endpoint)),
        app_servers=2,
    )
    with running:
        first, second = running.app_ports
        site = (running.run_dir / "inkwell.conf").read_text()
        assert f"server 127.0.0.1:{first} max_fails=3" in site
        assert f"server 127.0.0.1:{second} max_fails=3" in site

        # Pages nginx never caches (a new search each time) go round both servers.
        marker = uuid.uuid4().hex
        for i in range(10):
            assert fetch(running, f"/search?q={marker}{i}").status == 200
        logs = [running.app_log, running.run_dir / f"gunicorn-{second}.log"]
        for _ in range(100):  # gunicorn logs a request after answering it
            seen = [_requests_seen(log.read_text(errors="replace"), marker) for log in logs]
            if sum(seen) == 10:
                break
            time.sleep(0.1)
        assert sum(seen) == 10 and min(seen) >= 3, seen

        # An author signed in on one server is signed in on the other: sessions live in the
        # database, not in a process.
        assert create_admin(running.env).returncode == 0
        browser = Browser(f"http://127.0.0.1:{first}")
        signed_in = browser.login()
        assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/admin/")
        assert browser.get("/admin/").status_code == 200
        browser.base = f"http://127.0.0.1:{second}"
        assert browser.get("/admin/").status_code == 200

        # One server stops (a box goes down): readers still get every page, new ones too.
        second_server = running._more_apps[0]
        second_server.send_signal(signal.SIGTERM)
        second_server.wait(60)
        answers = [fetch(running, f"/search?q={marker}-after{i}").status for i in range(20)]
        assert answers == [200] * 20
        assert fetch(running, "/posts/welcome/").status == 200
        # inkwell doctor, from where nginx stands, names the server that is down, and only it.
        from .test_stack import doctor

        status, report = doctor(running)
        assert status == 1, report
        assert f"ok   gunicorn answers at 127.0.0.1:{first}" in report
        assert f"FAIL nothing listens at 127.0.0.1:{second}" in report
        assert "to the other app servers meanwhile" in report
