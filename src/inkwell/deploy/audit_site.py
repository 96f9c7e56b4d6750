"""The site `make audit`'s Lighthouse part scores: the content folder plus two chart posts in a
throwaway instance, served as `make run` serves it (RunTarget) or through `make stack`
(StackTarget), and an admin signed in through the login form for the admin pages.
"""

from __future__ import annotations

import http.cookiejar
import json
import math
import os
import re
import shutil
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from ..config import ConfigError, new_secret_key
from . import envfile
from .stack import Stack, _free_port, _stop, _wait_for

ADMIN_EMAIL = "lighthouse@example.com"


def _chart_block(title: str, seed: int) -> str:
    """A fenced plotly block: a line of 50 daily points, the size of a chart people publish."""
    days = [f"2026-03-{1 + i // 2:02d}T{12 * (i % 2):02d}:00" for i in range(50)]
    values = [
        round(120 + 30 * math.sin((i + seed) / 5) + 8 * math.cos(i * seed / 3), 1)
        for i in range(50)
    ]
    figure = {
        "data": [
            {"type": "scatter", "mode": "lines+markers", "name": "p99 (ms)", "x": days, "y": values}
        ],
        "layout": {
            "title": {"text": title},
            "height": 360,
            "xaxis": {"title": {"text": "time"}},
            "yaxis": {"title": {"text": "ms"}},
        },
    }
    return f"```plotly\n{json.dumps(figure)}\n```\n"


ONE_CHART = """---
title: Tail latency in March
slug: lighthouse-one-chart
date: 2026-04-02T10:00:00
description: The slowest request in a hundred, twice a day through March.
tags: [charts]
---

{chart}
The chart above is the 99th percentile of page times, measured twice a day: the slow days are
the ones with a backup running beside the site.
"""

THREE_CHARTS = """---
title: Three views of one month
slug: lighthouse-three-charts
date: 2026-04-03T10:00:00
description: Latency, throughput and errors through March, one chart each.
tags: [charts]
---

March was a quiet month for the blog, with three exceptions. First the slowest requests:

{chart1}
Then how many pages were served each half day; the weekend dips are the readers, not the site:

{chart2}
And last the errors, which follow the backups more than the readers:

{chart3}
Next month the backups move to the night.
"""


def write_content(app_dir: Path, folder: Path) -> None:
    """The content folder's posts and pages, plus one post with a chart above the fold and one
    with three charts."""
    shutil.rmtree(folder, ignore_errors=True)
    source = app_dir / "content"
    if source.is_dir():
        shutil.copytree(source, folder)
    posts = folder / "posts"
    posts.mkdir(parents=True, exist_ok=True)
    (posts / "lighthouse-one-chart.md").write_text(
        ONE_CHART.format(chart=_chart_block("p99 page time", 1))
    )
    (posts / "lighthouse-three-charts.md").write_text(
        THREE_CHARTS.format(
            chart1=_chart_block("p99 page time", 2),
            chart2=_chart_block("pages served", 3),
            chart3=_chart_block("errors", 4),
        )
    )


def create_admin(env: dict[str, str], app_dir: Path, password: str) -> None:
    subprocess.run(
        [
            str(_venv_bin() / "inkwell"),
            "create-admin",
            ADMIN_EMAIL,
            "--password-stdin",
        ],
        input=password + "\n",
        text=True,
        cwd=app_dir,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _venv_bin() -> Path:
    return Path(sys.executable).parent


def sign_in(base_url: str, password: str, ca_file: Path | None = None) -> str:
    """A Cookie header of a signed-in admin session, got through the login form."""
    jar = http.cookiejar.CookieJar()
    handlers: list = [urllib.request.HTTPCookieProcessor(jar)]
    if ca_file is not None:
        handlers.append(
            urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(ca_file)))
        )
    opener = urllib.request.build_opener(*handlers)
    # Over HTTPS the CSRF check also wants the form's page as the Referer, as a browser sends.
    opener.addheaders = [("Referer", f"{base_url}/admin/login")]
    with opener.open(f"{base_url}/admin/login", timeout=30) as response:
        form = response.read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
    if token is None:
        raise ConfigError(f"no CSRF token in {base_url}/admin/login")
    data = urllib.parse.urlencode(
        {"csrf_token": token.group(1), "email": ADMIN_EMAIL, "password": password}
    ).encode()
    with opener.open(f"{base_url}/admin/login", data=data, timeout=30) as response:
        if not response.url.rstrip("/").endswith("/admin"):
            raise ConfigError(f"signing in to {base_url} ended on {response.url}")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def _base_env(app_dir: Path) -> dict[str, str]:
    env = envfile.values(app_dir / ".env")
    env.update(os.environ)
    env.setdefault("INKWELL_ENV", "development")  # what `make run`'s .env says
    if len(env.get("SECRET_KEY", "")) < 32:
        env["SECRET_KEY"] = new_secret_key()
    return env


class RunTarget:
    """What `make run` starts: `inkwell setup`, then gunicorn on loopback (WhiteNoise serves the
    static files), here on a free port with the audit's own instance folder."""

    def __init__(self, app_dir: Path, work: Path, content: Path) -> None:
        self.app_dir, self.work = app_dir, work
        self.port = _free_port()
        self.env = {
            **_base_env(app_dir),
            "PORT": str(self.port),
            "CONTENT_DIR": str(content),
            "INKWELL_INSTANCE_PATH": str(work / "instance"),
            "SITE_URL": f"http://127.0.0.1:{self.port}",
        }
        self.url = self.env["SITE_URL"]
        self.ca_file: Path | None = None
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> RunTarget:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        log = self.work / "gunicorn.log"
        bin_dir = _venv_bin()
        with open(log, "ab") as out:
            setup = subprocess.run(
                [str(bin_dir / "inkwell"), "setup"],
                cwd=self.app_dir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            if setup.returncode:
                tail = log.read_text(errors="replace")[-2000:]
                raise ConfigError(f"inkwell setup failed for the audit's site:\n{tail}")
            self._proc = subprocess.Popen(
                [str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "inkwell.wsgi:app"],
                cwd=self.app_dir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_for(f"{self.url}/healthz", self._proc, "gunicorn", log)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        _stop(self._proc, 15, 35)
        self._proc = None


class StackTarget:
    """`make stack`'s nginx + gunicorn on free high ports, with the audit's own instance."""

    def __init__(self, app_dir: Path, work: Path, content: Path) -> None:
        self.work = work
        self.stack = Stack(
            app_dir=app_dir,
            run_dir=work / "stack",
            http_port=_free_port(),
            https_port=_free_port(),
            log_to_files=True,
            extra_env={
                "CONTENT_DIR": str(content),
                "INKWELL_INSTANCE_PATH": str(work / "instance"),
            },
        )

    @property
    def url(self) -> str:
        return self.stack.https_url

    @property
    def env(self) -> dict[str, str]:
        return self.stack.env

    @property
    def ca_file(self) -> Path:
        return self.stack.ca_file

    def __enter__(self) -> StackTarget:
        shutil.rmtree(self.work / "instance", ignore_errors=True)
        try:
            self.stack.start()
        except subprocess.CalledProcessError:
            log = self.stack.run_dir / "setup.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ConfigError(f"inkwell setup failed for the audit's stack:\n{tail}") from None
        return self

    def __exit__(self, *exc) -> None:
        self.stack.stop()
