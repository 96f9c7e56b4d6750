"""`make audit`'s Lighthouse part: every page type scored in Chromium, mobile and desktop, as
`make run` serves it (gunicorn + WhiteNoise, no nginx) and through `make stack` (nginx, TLS).

The audit brings its own site (audit_site.py): a throwaway instance with the content folder's
posts plus two chart posts, and an admin signed in for the admin pages. Lighthouse
(tools/lighthouse, pinned in its package-lock.json) runs one page at a time: on two cores, runs
side by side would score each other's CPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError
from . import envfile
from .audit_site import RunTarget, StackTarget, create_admin, sign_in, write_content

CHECKOUT = Path(__file__).resolve().parents[3]
TOOL_DIR = CHECKOUT / "tools" / "lighthouse"
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --ignore-certificate-errors"

PUBLIC = ("performance", "accessibility", "best-practices", "seo")
ADMIN = ("accessibility", "best-practices")  # nobody searches for or waits on the admin
GOALS = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 100}
FORM_FACTORS = ("mobile", "desktop")
ATTEMPTS = 3  # runs of one page before its error is the result


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
                create_admin(target.env, app_dir, password)
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
