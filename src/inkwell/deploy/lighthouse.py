"""`make audit`'s Lighthouse part: every page type scored in Chromium, mobile and desktop, as
`make run` serves it (gunicorn + WhiteNoise, no nginx) and through `make stack` (nginx, TLS).

The audit brings its own site: a throwaway instance (database, media) with the content folder's
posts plus two chart posts, and an admin signed in over HTTP for the admin page. Lighthouse
(tools/lighthouse, pinned in its package-lock.json) runs one page at a time: on two cores, runs
side by side would score each other's CPU.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import math
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, new_secret_key
from . import envfile
from .stack import Stack, _free_port, _stop, _wait_for

CHECKOUT = Path(__file__).resolve().parents[3]
TOOL_DIR = CHECKOUT / "tools" / "lighthouse"
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --ignore-certificate-errors"

PUBLIC = ("performance", "accessibility", "best-practices", "seo")
ADMIN = ("accessibility", "best-practices")  # nobody searches for or waits on the admin
GOALS = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 100}
FORM_FACTORS = ("mobile", "desktop")
ATTEMPTS = 3  # runs of one page before its error is the result
ADMIN_EMAIL = "lighthouse@example.com"


@dataclass(frozen=True)
class PageType:
    name: str
    path: str
    categories: tuple[str, ...] = PUBLIC
    signed_in: bool = False


PAGES = (
    PageType("home", "/"),
    PageType("post", "/posts/welcome/"),  # code, math, a table and a chart below the fold
    PageType("tag", "/tags/markdown/"),
    PageType("search", "/search?q=markdown"),
    PageType("archive", "/archive/"),
    PageType("chart", "/posts/lighthouse-one-chart/"),
    PageType("3 charts", "/posts/lighthouse-three-charts/"),
    PageType("login", "/admin/login", ADMIN),
    PageType("admin", "/admin/", ADMIN, signed_in=True),
    PageType("editor", "/admin/posts/new", ADMIN, signed_in=True),
)
TARGETS = {"run": "make run (gunicorn, no nginx)", "stack": "make stack (nginx, TLS)"}


@dataclass
class Score:
    target: str
    page: str
    form_factor: str
    scores: dict[str, int | None]  # category -> 0..100; None: Lighthouse could not score it
    shortfalls: list[str]  # the failing audits of the categories below their goal

    @property
    def passed(self) -> bool:
        return all(s is not None and s >= GOALS[c] for c, s in self.scores.items())


# --- reading a report ------------------------------------------------------------------------


def category_scores(report: dict) -> dict[str, int | None]:
    """{category id: score 0..100} of a Lighthouse JSON report (None when it could not score)."""
    return {
        cid: None if cat.get("score") is None else round(cat["score"] * 100)
        for cid, cat in report["categories"].items()
    }


def shortfalls(report: dict) -> list[str]:
    """'category: audit title' for each weighted audit that failed in a category below its goal."""
    error = report.get("runtimeError")
    found = [f"Lighthouse: {error.get('message', error.get('code'))}"] if error else []
    for cid, score in category_scores(report).items():
        if score is not None and score >= GOALS[cid]:
            continue
        for ref in report["categories"][cid]["auditRefs"]:
            audit = report["audits"].get(ref["id"], {})
            if ref.get("weight", 0) > 0 and audit.get("score") is not None and audit["score"] < 0.9:
                value = f" ({audit['displayValue']})" if audit.get("displayValue") else ""
                found.append(f"{cid}: {audit.get('title', ref['id'])}{value}")
    return found


def format_table(results: Iterable[Score]) -> str:
    """Rows of target x page; per form factor the four categories. '-' not scored for that
    page, '!' after a score below its goal."""
    heads = [f"{ff[:4]} {short}" for ff in FORM_FACTORS for short in ("perf", "a11y", "bp", "seo")]
    lines = [f"{'target':<6} {'page':<9} " + " ".join(f"{h:>9}" for h in heads)]
    rows: dict[tuple[str, str], dict[str, Score]] = {}
    for result in results:
        rows.setdefault((result.target, result.page), {})[result.form_factor] = result
    for (target, page), by_form in rows.items():
        cells = []
        for ff in FORM_FACTORS:
            result = by_form.get(ff)
            for category in PUBLIC:
                score = result.scores.get(category, "-") if result else "-"
                if score is None:
                    cell = "error"
                elif score == "-":
                    cell = "-"
                else:
                    cell = f"{score}{'!' if score < GOALS[category] else ' '}"
                cells.append(f"{cell:>9}")
        lines.append(f"{target:<6} {page:<9} " + " ".join(cells).rstrip())
    return "\n".join(lines)


# --- the site under test ---------------------------------------------------------------------


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


def _create_admin(env: dict[str, str], app_dir: Path, password: str) -> None:
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


# --- running Lighthouse ----------------------------------------------------------------------


def install() -> Path:
    """tools/lighthouse's node_modules from its lock file (npm ci), when missing or older."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise ConfigError(f"{tool} is not installed: apt install nodejs npm")
    if not Path(CHROMIUM).exists():
        raise ConfigError(
            f"Chromium is not at {CHROMIUM}: apt install chromium, or set CHROME_PATH"
        )
    stamp = TOOL_DIR / "node_modules" / ".installed-from-lock"
    lock = hashlib.sha256((TOOL_DIR / "package-lock.json").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != lock:
        result = subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(TOOL_DIR)],
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise ConfigError(f"npm ci in {TOOL_DIR} failed:\n{result.stderr[-2000:]}")
        stamp.write_text(lock)
    return TOOL_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"


def version(cli: Path) -> str:
    return json.loads((cli.parents[1] / "package.json").read_text())["version"]


def run_lighthouse(
    cli: Path,
    url: str,
    form_factor: str,
    categories: Iterable[str],
    report: Path,
    headers_file: Path | None = None,
) -> dict:
    command = [
        "node",
        str(cli),
        url,
        "--output=json",
        f"--output-path={report}",
        "--quiet",
        f"--chrome-flags={CHROME_FLAGS}",
        f"--only-categories={','.join(categories)}",
    ]
    if form_factor == "desktop":
        command.append("--preset=desktop")
    if headers_file is not None:
        command.append(f"--extra-headers={headers_file}")
    for _ in range(ATTEMPTS):
        report.unlink(missing_ok=True)
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "CHROME_PATH": CHROMIUM},
        )
        if not report.exists():
            raise ConfigError(f"Lighthouse wrote no report for {url}:\n{result.stderr[-2000:]}")
        scored = json.loads(report.read_text())
        # A trace lost under load (NO_NAVSTART and the like): its own advice is to run again.
        if not scored.get("runtimeError"):
            break
    return scored


def measure(
    app_dir: Path,
    work: Path,
    targets: Iterable[str] = tuple(TARGETS),
    pages: Iterable[str] | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> list[Score]:
    """Score every page type on each target, mobile and desktop; reports in work/reports/."""
    cli = install()
    chosen = [p for p in PAGES if pages is None or p.name in set(pages)]
    content = work / "content"
    write_content(app_dir, content)
    reports = work / "reports"
    shutil.rmtree(reports, ignore_errors=True)  # only this run's reports
    reports.mkdir(parents=True)
    results = []
    for name in targets:
        kind = RunTarget if name == "run" else StackTarget
        with kind(app_dir, work / name, content) as target:
            headers_file = None
            if any(p.signed_in for p in chosen):
                password = secrets.token_urlsafe(24)
                _create_admin(target.env, app_dir, password)
                headers_file = work / name / "headers.json"
                envfile.write_private(
                    headers_file,
                    json.dumps({"Cookie": sign_in(target.url, password, target.ca_file)}),
                )
            for page in chosen:
                for form_factor in FORM_FACTORS:
                    progress(f"Lighthouse: {name} {page.name} {form_factor}")
                    slug = re.sub(r"\W+", "-", page.name)
                    report = run_lighthouse(
                        cli,
                        target.url + page.path,
                        form_factor,
                        page.categories,
                        reports / f"{name}-{slug}-{form_factor}.json",
                        headers_file if page.signed_in else None,
                    )
                    results.append(
                        Score(
                            name,
                            page.name,
                            form_factor,
                            category_scores(report),
                            shortfalls(report),
                        )
                    )
    return results
